// Renders the report as one self-contained HTML file: inline CSS and SVG charts, no script and no
// network. Each section starts a printed page, so the PDF has one page per section.
import { type Count, type OperationSection, type ReportData, ROW_LIMIT } from './report-data';

export const SECTIONS = [
  'Executive summary',
  'Access to sensitive files',
  'Modifications of critical system files',
  'Deletions and renames of protected files',
  'Permission, owner and attribute changes of protected files',
  'Deletions, renames and truncations of audit log files',
  'Alerts and enforcement',
  'Activity',
  'Completeness evidence',
  'Verification',
  'Retention evidence',
  'PCI DSS mapping',
] as const;

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (n: number): string => n.toLocaleString('en-US');

function table(head: string[], rows: (string | number)[][], empty = 'none in the period'): string {
  if (!rows.length) return `<p class="empty">${esc(empty)}</p>`;
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td${typeof c === 'number' ? ' class="n"' : ''}>${typeof c === 'number' ? num(c) : esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const countTable = (what: string, c: Count[]): string => table([what, 'events'], c.map((x) => [x.key, x.count]), `by ${what}: none in the period`);

/** Horizontal bars, one per entry. */
function barChart(title: string, c: Count[]): string {
  if (!c.length) return `<p class="empty">${esc(title)}: no data</p>`;
  const w = 620;
  const row = 22;
  const max = Math.max(...c.map((x) => x.count));
  const label = 170;
  const bars = c
    .map((x, i) => {
      const bw = max ? Math.max(1, Math.round(((w - label - 70) * x.count) / max)) : 0;
      const y = 24 + i * row;
      return `<text x="${label - 6}" y="${y + 14}" text-anchor="end">${esc(x.key.length > 26 ? `${x.key.slice(0, 25)}…` : x.key)}</text><rect x="${label}" y="${y + 2}" width="${bw}" height="${row - 6}" fill="#2f6db5"/><text x="${label + bw + 6}" y="${y + 14}">${num(x.count)}</text>`;
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="${esc(title)}" width="${w}" height="${30 + c.length * row}"><text x="0" y="14" font-weight="bold">${esc(title)}</text>${bars}</svg>`;
}

/** Vertical bars over time. */
function timeline(d: ReportData['activity']): string {
  const pts = d.timeline;
  if (!pts.length) return '<p class="empty">no events in the period</p>';
  const w = 660;
  const h = 200;
  const max = Math.max(1, ...pts.map((p) => p.count));
  const bw = (w - 60) / pts.length;
  const bars = pts.map((p, i) => {
    const bh = Math.round(((h - 64) * p.count) / max);
    return `<rect x="${(50 + i * bw).toFixed(1)}" y="${h - 30 - bh}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${bh}" fill="#2f6db5"><title>${esc(p.t)}: ${p.count}</title></rect>`;
  });
  const first = pts[0]!.t.replace('T', ' ').slice(0, 16);
  const last = pts[pts.length - 1]!.t.replace('T', ' ').slice(0, 16);
  return `<svg class="chart" role="img" aria-label="events over time" width="${w}" height="${h}"><text x="0" y="14" font-weight="bold">Events over time (${esc(d.interval)} bars, UTC)</text><text x="44" y="${h - 30 - (h - 64) + 4}" text-anchor="end">${num(max)}</text><text x="44" y="${h - 30}" text-anchor="end">0</text><line x1="48" y1="${h - 30}" x2="${w}" y2="${h - 30}" stroke="#888"/>${bars.join('')}<text x="50" y="${h - 10}">${esc(first)}</text><text x="${w}" y="${h - 10}" text-anchor="end">${esc(last)}</text></svg>`;
}

function section(name: (typeof SECTIONS)[number], body: string): string {
  return `<section><h2>${SECTIONS.indexOf(name) + 1}. ${esc(name)}</h2>${body}</section>`;
}

/** An operation section: its counts side by side, then its events one per row. */
function operationSection(o: OperationSection, extra = ''): string {
  const more = o.total > o.events.length ? ` (the first ${num(ROW_LIMIT)} of ${num(o.total)})` : '';
  return (
    `<div class="cols"><div>${countTable('operation', o.by_operation)}</div><div>${countTable('outcome', o.by_outcome)}</div><div>${countTable('process', o.by_process)}</div><div>${countTable('user', o.by_user)}</div><div>${countTable('host', o.by_host)}</div>${extra}</div>` +
    `<h3>Events${more}</h3>${table(['time (UTC)', 'host', 'user', 'process', 'operation', 'outcome', 'file', 'change'], o.events.map((r) => [r.time, r.host, r.user, r.process, r.operation, r.outcome, r.path, r.detail]))}`
  );
}

export function renderHtml(d: ReportData): string {
  const s = d.summary;
  const status = (ok: boolean): string => `<span class="${ok ? 'ok' : 'warn'}">${ok ? 'OK' : 'ATTENTION'}</span>`;
  const filters = [d.filters.hosts.length ? `hosts ${d.filters.hosts.join(', ')}` : 'all hosts', d.filters.paths.length ? `paths under ${d.filters.paths.join(', ')}` : 'all paths'].join('; ');
  const parts = [
    section(
      'Executive summary',
      `<p>Period <b>${esc(d.period.from)}</b> to <b>${esc(d.period.to)}</b> (UTC); ${esc(filters)}. Generated ${esc(d.generated_at)}.</p>` +
        `<div class="tiles">${[
          ['Events', s.events],
          ['Hosts', s.hosts],
          ['Users', s.users],
          ['Processes', s.processes],
          ['Sensitive-file accesses', s.sensitive_accesses],
          ['Critical-file modifications', s.critical_writes],
          ['Protected deletions and renames', s.protected_removals],
          ['Protected permission changes', s.permission_changes],
          ['Log-file deletions and truncations', s.log_file_changes],
          ['Alerts', s.alerts],
          ['Enforcement actions', s.enforcement_actions],
          ['Events lost', s.events_lost],
          ['Verification findings', s.verification_findings],
        ]
          .map(([k, v]) => `<div class="tile"><div class="v">${num(v as number)}</div><div class="k">${esc(k)}</div></div>`)
          .join('')}</div>` +
        `<p>Completeness: ${status(s.events_lost === 0 && d.completeness.every((c) => c.heartbeat_gaps.length === 0))} &nbsp; Integrity: ${status(s.verification_ok)} &nbsp; PCI DSS items met: ${d.pci.filter((p) => p.status === 'met').length} of ${d.pci.length}</p>`,
    ),
    section(
      'Access to sensitive files',
      `<p>${num(d.sensitive_access.total)} events (opens and other operations) on files matching ${esc(d.filters.sensitive.join(', '))}.</p><div class="cols"><div>${countTable('user', d.sensitive_access.by_user)}</div><div>${countTable('outcome', d.sensitive_access.by_outcome)}</div><div>${countTable('process', d.sensitive_access.by_process)}</div><div>${countTable('host', d.sensitive_access.by_host)}</div></div><h3>Files (top 20)</h3>${countTable('file', d.sensitive_access.files)}`,
    ),
    section(
      'Modifications of critical system files',
      `<p>${num(d.critical_writes.total)} opens for writing, truncating or creating, truncations, renames onto and creations (link, symlink, mknod, mkdir) under ${esc(d.filters.critical.join(' '))}.</p><div class="cols"><div>${countTable('operation', d.critical_writes.by_operation)}</div><div>${countTable('outcome', d.critical_writes.by_outcome)}</div><div>${countTable('process', d.critical_writes.by_process)}</div><div>${countTable('user', d.critical_writes.by_user)}</div><div>${countTable('host', d.critical_writes.by_host)}</div></div><h3>Files (top 20)</h3>${countTable('file', d.critical_writes.files)}`,
    ),
    section(
      'Deletions and renames of protected files',
      `<p>${num(d.protected_removals.total)} unlinks, rmdirs and renames of sensitive files (${esc(d.filters.sensitive.join(', '))}) or files under the critical prefixes, by the path acted on or a rename's original path.</p>${operationSection(d.protected_removals)}`,
    ),
    section(
      'Permission, owner and attribute changes of protected files',
      `<p>${num(d.permission_changes.total)} chmods, chowns and extended-attribute changes of sensitive or critical files. The mode or owner before is known when the call named the file by a descriptor (fchmod, fchown).</p>${operationSection(d.permission_changes, `<div>${table(['special bit set', 'events'], d.permission_changes.by_special.map((c) => [c.key, c.count]), 'no setuid, setgid, sticky or world-writable mode set')}</div>`)}`,
    ),
    section(
      'Deletions, renames and truncations of audit log files',
      `<p>${num(d.log_files.total)} unlinks, rmdirs, renames (from or to) and truncations (truncate, or an open with O_TRUNC) of files under ${esc(d.filters.logs.join(' ') || 'no log prefix')}. Log rotation shows here too, as renames by its process.</p>${operationSection(d.log_files)}`,
    ),
    section(
      'Alerts and enforcement',
      `<p>${num(d.alerts.total)} alerts.</p><div class="cols"><div>${table(['rule', 'alerts'], d.alerts.by_rule.map((c) => [c.key, c.count]))}</div><div>${table(['severity', 'alerts'], d.alerts.by_severity.map((c) => [c.key, c.count]))}</div><div>${table(['enforcement', 'alerts'], d.alerts.enforcement_status.map((c) => [c.key, c.count]))}</div></div>` +
        `<h3>Commands (issued, applied, refused)</h3>${table(['decision', 'records'], d.alerts.commands.map((c) => [c.key, c.count]))}<h3>In-kernel actions</h3>${table(['action', 'events'], d.alerts.kernel_actions.map((c) => [c.key, c.count]))}`,
    ),
    section('Activity', `${timeline(d.activity)}${barChart('Top processes', d.activity.top_processes)}${barChart('Top users', d.activity.top_users)}`),
    section(
      'Completeness evidence',
      table(
        ['host', 'kernel drops', 'args lost', 'spool overflow', 'dead letters', 'sequence gaps', 'expired by retention', 'heartbeats', 'heartbeat gaps'],
        d.completeness.map((c) => [c.host, c.kernel_dropped, c.args_lost, c.spool_dropped, c.dead_letters, c.sequence_missing, c.sequence_expired, c.heartbeats, c.heartbeat_gaps.length]),
        'no host reported in the period',
      ) +
        (d.completeness.some((c) => c.sequence_ranges.length || c.heartbeat_gaps.length)
          ? `<h3>Details</h3>${table(
              ['host', 'what', 'range'],
              d.completeness.flatMap((c) => [
                ...c.sequence_ranges.map((r) => [c.host, `missing seq (boot ${r.boot.slice(0, 8)})`, `${r.from}..${r.to}`]),
                ...c.heartbeat_gaps.map((g) => [c.host, `no heartbeat for ${g.seconds} s`, `${g.from} .. ${g.to}`]),
              ]),
            )}`
          : '') +
        '<p class="note">Kernel drops: ring buffer full. Spool overflow: the disk spool was full while Redis was down. Dead letters: events Elasticsearch refused (kept with the error). Sequence gaps: numbers given out and in no index. A heartbeat gap is a silence longer than three heartbeat intervals.</p>',
    ),
    section(
      'Verification',
      `<p>Integrity: ${status(d.verification.ok)}. ${num(d.verification.links)} signed links over ${num(d.verification.streams)} streams; ${num(d.verification.intact)} events intact, ${num(d.verification.dead_lettered)} dead-lettered intact, ${num(d.verification.expired)} expired by retention, ${num(d.verification.restarts)} chain restarts.</p>` +
        table(['finding', 'count'], d.verification.findings_by_kind.map((c) => [c.key, c.count]), 'no findings: every signed event is present and unchanged') +
        (d.verification.findings.length ? `<h3>Findings</h3>${table(['kind', 'host', 'seq', 'detail'], d.verification.findings.map((f) => [f.kind, f.host, f.seq ?? '', f.detail]))}` : ''),
    ),
    section(
      'Retention evidence',
      (d.retention.policy
        ? `<p>Policy (${esc(d.retention.policy.source)}): events ${d.retention.policy.days.events} days, alerts ${d.retention.policy.days.alerts} days, audit trail ${d.retention.policy.days.audit} days; ${d.retention.policy.holds.length} legal holds${d.retention.policy.holds.length ? `: ${esc(d.retention.policy.holds.map((h) => `${h.host ? `host ${h.host}` : `index ${h.index}`} (${h.reason})`).join('; '))}` : ''}.</p>`
        : '<p class="warn">No retention run is recorded: nothing has been deleted by policy.</p>') +
        table(['data', 'oldest held'], [['events', d.retention.oldest.events ?? 'none'], ['alerts', d.retention.oldest.alerts ?? 'none'], ['audit trail', d.retention.oldest.audit ?? 'none']]) +
        `<h3>Runs in the period</h3>${table(['as of', 'events', 'alerts', 'audit', 'held'], d.retention.runs.map((r) => [r.as_of, r.deleted.events ?? 0, r.deleted.alerts ?? 0, r.deleted.audit ?? 0, r.held.join('; ') || 'none']))}`,
    ),
    section('PCI DSS mapping', table(['requirement', 'title', 'evidence in this report', 'status'], d.pci.map((p) => [p.requirement, p.title, p.evidence, p.status.toUpperCase()]))),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(d.title)}</title>
<style>
@page { size: A4; margin: 14mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11px; color: #1b1b1b; margin: 0 auto; max-width: 190mm; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; border-bottom: 2px solid #2f6db5; padding-bottom: 3px; } h3 { font-size: 12px; margin: 12px 0 4px; }
section { break-before: page; } section:first-of-type { break-before: avoid; }
table { border-collapse: collapse; margin: 4px 0 8px; } th, td { border: 1px solid #c8c8c8; padding: 2px 6px; text-align: left; vertical-align: top; } th { background: #eef2f8; } td.n { text-align: right; }
.cols { display: flex; gap: 12px; flex-wrap: wrap; } .tiles { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0; }
.tile { border: 1px solid #c8c8c8; border-radius: 4px; padding: 6px 10px; min-width: 120px; } .tile .v { font-size: 18px; font-weight: bold; } .tile .k { color: #555; }
.ok { color: #11702c; font-weight: bold; } .warn { color: #a5270f; font-weight: bold; } .empty, .note { color: #666; } svg.chart { display: block; margin: 8px 0; font-size: 11px; }
</style></head>
<body><h1>${esc(d.title)}</h1>
${parts.join('\n')}
</body></html>
`;
}
