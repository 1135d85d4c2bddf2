// Finds, exactly, the sequence numbers missing from Elasticsearch for each host boot: events the
// collector numbered that are neither indexed nor dead-lettered. Counts per 10,000-number bucket
// find the short buckets cheaply; only those are read number by number.
import type { Client } from '@elastic/elasticsearch';
import { scan } from '../es-scan';

export interface SeqRange {
  from: number;
  to: number;
}

export interface StreamGaps {
  host: string;
  bootId: string;
  stream: string;
  /** Numbers run from 1 to last. */
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

export interface GapSources {
  /** Where events are: the event indices and the dead-letter index. */
  indices: string[];
  /** Where the collectors' checkpoints are (the highest number each stream gave out). */
  checkpointIndex: string;
}

export interface GapFilter {
  /** Only this host boot. */
  bootId?: string;
  /**
   * Only the host boots with an event, a dead letter or a checkpoint in this period; each one is
   * still checked over its whole stream (a number has no time of its own once it is missing).
   */
  period?: { from: Date; to: Date };
}

/** The boot ids with a trusted event, a dead letter or a checkpoint between from and to. */
async function bootsInPeriod(es: Client, src: GapSources, period: { from: Date; to: Date }): Promise<string[]> {
  const r = await es.search({
    index: [...src.indices, src.checkpointIndex].join(','),
    size: 0,
    ignore_unavailable: true,
    allow_no_indices: true,
    query: { bool: { filter: [{ exists: { field: 'filewarden.boot_id' } }, NOT_UNTRUSTED, { range: { '@timestamp': { gte: period.from.toISOString(), lte: period.to.toISOString() } } }] } },
    aggs: { boots: { terms: { field: 'filewarden.boot_id', size: 10_000 } } },
  });
  const boots = r.aggregations?.boots as { buckets: TermsBucket[]; sum_other_doc_count?: number } | undefined;
  // More boots than one terms aggregation returns: refuse rather than check some and say nothing.
  if ((boots?.sum_other_doc_count ?? 0) > 0) throw new Error('more than 10,000 host boots in the period: narrow --from/--to, or pick one with --boot-id');
  return (boots?.buckets ?? []).map((b) => b.key);
}

/**
 * Missing numbers in 1..last of each (boot, stream) across the event indices and the dead letters,
 * where last is the highest number seen in an event or a checkpoint: a lost tail shows too.
 */
export async function sequenceGaps(es: Client, src: GapSources, filter: GapFilter = {}): Promise<StreamGaps[]> {
  const index = src.indices.join(',');
  const inPeriod = filter.period ? await bootsInPeriod(es, src, filter.period) : undefined;
  if (inPeriod?.length === 0) return [];
  const bootFilter: object[] = [...(filter.bootId ? [{ term: { 'filewarden.boot_id': filter.bootId } }] : []), ...(inPeriod ? [{ terms: { 'filewarden.boot_id': inPeriod } }] : [])];
  const assigned = await checkpoints(es, src.checkpointIndex, bootFilter);
  // Events no enrolled collector signed cannot claim numbers: a forged batch at seq 10^12 would
  // otherwise report 10^12 missing, or fill a real gap (indexer/src/integrity/source-trust.ts).
  const must: object[] = [{ exists: { field: 'filewarden.seq' } }, NOT_UNTRUSTED, ...bootFilter];
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
  const key = (boot: string, stream: string): string => `${boot}/${stream}`;
  type Boot = TermsBucket & { streams: { buckets: (TermsBucket & { max: { value: number }; host: { buckets: TermsBucket[] } })[] } };
  // No matching index at all: Elasticsearch answers without aggregations.
  const boots = (r.aggregations?.boots as { buckets: Boot[] } | undefined)?.buckets ?? [];
  for (const b of boots) {
    for (const s of b.streams.buckets) {
      const ck = assigned.get(key(b.key, s.key));
      assigned.delete(key(b.key, s.key));
      const last = Math.max(s.max.value, ck?.assigned ?? 0);
      const g: StreamGaps = { host: s.host.buckets[0]?.key ?? ck?.host ?? '', bootId: b.key, stream: s.key, last, found: s.doc_count, missing: [], missingCount: 0, duplicated: 0 };
      if (s.doc_count !== last) await scanStream(es, index, g);
      out.push(g);
    }
  }
  // Streams with a checkpoint and no event at all: every number is missing.
  for (const ck of assigned.values()) {
    const g: StreamGaps = { host: ck.host, bootId: ck.bootId, stream: ck.stream, last: ck.assigned, found: 0, missing: [], missingCount: 0, duplicated: 0 };
    addRange(g, 1, ck.assigned);
    out.push(g);
  }
  return out;
}

interface Checkpoint {
  host: string;
  bootId: string;
  stream: string;
  assigned: number;
}

async function checkpoints(es: Client, index: string, bootFilter: object[]): Promise<Map<string, Checkpoint>> {
  const out = new Map<string, Checkpoint>();
  for await (const h of scan<{ host: { name: string }; filewarden: { boot_id: string; seq_stream: string; seq_assigned: number } }>(es, {
    index,
    // Heartbeats share the index; only the per-stream documents carry seq_assigned.
    query: { bool: { filter: [{ exists: { field: 'filewarden.seq_assigned' } }, ...bootFilter] } },
    sort: [{ 'filewarden.boot_id': 'asc' }, { 'filewarden.seq_stream': 'asc' }],
    pageSize: 1000,
  })) {
    const f = h._source!.filewarden;
    out.set(`${f.boot_id}/${f.seq_stream}`, { host: h._source!.host.name, bootId: f.boot_id, stream: f.seq_stream, assigned: f.seq_assigned });
  }
  return out;
}

const NOT_UNTRUSTED = { bool: { must_not: { term: { 'filewarden.trust.status': 'untrusted' } } } };

async function scanStream(es: Client, index: string, g: StreamGaps): Promise<void> {
  const filter = [{ term: { 'filewarden.boot_id': g.bootId } }, { term: { 'filewarden.seq_stream': g.stream } }, NOT_UNTRUSTED];
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
