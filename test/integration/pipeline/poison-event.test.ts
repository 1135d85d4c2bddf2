// Fault 5: one event in a batch is refused by Elasticsearch (a mapping conflict: a timestamp
// before 1970 cannot be a date_nanos). It lands in the dead-letter index with the refused document
// exactly as it arrived and the error; the rest of its batch and the batches after it are indexed.
import t from 'tap';
import path from 'node:path';
import { HashChain, loadOrCreateHostKey } from '../../../collector/src/integrity/hash-chain';
import { hostIdentity } from '../../../collector/src/enrich/host-identity';
import { EventQueue } from '../../../collector/src/queue/event-queue';
import { startCapture, tempDir } from '../../utils/kernel';
import { documentBatch } from '../../utils/wire-fixtures';
import { cli } from '../../utils/stack';
import { countIndexed, openWorkload, pipelineEnv, sleep, startIndexer, stopService, waitFor, waitQueueEmpty, indexNames } from '../../utils/pipeline';

t.test('a poison event goes to the dead-letter index and does not block the others', async (t) => {
  const env = pipelineEnv(t);
  // Real kernel events: 40 opens under the work directory, captured with the tracepoint hook.
  const { events, capture } = startCapture(t, { filters: { includePaths: [`${env.workDir}/`] } });
  // From a child: the capture leaves out its own process's opens.
  t.equal(await openWorkload(t, env.workDir, 40, 1000).done, 40, 'the workload made 40 opens');
  t.ok(await waitFor(async () => events.length >= 40, 10_000, 20), 'the kernel reported the 40 opens');
  await capture.close();
  t.equal(events.length, 40, 'exactly 40 events');

  const id = hostIdentity();
  const host = { name: id.name, bootId: id.bootId };
  events[7]!.wallNs = -1_000_000_000n; // 1969-12-31T23:59:59Z: outside date_nanos
  const q = new EventQueue({ redisUrl: env.redisUrl, queue: env.queue });
  t.teardown(() => q.close());
  await waitFor(async () => q.connected, 5000, 50);
  // Signed with the key the harness enrolls, as the collector would: gaps counts only events from
  // enrolled collectors.
  const key = loadOrCreateHostKey(path.join(env.stateDir, 'collector'));
  const chain = new HashChain(tempDir(t, 'fw-poison-chain-'), id.bootId, 'poison01', key.privateKey, key.publicKey);
  const none = { proc: () => undefined, userName: () => undefined, groupName: () => undefined };
  await q.add(documentBatch(events.slice(0, 20), 1, 'poison01', chain, none, host));
  await q.add(documentBatch(events.slice(20, 40), 21, 'poison01', chain, none, host));

  const indexer = await startIndexer(t, env);
  t.ok(await waitQueueEmpty(indexer, 60_000), 'both batches complete');
  await sleep(200);
  t.equal(await countIndexed(env), 39, 'the 39 good events are indexed');
  const m = await indexer.metrics();
  t.equal(m.get('filewarden_indexer_events_deadlettered_total'), 1, 'one event dead-lettered');
  t.equal(m.get('filewarden_indexer_batches_poison_total'), 0, 'no batch failed for good');
  await env.es.indices.refresh({ index: env.deadletterIndex });
  const dead = await env.es.search<{ error: { status: number; type: string; reason: string }; target_index: string; raw: { line: string; document: { '@timestamp': string; event: { sequence: number } } }; filewarden: { seq: number } }>({ index: env.deadletterIndex });
  t.equal(dead.hits.hits.length, 1, 'one dead letter');
  const d = dead.hits.hits[0]._source!;
  t.equal(d.error.status, 400, 'with the HTTP status');
  t.equal(d.error.type, 'document_parsing_exception', 'and the error type');
  t.match(d.error.reason, /timestamp/, 'and the reason, naming the field');
  t.equal(d.raw.document.event.sequence, 8, 'with the refused document (seq 8)');
  t.equal(d.raw.document['@timestamp'], '1969-12-31T23:59:59.000000000Z', 'exactly as it arrived');
  t.strictSame(JSON.parse(d.raw.line), d.raw.document, 'and its exact bytes');
  t.equal(d.filewarden.seq, 8, 'searchable by sequence number');
  const gaps = await cli(['gaps', ...indexNames(env)], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  t.equal(gaps.code, 0, 'the gap report counts the dead letter as accounted for');
  t.match(gaps.stdout, /seq 1\.\.40, 40 found, 0 missing/);
  await stopService(t, indexer, 'the indexer');
});
