// `stack up --redis-sentinel` on a state directory of its own: a master that stalls past the
// Sentinels' patience comes back as a replica that can log in to the new master; when both servers
// die, the one the Sentinels name starts first, as the master; after `stack down` the newer data
// starts as the master again, and a plain `stack up` refuses the older data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { readState, redisUrl, replicationOf, sentinelMaster, serverRole, stackPaths, readSecretFile, type RedisState } from '../../stack/src';
import { waitFor, waitForValue } from '../utils/pipeline';
import { cli, hasExited } from '../utils/stack';

t.test('a Sentinel set keeps one master through a stall, a double crash and a full restart', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-sentinel-'));
  const env = { FILEWARDEN_STATE_DIR: dir };
  t.teardown(async () => {
    await cli(['stack', 'down', '--services', 'redis'], env);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const state = (): RedisState => readState(stackPaths(dir).stateFile).redis!;
  const up = await cli(['stack', 'up', '--services', 'redis', '--redis-sentinel', '--redis-port', '36380'], env);
  t.equal(up.code, 0, `stack up --redis-sentinel exits 0 ${up.stderr}`);
  const first = state();
  const password = readSecretFile(first.passwordFile!);
  const url = redisUrl(first);
  t.strictSame([first.port, first.replica?.port, first.sentinels?.map((s) => s.port)], [36380, 36381, [36382, 36383, 36384]], 'two servers and three Sentinels on the ports after the Redis port');
  t.strictSame([await serverRole(36380, password), await serverRole(36381, password)], ['master', 'replica'], 'the first server is the master');
  for (const f of ['redis/redis.conf', 'redis/replica/redis.conf', 'redis/sentinel-0/sentinel.conf']) {
    t.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} is 0600 (it holds the password)`);
  }

  // A stall longer than the Sentinels' 3 s: they fail over; the old master comes back as a replica.
  process.kill(first.pid, 'SIGSTOP');
  const promoted = await waitForValue(async () => {
    const m = await sentinelMaster(url).catch(() => undefined);
    return m?.port === 36381 ? m : undefined;
  }, 30_000, 200);
  process.kill(first.pid, 'SIGCONT');
  t.ok(promoted, 'the Sentinels promoted the second server while the first was stopped');
  t.ok(await waitFor(async () => (await serverRole(36380, password)) === 'replica', 30_000, 200), 'the first server is demoted to a replica');
  t.ok(await waitFor(async () => (await replicationOf(url)).connectedReplicas === 1, 30_000, 200), 'and logs in to the new master: one replica online');
  for (const f of ['redis/redis.conf', 'redis/sentinel-0/sentinel.conf']) {
    t.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} is still 0600 after Redis rewrote it`);
  }

  // Both servers die: the one the Sentinels name (the second) starts first, as the master.
  process.kill(state().pid, 'SIGKILL');
  process.kill(state().replica!.pid, 'SIGKILL');
  t.ok(await waitFor(async () => hasExited(state().pid) && hasExited(state().replica!.pid), 10_000, 50), 'both servers are gone');
  const again = await cli(['stack', 'up', '--services', 'redis'], env);
  t.equal(again.code, 0, `stack up exits 0 ${again.stderr}`);
  t.match(again.stdout + again.stderr, /second server on 36381 \(pid \d+, the master\), server on 36380 \(pid \d+, a replica of 36381\)/, 'the named master first, the other as its replica');
  t.strictSame([await serverRole(36380, password), await serverRole(36381, password)], ['replica', 'master'], 'one master');

  // After stack down, the second server's data is the newer: a plain start refuses the older data,
  // and --redis-sentinel starts the second server as the master.
  t.equal((await cli(['stack', 'down', '--services', 'redis'], env)).code, 0, 'stack down exits 0');
  const plain = await cli(['stack', 'up', '--services', 'redis', '--redis-port', '36380'], env);
  t.equal(plain.code, 1, 'a plain stack up refuses');
  t.match(plain.stderr, /the last master was the second server .* its data is newer/, 'naming the newer data');
  t.equal(readState(stackPaths(dir).stateFile).redis, undefined, 'and starts nothing');
  const restart = await cli(['stack', 'up', '--services', 'redis', '--redis-sentinel', '--redis-port', '36380'], env);
  t.equal(restart.code, 0, `stack up --redis-sentinel exits 0 ${restart.stderr}`);
  t.match(restart.stdout + restart.stderr, /the second server was the master when the Sentinels last ran: it starts as the master/, 'stack up says which server starts as the master');
  t.strictSame([await serverRole(36380, password), await serverRole(36381, password)], ['replica', 'master'], 'the newer data is the master');
  t.equal((await sentinelMaster(redisUrl(state()))).port, 36381, 'and the Sentinels agree');
});
