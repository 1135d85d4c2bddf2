// The report as one CSV table for spreadsheets: section, group, key, value (RFC 4180 quoting).
import type { Count, OperationSection, ReportData } from './report-data';

const cell = (v: unknown): string => {
  const s = String(v ?? '');
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function renderCsv(d: ReportData): string {
  const rows: unknown[][] = [['section', 'group', 'key', 'value']];
  const add = (section: string, group: string, c: Count[]): void => void c.forEach((x) => rows.push([section, group, x.key, x.count]));
  rows.push(['period', 'from', '', d.period.from], ['period', 'to', '', d.period.to]);
  for (const [k, v] of Object.entries(d.summary)) rows.push(['summary', k, '', v]);
  add('sensitive_access', 'by_user', d.sensitive_access.by_user);
  add('sensitive_access', 'by_outcome', d.sensitive_access.by_outcome);
  add('sensitive_access', 'by_process', d.sensitive_access.by_process);
  add('sensitive_access', 'by_host', d.sensitive_access.by_host);
  add('sensitive_access', 'files', d.sensitive_access.files);
  add('critical_writes', 'by_operation', d.critical_writes.by_operation);
  add('critical_writes', 'by_outcome', d.critical_writes.by_outcome);
  add('critical_writes', 'by_process', d.critical_writes.by_process);
  add('critical_writes', 'by_user', d.critical_writes.by_user);
  add('critical_writes', 'by_host', d.critical_writes.by_host);
  add('critical_writes', 'files', d.critical_writes.files);
  // Each listed event: group event_<operation>, key "time host user process outcome path", value its change.
  const operations = (section: string, o: OperationSection): void => {
    for (const g of ['by_operation', 'by_outcome', 'by_process', 'by_user', 'by_host'] as const) add(section, g, o[g]);
    for (const r of o.events) rows.push([section, `event_${r.operation}`, `${r.time} ${r.host} ${r.user} ${r.process} ${r.outcome} ${r.path}`, r.detail]);
  };
  operations('protected_removals', d.protected_removals);
  add('permission_changes', 'by_special', d.permission_changes.by_special);
  operations('permission_changes', d.permission_changes);
  operations('log_files', d.log_files);
  add('alerts', 'by_rule', d.alerts.by_rule);
  add('alerts', 'by_severity', d.alerts.by_severity);
  add('alerts', 'enforcement_status', d.alerts.enforcement_status);
  add('alerts', 'commands', d.alerts.commands);
  add('alerts', 'kernel_actions', d.alerts.kernel_actions);
  for (const p of d.activity.timeline) rows.push(['activity', `timeline_${d.activity.interval}`, p.t, p.count]);
  add('activity', 'top_processes', d.activity.top_processes);
  add('activity', 'top_users', d.activity.top_users);
  for (const c of d.completeness) {
    for (const k of ['kernel_dropped', 'args_lost', 'spool_dropped', 'dead_letters', 'sequence_missing', 'sequence_expired', 'heartbeats'] as const) rows.push(['completeness', c.host, k, c[k]]);
    rows.push(['completeness', c.host, 'heartbeat_gaps', c.heartbeat_gaps.length]);
  }
  for (const [k, v] of Object.entries(d.verification)) if (typeof v !== 'object') rows.push(['verification', k, '', v]);
  add('verification', 'findings_by_kind', d.verification.findings_by_kind);
  for (const f of d.verification.findings) rows.push(['verification', `finding_${f.kind}`, `${f.host} ${f.boot}/${f.stream} seq ${f.seq ?? ''}`, f.detail]);
  for (const [k, v] of Object.entries(d.retention.oldest)) rows.push(['retention', 'oldest', k, v ?? '']);
  for (const [k, v] of Object.entries(d.retention.deleted_in_period)) rows.push(['retention', 'deleted_in_period', k, v]);
  if (d.retention.policy) for (const [k, v] of Object.entries(d.retention.policy.days)) rows.push(['retention', 'policy_days', k, v]);
  for (const p of d.pci) rows.push(['pci_dss', p.requirement, p.status, p.evidence]);
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}
