// The indexer image without a Docker engine: a directory laid out as docker/Dockerfile's indexer stage lays out
// /opt/filewarden, copied from this built checkout, holds no collector code and no native addon, and the CLI in it
// runs the indexer-side commands.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import t from 'tap';
import { buildProgram } from '../../../cli/src/main';
import { buildCopies } from '../../utils/dockerfile';
import { repoRoot } from '../../utils/stack';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-indexer-image-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const image = path.join(work, 'opt', 'filewarden');
const env = { ...process.env, FILEWARDEN_STATE_DIR: path.join(work, 'state'), FILEWARDEN_DEBUG: '' };

/** node_modules as the build stage leaves it: the checkout's, after `npm prune --omit=dev` (offline, on a copy). */
function prunedNodeModules(): string {
  const stage = path.join(work, 'build');
  fs.mkdirSync(stage);
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(repoRoot, f), path.join(stage, f));
  fs.cpSync(path.join(repoRoot, 'node_modules'), path.join(stage, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  const r = spawnSync('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: stage, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm prune failed: ${r.stderr}`);
  return stage;
}

/** Every COPY of the indexer stage and the stages below it, from the checkout (node_modules pruned) into `image`. */
function layOut(): void {
  const pruned = prunedNodeModules();
  for (const c of buildCopies('indexer')) {
    const src = path.join(c.from === 'node_modules' || c.from.startsWith('node_modules/') ? pruned : repoRoot, c.from);
    if (!fs.existsSync(src)) throw new Error(`${c.from} is missing: build first (npm run build, or scripts/setup.sh)`);
    const dest = path.join(image, c.to, c.intoDir && fs.statSync(src).isFile() ? path.basename(src) : '');
    fs.cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
  }
}
layOut();

/** Every file and directory under `dir`, relative to it, symbolic links not followed. */
function walk(dir: string, rel = ''): { file: string; isDir: boolean }[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((d) => {
    const p = path.posix.join(rel, d.name);
    return d.isDirectory() ? [{ file: p, isDir: true }, ...walk(dir, p)] : [{ file: p, isDir: false }];
  });
}

/** Every command path of the CLI (["index"], ["retention", "run"], ...), the program itself first. */
function commandPaths(c: Command = buildProgram(), prefix: string[] = []): string[][] {
  return [prefix, ...c.commands.filter((s) => s.name() !== 'help').flatMap((s) => commandPaths(s, [...prefix, s.name()]))];
}

function cli(root: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [path.join(root, 'bin', 'filewarden.js'), ...args], { cwd: work, env, encoding: 'utf8' });
}

async function cliAsync(root: string, args: string[]): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'filewarden.js'), ...args], { cwd: work, env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, out })));
}

t.test('the indexer image holds no collector code and no native addon', async (t) => {
  t.strictSame(fs.readdirSync(path.join(image, 'dist')).sort(), ['cli', 'contract', 'indexer', 'kibana', 'stack'], 'dist/ has the CLI, the contract, the indexer, kibana/ and stack/ only');
  const all = walk(image);
  t.strictSame(all.filter((e) => e.isDir && path.posix.basename(e.file) === 'collector').map((e) => e.file), [], 'no collector/ directory anywhere');
  t.notOk(fs.existsSync(path.join(image, 'native')), 'no native/');
  const nodeFiles = all.filter((e) => !e.isDir && e.file.endsWith('.node')).map((e) => e.file);
  t.strictSame(nodeFiles.filter((f) => path.posix.basename(f) === 'filewarden_native.node'), [], 'not the addon, under any path');
  // npm packages may bring their own prebuilt binaries (BullMQ's msgpackr does); the project's own are not shipped.
  t.strictSame(nodeFiles.filter((f) => !f.startsWith('node_modules/')), [], `no .node file outside node_modules (there: ${nodeFiles.length})`);
  t.ok(all.some((e) => e.file === 'kibana/filewarden.ndjson') && all.some((e) => e.file === 'rules/builtin.yaml'), 'the rule pack and the saved objects are there');
});

t.test("every command's --help works in the indexer image (index, verify, report, gaps and search among them) and reads as in the full checkout", async (t) => {
  const paths = commandPaths();
  for (const wanted of [['index'], ['verify'], ['report'], ['gaps'], ['search']]) t.ok(paths.some((p) => p.join(' ') === wanted.join(' ')), `the CLI has ${wanted.join(' ')}`);
  const helps = await Promise.all(paths.map(async (p) => Promise.all([cliAsync(image, [...p, '--help']), cliAsync(repoRoot, [...p, '--help'])])));
  paths.forEach((p, i) => {
    const [inImage, inCheckout] = helps[i]!;
    const name = ['filewarden', ...p].join(' ');
    t.equal(inImage.status, 0, `${name} --help exits 0 in the image`, { output: inImage.out });
    t.equal(inImage.out, inCheckout.out, `${name} --help says the same in both`);
  });
});

t.test('the indexer-side commands that need no service run in the indexer image', async (t) => {
  const lint = cli(image, ['rules', 'lint', 'builtin']);
  t.equal(lint.status, 0, 'rules lint builtin', { stderr: lint.stderr });
  t.match(lint.stdout, /rules OK/, 'and finds the shipped rule pack');
  const keys = cli(image, ['keys', 'generate', '--out', path.join(work, 'keys')]);
  t.equal(keys.status, 0, 'keys generate', { stderr: keys.stderr });
  t.strictSame(fs.readdirSync(path.join(work, 'keys')).sort(), ['command-signing.key', 'command-signing.pub']);
  const kibana = cli(image, ['kibana', 'export', '--out', path.join(work, 'objects.ndjson')]);
  t.equal(kibana.status, 0, 'kibana export', { stderr: kibana.stderr });
  t.ok(fs.statSync(path.join(work, 'objects.ndjson')).size > 0, 'wrote the saved objects');
});

t.test(
  'the indexer-side commands that reach Elasticsearch load their code in the indexer image: each gets as far as the (unreachable) service',
  async (t) => {
    const es = ['--es-url', 'http://127.0.0.1:1'];
    const policy = path.join(repoRoot, 'docker', 'retention.yaml');
    const runs: [string[], RegExp][] = [
      [['index', ...es, '--redis-url', 'redis://127.0.0.1:1', '--retention-policy', path.join(work, 'no-such-policy.yaml')], /cannot read the retention policy/],
      [['gaps', ...es], /cannot reach Elasticsearch/],
      [['verify', '--from', 'now-1h', ...es], /cannot reach Elasticsearch/],
      [['report', '--from', 'now-1h', '--out', path.join(work, 'report.html'), ...es], /cannot reach Elasticsearch/],
      [['search', ...es], /cannot reach Elasticsearch/],
      [['retention', 'run', '--policy', policy, ...es], /cannot reach Elasticsearch/],
      [['retention', 'ilm-policy', '--policy', policy], /"applies_to"/],
    ];
    const results = await Promise.all(runs.map(([args]) => cliAsync(image, args)));
    runs.forEach(([args, expected], i) => {
      const name = `filewarden ${args.slice(0, args.findIndex((a) => a.startsWith('--'))).join(' ')}`;
      t.match(results[i]!.out, expected, name, { output: results[i]!.out });
    });
  },
);
