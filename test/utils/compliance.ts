// Harness for the compliance tests: runs the verify, retention and report commands on a pipeline
// test's own indices, and reads what the pipeline wrote (event documents, chain links).
import type { Test } from 'tap';
import { countIndexed, indexNames, type PipelineEnv, type Service, stopService, waitFor, waitQueueEmpty } from './pipeline';
import { cli, type CliResult } from './stack';

/** The index options every compliance command takes, for this test's indices. */
export function allIndexNames(env: PipelineEnv): string[] {
  return [...indexNames(env), '--alert-index', env.alertIndex, '--audit-index', env.auditIndex];
}

/** Runs `filewarden <command> ... --json` on this test's indices and parses its standard output. */
export async function complianceJson<T>(env: PipelineEnv, args: string[]): Promise<{ r: CliResult; json: T }> {
  const r = await cli([...args, ...allIndexNames(env), '--json'], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  let json: T;
  try {
    json = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`filewarden ${args.join(' ')} exited ${r.code} without JSON:\n${r.stdout}\n${r.stderr}`);
  }
  return { r, json };
}

/** Stops the collector cleanly and waits until the indexer has written everything it queued. */
export async function drain(t: Test, env: PipelineEnv, collector: Service, indexer: Service): Promise<number> {
  await stopService(t, collector, 'the collector');
  const m = /stopped at seq (\d+)/.exec(collector.log());
  const assigned = m ? Number(m[1]) : NaN;
  t.ok(await waitFor(async () => (await countIndexed(env)) >= assigned, 60_000), `all ${assigned} events are indexed`);
  t.ok(await waitQueueEmpty(indexer, 60_000), 'the queue is empty (chain links and heartbeats written)');
  await env.es.indices.refresh({ index: `${env.indexPrefix}-*,${env.auditIndex},${env.alertIndex},${env.checkpointIndex}`, ignore_unavailable: true, allow_no_indices: true });
  return assigned;
}

export interface ChainLinkDoc {
  _id: string;
  first: number;
  last: number;
  t0: string;
  t1: string;
}

/** The chain links of this test's collector, in sequence order. */
export async function chainLinks(env: PipelineEnv): Promise<ChainLinkDoc[]> {
  const r = await env.es.search<{ filewarden: { chain: { first: number; last: number; t0: string; t1: string } } }>({
    index: env.auditIndex,
    size: 10_000,
    query: { exists: { field: 'filewarden.chain.head' } },
    sort: [{ 'filewarden.chain.first': 'asc' }],
  });
  return r.hits.hits.map((h) => ({ _id: h._id!, ...h._source!.filewarden.chain }));
}

/** The event document holding a sequence number: its index, id and source. */
export async function eventAt(env: PipelineEnv, seq: number): Promise<{ index: string; id: string; source: Record<string, unknown> }> {
  const r = await env.es.search<Record<string, unknown>>({ index: `${env.indexPrefix}-*`, query: { term: { 'filewarden.seq': seq } } });
  if (r.hits.hits.length !== 1) throw new Error(`seq ${seq}: ${r.hits.hits.length} documents`);
  const h = r.hits.hits[0]!;
  return { index: h._index, id: h._id!, source: h._source! };
}
