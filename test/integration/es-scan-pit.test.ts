// scan() reads over one point in time: verify and report see one snapshot of the indices even while
// retention deletes between two of its pages, and it frees that point in time when it stops.
import t from 'tap';
import type { Client } from '@elastic/elasticsearch';
import { scan } from '../../indexer/src/es-scan';
import { esClient, uniqueName } from '../utils/stack';

const all = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

/** The real client, with the ids of the points in time it opens written down (nothing is faked). */
function recordingPits(es: Client): { es: Client; opened: string[] } {
  const opened: string[] = [];
  const open = es.openPointInTime.bind(es);
  const proxy = new Proxy(es, {
    get(target, prop, receiver) {
      if (prop !== 'openPointInTime') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<typeof open>) => {
        const r = await open(...args);
        opened.push(r.id);
        return r;
      };
    },
  });
  return { es: proxy, opened };
}

/** Whether Elasticsearch still knows the point in time (a search over a closed one is a 404). */
async function pitIsOpen(es: Client, id: string): Promise<boolean> {
  try {
    await es.search({ pit: { id }, size: 0 });
    return true;
  } catch (e) {
    if ((e as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return false;
    throw e;
  }
}

t.test('a scan keeps returning the documents deleted between two of its pages', async (t) => {
  const es = esClient();
  const index = uniqueName('fw-scan-pit');
  t.teardown(() => es.indices.delete({ index, ignore_unavailable: true }));
  await es.indices.create({ index, mappings: { properties: { n: { type: 'integer' } } } });
  const ids = Array.from({ length: 10 }, (_, i) => `doc-${String(i).padStart(2, '0')}`);
  await es.bulk({ refresh: true, operations: ids.flatMap((id, n) => [{ create: { _index: index, _id: id } }, { n }]) });

  const rec = recordingPits(es);
  const seen: string[] = [];
  let deleted = 0;
  for await (const h of scan<{ n: number }>(rec.es, { index, query: { match_all: {} }, sort: [{ n: 'asc' }], pageSize: 3 })) {
    seen.push(h._id);
    if (seen.length === 3) {
      // The first page is read: delete everything before the next page, the way retention does
      // (bulk deletes by id: the test node's distribution has no reindex module, so no
      // _delete_by_query), and refresh so that a new search would no longer see them.
      const r = await es.bulk({ refresh: true, operations: ids.map((id) => ({ delete: { _index: index, _id: id } })) });
      deleted = r.items.filter((i) => i.delete?.result === 'deleted').length;
    }
  }
  t.equal(deleted, 10, 'every document was deleted while the scan was under way');
  t.strictSame(seen, ids, 'the scan still returned all ten, in order, once each');
  t.strictSame(await all(scan(es, { index, query: { match_all: {} }, sort: [{ n: 'asc' }] })), [], 'a scan begun after the delete sees none');
  t.equal(rec.opened.length, 1, 'the scan opened one point in time');
  t.equal(await pitIsOpen(es, rec.opened[0]!), false, 'and closed it when it ended');
});

t.test('a scan that its caller stops early closes its point in time', async (t) => {
  const es = esClient();
  const index = uniqueName('fw-scan-pit');
  t.teardown(() => es.indices.delete({ index, ignore_unavailable: true }));
  await es.bulk({ refresh: true, operations: [1, 2, 3, 4].flatMap((n) => [{ create: { _index: index } }, { n }]) });
  const rec = recordingPits(es);
  for await (const _ of scan(rec.es, { index, query: { match_all: {} }, sort: [{ n: 'asc' }], pageSize: 2 })) {
    t.equal(await pitIsOpen(es, rec.opened[0]!), true, 'the point in time is open while the scan runs');
    break;
  }
  t.equal(await pitIsOpen(es, rec.opened[0]!), false, 'and closed once the caller broke out of the loop');
});

t.test('a scan of a pattern or a name that matches no index yields nothing', async (t) => {
  const es = esClient();
  const name = uniqueName('fw-scan-none');
  const q = { query: { match_all: {} }, sort: [{ '@timestamp': 'asc' as const }] };
  t.strictSame(await all(scan(es, { index: `${name}-*`, ...q })), [], 'a wildcard pattern with no index');
  t.strictSame(await all(scan(es, { index: name, ...q })), [], 'a missing concrete index');
  t.strictSame(await all(scan(es, { index: `${name}-a,${name}-b-*`, ...q })), [], 'a list of them');
});
