// Root, real kernel: the capabilities docker/systemd/filewarden-collector.service grants are enough,
// and those that matter here are each necessary. The collector runs with exactly the unit's
// CapabilityBoundingSet (setpriv) and captures an open by another user; it fails with a clear
// message without CAP_BPF or CAP_PERFMON; the /proc enrichment reads another user's executable
// with the set, and not without CAP_SYS_PTRACE.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { tempDir } from '../utils/kernel';
import { repoRoot } from '../utils/stack';

const unit = fs.readFileSync(path.join(repoRoot, 'docker', 'systemd', 'filewarden-collector.service'), 'utf8');
const bounding = /^CapabilityBoundingSet=(.+)$/m.exec(unit)![1]!.trim().split(/\s+/);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `filewarden collect --stdout` as root limited to `caps`, while a nobody process opens `file`. */
async function collectWith(t: Test, caps: string[], dir: string, file: string): Promise<Run> {
  const set = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
  const state = tempDir(t, 'fw-lp-state-');
  const p = spawn('setpriv', [`--bounding-set=${set}`, '--inh-caps=-all', process.execPath, path.join(repoRoot, 'bin', 'filewarden.js'), '--state-dir', state, 'collect', '--stdout', '--hooks', 'tracepoint', '--include-path', `${dir}/`, '--count', '1', '--duration', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  // Open once the probe is attached (the collector says so), as nobody, from a shell that lingers.
  const started = await Promise.race([new Promise<boolean>((r) => { const f = (): void => void (/collect: hook|counters|attached/.test(stderr) && r(true)); p.stderr!.on('data', f); setTimeout(() => r(false), 10_000); }), exited.then(() => false)]);
  if (started) {
    const opener = spawn('/bin/sh', ['-c', 'read x < "$1"; sleep 1', 'sh', file], { uid: 65534, gid: 65534, stdio: 'ignore' });
    await new Promise((r) => opener.on('exit', r));
  }
  return { code: await exited, stdout, stderr };
}

t.test("the unit's capability set is enough, and CAP_BPF and CAP_PERFMON are each needed", async (t) => {
  t.same(bounding, ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_RESOURCE', 'CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH', 'CAP_KILL'], 'the unit grants these and nothing else');
  const dir = tempDir(t, 'fw-lp-work-');
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'readable');
  fs.writeFileSync(file, 'x', { mode: 0o644 });

  const full = await collectWith(t, bounding, dir, file);
  t.equal(full.code, 0, `the collector runs with the unit's capabilities${full.code ? `:\n${full.stderr}` : ''}`);
  const doc = JSON.parse(full.stdout.trim().split('\n')[0] ?? '{}') as { file?: { path: string }; user?: { id: string }; process?: { executable?: string; name: string } };
  t.equal(doc.file?.path, file, "nobody's open is captured");
  t.equal(doc.user?.id, '65534');

  // The enrichment the collector does for the indexer, run under the same limits against a live
  // process of another user.
  const sleeper = spawn('/bin/sleep', ['30'], { uid: 65534, gid: 65534, stdio: 'ignore' });
  t.teardown(() => void sleeper.kill('SIGKILL'));
  const reader = path.join(repoRoot, 'dist', 'collector', 'src', 'enrich', 'process-info.js');
  const enrich = (caps: string[]): Promise<string> =>
    new Promise((resolve) => {
      const set = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
      const script = `const { ProcessInfoReader } = require(${JSON.stringify(reader)}); console.log(new ProcessInfoReader().info(${sleeper.pid})?.executable ?? 'none')`;
      let out = '';
      const p = spawn('setpriv', [`--bounding-set=${set}`, '--inh-caps=-all', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.on('exit', () => resolve(out.trim()));
    });
  t.equal(await enrich(bounding), fs.realpathSync('/bin/sleep'), "with the unit's set, another user's executable is read");
  t.equal(await enrich(bounding.filter((c) => c !== 'CAP_SYS_PTRACE')), 'none', 'without CAP_SYS_PTRACE it is not');

  for (const missing of ['CAP_BPF', 'CAP_PERFMON']) {
    const r = await collectWith(t, bounding.filter((c) => c !== missing), dir, file);
    t.equal(r.code, 1, `without ${missing} the collector exits 1`);
    t.match(r.stderr, /loading the tracepoint programs failed: permission denied: needs root or CAP_BPF\+CAP_PERFMON/, `without ${missing}: a clear message`);
  }
});
