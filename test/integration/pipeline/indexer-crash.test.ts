// Fault 1: the indexer is killed with SIGKILL mid-stream and restarted. Every event the kernel
// produced reaches Elasticsearch exactly once: the stalled batches are retried and the documents
// they had already written come back as 409s, not as second copies.
import t from 'tap';
import { countIndexed, expectExactlyOnce, openWorkload, pipelineEnv, startCollector, startIndexer, stopService, waitFor } from '../../utils/pipeline';

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
  t.match(collector.log(), /spooled 0 \(left in spool 0\), dropped 0/, 'without spooling or dropping any');
  await expectExactlyOnce(t, env, collector, indexer, N, 90_000);
  await stopService(t, indexer, 'the restarted indexer');
});
