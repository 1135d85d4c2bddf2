// Reads back what retention runs recorded in the audit index: verify needs it to tell a deletion
// by policy from tampering, and the report shows it to the auditor.
import type { Client } from '@elastic/elasticsearch';
import { scan } from '../es-scan';
import type { RetentionRun } from './retention-job';

export interface RetentionEvidence {
  runs: RetentionRun[];
  /** boot/stream/head of every chain link a run deleted. */
  deletedHeads: Set<string>;
  /** boot/stream -> the latest events cutoff (ms) of a run that deleted events of that stream. */
  eventCutoff: Map<string, number>;
}

export async function retentionEvidence(es: Client, auditIndex: string, until?: Date): Promise<RetentionEvidence> {
  const out: RetentionEvidence = { runs: [], deletedHeads: new Set(), eventCutoff: new Map() };
  const filter: object[] = [{ exists: { field: 'filewarden.retention.run_id' } }, { term: { 'filewarden.retention.dry_run': false } }];
  if (until) filter.push({ range: { '@timestamp': { lte: until.toISOString() } } });
  for await (const h of scan<{ filewarden: { retention: RetentionRun } }>(es, { index: auditIndex, query: { bool: { filter } }, sort: [{ '@timestamp': 'asc' }, { 'filewarden.retention.run_id': 'asc' }] })) {
    const r = h._source!.filewarden.retention;
    out.runs.push(r);
    for (const c of r.chains) out.deletedHeads.add(`${c.boot}/${c.stream}/${c.head}`);
    const cut = Date.parse(r.classes.find((c) => c.class === 'events')?.cutoff ?? '');
    for (const s of r.streams) {
      if (s.class !== 'events') continue;
      const k = `${s.boot}/${s.stream}`;
      if (!(cut <= (out.eventCutoff.get(k) ?? -Infinity))) out.eventCutoff.set(k, cut);
    }
  }
  return out;
}
