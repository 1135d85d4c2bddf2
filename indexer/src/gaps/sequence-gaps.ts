// Finds, exactly, the sequence numbers missing from Elasticsearch for each host boot: events the
// collector numbered that are neither indexed nor dead-lettered. Counts per 10,000-number bucket
// find the short buckets cheaply; only those are read number by number.
import type { Client } from '@elastic/elasticsearch';

export interface SeqRange {
  from: number;
  to: number;
}

export interface StreamGaps {
  host: string;
  bootId: string;
  stream: string;
  first: number;
  last: number;
  /** Documents found (events plus dead letters). */
  found: number;
  missing: SeqRange[];
  missingCount: number;
  /** Sequence numbers held by more than one document: should never happen. */
  duplicated: number;
}

const BUCKET = 10_000;

interface TermsBucket {
  key: string;
  doc_count: number;
}

/** Missing numbers in 1..last of each (boot, stream) across the event indices and the dead letters. */
export async function sequenceGaps(es: Client, indices: string[], filter: { bootId?: string } = {}): Promise<StreamGaps[]> {
  const index = indices.join(',');
  const must: object[] = [{ exists: { field: 'filewarden.seq' } }];
  if (filter.bootId) must.push({ term: { 'filewarden.boot_id': filter.bootId } });
  const r = await es.search({
    index,
    size: 0,
    ignore_unavailable: true,
    allow_no_indices: true,
    query: { bool: { filter: must } },
    aggs: {
      boots: {
        terms: { field: 'filewarden.boot_id', size: 10_000 },
        aggs: {
          streams: {
            terms: { field: 'filewarden.seq_stream', size: 1000 },
            aggs: { max: { max: { field: 'filewarden.seq' } }, host: { terms: { field: 'host.name', size: 1 } } },
          },
        },
      },
    },
  });
  const out: StreamGaps[] = [];
  type Boot = TermsBucket & { streams: { buckets: (TermsBucket & { max: { value: number }; host: { buckets: TermsBucket[] } })[] } };
  // No matching index at all: Elasticsearch answers without aggregations.
  const boots = (r.aggregations?.boots as { buckets: Boot[] } | undefined)?.buckets ?? [];
  for (const b of boots) {
    for (const s of b.streams.buckets) {
      const last = s.max.value;
      const g: StreamGaps = { host: s.host.buckets[0]?.key ?? '', bootId: b.key, stream: s.key, first: 1, last, found: s.doc_count, missing: [], missingCount: 0, duplicated: 0 };
      if (s.doc_count !== last) await scanStream(es, index, g);
      out.push(g);
    }
  }
  return out;
}

async function scanStream(es: Client, index: string, g: StreamGaps): Promise<void> {
  const filter = [{ term: { 'filewarden.boot_id': g.bootId } }, { term: { 'filewarden.seq_stream': g.stream } }];
  const h = await es.search({
    index,
    size: 0,
    ignore_unavailable: true,
    query: { bool: { filter } },
    aggs: { seq: { histogram: { field: 'filewarden.seq', interval: BUCKET, min_doc_count: 0, extended_bounds: { min: 0, max: g.last } } } },
  });
  const buckets = (h.aggregations?.seq as { buckets: { key: number; doc_count: number }[] }).buckets;
  for (const bk of buckets) {
    const from = Math.max(1, bk.key);
    const to = Math.min(g.last, bk.key + BUCKET - 1);
    if (to < from) continue;
    if (bk.doc_count === to - from + 1) continue;
    const seen = await readSeqs(es, index, filter, from, to);
    let prev = from - 1;
    for (const q of seen) {
      if (q === prev) {
        g.duplicated++;
        continue;
      }
      if (q > prev + 1) addRange(g, prev + 1, q - 1);
      prev = q;
    }
    if (prev < to) addRange(g, prev + 1, to);
  }
}

function addRange(g: StreamGaps, from: number, to: number): void {
  const last = g.missing[g.missing.length - 1];
  if (last && last.to === from - 1) last.to = to;
  else g.missing.push({ from, to });
  g.missingCount += to - from + 1;
}

async function readSeqs(es: Client, index: string, filter: object[], from: number, to: number): Promise<number[]> {
  const out: number[] = [];
  let after: (number | string)[] | undefined;
  for (;;) {
    const r = await es.search({
      index,
      size: 10_000,
      ignore_unavailable: true,
      _source: false,
      docvalue_fields: ['filewarden.seq'],
      query: { bool: { filter: [...filter, { range: { 'filewarden.seq': { gte: from, lte: to } } }] } },
      sort: [{ 'filewarden.seq': 'asc' }, { 'event.id': 'asc' }],
      ...(after ? { search_after: after } : {}),
    });
    const hits = r.hits.hits;
    for (const h of hits) out.push((h.fields?.['filewarden.seq'] as number[])[0]);
    if (hits.length < 10_000) return out;
    after = hits[hits.length - 1].sort as (number | string)[];
  }
}
