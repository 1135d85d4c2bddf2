// `filewarden retention`, `filewarden verify` and `filewarden report`: the evidence an auditor gets
// (docs/compliance.md). Each reads Elasticsearch only through the options the other commands use.
import fs from 'node:fs';
import { esClient } from '../../indexer/src/es-client';
import { loadTrustedKeys } from '../../indexer/src/integrity/trusted-keys';
import { verifyChains, type VerifyResult } from '../../indexer/src/integrity/verify';
import { buildReport } from '../../indexer/src/report/report-data';
import { renderCsv } from '../../indexer/src/report/report-csv';
import { renderHtml } from '../../indexer/src/report/report-html';
import { htmlToPdf } from '../../indexer/src/report/report-pdf';
import { runRetention } from '../../indexer/src/retention/retention-job';
import { ilmPolicies, loadRetentionPolicy } from '../../indexer/src/retention/retention-policy';
import { esOptions, type EsCliOptions } from './pipeline';
import { checkPeriod } from './period';

type Log = (line: string) => void;

export interface IndexNames extends EsCliOptions {
  indexPrefix: string;
  deadletterIndex: string;
  checkpointIndex: string;
  alertIndex: string;
  auditIndex: string;
}

const period = (o: { from: Date; to: Date }): void => checkPeriod(o.from, o.to);

async function refreshAll(es: ReturnType<typeof esClient>, o: IndexNames): Promise<void> {
  await es.indices.refresh({ index: `${o.indexPrefix}-*,${o.deadletterIndex},${o.checkpointIndex},${o.alertIndex},${o.auditIndex}`, ignore_unavailable: true, allow_no_indices: true });
}

export interface RetentionCliOptions extends IndexNames {
  policy: string;
  dryRun?: boolean;
  asOf?: Date;
  json?: boolean;
}

export async function retentionRunCommand(stateDir: string, o: RetentionCliOptions, log: Log, err: Log): Promise<number> {
  const policy = loadRetentionPolicy(o.policy);
  const es = esClient(esOptions(stateDir, o));
  await refreshAll(es, o);
  const run = await runRetention(es, o, policy, { ...(o.asOf ? { asOf: o.asOf } : {}), dryRun: o.dryRun ?? false, log: err });
  if (o.json) log(JSON.stringify(run, null, 2));
  else {
    log(`retention ${run.dry_run ? 'dry run' : `run ${run.run_id}`} as of ${run.as_of}:`);
    for (const c of run.classes) {
      log(`  ${c.class.padEnd(7)} keep ${c.days} days (before ${c.cutoff}): ${run.dry_run ? 'would delete' : 'deleted'} ${c.deleted}${c.indices_deleted.length ? ` (whole indices: ${c.indices_deleted.join(', ')})` : ''}`);
      for (const h of c.held) log(`          held: ${h}`);
    }
    log(run.dry_run ? '  nothing was deleted or recorded (--dry-run)' : `  evidence: ${o.auditIndex}/retention-${run.run_id}`);
  }
  return 0;
}

export function retentionIlmCommand(o: { policy: string; indexPrefix: string; alertIndex: string; auditIndex: string }, log: Log): number {
  log(JSON.stringify(ilmPolicies(loadRetentionPolicy(o.policy), o), null, 2));
  return 0;
}

export interface VerifyCliOptions extends IndexNames {
  from: Date;
  to: Date;
  hosts: string[];
  trustedKeys: string[];
  json?: boolean;
}

export function formatVerify(r: VerifyResult, log: Log): void {
  for (const s of r.streams) {
    const key = s.keyTrusted === undefined ? `key ${s.key} (as recorded, not pinned)` : s.keyTrusted ? `trusted key ${s.key}` : `UNTRUSTED key ${s.key}`;
    log(`host ${s.host} boot ${s.boot} stream ${s.stream}: seq ${s.firstSeq}..${s.lastSeq}, ${s.links} links, ${key}; ${s.intact} intact, ${s.deadLettered} dead-lettered, ${s.expired} expired${s.restarts.length ? `, chain restarted at ${s.restarts.join(', ')}` : ''}`);
  }
  for (const f of r.findings) log(`  ${f.kind.toUpperCase()}: host ${f.host} boot ${f.boot} stream ${f.stream}${f.seq !== undefined ? ` seq ${f.seq}` : ''}: ${f.detail}`);
  log(r.streams.length === 0 ? `verify: no chain links between ${r.from} and ${r.to}` : r.ok ? 'verify: OK, every signed event is present and unchanged' : `verify: ${r.findings.length} findings`);
}

export async function verifyCommand(stateDir: string, o: VerifyCliOptions, log: Log): Promise<number> {
  period(o);
  const trusted = o.trustedKeys.length ? loadTrustedKeys(o.trustedKeys) : undefined;
  const es = esClient(esOptions(stateDir, o));
  await refreshAll(es, o);
  const r = await verifyChains(es, { eventIndices: `${o.indexPrefix}-*`, deadletterIndex: o.deadletterIndex, auditIndex: o.auditIndex }, { from: o.from, to: o.to, hosts: o.hosts, ...(trusted ? { trustedKeys: trusted } : {}) });
  if (o.json) log(JSON.stringify(r, null, 2));
  else formatVerify(r, log);
  return r.ok ? 0 : 1;
}

export interface ReportCliOptions extends VerifyCliOptions {
  paths: string[];
  sensitive: string[];
  critical: string[];
  /** Audit log prefixes (--logs). @defaultValue DEFAULT_LOGS */
  logs?: string[];
  format: 'html' | 'pdf' | 'csv' | 'json';
  out: string;
}

/** A one-line progress bar on a terminal; nothing when stderr is a file or a pipe. */
function progressBar(stream: NodeJS.WriteStream): (step: number, total: number, label: string) => void {
  return (step, total, label) => {
    if (!stream.isTTY) return;
    const w = 24;
    const fill = Math.round((w * (step - 1)) / total);
    stream.write(`\r\x1b[K[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${step}/${total} ${label}`);
  };
}

export async function reportCommand(stateDir: string, o: ReportCliOptions, log: Log): Promise<number> {
  period(o);
  const trusted = o.trustedKeys.length ? loadTrustedKeys(o.trustedKeys) : undefined;
  const es = esClient(esOptions(stateDir, o));
  await refreshAll(es, o);
  const bar = progressBar(process.stderr);
  const data = await buildReport(es, o, {
    from: o.from,
    to: o.to,
    hosts: o.hosts,
    paths: o.paths,
    ...(o.sensitive.length ? { sensitive: o.sensitive } : {}),
    ...(o.critical.length ? { critical: o.critical } : {}),
    ...(o.logs?.length ? { logs: o.logs } : {}),
    ...(trusted ? { trustedKeys: trusted } : {}),
    progress: bar,
  });
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K`);
  if (o.format === 'json') fs.writeFileSync(o.out, `${JSON.stringify(data, null, 2)}\n`);
  else if (o.format === 'csv') fs.writeFileSync(o.out, renderCsv(data));
  else if (o.format === 'html') fs.writeFileSync(o.out, renderHtml(data));
  else await htmlToPdf(renderHtml(data), o.out);
  const s = data.summary;
  log(`report: ${o.out} (${o.format}): ${s.events} events, ${s.sensitive_accesses} sensitive-file accesses, ${s.critical_writes} critical-file modifications, ${s.protected_removals} deletions or renames and ${s.permission_changes} permission changes of protected files, ${s.log_file_changes} log-file deletions or truncations, ${s.alerts} alerts, ${s.events_lost} events lost, verification ${s.verification_ok ? 'OK' : `${s.verification_findings} findings`}`);
  return 0;
}
