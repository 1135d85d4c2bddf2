// Fault 3: Redis stops for 30 s under load. The collector spools to disk, replays the spool in
// order once Redis is back, and every event reaches Elasticsearch once.
import t from 'tap';
import { startRedis, stopRedis, stackPaths } from '../../../stack/src';
import { choosePort } from '../../../stack/src/ports';
import { tempDir } from '../../utils/kernel';
import { cli } from '../../utils/stack';
import { countIndexed, openWorkload, pipelineEnv, readIndexed, sleep, startCollector, startIndexer, queuedAtStop, splitOurs, stopService, waitFor, waitQueueEmpty, indexNames } from '../../utils/pipeline';

t.test('with Redis down for 30 s under load, the spool takes over and every event arrives after the restart', async (t) => {
  // A Redis of this test's own (with AOF, as the stack runs it): the shared one stays up for the others.
  const paths = stackPaths(tempDir(t, 'fw-redis-'));
  const port = (await choosePort('test redis', 16400, { explicit: false })).port;
  let redis = await startRedis(paths, port);
  t.teardown(() => stopRedis(redis));
  const env = pipelineEnv(t, { redisUrl: `redis://127.0.0.1:${port}` });
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
  t.ok(queuedAtStop(collector.log()) >= N, 'the collector queued every event');
  t.match(collector.log(), /\(left in spool 0\), dropped 0/, 'nothing dropped, nothing left behind');
  t.ok(await waitFor(async () => (await countIndexed(env)) >= queuedAtStop(collector.log()), 60_000), 'every event reaches Elasticsearch');
  t.ok(await waitQueueEmpty(indexer, 60_000), 'the queue is empty');
  const all = await readIndexed(env);
  const queued = queuedAtStop(collector.log());
  t.equal(all.length, queued, 'as many documents as events queued');
  t.same([new Set(all.map((d) => d.seq)).size, all[0].seq, all[all.length - 1].seq], [queued, 1, queued], 'sequence 1..N, each number once');
  const docs = splitOurs(t, env, all);
  t.equal(docs.length, N, 'one document per workload open');
  t.equal(new Set(docs.map((d) => d.path)).size, N, 'every opened file once');
  const gaps = await cli(['gaps', ...indexNames(env)], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  t.equal(gaps.code, 0, 'the gap report finds nothing missing');
  await stopService(t, indexer, 'the indexer');
});
