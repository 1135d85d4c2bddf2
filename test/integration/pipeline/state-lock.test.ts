// One collector per state directory: a second one exits 1 naming the first's pid, and a lock left
// by a collector killed with SIGKILL does not block the next start.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cli } from '../../utils/stack';
import { pipelineEnv, startCollector, stopService } from '../../utils/pipeline';

t.test('a second collector on the same state directory exits 1 naming the first; after a SIGKILL a new one starts', async (t) => {
  const env = pipelineEnv(t);
  const first = await startCollector(t, env);
  const second = await cli(['--state-dir', env.stateDir, 'collect', '--hooks', 'tracepoint', '--include-path', `${env.workDir}/`, '--queue', env.queue, '--metrics-port', '0'], { FILEWARDEN_REDIS_URL: env.redisUrl });
  t.equal(second.code, 1, 'the second exits 1');
  t.match(second.stderr, new RegExp(`^filewarden: another collector \\(pid ${first.proc.pid}\\) is running on ${env.stateDir}/collector`, 'm'), "it names the first's pid");
  t.equal(second.stderr.split('\n').filter(Boolean).length, 1, 'in one line');
  t.equal(first.proc.exitCode, null, 'the first keeps running');

  first.proc.kill('SIGKILL');
  await first.exited;
  const lock = path.join(env.stateDir, 'collector', 'collector.lock');
  t.ok(fs.existsSync(lock), 'SIGKILL left the lock file');
  const third = await startCollector(t, env);
  t.pass('a new collector starts over the stale lock');
  t.match(fs.readFileSync(lock, 'utf8'), new RegExp(`"pid":${third.proc.pid}\\b`), 'and holds it');
  await stopService(t, third, 'the new collector');
  t.notOk(fs.existsSync(lock), 'a clean stop releases the lock');
});
