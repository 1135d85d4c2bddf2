// The report's operation sections over known documents in a real Elasticsearch: deletions and
// renames of protected files, their permission, owner and attribute changes, the audit log files'
// deletions, renames and truncations, and the critical-file modifications that now include renames
// onto and truncations. The documents are the collector's own (buildDocument), version-1 opens
// without an operation included; JSON, CSV and HTML must show the same counts and rows.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { installTemplates } from '../../../indexer/src/ecs/index-templates';
import type { OperationRow, ReportData } from '../../../indexer/src/report/report-data';
import { SECTIONS } from '../../../indexer/src/report/report-html';
import { allIndexNames } from '../../utils/compliance';
import { tempDir } from '../../utils/kernel';
import { pipelineEnv } from '../../utils/pipeline';
import { indexOperationDocuments, type OperationSpec, operationDocument, OPS_HOST } from '../../utils/report-operation-events';
import { cli } from '../../utils/stack';

const root = { uid: 0, userName: 'root' };
const alice = { uid: 1000, userName: 'alice' };
const UNCHANGED = 0xffff_ffff;
const O_WRONLY = 0o1;
const O_TRUNC = 0o1000;

// In time order. Protected: the default sensitive patterns (/etc/shadow, /etc/sudoers.d/*, ...) and
// critical prefixes (/etc/, /usr/bin/, ...); audit logs: /var/log/.
const SPECS: OperationSpec[] = [
  { op: 'unlink', syscall: 'unlinkat', path: '/etc/shadow', comm: 'rm', ...root },
  { op: 'rename', syscall: 'renameat2', path: '/tmp/admins', second: { kind: 'path', text: '/etc/sudoers.d/admins' }, comm: 'mv', ...alice },
  { op: 'rename', syscall: 'renameat2', path: '/etc/passwd', second: { kind: 'path', text: '/tmp/passwd.new' }, comm: 'vipw', ...root },
  { op: 'rmdir', syscall: 'rmdir', path: '/etc/cron.d', ret: -39, comm: 'rmdir', ...root },
  { op: 'unlink', syscall: 'unlinkat', path: '/tmp/scratch', comm: 'rm', ...alice },
  { op: 'chmod', syscall: 'fchmodat', path: '/usr/bin/sudo', mode: 0o4755, comm: 'chmod', ...root },
  { op: 'chmod', syscall: 'fchmod', path: '/etc/shadow', mode: 0o666, old: { mode: 0o640, uid: 0, gid: 42 }, comm: 'python3', ...root },
  { op: 'chown', syscall: 'fchown', path: '/etc/passwd', newUid: 1000, newGid: 1000, old: { mode: 0o644, uid: 0, gid: 0 }, comm: 'python3', ...root },
  { op: 'chown', syscall: 'fchownat', path: '/etc/hosts', newUid: UNCHANGED, newGid: 4, comm: 'chgrp', ...root },
  { op: 'setxattr', syscall: 'setxattr', path: '/usr/bin/ping', second: { kind: 'text', text: 'security.capability' }, comm: 'setcap', ...root },
  { op: 'removexattr', syscall: 'removexattr', path: '/home/alice/notes', second: { kind: 'text', text: 'user.tag' }, comm: 'setfattr', ...alice },
  { op: 'chmod', syscall: 'fchmodat', path: '/tmp/x', mode: 0o777, comm: 'chmod', ...alice },
  { op: 'truncate', syscall: 'truncate', path: '/etc/hosts', length: 0n, comm: 'perl', ...root },
  { op: 'truncate', syscall: 'ftruncate', path: '/var/log/auth.log', length: 0n, comm: 'shred', uid: 1001 },
  { op: 'rename', syscall: 'rename', path: '/var/log/syslog.1', second: { kind: 'path', text: '/var/log/syslog' }, comm: 'logrotate', ...root },
  { op: 'unlink', syscall: 'unlink', path: '/var/log/syslog.7', comm: 'logrotate', ...root },
  { op: 'open', syscall: 'openat', path: '/var/log/kern.log', openFlags: O_WRONLY | O_TRUNC, v1: true, comm: 'sh', ...root },
  { op: 'open', syscall: 'openat', path: '/etc/hosts', openFlags: O_WRONLY, v1: true, comm: 'sh', ...root },
  { op: 'symlink', syscall: 'symlinkat', path: '/etc/cron.d/evil', second: { kind: 'text', text: '/tmp/payload' }, comm: 'ln', ...alice },
  { op: 'open', syscall: 'openat', path: '/etc/shadow', openFlags: 0, comm: 'cat', ...root },
  { op: 'mkdir', syscall: 'mkdirat', path: '/srv/new', mode: 0o755, comm: 'mkdir', ...alice },
];

t.test('the operation sections count and list exactly the deletions, renames, permission changes and log truncations of protected files', async (t) => {
  const env = pipelineEnv(t);
  await installTemplates(env.es, { indexPrefix: env.indexPrefix, deadletterIndex: env.deadletterIndex, checkpointIndex: env.checkpointIndex, alertIndex: env.alertIndex, auditIndex: env.auditIndex });
  const start = new Date(Date.now() - 5 * 60_000);
  const docs = SPECS.map((s, i) => operationDocument(s, start, i));
  await indexOperationDocuments(env.es, env.indexPrefix, docs);
  const at = (i: number): string => docs[i]!['@timestamp'];

  const out = tempDir(t, 'fw-report-ops-');
  const report = async (format: string): Promise<string> => {
    const file = path.join(out, `report.${format}`);
    const r = await cli(['report', ...allIndexNames(env), '--from', new Date(start.getTime() - 60_000).toISOString(), '--to', new Date().toISOString(), '--format', format, '--out', file], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
    t.equal(r.code, 0, `report --format ${format} exits 0 (${r.stderr.trim()})`);
    t.match(r.stdout, `4 critical-file modifications, 4 deletions or renames and 5 permission changes of protected files, 4 log-file deletions or truncations`, `${format}: the summary line`);
    return file;
  };
  const d = JSON.parse(fs.readFileSync(await report('json'), 'utf8')) as ReportData;
  const row = (i: number, over: Partial<OperationRow> & Pick<OperationRow, 'detail'>): OperationRow => {
    const s = SPECS[i]!;
    return { time: at(i), host: OPS_HOST.name, user: s.userName ?? `uid ${s.uid}`, process: s.comm, operation: s.op, outcome: (s.ret ?? 0) < 0 ? 'failure' : 'success', path: s.path, ...over };
  };

  t.strictSame(
    [d.summary.events, d.summary.critical_writes, d.summary.protected_removals, d.summary.permission_changes, d.summary.log_file_changes, d.summary.sensitive_accesses],
    [SPECS.length, 4, 4, 5, 4, 3],
    'summary: every event; 4 critical modifications, 4 protected deletions or renames, 5 permission changes, 4 log-file changes; 3 events on sensitive files',
  );

  t.strictSame(
    d.critical_writes.by_operation,
    [{ key: 'open', count: 1 }, { key: 'rename', count: 1 }, { key: 'symlink', count: 1 }, { key: 'truncate', count: 1 }],
    'critical modifications: a version-1 write open (counted as open), a rename onto /etc/passwd, a symlink creation and a truncate; no deletion or chmod',
  );
  t.strictSame(d.critical_writes.files, [{ key: '/etc/hosts', count: 2 }, { key: '/etc/cron.d/evil', count: 1 }, { key: '/etc/passwd', count: 1 }], 'by file: the new name of a rename');

  const rm = d.protected_removals;
  t.strictSame(rm.by_operation, [{ key: 'rename', count: 2 }, { key: 'rmdir', count: 1 }, { key: 'unlink', count: 1 }], 'deletions and renames by operation: /tmp/scratch is not protected');
  t.strictSame(rm.by_outcome, [{ key: 'success', count: 3 }, { key: 'failure', count: 1 }], 'by outcome: the refused rmdir counts as a failure');
  t.strictSame(rm.by_user, [{ key: 'root', count: 3 }, { key: 'alice', count: 1 }], 'by user');
  t.strictSame(
    rm.events,
    [
      row(0, { detail: 'unlink' }),
      row(1, { original_path: '/etc/sudoers.d/admins', detail: '/etc/sudoers.d/admins -> /tmp/admins' }),
      row(2, { original_path: '/tmp/passwd.new', detail: '/tmp/passwd.new -> /etc/passwd' }),
      row(3, { detail: 'rmdir' }),
    ],
    'each deletion and rename, in time order: a rename out of a protected path (by its original path) and onto one',
  );

  const pc = d.permission_changes;
  t.strictSame(pc.by_operation, [{ key: 'chmod', count: 2 }, { key: 'chown', count: 2 }, { key: 'setxattr', count: 1 }], 'permission changes by operation: the /tmp and /home ones are not protected');
  t.strictSame(pc.by_special, [{ key: 'setuid', count: 1 }, { key: 'world-writable', count: 1 }], 'the special bits set');
  t.strictSame(
    pc.events,
    [
      row(5, { mode: { new: '04755' }, special: ['setuid'], detail: 'mode unknown -> 04755 (setuid)' }),
      row(6, { mode: { old: '0640', new: '0666' }, special: ['world-writable'], detail: 'mode 0640 -> 0666 (world-writable)' }),
      row(7, { owner: { old: '0:0', new: '1000:1000' }, detail: 'owner 0:0 -> 1000:1000' }),
      row(8, { owner: { new: 'unchanged:4' }, detail: 'owner unknown -> unchanged:4' }),
      row(9, { xattr: 'security.capability', detail: 'attribute security.capability set' }),
    ],
    'each change with old and new mode or owner where known, and the special bits',
  );

  const lf = d.log_files;
  t.strictSame(lf.by_operation, [{ key: 'open', count: 1 }, { key: 'rename', count: 1 }, { key: 'truncate', count: 1 }, { key: 'unlink', count: 1 }], 'log files by operation: an O_TRUNC open of a version-1 batch included');
  t.strictSame(lf.by_user, [{ key: 'uid 0', count: 3 }, { key: 'uid 1001', count: 1 }], 'by uid, since one user has no name');
  t.strictSame(
    lf.events,
    [
      row(13, { length: '0', detail: 'truncated to 0 bytes' }),
      row(14, { original_path: '/var/log/syslog', detail: '/var/log/syslog -> /var/log/syslog.1' }),
      row(15, { detail: 'unlink' }),
      row(16, { detail: 'open O_WRONLY|O_TRUNC' }),
    ],
    'each deletion, rename and truncation of a log file',
  );

  const pci = Object.fromEntries(d.pci.map((p) => [p.requirement, p]));
  t.strictSame([pci['10.3.4']?.status, pci['11.5']?.status], ['met', 'met'], 'PCI DSS 10.3.4 (change detection on audit logs) and 11.5 are met');
  t.match(pci['10.3.4']!.evidence, '4 deletions, renames and truncations of log files under /var/log/ (open 1, rename 1, truncate 1, unlink 1)', '10.3.4 cites the log-file changes');
  t.match(pci['11.5']!.evidence, '4 modifications of critical system files (open 1, rename 1, symlink 1, truncate 1)', '11.5 cites the modifications by operation');
  t.match(pci['11.5']!.evidence, '4 deletions or renames and 5 permission, owner or attribute changes of protected files', 'and the deletions and permission changes');

  // CSV: the same counts and the same rows.
  const rows = fs.readFileSync(await report('csv'), 'utf8').trim().split('\r\n').map((l) => l.split(','));
  const group = (s: string, g: string): string[][] => rows.filter((r) => r[0] === s && r[1] === g).map((r) => [r[2]!, r[3]!]);
  t.strictSame(
    ['protected_removals', 'permission_changes', 'log_file_changes', 'critical_writes'].map((k) => rows.find((r) => r[0] === 'summary' && r[1] === k)?.[3]),
    [String(rm.total), String(pc.total), String(lf.total), String(d.critical_writes.total)],
    'CSV: the summary counts of the JSON',
  );
  t.strictSame(group('permission_changes', 'by_special'), pc.by_special.map((c) => [c.key, String(c.count)]), 'CSV: the special bits');
  const csvEvents = (section: string, events: OperationRow[]): void => void t.strictSame(
      rows.filter((r) => r[0] === section && r[1]!.startsWith('event_')).map((r) => [r[1], r[2], r[3]]),
      events.map((e) => [`event_${e.operation}`, `${e.time} ${e.host} ${e.user} ${e.process} ${e.outcome} ${e.path}`, e.detail]),
      `CSV: the ${section} rows of the JSON`,
    );
  csvEvents('protected_removals', rm.events);
  csvEvents('permission_changes', pc.events);
  csvEvents('log_files', lf.events);

  // HTML: the new sections, each with its rows.
  const html = fs.readFileSync(await report('html'), 'utf8');
  for (const s of ['Deletions and renames of protected files', 'Permission, owner and attribute changes of protected files', 'Deletions, renames and truncations of audit log files']) {
    t.match(html, `<h2>${SECTIONS.indexOf(s as (typeof SECTIONS)[number]) + 1}. ${s}</h2>`, `the HTML has the section ${s}`);
  }
  const sectionHtml = (name: string): string => html.split('<section>').find((x) => x.includes(`. ${name}</h2>`)) ?? '';
  const htmlRows = (name: string): number => (sectionHtml(name).split('<h3>Events')[1]?.match(/<tr><td/g) ?? []).length;
  t.strictSame(
    [htmlRows('Deletions and renames of protected files'), htmlRows('Permission, owner and attribute changes of protected files'), htmlRows('Deletions, renames and truncations of audit log files')],
    [rm.events.length, pc.events.length, lf.events.length],
    'HTML: one table row per listed event',
  );
  t.match(sectionHtml('Permission, owner and attribute changes of protected files'), `<td>${pc.events[0]!.detail.replace('>', '&#62;')}</td>`, 'HTML: the mode change as the JSON states it (escaped)');
});
