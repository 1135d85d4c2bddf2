// Fault 2 (run by scripts/test.sh against its Sentinel stack, alone): under load, the Redis master
// is killed with SIGKILL and the Sentinels promote the replica. The collector counts a batch as
// acknowledged only once a replica has it (--redis-wait-replicas 1), so every acknowledged batch
// survives the failover; what was not acknowledged is in the spool and is added again. Every event
// reaches Elasticsearch exactly once.
import t from 'tap';
import { ownStateDir, readState, redisUrl, sentinelMaster, stackPaths, type RedisState } from '../../stack/src';
import { countIndexed, expectExactlyOnce, openWorkload, pipelineEnv, startCollector, startIndexer, stopService, waitFor, waitForValue } from '../utils/pipeline';
import { cli, hasExited } from '../utils/stack';

const stateDir = (): string => ownStateDir('the cluster tests', 'run them with npm test');

function sentinelStack(): RedisState {
  const r = readState(stackPaths(stateDir()).stateFile).redis;
  if (!r?.sentinels || !r.replica) {
    throw new Error(`the failover test needs the Sentinel stack that scripts/test.sh starts (stack up --redis-sentinel); ${stateDir()} has none`);
  }
  return r;
}

t.test('the Redis master killed with SIGKILL under load: every acknowledged batch survives the failover, the spool covers the rest, exactly once', async (t) => {
  const before = sentinelStack();
  const url = redisUrl(before);
  t.match(url, /^redis-sentinel:\/\//, 'the stack hands out a redis-sentinel:// URL');
  // Whatever happens below, the stack is left with both servers and every Sentinel running.
  t.teardown(async () => {
    const r = sentinelStack();
    if ([r, r.replica!, ...r.sentinels!].some((m) => hasExited(m.pid))) await cli(['stack', 'up', '--services', 'redis']);
  });

  const env = pipelineEnv(t);
  t.equal(env.redisUrl, url, 'the collector and the indexer connect through the Sentinels');
  const collector = await startCollector(t, env, ['--redis-wait-replicas', '1', '--redis-wait-ms', '1000']);
  const indexer = await startIndexer(t, env);
  const N = 30_000;
  const work = openWorkload(t, env.workDir, N, 3000);
  t.ok(await waitFor(async () => (await countIndexed(env)) >= 3000, 60_000, 100), 'the indexer has written some events');

  const master = await sentinelMaster(url);
  const servers = [before, before.replica!];
  const victim = servers.find((m) => m.port === master.port);
  if (!victim) throw new Error(`the Sentinels name ${master.host}:${master.port}, which is not one of the stack's servers (${servers.map((m) => m.port).join(', ')})`);
  const atKill = await collector.metrics();
  const acknowledgedBefore = atKill.get('filewarden_events_queued_total') ?? 0;
  const spooledBefore = atKill.get('filewarden_events_spooled_total') ?? 0;
  process.kill(victim.pid, 'SIGKILL');
  t.ok(await waitFor(async () => hasExited(victim.pid), 10_000, 50), `the master (port ${victim.port}, pid ${victim.pid}) is gone`);
  t.ok(acknowledgedBefore > 0 && acknowledgedBefore < N, `killed mid-stream: ${acknowledgedBefore} of ${N} events acknowledged (${spooledBefore} spooled) at the kill`);
  const promoted = await waitForValue(async () => {
    const m = await sentinelMaster(url).catch(() => undefined);
    return m && m.port !== victim.port ? m : undefined;
  }, 60_000, 200);
  t.ok(promoted, `the Sentinels promoted the replica on port ${promoted?.port}`);

  // With the old master gone the new one has no replica: no batch can be acknowledged (WAIT 1
  // falls short), so the collector spools until `stack up` brings the dead server back as a replica.
  t.ok(
    await waitFor(async () => ((await collector.metrics()).get('filewarden_events_spooled_total') ?? 0) > spooledBefore, 30_000, 100),
    'without a replica, batches are not acknowledged: they go to the spool',
  );
  const up = await cli(['stack', 'up', '--services', 'redis']);
  t.equal(up.code, 0, `stack up exits 0 ${up.stderr}`);
  t.match(up.stdout + up.stderr, new RegExp(`server on ${victim.port} \\(pid \\d+, a replica of ${promoted?.port}\\)`), 'stack up brings the dead master back as a replica of the new one');

  t.equal(await work.done, N, 'the workload made every open');
  const m = await collector.metrics();
  await stopService(t, collector, 'the collector');
  const stop = /spooled (\d+) \(left in spool (\d+)\), dropped (\d+)/.exec(collector.log());
  t.ok(stop && Number(stop[1]) > 0, `the spool took what was not acknowledged (${stop?.[1]} events)`);
  t.strictSame([stop?.[2], stop?.[3]], ['0', '0'], 'and gave all of it back: nothing left in the spool, nothing dropped');
  t.comment(`collector (before its stop): ${m.get('filewarden_redis_replica_wait_shortfalls_total')} WAIT shortfalls, ${m.get('filewarden_events_spooled_total')} events spooled, ${m.get('filewarden_spool_replayed_events_total')} replayed`);
  await expectExactlyOnce(t, env, collector, indexer, N, 180_000);
  await stopService(t, indexer, 'the indexer');
});
