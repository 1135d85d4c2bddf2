// Reads every hit of a query in pages, over one point in time: verify and report see the indices as
// they were when the scan began, even while retention deletes documents between two pages.
import { errors, type Client } from '@elastic/elasticsearch';

export interface ScanOptions {
  index: string;
  query: object;
  /**
   * The order of the hits. `_shard_doc` is appended as the tiebreaker, so a sort that is not total
   * still reads each hit once; end it with a unique field anyway when the order matters.
   */
  sort: Record<string, 'asc' | 'desc'>[];
  /** Fields to return; false for none. @defaultValue the whole _source */
  source?: string[] | false;
  /** @defaultValue 5000 */
  pageSize?: number;
  /**
   * How long the point in time outlives each request: the most a caller may spend on one page
   * before asking for the next. @defaultValue '2m'
   */
  keepAlive?: string;
}

export interface ScanHit<T> {
  _id: string;
  _index: string;
  _source?: T;
}

export async function* scan<T>(es: Client, o: ScanOptions): AsyncGenerator<ScanHit<T>> {
  const size = o.pageSize ?? 5000;
  const keepAlive = o.keepAlive ?? '2m';
  const pitId = await openPit(es, o.index, keepAlive);
  if (pitId === undefined) return;
  // Each response may carry a new id for the same point in time; the latest is the one to close.
  let id = pitId;
  try {
    let after: unknown[] | undefined;
    for (;;) {
      const r = await es.search<T>({
        pit: { id, keep_alive: keepAlive },
        size,
        query: o.query,
        sort: [...o.sort, { _shard_doc: 'asc' }],
        track_total_hits: false,
        ...(o.source !== undefined ? { _source: o.source } : {}),
        ...(after ? { search_after: after as (string | number)[] } : {}),
      });
      if (r.pit_id) id = r.pit_id;
      const hits = r.hits.hits;
      for (const h of hits) yield { _id: h._id!, _index: h._index, ...(h._source !== undefined ? { _source: h._source } : {}) };
      if (hits.length < size) return;
      after = hits[hits.length - 1]!.sort;
    }
  } finally {
    // Also when the caller stops early or a page fails: an open point in time pins segments (and
    // the disk space of what retention deleted) until it expires. A close that fails is left to
    // that expiry, so it never hides the error that ended the scan.
    await es.closePointInTime({ id }).catch(() => undefined);
  }
}

/** The point in time's id, or undefined when no index matches (there is nothing to read then). */
async function openPit(es: Client, index: string, keepAlive: string): Promise<string | undefined> {
  try {
    const r = await es.openPointInTime({ index, keep_alive: keepAlive, ignore_unavailable: true });
    return r.id;
  } catch (e) {
    if (e instanceof errors.ResponseError && e.statusCode === 404 && (e.body as { error?: { type?: string } } | undefined)?.error?.type === 'index_not_found_exception') return undefined;
    throw e;
  }
}
