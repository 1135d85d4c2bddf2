// A failed command says why in one line, `filewarden: <reason>`, without a stack trace; --debug
// (or FILEWARDEN_DEBUG=1) adds the trace for a developer.
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { tempDir } from '../utils/kernel';
import { cli, endpoints } from '../utils/stack';

const UNREACHABLE = 'http://127.0.0.1:1';

function oneLineError(t: Test, stderr: string, what: string): void {
  const lines = stderr.split('\n').filter((l) => l.startsWith('filewarden:'));
  t.equal(lines.length, 1, `${what}: exactly one filewarden: line`);
  t.notMatch(stderr, /\n\s+at /, `${what}: no stack frames`);
}

t.test('a command that cannot reach Elasticsearch says so in one line, naming the address', async (t) => {
  const dir = tempDir(t, 'fw-cli-errors-');
  const policy = path.join(dir, 'retention.yaml');
  fs.writeFileSync(policy, 'events: 30\nalerts: 365\naudit: 400\n');
  const runs: [string, string[]][] = [
    ['gaps', ['gaps', '--es-url', UNREACHABLE]],
    ['verify', ['verify', '--from', '2026-01-01', '--es-url', UNREACHABLE]],
    ['report', ['report', '--from', '2026-01-01', '--format', 'json', '--out', path.join(dir, 'r.json'), '--es-url', UNREACHABLE]],
    ['retention', ['retention', 'run', '--policy', policy, '--dry-run', '--es-url', UNREACHABLE]],
    ['index', ['index', '--es-url', UNREACHABLE, '--metrics-port', '0']],
  ];
  for (const [what, args] of runs) {
    const r = await cli(args, { FILEWARDEN_REDIS_URL: endpoints().redisUrl });
    t.equal(r.code, 1, `${what} exits 1`);
    oneLineError(t, r.stderr, what);
    t.match(r.stderr, /ECONNREFUSED 127\.0\.0\.1:1/, `${what}: the reason`);
  }
  const r = await cli(['gaps', '--es-url', UNREACHABLE]);
  t.match(r.stderr, /^filewarden: cannot reach Elasticsearch at http:\/\/127\.0\.0\.1:1\/: connect ECONNREFUSED/m, 'the client error becomes a sentence');
});

t.test('bad input to keys, retention and index is one line too', async (t) => {
  const dir = tempDir(t, 'fw-cli-errors-');
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  const runs: [string, string[]][] = [
    ['keys', ['keys', 'generate', '--out', file]],
    ['retention', ['retention', 'run', '--policy', path.join(dir, 'missing.yaml'), '--es-url', UNREACHABLE]],
    ['index', ['index', '--command-key', path.join(dir, 'missing.key'), '--es-url', UNREACHABLE, '--metrics-port', '0']],
  ];
  for (const [what, args] of runs) {
    const r = await cli(args, { FILEWARDEN_REDIS_URL: endpoints().redisUrl });
    t.equal(r.code, 1, `${what} exits 1`);
    oneLineError(t, r.stderr, what);
  }
});

t.test('--debug and FILEWARDEN_DEBUG=1 add the stack trace', async (t) => {
  const flag = await cli(['--debug', 'gaps', '--es-url', UNREACHABLE]);
  t.equal(flag.code, 1);
  t.match(flag.stderr, /^filewarden: cannot reach Elasticsearch/m, 'the one line still comes first');
  t.match(flag.stderr, /\n\s+at /, 'then the frames');
  const env = await cli(['gaps', '--es-url', UNREACHABLE], { FILEWARDEN_DEBUG: '1' });
  t.match(env.stderr, /\n\s+at /, 'FILEWARDEN_DEBUG=1 too');
  const off = await cli(['gaps', '--es-url', UNREACHABLE], { FILEWARDEN_DEBUG: '0' });
  t.notMatch(off.stderr, /\n\s+at /, 'FILEWARDEN_DEBUG=0 does not');
});
