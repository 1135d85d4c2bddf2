// The dependency rules of .dependency-cruiser.cjs (`npm run deps`): the tree keeps them, and the check
// is no rubber stamp: a tree that breaks each rule, laid out like the repository in a temporary directory, fails it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../../utils/stack';

const config = path.join(repoRoot, '.dependency-cruiser.cjs');
const depcruise = path.join(repoRoot, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}

/** A violation as one line, the way `npm run deps` words it: rule, from, to (and the cycle's path). */
const line = (v: Violation): string => `${v.rule.name}: ${v.from} -> ${v.cycle ? v.cycle.map((c) => c.name).join(' -> ') : v.to}`;

function violations(stdout: string): string[] {
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations.map(line).sort();
}

t.test('the source tree keeps every dependency rule: no collector/indexer import either way, contract imports nothing of ours, no cycle', async (t) => {
  // The package script itself, so the test checks the folders `npm run deps` checks.
  const r = spawnSync('npm', ['run', '--silent', 'deps', '--', '--output-type', 'json'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20 });
  t.equal(r.status, 0, 'npm run deps ran', { stderr: r.stderr });
  t.strictSame(violations(r.stdout), [], 'no violation');
  const cruised = (JSON.parse(r.stdout) as { summary: { totalCruised: number } }).summary.totalCruised;
  t.ok(cruised > 150, `the whole tree was read (${cruised} modules), not an empty folder list`);
});

t.test('a tree that breaks the rules fails the check, with each violation named by its rule', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-deps-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    // Broken: the collector reaches into the indexer.
    'collector/src/x.ts': "import { y } from '../../indexer/src/y';\nimport { q } from '../../contract/src/q';\nexport const x = y + q;\n",
    'indexer/src/y.ts': 'export const y = 1;\n',
    // Broken, though erased at compile time: a type-only import from the collector into the indexer.
    'indexer/src/z.ts': "import type { T } from '../../collector/src/t';\nexport const z: T = 1;\n",
    'collector/src/t.ts': 'export type T = number;\n',
    // Broken: contract imports the collector. Allowed: contract imports a node builtin and its own files.
    'contract/src/c.ts': "import crypto from 'node:crypto';\nimport { x } from '../../collector/src/x';\nimport { q } from './q';\nexport const c = crypto.randomUUID() + x + q;\n",
    'contract/src/q.ts': 'export const q = 2;\n',
    // Broken: a two-file cycle.
    'stack/src/a.ts': "import { b } from './b';\nexport const a = (): number => b();\n",
    'stack/src/b.ts': "import { a } from './a';\nexport const b = (): number => a();\n",
    // Broken: stack reaches up into the CLI, kibana into the collector.
    'stack/src/s.ts': "import { m } from '../../cli/src/m';\nexport const s = m;\n",
    'cli/src/m.ts': "import { x } from '../../collector/src/x';\nimport { y } from '../../indexer/src/y';\nexport const m = x + y;\n",
    'kibana/src/k.ts': "import type { T } from '../../collector/src/t';\nexport const k: T = 3;\n",
  };
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  const roots = ['collector', 'indexer', 'contract', 'stack', 'cli', 'kibana'];
  const json = spawnSync(process.execPath, [depcruise, '--config', config, '--output-type', 'json', ...roots], { cwd: dir, encoding: 'utf8' });
  t.equal(json.status, 0, 'dependency-cruiser ran', { stderr: json.stderr });
  t.strictSame(violations(json.stdout), [
    'collector-not-to-indexer: collector/src/x.ts -> indexer/src/y.ts',
    'contract-is-the-bottom-layer: contract/src/c.ts -> collector/src/x.ts',
    'indexer-not-to-collector: indexer/src/z.ts -> collector/src/t.ts',
    'kibana-not-to-collector: kibana/src/k.ts -> collector/src/t.ts',
    'no-circular: stack/src/a.ts -> stack/src/b.ts -> stack/src/a.ts',
    'stack-below-the-services: stack/src/s.ts -> cli/src/m.ts',
  ], 'exactly the planted violations; the CLI may import both sides, contract may import node builtins');
  // The form `npm run deps` uses (its default output) exits with the number of errors: the build fails.
  const plain = spawnSync(process.execPath, [depcruise, '--config', config, ...roots], { cwd: dir, encoding: 'utf8' });
  t.equal(plain.status, 6, 'it exits non-zero, one per error', { stdout: plain.stdout, stderr: plain.stderr });
});
