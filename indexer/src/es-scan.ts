// Reads every hit of a query in pages with search_after: the sort must be total (end it with a
// unique field), so no hit is skipped or read twice between pages.
import type { Client } from '@elastic/elasticsearch';

export interface ScanOptions {
  index: string;
  query: object;
  sort: Record<string, 'asc' | 'desc'>[];
  /** Fields to return; false for none. @defaultValue the whole _source */
  source?: string[] | false;
  /** @defaultValue 5000 */
  pageSize?: number;
}

export interface ScanHit<T> {
  _id: string;
  _index: string;
  _source?: T;
}

export async function* scan<T>(es: Client, o: ScanOptions): AsyncGenerator<ScanHit<T>> {
  const size = o.pageSize ?? 5000;
  let after: unknown[] | undefined;
  for (;;) {
    const r = await es.search<T>({
      index: o.index,
      size,
      ignore_unavailable: true,
      allow_no_indices: true,
      query: o.query,
      sort: o.sort,
      track_total_hits: false,
      ...(o.source !== undefined ? { _source: o.source } : {}),
      ...(after ? { search_after: after as (string | number)[] } : {}),
    });
    const hits = r.hits.hits;
    for (const h of hits) yield { _id: h._id!, _index: h._index, ...(h._source !== undefined ? { _source: h._source } : {}) };
    if (hits.length < size) return;
    after = hits[hits.length - 1]!.sort;
  }
}
