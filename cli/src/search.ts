// `filewarden search`: find events (or alerts, or audit records) with a Lucene query over a time window,
// as a table for people or NDJSON of the documents for tools.
import { InvalidArgumentError } from 'commander';
import { esClient } from '../../indexer/src/es-client';
import { searchEvents, type SearchHit } from '../../indexer/src/search/search-events';
import { esOptions, type EsCliOptions } from './pipeline';
import { checkPeriod } from './period';

type Log = (line: string) => void;

export interface SearchCliOptions extends EsCliOptions {
  from: Date;
  to: Date;
  size: number;
  json?: boolean;
  alerts?: boolean;
  audit?: boolean;
  indexPrefix: string;
  alertIndex: string;
  auditIndex: string;
}

/** A dotted field of a document, or undefined. */
function field(doc: Record<string, unknown>, dotted: string): unknown {
  let v: unknown = doc;
  for (const k of dotted.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** The first of these fields that the document has, printable on one line: a path may hold a newline or a control byte. */
function cell(doc: Record<string, unknown>, fields: string[]): string {
  for (const f of fields) {
    const v = field(doc, f);
    if (v !== undefined && v !== null && v !== '') return String(v).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  }
  return '-';
}

/**
 * The table's columns. Alerts and audit records have no event.action or file.path of their own, so each column
 * falls back to what those documents carry in its place (the rule, the enforcement status, the message).
 */
const COLUMNS: [string, string[]][] = [
  ['TIME', ['@timestamp']],
  ['HOST', ['host.name']],
  ['USER', ['user.name', 'user.id']],
  ['PROCESS', ['process.name', 'filewarden.audit.target.comm']],
  ['ACTION', ['event.action', 'rule.name']],
  ['OUTCOME', ['event.outcome', 'filewarden.enforcement.status', 'filewarden.audit.decision']],
  ['PATH', ['file.path', 'message']],
];

export function formatTable(hits: SearchHit[]): string[] {
  const rows = [COLUMNS.map(([h]) => h), ...hits.map((h) => COLUMNS.map(([, fields]) => cell(h.source, fields)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  // The last column (the path) is not padded: it is as long as it is.
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

export async function searchCommand(stateDir: string, query: string | undefined, o: SearchCliOptions, log: Log, err: Log): Promise<number> {
  if (o.alerts && o.audit) throw new InvalidArgumentError('--alerts and --audit choose one index each: give one of them');
  checkPeriod(o.from, o.to);
  const index = o.alerts ? o.alertIndex : o.audit ? o.auditIndex : `${o.indexPrefix}-*`;
  const es = esClient(esOptions(stateDir, o));
  try {
    const r = await searchEvents(es, { index, ...(query !== undefined ? { query } : {}), from: o.from, to: o.to, size: o.size });
    const noun = o.alerts ? 'alerts' : o.audit ? 'audit records' : 'events';
    // With --json, standard output is NDJSON and nothing else.
    const say = o.json ? err : log;
    if (r.hits.length === 0) {
      say(`search: no ${noun} match`);
      return 0;
    }
    if (o.json) for (const h of r.hits) log(JSON.stringify(h.source));
    else for (const line of formatTable(r.hits)) log(line);
    const shown = r.total > r.hits.length ? `${r.hits.length} of ${r.total} ${noun} (the oldest; raise --size or narrow --from)` : `${r.total} ${noun}`;
    say(`search: ${shown} in ${index} from ${o.from.toISOString()} to ${o.to.toISOString()}`);
    return 0;
  } finally {
    await es.close();
  }
}
