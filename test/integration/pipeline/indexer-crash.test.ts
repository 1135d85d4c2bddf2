// Fault 1: the indexer is killed with SIGKILL mid-stream and restarted. Every event the kernel
// produced reaches Elasticsearch exactly once: the stalled batches are retried and the documents
// they had already written come back as 409s, not as second copies.
import t from 'tap';
import { cli } from '../../utils/stack';
import { countIndexed, openWorkload, pipelineEnv, readIndexed, startCollector, startIndexer, stopService, queuedAtStop, splitOurs, waitFor, waitQueueEmpty, indexNames } from '../../utils/pipeline';

t.test('an indexer killed with SIGKILL mid-stream loses and duplicates nothing after a restart', async (t) => {
  const env = pipelineEnv(t);
  const collector = await startCollector(t, env);
  let indexer = await startIndexer(t, env);
  const N = 20_000;
  const work = openWorkload(t, env.workDir, N, 4000);
  t.ok(await waitFor(async () => ((await indexer.metrics()).get('filewarden_indexer_events_indexed_total') ?? 0) >= 2000, 30_000, 50), 'the indexer has written some events');
  indexer.proc.kill('SIGKILL');
  t.equal(await indexer.exited, 'SIGKILL', 'the indexer died by SIGKILL');
  const atKill = await countIndexed(env);
  t.ok(atKill < N, `killed mid-stream: ${atKill} of ${N} indexed at the kill`);
  indexer = await startIndexer(t, env);
  t.equal(await work.done, N, 'the workload made every open');
  await stopService(t, collector, 'the collector');
  t.ok(queuedAtStop(collector.log()) >= N, 'the collector queued every event');
  t.match(collector.log(), /spooled 0 \(left in spool 0\), dropped 0/, 'without spooling or dropping any');
  t.ok(await waitFor(async () => (await countIndexed(env)) >= queuedAtStop(collector.log()), 90_000), 'every event reaches Elasticsearch');
  // The batches the dead indexer held come back once their lock expires: wait for those retries too.
  t.ok(await waitQueueEmpty(indexer, 60_000), 'the queue is empty, stalled batches included');
  const all = await readIndexed(env);
  const queued = queuedAtStop(collector.log());
  t.equal(all.length, queued, 'as many documents as events queued');
  t.equal(new Set(all.map((d) => d.id)).size, all.length, 'no duplicate _id');
  t.same([new Set(all.map((d) => d.seq)).size, all[0].seq, all[all.length - 1].seq], [queued, 1, queued], 'sequence 1..N, each number once');
  const docs = splitOurs(t, env, all);
  t.equal(docs.length, N, 'one document per workload open');
  t.equal(new Set(docs.map((d) => d.path)).size, N, 'every opened file once');
  const m = await indexer.metrics();
  t.comment(`after restart: indexed ${m.get('filewarden_indexer_events_indexed_total')}, 409 duplicates ${m.get('filewarden_indexer_events_duplicate_total')}`);
  const gaps = await cli(['gaps', ...indexNames(env)], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  t.equal(gaps.code, 0, 'the gap report finds nothing missing');
  t.match(gaps.stdout, new RegExp(`seq 1\\.\\.${queued}, ${queued} found, 0 missing`));
  await stopService(t, indexer, 'the restarted indexer');
});
