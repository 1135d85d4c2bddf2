// Fault 4: Elasticsearch is unreachable for 30 s (the network path to it is cut). Batches wait in
// Redis and are retried with backoff; nothing is lost or written twice after it comes back.
import t from 'tap';
import { TcpProxy } from '../../utils/tcp-proxy';
import { endpoints } from '../../utils/stack';
import { countIndexed, expectExactlyOnce, openWorkload, pipelineEnv, sleep, startCollector, startIndexer, stopService } from '../../utils/pipeline';

t.test('with Elasticsearch unreachable for 30 s, every event arrives once after it recovers', async (t) => {
  const es = new URL(endpoints().elasticsearchUrl);
  const proxy = new TcpProxy(es.hostname, Number(es.port));
  await proxy.start();
  t.teardown(() => proxy.close());
  const env = pipelineEnv(t);
  const collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env, { esUrl: proxy.url });
  const N = 8000;
  const work = openWorkload(t, env.workDir, N, 200);
  await sleep(5000);
  const before = await countIndexed(env);
  t.ok(before > 0, `${before} events indexed before the outage`);
  await proxy.cut();
  await sleep(30_000);
  const m = await indexer.metrics();
  t.ok(m.get('filewarden_indexer_batch_attempts_failed_total')! > 0, `batch attempts failed during the outage: ${m.get('filewarden_indexer_batch_attempts_failed_total')}`);
  t.ok((await countIndexed(env)) - before < 200, 'nothing reached Elasticsearch while it was cut off');
  await proxy.restore();
  t.equal(await work.done, N, 'the workload made every open');
  await stopService(t, collector, 'the collector');
  t.match(collector.log(), /spooled 0 \(left in spool 0\), dropped 0/, 'without spooling or dropping any');
  await expectExactlyOnce(t, env, collector, indexer, N, 90_000);
  await stopService(t, indexer, 'the indexer');
});
