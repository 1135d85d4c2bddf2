// Fault 3: Redis stops for 30 s under load. The collector spools to disk, replays the spool in
// order once Redis is back, and every event reaches Elasticsearch once.
import t from 'tap';
import { redisUrl, startRedis, stopRedis, stackPaths } from '../../../stack/src';
import { choosePort } from '../../../stack/src/ports';
import { tempDir } from '../../utils/kernel';
import { expectExactlyOnce, openWorkload, pipelineEnv, sleep, startCollector, startIndexer, stopService, waitFor } from '../../utils/pipeline';

t.test('with Redis down for 30 s under load, the spool takes over and every event arrives after the restart', async (t) => {
  // A Redis of this test's own (with AOF, as the stack runs it): the shared one stays up for the others.
  const paths = stackPaths(tempDir(t, 'fw-redis-'));
  const port = (await choosePort('test redis', 16400, { explicit: false })).port;
  let redis = await startRedis(paths, port);
  t.teardown(() => stopRedis(redis));
  const env = pipelineEnv(t, { redisUrl: redisUrl(redis) }); // with the ACL user and its password
  const collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env);
  const N = 8000;
  const work = openWorkload(t, env.workDir, N, 200); // 40 s of load
  await sleep(5000);
  t.ok((await collector.metrics()).get('filewarden_events_queued_total')! > 0, 'events flow through Redis before the outage');
  t.match(await stopRedis(redis), /terminated/, 'redis stopped');
  const down = Date.now();
  t.ok(await waitFor(async () => (await collector.metrics()).get('filewarden_spool_events')! > 0, 10_000), 'the collector spools while Redis is down');
  await sleep(30_000 - (Date.now() - down));
  const spooled = (await collector.metrics()).get('filewarden_spool_events')!;
  t.ok(spooled > 4000, `after 30 s down, ${spooled} events wait in the spool`);
  redis = await startRedis(paths, port);
  t.ok(await waitFor(async () => (await collector.metrics()).get('filewarden_spool_events') === 0, 30_000), 'the spool drains into Redis');
  t.equal(await work.done, N, 'the workload made every open');
  await stopService(t, collector, 'the collector');
  t.match(collector.log(), /redis unavailable/, 'the outage is logged');
  t.match(collector.log(), /redis is back; spool drained/, 'so is the recovery');
  t.match(collector.log(), /\(left in spool 0\), dropped 0/, 'nothing dropped, nothing left behind');
  await expectExactlyOnce(t, env, collector, indexer, N, 60_000);
  await stopService(t, indexer, 'the indexer');
});
