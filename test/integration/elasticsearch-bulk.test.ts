// The real Elasticsearch node, through the official client with its product check on:
// bulk-index with helpers.bulk, search the documents back, and see create-only ids refuse duplicates.
import t from 'tap';
import { esClient, expectedEsVersion, uniqueName } from '../utils/stack';

const N = 2000;
const docs = Array.from({ length: N }, (_, i) => ({
  id: `doc-${i}`,
  '@timestamp': new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
  file: { path: `/etc/test/file-${i}.conf` },
  process: { pid: 1000 + (i % 7), name: i % 2 === 0 ? 'cat' : 'vim' },
}));

t.test('the official client identifies the node as the Elasticsearch version under test through GET /', async (t) => {
  const client = esClient();
  t.teardown(() => client.close());
  const info = await client.info();
  t.equal(info.version.number, expectedEsVersion());
  t.equal(info.tagline, 'You Know, for Search');
  t.match(info.version.lucene_version, /^\d+\.\d+\.\d+$/);
  t.ok(await client.ping(), 'HEAD / answers');
});

t.test('helpers.bulk indexes every document, and each one is searchable afterwards', async (t) => {
  const client = esClient();
  const index = uniqueName('fw-test-bulk');
  t.teardown(async () => {
    await client.indices.delete({ index, ignore_unavailable: true });
    await client.close();
  });
  await client.indices.create({
    index,
    settings: { number_of_shards: 1, number_of_replicas: 0 },
    mappings: { properties: { file: { properties: { path: { type: 'keyword' } } }, process: { properties: { name: { type: 'keyword' }, pid: { type: 'long' } } } } },
  });

  const stats = await client.helpers.bulk({
    datasource: docs,
    onDocument: (doc) => ({ create: { _index: index, _id: doc.id } }),
    flushBytes: 64 * 1024,
  });
  t.equal(stats.total, N);
  t.equal(stats.successful, N);
  t.equal(stats.failed, 0);

  await client.indices.refresh({ index });
  t.equal((await client.count({ index })).count, N, 'count matches what was indexed');

  const hit = await client.search<(typeof docs)[number]>({ index, query: { term: { 'file.path': '/etc/test/file-1234.conf' } } });
  t.equal(hit.hits.hits.length, 1);
  t.equal(hit.hits.hits[0]?._id, 'doc-1234');
  t.same(hit.hits.hits[0]?._source, docs[1234]);

  const agg = await client.search({ index, size: 0, aggs: { names: { terms: { field: 'process.name' } } } });
  const buckets = (agg.aggregations?.names as { buckets: { key: string; doc_count: number }[] }).buckets;
  t.same(
    buckets.map((b) => [b.key, b.doc_count]).sort(),
    [
      ['cat', N / 2],
      ['vim', N / 2],
    ],
  );

  // Replaying the same batch with op_type create: every item is refused with 409, none duplicated.
  const conflicts: number[] = [];
  const replay = await client.helpers.bulk({
    datasource: docs,
    onDocument: (doc) => ({ create: { _index: index, _id: doc.id } }),
    onDrop: (d) => conflicts.push(d.status),
  });
  t.equal(replay.successful, 0);
  t.equal(conflicts.length, N);
  t.ok(conflicts.every((s) => s === 409), 'every replayed item is a 409 conflict');
  await client.indices.refresh({ index });
  t.equal((await client.count({ index })).count, N, 'no duplicates after the replay');
});
