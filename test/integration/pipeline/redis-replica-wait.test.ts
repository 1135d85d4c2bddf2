// Part of fault 2 (Redis failover): with --redis-wait-replicas 1 a batch counts as acknowledged only
// once a replica has it (Redis WAIT). A real replica of the test stack's Redis is stopped (SIGSTOP)
// under load: adds whose WAIT finds no replica in time are spooled, not acknowledged, and replayed
// once the replica is back. Every event reaches Elasticsearch exactly once.
import t from 'tap';
import { spawnReplica } from '../../../stack/src/redis';
import { expectExactlyOnce, openWorkload, pipelineEnv, startCollector, startIndexer, stopService, waitFor } from '../../utils/pipeline';
import { tempDir } from '../../utils/kernel';

t.test('with --redis-wait-replicas 1, a batch no replica has is spooled and retried, never acknowledged; exactly once', async (t) => {
  const env = pipelineEnv(t);
  // A real redis-server following the test stack's Redis.
  const replica = await spawnReplica(env.redisUrl, tempDir(t, 'fw-replica-'));
  t.teardown(() => replica.stop());

  const collector = await startCollector(t, env, ['--redis-wait-replicas', '1', '--redis-wait-ms', '300']);
  const indexer = await startIndexer(t, env);
  const N = 8000;
  const work = openWorkload(t, env.workDir, N, 2000);
  const metric = async (name: string): Promise<number> => (await collector.metrics()).get(name) ?? 0;
  t.ok(await waitFor(async () => (await metric('filewarden_events_queued_total')) >= 1000, 30_000, 50), 'batches are acknowledged while the replica follows');
  t.equal(await metric('filewarden_redis_replica_wait_shortfalls_total'), 0, 'no shortfall while it follows');
  replica.proc.kill('SIGSTOP');
  t.ok(await waitFor(async () => (await metric('filewarden_events_spooled_total')) > 0, 30_000, 100), 'with the replica stopped, batches go to the spool');
  t.ok((await metric('filewarden_redis_replica_wait_shortfalls_total')) >= 1, 'because WAIT found no replica in time');
  t.match(collector.log(), /only 0 of 1 Redis replicas had the job within 300 ms \(WAIT\): not acknowledged/, 'and the collector says why');
  const queuedWhileStopped = await metric('filewarden_events_queued_total');
  replica.proc.kill('SIGCONT');
  t.equal(await work.done, N, 'the workload made every open');
  t.ok(await waitFor(async () => (await metric('filewarden_events_queued_total')) >= N, 60_000, 200), `once the replica is back the spool is replayed (queued ${queuedWhileStopped} before)`);
  await stopService(t, collector, 'the collector');
  t.match(collector.log(), /spool drained/, 'the spool drained');
  await expectExactlyOnce(t, env, collector, indexer, N, 90_000);
  await stopService(t, indexer, 'the indexer');
});
