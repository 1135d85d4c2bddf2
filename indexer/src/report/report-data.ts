// The compliance report's numbers: every figure is one Elasticsearch query (or a verify run) over
// the period, so the HTML, PDF, CSV and JSON renderings all show the same facts.
import type { Client } from '@elastic/elasticsearch';
import { sequenceGaps } from '../gaps/sequence-gaps';
import { verifyChains, type VerifyResult } from '../integrity/verify';
import { scan } from '../es-scan';
import { retentionEvidence } from '../retention/retention-evidence';
import type { RetentionRun } from '../retention/retention-job';
import type { OperationName } from '../../../contract/src/event';

export interface ReportSources {
  indexPrefix: string;
  deadletterIndex: string;
  checkpointIndex: string;
  alertIndex: string;
  auditIndex: string;
}

export interface ReportOptions {
  from: Date;
  to: Date;
  /** Only these host names. @defaultValue all */
  hosts?: string[];
  /** Only events under these path prefixes. @defaultValue all */
  paths?: string[];
  /** Wildcard patterns (* and ?) of sensitive files. @defaultValue DEFAULT_SENSITIVE */
  sensitive?: string[];
  /** Path prefixes of critical system files. @defaultValue DEFAULT_CRITICAL */
  critical?: string[];
  /** Path prefixes of audit log files, whose deletion, renaming or truncation the report lists. @defaultValue DEFAULT_LOGS */
  logs?: string[];
  /** Host name -> trusted key ids, for the verification section. */
  trustedKeys?: Map<string, Set<string>>;
  /** Called before each step. */
  progress?(step: number, total: number, label: string): void;
}

export const DEFAULT_SENSITIVE = ['/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/etc/sudoers.d/*', '/root/.ssh/*', '/home/*/.ssh/*', '/etc/ssh/ssh_host_*_key', '/etc/ssl/private/*'];
/** Where the system's own audit trails live (syslog, journald, auditd). */
export const DEFAULT_LOGS = ['/var/log/'];
export const DEFAULT_CRITICAL = ['/etc/', '/boot/', '/bin/', '/sbin/', '/lib/', '/lib64/', '/usr/bin/', '/usr/sbin/', '/usr/lib/', '/usr/local/bin/', '/usr/local/sbin/'];

export interface Count {
  key: string;
  count: number;
}

/** The operations of the deletions-and-renames section, and of the permission-changes section. */
export const REMOVAL_OPERATIONS: readonly OperationName[] = ['unlink', 'rmdir', 'rename'];
export const ATTRIBUTE_OPERATIONS: readonly OperationName[] = ['chmod', 'chown', 'setxattr', 'removexattr'];
/** Operations other than open that modify a critical file at its path: written (a write session), replaced (rename onto it), cut (truncate) or created. */
export const MODIFYING_OPERATIONS: readonly OperationName[] = ['modify', 'rename', 'truncate', 'link', 'symlink', 'mknod', 'mkdir'];
/** At most this many events are listed one by one in each section (the counts stay exact). */
export const ROW_LIMIT = 200;

/** One event listed in a section: who did what to which file, and what it changed, as far as known. */
export interface OperationRow {
  time: string;
  host: string;
  /** The user's name, or `uid N` when the collector did not know it. */
  user: string;
  process: string;
  /** `open` for documents of version-1 batches, which carry no operation (all opens). */
  operation: OperationName;
  outcome: string;
  path: string;
  /** rename: the path before. */
  original_path?: string;
  /** link: the existing file; symlink: the target as stored. */
  target_path?: string;
  /** chmod: the mode before (known when an fd named the file) and after. */
  mode?: { old?: string; new?: string };
  /** chown: uid:gid before (when known) and after; `unchanged` where the call left one as it was. */
  owner?: { old?: string; new: string };
  /** chmod: the special bits the new mode has (setuid, setgid, sticky, world-writable). */
  special?: string[];
  xattr?: string;
  /** truncate: the length as passed. */
  length?: string;
  /** modify: the bytes the write session wrote, and its write calls. */
  bytes_written?: string;
  writes?: number;
  /** The same facts as one line of text, as every rendering shows it. */
  detail: string;
}

/** A section of operation events: exact counts, and the first ROW_LIMIT events in time order. */
export interface OperationSection {
  total: number;
  by_operation: Count[];
  by_outcome: Count[];
  by_process: Count[];
  by_user: Count[];
  by_host: Count[];
  events: OperationRow[];
}

export interface HostCompleteness {
  host: string;
  boots: string[];
  heartbeats: number;
  /**
   * Silences longer than three heartbeat intervals: between heartbeats, from the last one before
   * the period, and from the last one to the period's end (or now).
   */
  heartbeat_gaps: { from: string; to: string; seconds: number }[];
  kernel_dropped: number;
  args_lost: number;
  spool_dropped: number;
  dead_letters: number;
  /** Sequence numbers neither indexed nor dead-lettered, minus those a retention run deleted. */
  sequence_missing: number;
  sequence_expired: number;
  sequence_ranges: { boot: string; stream: string; from: number; to: number }[];
}

export interface ReportData {
  title: string;
  generated_at: string;
  period: { from: string; to: string };
  filters: { hosts: string[]; paths: string[]; sensitive: string[]; critical: string[]; logs: string[] };
  summary: {
    events: number;
    hosts: number;
    users: number;
    processes: number;
    sensitive_accesses: number;
    critical_writes: number;
    protected_removals: number;
    permission_changes: number;
    log_file_changes: number;
    alerts: number;
    enforcement_actions: number;
    events_lost: number;
    verification_ok: boolean;
    verification_findings: number;
  };
  sensitive_access: { total: number; by_user: Count[]; by_outcome: Count[]; by_process: Count[]; by_host: Count[]; files: Count[] };
  critical_writes: { total: number; by_operation: Count[]; by_outcome: Count[]; by_process: Count[]; by_user: Count[]; by_host: Count[]; files: Count[] };
  /** unlink, rmdir and rename of a sensitive or critical file (by its path, or a rename's original path). */
  protected_removals: OperationSection;
  /** chmod, chown, setxattr and removexattr of a sensitive or critical file. */
  permission_changes: OperationSection & { by_special: Count[] };
  /** Deletions, renames (from or to) and truncations (truncate, or an O_TRUNC open) of files under the log prefixes. */
  log_files: OperationSection;
  alerts: { total: number; by_rule: Count[]; by_severity: Count[]; enforcement_status: Count[]; commands: Count[]; kernel_actions: Count[] };
  activity: { interval: string; timeline: { t: string; count: number }[]; top_processes: Count[]; top_users: Count[] };
  completeness: HostCompleteness[];
  verification: { ok: boolean; streams: number; links: number; intact: number; dead_lettered: number; expired: number; restarts: number; findings_by_kind: Count[]; findings: VerifyResult['findings'] };
  retention: {
    policy?: RetentionRun['policy'];
    oldest: { events?: string; alerts?: string; audit?: string };
    runs: { as_of: string; deleted: Record<string, number>; held: string[] }[];
    deleted_in_period: Record<string, number>;
  };
  pci: { requirement: string; title: string; evidence: string; status: 'met' | 'attention' }[];
}

type Agg = { buckets: { key: string | number; key_as_string?: string; doc_count: number }[] };
const counts = (a: unknown): Count[] => ((a as Agg | undefined)?.buckets ?? []).map((b) => ({ key: String(b.key), count: b.doc_count }));
const terms = (field: string, size = 10): object => ({ terms: { field, size } });

/** A fixed histogram interval giving at most about 60 bars over the period. */
function intervalFor(ms: number): { es: string; label: string } {
  const steps: [number, string][] = [[60_000, '1m'], [300_000, '5m'], [900_000, '15m'], [3_600_000, '1h'], [10_800_000, '3h'], [43_200_000, '12h'], [86_400_000, '1d'], [604_800_000, '7d']];
  for (const [n, s] of steps) if (ms / n <= 60) return { es: s, label: s };
  return { es: '30d', label: '30d' };
}

export async function buildReport(es: Client, src: ReportSources, o: ReportOptions): Promise<ReportData> {
  const events = `${src.indexPrefix}-*`;
  const sensitive = o.sensitive ?? DEFAULT_SENSITIVE;
  const critical = o.critical ?? DEFAULT_CRITICAL;
  const logs = o.logs ?? DEFAULT_LOGS;
  const range = { range: { '@timestamp': { gte: o.from.toISOString(), lte: o.to.toISOString() } } };
  const hostF = o.hosts?.length ? [{ terms: { 'host.name': o.hosts } }] : [];
  const base: object[] = [range, ...hostF];
  const any = (qs: object[]): object => ({ bool: { should: qs, minimum_should_match: 1 } });
  const prefixes = (ps: string[], fields: string[]): object[] => fields.flatMap((f) => ps.map((p) => ({ prefix: { [f]: p } })));
  const patterns = (gs: string[], fields: string[]): object[] => fields.flatMap((f) => gs.map((g) => ({ wildcard: { [f]: { value: g } } })));
  // A rename out of a path in scope is activity in scope too: it names that path as its original.
  const bothPaths = ['file.path', 'filewarden.original_path'];
  const eventF: object[] = [...base, ...(o.paths?.length ? [any(prefixes(o.paths, bothPaths))] : [])];
  const sensitiveQ = any(patterns(sensitive, ['file.path']));
  const ops = (names: readonly OperationName[]): object => ({ terms: { 'filewarden.operation': names } });
  // The access flags exist on opens only; documents of version-1 batches have no operation and are all opens.
  const writeQ = any([{ term: { 'filewarden.access.write': true } }, { term: { 'filewarden.access.truncate': true } }, { term: { 'filewarden.access.create': true } }]);
  const criticalQ = { bool: { filter: [any([writeQ, ops(MODIFYING_OPERATIONS)]), any(prefixes(critical, ['file.path']))] } };
  // Protected: a sensitive file or one under a critical prefix.
  const protectedOn = (fields: string[]): object => any([...patterns(sensitive, fields), ...prefixes(critical, fields)]);
  const removalQ = { bool: { filter: [ops(REMOVAL_OPERATIONS), protectedOn(bothPaths)] } };
  const attributeQ = { bool: { filter: [ops(ATTRIBUTE_OPERATIONS), protectedOn(['file.path'])] } };
  const logQ = {
    bool: {
      filter: [
        any([
          { bool: { filter: [ops(REMOVAL_OPERATIONS), any(prefixes(logs, bothPaths))] } },
          { bool: { filter: [any([ops(['truncate']), { term: { 'filewarden.access.truncate': true } }]), any(prefixes(logs, ['file.path']))] } },
        ]),
      ],
    },
  };
  const STEPS = 12;
  let step = 0;
  const progress = (label: string): void => o.progress?.(++step, STEPS, label);
  const search = (index: string, query: object, aggs: Record<string, object>) =>
    es.search({ index, size: 0, track_total_hits: true, ignore_unavailable: true, allow_no_indices: true, query, aggs });
  const total = (r: { hits: { total?: number | { value: number } } }): number => (typeof r.hits.total === 'number' ? r.hits.total : (r.hits.total?.value ?? 0));

  progress('events overview');
  const span = o.to.getTime() - o.from.getTime();
  const iv = intervalFor(span);
  const ov = await search(events, { bool: { filter: eventF } }, {
    hosts: { cardinality: { field: 'host.name' } },
    users: { cardinality: { field: 'user.id' } },
    procs: { cardinality: { field: 'process.name' } },
    timeline: { date_histogram: { field: '@timestamp', fixed_interval: iv.es, min_doc_count: 0, extended_bounds: { min: o.from.getTime(), max: o.to.getTime() } } },
    top_processes: terms('process.name'),
    top_users: terms('user.name'),
    kernel: { filter: { bool: { must_not: [{ term: { 'filewarden.action': 'allow' } }] } }, aggs: { action: terms('filewarden.action') } },
    host_boots: { terms: { field: 'host.name', size: 1000 }, aggs: { boots: terms('filewarden.boot_id', 1000) } },
  });
  // An index that does not exist yet answers without aggregations: every count is then zero.
  const a = (ov.aggregations ?? {}) as Record<string, ({ value?: number; buckets?: unknown } & { action?: unknown }) | undefined>;

  progress('sensitive files');
  const sens = await search(events, { bool: { filter: [...eventF, sensitiveQ] } }, { user: terms('user.name'), uid: terms('user.id'), outcome: terms('event.outcome'), proc: terms('process.name'), host: terms('host.name'), file: terms('file.path', 20) });
  const sa = (sens.aggregations ?? {}) as Record<string, unknown>;

  progress('critical writes');
  const crit = await search(events, { bool: { filter: [...eventF, criticalQ] } }, { op: OP_TERMS, outcome: terms('event.outcome'), user: terms('user.name'), proc: terms('process.name'), host: terms('host.name'), file: terms('file.path', 20) });
  const ca = (crit.aggregations ?? {}) as Record<string, unknown>;

  const section = async (query: object, extra: Record<string, object> = {}): Promise<{ s: OperationSection; a: Record<string, unknown> }> => {
    const r = await es.search<RowSource>({
      index: events,
      size: ROW_LIMIT,
      track_total_hits: true,
      ignore_unavailable: true,
      allow_no_indices: true,
      query: { bool: { filter: [...eventF, query] } },
      sort: [{ '@timestamp': 'asc' }],
      _source: ROW_FIELDS,
      aggs: { op: OP_TERMS, outcome: terms('event.outcome'), proc: terms('process.name'), user: terms('user.name'), uid: terms('user.id'), host: terms('host.name'), ...extra },
    });
    const x = (r.aggregations ?? {}) as Record<string, unknown>;
    const s = { total: total(r), by_operation: counts(x.op), by_outcome: counts(x.outcome), by_process: counts(x.proc), by_user: userCounts(x.user, x.uid), by_host: counts(x.host), events: r.hits.hits.map((h) => operationRow(h._source!)) };
    return { s, a: x };
  };
  progress('deletions and renames of protected files');
  const removals = (await section(removalQ)).s;
  progress('permission and owner changes of protected files');
  const attrs = await section(attributeQ, { special: terms('filewarden.change.special') });
  progress('audit log files');
  const logChanges = (await section(logQ)).s;

  progress('alerts and enforcement');
  const al = await search(src.alertIndex, { bool: { filter: base } }, { rule: terms('rule.id', 20), sev: terms('filewarden.alert.severity'), enf: terms('filewarden.enforcement.status') });
  const aa = (al.aggregations ?? {}) as Record<string, unknown>;
  const au = await search(src.auditIndex, { bool: { filter: [...base, { exists: { field: 'filewarden.audit.decision' } }] } }, { d: { terms: { field: 'filewarden.audit.decision', size: 10 }, aggs: { r: terms('filewarden.audit.reason', 20) } } });
  const commands: Count[] = [];
  for (const d of ((au.aggregations?.d as Agg | undefined)?.buckets ?? []) as unknown as { key: string; r: Agg }[]) {
    for (const r of d.r.buckets) commands.push({ key: `${d.key} (${r.key})`, count: r.doc_count });
  }

  progress('completeness');
  const hostBoots = ((a.host_boots as unknown as { buckets: { key: string; boots: Agg }[] } | undefined)?.buckets ?? []).map((b) => ({ host: b.key, boots: b.boots.buckets.map((x) => String(x.key)) }));
  const evidence = await retentionEvidence(es, src.auditIndex);
  const completeness: HostCompleteness[] = [];
  for (const hb of hostBoots) completeness.push(await hostCompleteness(es, src, o, hb.host, hb.boots, evidence.runs));

  progress('verification');
  const v = await verifyChains(es, { eventIndices: events, deadletterIndex: src.deadletterIndex, auditIndex: src.auditIndex }, { from: o.from, to: o.to, evidence, ...(o.hosts ? { hosts: o.hosts } : {}), ...(o.trustedKeys ? { trustedKeys: o.trustedKeys } : {}) });
  const byKind = new Map<string, number>();
  for (const f of v.findings) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);

  progress('retention');
  const oldest = async (index: string, extra: object[] = []): Promise<string | undefined> => {
    const r = await es.search({ index, size: 0, ignore_unavailable: true, allow_no_indices: true, query: { bool: { filter: [...hostF, ...extra] } }, aggs: { m: { min: { field: '@timestamp' } } } });
    const m = (r.aggregations?.m as { value: number | null; value_as_string?: string } | undefined)?.value;
    return m === null || m === undefined ? undefined : new Date(m).toISOString();
  };
  const inPeriod = evidence.runs.filter((r) => Date.parse(r.as_of) >= o.from.getTime() && Date.parse(r.as_of) <= o.to.getTime());
  const deletedInPeriod: Record<string, number> = { events: 0, alerts: 0, audit: 0 };
  for (const r of inPeriod) for (const c of r.classes) deletedInPeriod[c.class] = (deletedInPeriod[c.class] ?? 0) + c.deleted;
  const latest = evidence.runs[evidence.runs.length - 1];
  const retention: ReportData['retention'] = {
    ...(latest ? { policy: latest.policy } : {}),
    oldest: { events: await oldest(events), alerts: await oldest(src.alertIndex), audit: await oldest(src.auditIndex, [{ bool: { must_not: [{ exists: { field: 'filewarden.chain.head' } }] } }]) },
    runs: inPeriod.map((r) => ({ as_of: r.as_of, deleted: Object.fromEntries(r.classes.map((c) => [c.class, c.deleted])), held: r.classes.flatMap((c) => c.held) })),
    deleted_in_period: deletedInPeriod,
  };

  progress('summary');
  const lost = completeness.reduce((n, c) => n + c.kernel_dropped + c.spool_dropped + c.sequence_missing, 0);
  const kernelActions = counts((a.kernel as unknown as { action: Agg } | undefined)?.action);
  const enforcementActions = commands.filter((c) => c.key.startsWith('applied')).reduce((n, c) => n + c.count, 0) + kernelActions.reduce((n, c) => n + c.count, 0);
  const data: ReportData = {
    title: 'filewarden file-activity compliance report',
    generated_at: new Date().toISOString(),
    period: { from: o.from.toISOString(), to: o.to.toISOString() },
    filters: { hosts: o.hosts ?? [], paths: o.paths ?? [], sensitive, critical, logs },
    summary: {
      events: total(ov),
      hosts: a.hosts?.value ?? 0,
      users: a.users?.value ?? 0,
      processes: a.procs?.value ?? 0,
      sensitive_accesses: total(sens),
      critical_writes: total(crit),
      protected_removals: removals.total,
      permission_changes: attrs.s.total,
      log_file_changes: logChanges.total,
      alerts: total(al),
      enforcement_actions: enforcementActions,
      events_lost: lost,
      verification_ok: v.ok,
      verification_findings: v.findings.length,
    },
    sensitive_access: { total: total(sens), by_user: userCounts(sa.user, sa.uid), by_outcome: counts(sa.outcome), by_process: counts(sa.proc), by_host: counts(sa.host), files: counts(sa.file) },
    critical_writes: { total: total(crit), by_operation: counts(ca.op), by_outcome: counts(ca.outcome), by_process: counts(ca.proc), by_user: counts(ca.user), by_host: counts(ca.host), files: counts(ca.file) },
    protected_removals: removals,
    permission_changes: { ...attrs.s, by_special: counts(attrs.a.special) },
    log_files: logChanges,
    alerts: { total: total(al), by_rule: counts(aa.rule), by_severity: counts(aa.sev), enforcement_status: counts(aa.enf), commands, kernel_actions: kernelActions },
    activity: {
      interval: iv.label,
      timeline: ((a.timeline as unknown as Agg | undefined)?.buckets ?? []).map((b) => ({ t: new Date(Number(b.key)).toISOString(), count: b.doc_count })),
      top_processes: counts(a.top_processes),
      top_users: counts(a.top_users),
    },
    completeness,
    verification: {
      ok: v.ok,
      streams: v.streams.length,
      links: v.streams.reduce((n, s) => n + s.links, 0),
      intact: v.streams.reduce((n, s) => n + s.intact, 0),
      dead_lettered: v.streams.reduce((n, s) => n + s.deadLettered, 0),
      expired: v.streams.reduce((n, s) => n + s.expired, 0),
      restarts: v.streams.reduce((n, s) => n + s.restarts.length, 0),
      findings_by_kind: [...byKind].map(([key, count]) => ({ key, count })),
      findings: v.findings.slice(0, 200),
    },
    retention,
    pci: [],
  };
  data.pci = pciMapping(data);
  return data;
}

/** Operations, with version-1 documents (no operation: all opens) counted as opens. */
const OP_TERMS = { terms: { field: 'filewarden.operation', size: 20, missing: 'open' } };

/** The fields a listed event shows. */
const ROW_FIELDS = ['@timestamp', 'host.name', 'user.id', 'user.name', 'process.name', 'event.outcome', 'file.path', 'file.target_path', 'filewarden.operation', 'filewarden.original_path', 'filewarden.mode', 'filewarden.change', 'filewarden.open_flags.names'];
interface RowSource {
  '@timestamp': string;
  host?: { name?: string };
  user?: { id?: string; name?: string };
  process?: { name?: string };
  event?: { outcome?: string };
  file?: { path?: string; target_path?: string };
  filewarden?: { operation?: OperationName; original_path?: string; mode?: string; change?: { special?: string[]; old_mode?: string; uid?: string; gid?: string; old_uid?: string; old_gid?: string; length?: number | string; xattr?: string; bytes_written?: number | string; writes?: number }; open_flags?: { names?: string[] } };
}

/** One document as a listed event, with its facts in one line of text. */
export function operationRow(src: RowSource): OperationRow {
  const f = src.filewarden ?? {};
  const c = f.change ?? {};
  const op = f.operation ?? 'open';
  const row: OperationRow = {
    time: src['@timestamp'],
    host: src.host?.name ?? '',
    user: src.user?.name ?? `uid ${src.user?.id ?? '?'}`,
    process: src.process?.name ?? '',
    operation: op,
    outcome: src.event?.outcome ?? '',
    path: src.file?.path ?? '',
    detail: '',
  };
  if (f.original_path !== undefined) row.original_path = f.original_path;
  if (src.file?.target_path !== undefined) row.target_path = src.file.target_path;
  if (op === 'chmod') {
    row.mode = { ...(c.old_mode !== undefined ? { old: c.old_mode } : {}), ...(f.mode !== undefined ? { new: f.mode } : {}) };
    row.special = c.special ?? [];
  }
  if (op === 'chown') {
    const old = c.old_uid !== undefined ? `${c.old_uid}:${c.old_gid ?? '?'}` : undefined;
    row.owner = { ...(old !== undefined ? { old } : {}), new: `${c.uid ?? 'unchanged'}:${c.gid ?? 'unchanged'}` };
  }
  if (c.xattr !== undefined) row.xattr = c.xattr;
  if (c.length !== undefined) row.length = String(c.length);
  if (c.bytes_written !== undefined) row.bytes_written = String(c.bytes_written);
  if (c.writes !== undefined) row.writes = c.writes;
  row.detail = rowDetail(row, f.open_flags?.names);
  return row;
}

function rowDetail(r: OperationRow, openFlags: string[] | undefined): string {
  switch (r.operation) {
    case 'rename':
      return `${r.original_path ?? '(original path unknown)'} -> ${r.path}`;
    case 'chmod':
      return `mode ${r.mode?.old ?? 'unknown'} -> ${r.mode?.new ?? 'unknown'}${r.special?.length ? ` (${r.special.join(', ')})` : ''}`;
    case 'chown':
      return `owner ${r.owner?.old ?? 'unknown'} -> ${r.owner?.new ?? 'unknown'}`;
    case 'setxattr':
      return `attribute ${r.xattr ?? '(name unknown)'} set`;
    case 'removexattr':
      return `attribute ${r.xattr ?? '(name unknown)'} removed`;
    case 'truncate':
      return `truncated to ${r.length ?? '?'} bytes`;
    case 'modify':
      return `wrote ${r.bytes_written ?? '?'} bytes in ${r.writes ?? '?'} writes`;
    case 'link':
    case 'symlink':
      return `${r.operation} to ${r.target_path ?? '(target unknown)'}`;
    case 'open':
      return openFlags?.length ? `open ${openFlags.join('|')}` : 'open';
    default:
      return r.operation;
  }
}

/** Users by name where the collector knew it, by uid where it did not (the totals stay exact). */
function userCounts(byName: unknown, byUid: unknown): Count[] {
  const named = counts(byName);
  const ids = counts(byUid);
  const namedTotal = named.reduce((n, c) => n + c.count, 0);
  const idTotal = ids.reduce((n, c) => n + c.count, 0);
  return namedTotal === idTotal ? named : ids.map((c) => ({ key: `uid ${c.key}`, count: c.count }));
}

async function hostCompleteness(es: Client, src: ReportSources, o: ReportOptions, host: string, boots: string[], runs: RetentionRun[]): Promise<HostCompleteness> {
  const c: HostCompleteness = { host, boots, heartbeats: 0, heartbeat_gaps: [], kernel_dropped: 0, args_lost: 0, spool_dropped: 0, dead_letters: 0, sequence_missing: 0, sequence_expired: 0, sequence_ranges: [] };
  // Heartbeats: counters restart with each collector run, so losses are per run: the highest value
  // in the period minus the highest before it.
  // Heartbeats that no enrolled key signed are stored as evidence of the claim, never counted.
  const hbF = [{ term: { 'host.name': host } }, { exists: { field: 'filewarden.heartbeat.run' } }, { bool: { must_not: { term: { 'filewarden.trust.status': 'untrusted' } } } }];
  const perRun = async (r: object): Promise<Map<string, { k: number; a: number; s: number }>> => {
    const x = await es.search({
      index: src.checkpointIndex,
      size: 0,
      ignore_unavailable: true,
      query: { bool: { filter: [...hbF, r] } },
      aggs: { run: { terms: { field: 'filewarden.heartbeat.run', size: 10_000 }, aggs: { k: { max: { field: 'filewarden.heartbeat.kernel_dropped' } }, a: { max: { field: 'filewarden.heartbeat.args_lost' } }, s: { max: { field: 'filewarden.heartbeat.spool_dropped' } } } } },
    });
    const m = new Map<string, { k: number; a: number; s: number }>();
    for (const b of (x.aggregations?.run as { buckets: { key: string; k: { value: number }; a: { value: number }; s: { value: number } }[] } | undefined)?.buckets ?? []) m.set(b.key, { k: b.k.value, a: b.a.value, s: b.s.value });
    return m;
  };
  const during = await perRun({ range: { '@timestamp': { gte: o.from.toISOString(), lte: o.to.toISOString() } } });
  const before = await perRun({ range: { '@timestamp': { lt: o.from.toISOString() } } });
  for (const [run, v] of during) {
    const b = before.get(run) ?? { k: 0, a: 0, s: 0 };
    c.kernel_dropped += v.k - b.k;
    c.args_lost += v.a - b.a;
    c.spool_dropped += v.s - b.s;
  }
  // The last heartbeat before the period: a host silent since then has a gap at the period's start.
  const before0 = await es.search<{ '@timestamp': string; filewarden: { heartbeat: { interval_ms: number } } }>({
    index: src.checkpointIndex,
    size: 1,
    ignore_unavailable: true,
    query: { bool: { filter: [...hbF, { range: { '@timestamp': { lt: o.from.toISOString() } } }] } },
    sort: [{ '@timestamp': 'desc' }],
    _source: ['@timestamp', 'filewarden.heartbeat.interval_ms'],
  });
  const last0 = before0.hits.hits[0]?._source;
  const gap = (from: number, to: number): void => void c.heartbeat_gaps.push({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), seconds: Math.round((to - from) / 1000) });
  let prev: { at: number; interval: number } | undefined = last0 ? { at: Math.max(Date.parse(last0['@timestamp']), o.from.getTime()), interval: last0.filewarden.heartbeat.interval_ms } : undefined;
  for await (const h of scan<{ '@timestamp': string; filewarden: { heartbeat: { interval_ms: number; run: string } } }>(es, {
    index: src.checkpointIndex,
    query: { bool: { filter: [...hbF, { range: { '@timestamp': { gte: o.from.toISOString(), lte: o.to.toISOString() } } }] } },
    sort: [{ '@timestamp': 'asc' }, { 'filewarden.heartbeat.run': 'asc' }],
    source: ['@timestamp', 'filewarden.heartbeat.interval_ms', 'filewarden.heartbeat.run'],
  })) {
    const at = Date.parse(h._source!['@timestamp']);
    const interval = h._source!.filewarden.heartbeat.interval_ms;
    c.heartbeats++;
    if (prev && at - prev.at > 3 * Math.max(interval, prev.interval)) gap(prev.at, at);
    prev = { at, interval };
  }
  // Silent since the last heartbeat, up to the period's end (or now, for a period still running).
  const end = Math.min(o.to.getTime(), Date.now());
  if (prev && end - prev.at > 3 * prev.interval) gap(prev.at, end);
  const dl = await es.count({ index: src.deadletterIndex, ignore_unavailable: true, allow_no_indices: true, query: { bool: { filter: [{ terms: { 'filewarden.boot_id': boots } }, { range: { '@timestamp': { gte: o.from.toISOString(), lte: o.to.toISOString() } } }] } } });
  c.dead_letters = dl.count;
  // Sequence gaps over each boot's whole stream; numbers a retention run deleted are expired, not lost.
  const expired = runs.flatMap((r) => r.streams);
  for (const boot of boots) {
    for (const g of await sequenceGaps(es, { indices: [`${src.indexPrefix}-*`, src.deadletterIndex], checkpointIndex: src.checkpointIndex }, { bootId: boot })) {
      for (const m of g.missing) {
        let lost = m.to - m.from + 1;
        for (const e of expired) {
          if (e.boot !== g.bootId || e.stream !== g.stream) continue;
          const lo = Math.max(m.from, e.from);
          const hi = Math.min(m.to, e.to);
          if (hi >= lo) lost -= hi - lo + 1;
        }
        c.sequence_expired += m.to - m.from + 1 - lost;
        c.sequence_missing += lost;
        if (lost > 0) c.sequence_ranges.push({ boot: g.bootId, stream: g.stream, from: m.from, to: m.to });
      }
    }
  }
  return c;
}

/** " (open 3, rename 1)": the operations behind a count, for the PCI evidence text. */
const opList = (c: Count[]): string => (c.length ? ` (${c.map((x) => `${x.key} ${x.count}`).join(', ')})` : '');

function pciMapping(d: ReportData): ReportData['pci'] {
  const s = d.summary;
  const gaps = d.completeness.reduce((n, c) => n + c.heartbeat_gaps.length, 0);
  const days = d.retention.policy?.days.events;
  return [
    {
      requirement: '10.2',
      title: 'Audit logs capture user access to system components and critical files',
      evidence: `${s.events} file-access events from ${s.hosts} hosts, ${s.users} users and ${s.processes} process names; ${s.sensitive_accesses} accesses to sensitive files, each with user, process and host`,
      status: s.events > 0 && gaps === 0 ? 'met' : 'attention',
    },
    {
      requirement: '10.3',
      title: 'Audit logs are protected from destruction and unauthorized modification',
      evidence: `${d.verification.links} signed hash-chain links and ${d.verification.intact} events verified; ${s.verification_findings} findings (deleted, modified, reordered or unchained)`,
      status: s.verification_ok && d.verification.links > 0 ? 'met' : 'attention',
    },
    {
      // PCI DSS v4.0 numbering, as the rest of this table (3.2.1 had this as 10.5.2 and 10.5.5).
      requirement: '10.3.4',
      title: 'Change detection on audit logs: existing log data cannot be changed without being detected',
      evidence: `${s.log_file_changes} deletions, renames and truncations of log files under ${d.filters.logs.join(' ') || 'no prefix'}${opList(d.log_files.by_operation)}, each listed with user, process and host`,
      status: s.events > 0 && d.filters.logs.length > 0 ? 'met' : 'attention',
    },
    {
      requirement: '10.5.1',
      title: 'Audit log history is retained for at least 12 months (3 months immediately available)',
      evidence: days === undefined ? 'no retention run is recorded' : `events are kept ${days} days by policy (${d.retention.policy!.source}); oldest event held ${d.retention.oldest.events ?? 'none'}; ${d.retention.runs.length} retention runs in the period`,
      status: days !== undefined && days >= 365 ? 'met' : 'attention',
    },
    {
      requirement: '10.7',
      title: 'Failures of critical security control systems are detected and reported',
      evidence: `${s.events_lost} events lost (kernel drops, spool overflow, sequence gaps), ${d.completeness.reduce((n, c) => n + c.dead_letters, 0)} dead letters, ${gaps} collector heartbeat gaps, all per host below`,
      status: s.events_lost === 0 && gaps === 0 ? 'met' : 'attention',
    },
    {
      requirement: '11.5',
      title: 'Unexpected changes to critical files are detected and responded to',
      evidence: `${s.critical_writes} modifications of critical system files${opList(d.critical_writes.by_operation)} (${d.filters.critical.length} monitored prefixes); ${s.protected_removals} deletions or renames and ${s.permission_changes} permission, owner or attribute changes of protected files; ${s.alerts} alerts and ${s.enforcement_actions} enforcement actions`,
      status: s.events > 0 && d.filters.critical.length > 0 ? 'met' : 'attention',
    },
  ];
}
