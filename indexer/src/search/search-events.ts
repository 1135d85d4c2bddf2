// The query behind `filewarden search`: a Lucene query_string over one set of indices, bounded by @timestamp and
// sorted oldest first. It only reads; what to print is the CLI's business.
import type { Client } from '@elastic/elasticsearch';

export interface SearchRequest {
  /** Index or pattern: `<prefix>-*` for events, or the alert or audit index. */
  index: string;
  /** Lucene query string syntax; empty or absent matches every document. */
  query?: string;
  from: Date;
  to: Date;
  /** @defaultValue 100 */
  size?: number;
}

export interface SearchHit {
  index: string;
  id: string;
  source: Record<string, unknown>;
}

export interface SearchResult {
  hits: SearchHit[];
  /** How many documents matched in all, which can exceed hits.length. */
  total: number;
}

/** The query did not parse (or named a field in a way the mapping refuses): Elasticsearch's reason, in one line. */
export class SearchQueryError extends Error {
  override readonly name = 'SearchQueryError';
}

interface EsErrorBody {
  error?: { type?: string; reason?: string; root_cause?: { type?: string; reason?: string }[]; failed_shards?: { reason?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } } }[]; caused_by?: { reason?: string } };
}

/** The most specific reason Elasticsearch gives for a refused search: a shard's cause beats "all shards failed". */
function refusedReason(err: unknown): string | undefined {
  const e = err as { name?: string; meta?: { statusCode?: number; body?: EsErrorBody } };
  if (e.name !== 'ResponseError' || e.meta?.statusCode !== 400) return undefined;
  const error = e.meta.body?.error;
  const shard = error?.failed_shards?.[0]?.reason;
  const reason = shard?.caused_by?.reason ?? shard?.reason ?? error?.caused_by?.reason ?? error?.root_cause?.[0]?.reason ?? error?.reason;
  return reason?.replace(/\s*\n\s*/g, ' ').trim();
}

/** "[index/uuid] org.elasticsearch...QueryShardException: Failed to parse ..." without the shard and the Java class names. */
const plainReason = (error: string): string =>
  error
    .replace(/^\[[^\]]*\]\s*/, '')
    .replace(/\b(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error): /g, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();

/**
 * Refuses a query that does not parse. The search alone would not always say so: a shard whose documents all fall
 * outside the time window is skipped before the query is parsed, and the answer would be an empty result.
 */
async function validate(es: Client, index: string, query: string): Promise<void> {
  const v = await es.indices.validateQuery({ index, ignore_unavailable: true, allow_no_indices: true, explain: true, query: { query_string: { query } } });
  if (v.valid) return;
  const error = v.explanations?.find((e) => !e.valid && e.error)?.error;
  throw new SearchQueryError(`Elasticsearch refused the query: ${error ? plainReason(error) : 'it is not valid'}`);
}

export async function searchEvents(es: Client, r: SearchRequest): Promise<SearchResult> {
  const query = r.query?.trim();
  if (query) await validate(es, r.index, query);
  try {
    const res = await es.search<Record<string, unknown>>({
      index: r.index,
      // A missing alert or audit index is an empty result, as a pattern that matches nothing is.
      ignore_unavailable: true,
      allow_no_indices: true,
      size: r.size ?? 100,
      track_total_hits: true,
      sort: [{ '@timestamp': { order: 'asc' } }],
      query: {
        bool: {
          filter: [{ range: { '@timestamp': { gte: r.from.toISOString(), lte: r.to.toISOString() } } }],
          must: query ? [{ query_string: { query } }] : [{ match_all: {} }],
        },
      },
    });
    const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? res.hits.hits.length);
    return { total, hits: res.hits.hits.map((h) => ({ index: h._index, id: h._id ?? '', source: h._source ?? {} })) };
  } catch (err) {
    const reason = refusedReason(err);
    if (reason !== undefined) throw new SearchQueryError(`Elasticsearch refused the query: ${reason}`);
    throw err;
  }
}
