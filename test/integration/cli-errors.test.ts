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

t.test('the stack topology options and a bad Sentinel URL are refused in one line, before anything starts', async (t) => {
  const dir = tempDir(t, 'fw-cli-errors-');
  const runs: [string, string[], RegExp][] = [
    ['--es-nodes 0', ['--state-dir', dir, 'stack', 'up', '--es-nodes', '0'], /--es-nodes.*must be a whole number from 1 to 5/],
    ['--es-nodes 6', ['--state-dir', dir, 'stack', 'up', '--es-nodes', '6'], /must be a whole number from 1 to 5/],
    ['--es-version 7.17.0', ['--state-dir', dir, 'stack', 'up', '--es-version', '7.17.0'], /--es-version.*Allowed choices are 8\.19\.21, 9\.5\.4/],
    ['--redis-sentinel without redis', ['--state-dir', dir, 'stack', 'up', '--services', 'elasticsearch', '--redis-sentinel'], /--redis-sentinel applies only when --services includes redis/],
    ['a Sentinel URL without a master name', ['index', '--redis-url', 'redis-sentinel://127.0.0.1:1', '--es-url', UNREACHABLE], /--redis-url: the Sentinel URL is not valid: the path must be the master name/],
    ['a Sentinel URL with a bad peer', ['collect', '--redis-url', 'redis-sentinel://u:secret@127.0.0.1:1/m?sentinels=h'], /"h" is not host:port/],
  ];
  for (const [what, args, why] of runs) {
    const r = await cli(args);
    t.not(r.code, 0, `${what}: refused`);
    t.match(r.stderr, why, `${what}: the reason`);
    t.notMatch(r.stderr, /secret/, `${what}: no password shown`);
    t.notMatch(r.stderr, /\n\s+at /, `${what}: no stack frames`);
  }
  t.notOk(fs.existsSync(path.join(dir, 'stack.json')), 'nothing was started');
});
