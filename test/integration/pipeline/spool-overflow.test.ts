// A full spool drops whole batches, and says so: the counter, a log line per batch with its
// sequence range, and the gap report in Elasticsearch name exactly the same events.
import t from 'tap';
import { ensureRedisPassword, REDIS_USER, startRedis, stopRedis, stackPaths } from '../../../stack/src';
import { choosePort } from '../../../stack/src/ports';
import { tempDir } from '../../utils/kernel';
import { openWorkload, pipelineEnv, readIndexed, startCollector, startIndexer, stopService, waitFor, waitQueueEmpty, gapReport } from '../../utils/pipeline';

t.test('when Redis is unreachable and the spool is full, the dropped events are counted and reported exactly', async (t) => {
  const port = (await choosePort('test redis', 16500, { explicit: false })).port;
  // Nothing listens there yet; the password is made now, and the Redis started below reuses it.
  const paths = stackPaths(tempDir(t, 'fw-redis-'));
  const env = pipelineEnv(t, { redisUrl: `redis://${REDIS_USER}:${ensureRedisPassword(paths)}@127.0.0.1:${port}` });
  let collector = await startCollector(t, env, ['--spool-max-bytes', '40k']);
  t.equal(await openWorkload(t, env.workDir, 3000, 1000).done, 3000);
  t.ok(await waitFor(async () => (await collector.metrics()).get('filewarden_spool_dropped_events_total')! > 0, 15_000), 'the spool fills up and batches are dropped');
  await stopService(t, collector, 'the collector');
  const log = collector.log();
  const dropped = [...log.matchAll(/spool: FULL \(\d+ of 40960 bytes\): dropped events seq (\d+)\.\.(\d+) of boot/g)].map((m) => ({ from: Number(m[1]), to: Number(m[2]) }));
  const droppedCount = dropped.reduce((a, r) => a + r.to - r.from + 1, 0);
  t.ok(dropped.length > 0, `${dropped.length} dropped batches logged with their sequence ranges`);
  t.match(log, new RegExp(`dropped ${droppedCount} \\(spool full\\)`), 'the final line counts the same events');

  const redis = await startRedis(paths, port);
  t.teardown(() => stopRedis(redis));
  collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env);
  t.ok(await waitFor(async () => (await collector.metrics()).get('filewarden_spool_events') === 0, 30_000), 'the spool replays once Redis is there');
  await stopService(t, collector, 'the restarted collector');
  t.ok(await waitQueueEmpty(indexer, 30_000));
  const docs = await readIndexed(env);
  t.ok(docs.length > 0, `${docs.length} events indexed from the spool`);
  const gaps = await gapReport(env);
  t.equal(gaps.code, 1, 'gaps exits 1: events are missing');
  const report = gaps.report;
  // Adjacent dropped batches appear as one range in the report.
  const merged: { from: number; to: number }[] = [];
  for (const r of dropped) {
    const last = merged[merged.length - 1];
    if (last && last.to + 1 === r.from) last.to = r.to;
    else merged.push({ ...r });
  }
  t.same(report[0].missing, merged, 'the gap report names exactly the dropped ranges');
  t.equal(report[0].missingCount, droppedCount);
  await stopService(t, indexer, 'the indexer');
});
