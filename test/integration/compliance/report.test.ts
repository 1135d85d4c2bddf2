// The compliance report over a known workload, through the real pipeline: its numbers match what
// the workload did exactly; the HTML renders in headless Chromium (screenshot saved as a test
// artefact) with every section; the PDF has one page per section; CSV and JSON agree.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { SECTIONS } from '../../../indexer/src/report/report-html';
import { screenshot } from '../../../indexer/src/report/report-pdf';
import type { ReportData } from '../../../indexer/src/report/report-data';
import { allIndexNames, drain } from '../../utils/compliance';
import { tempDir } from '../../utils/kernel';
import { openWorkload, pipelineEnv, startCollector, startIndexer, stopService } from '../../utils/pipeline';
import { inkStats, readPng } from '../../utils/png';
import { cli, repoRoot } from '../../utils/stack';

t.test('the report over a known workload: exact numbers, every section, HTML, PDF, CSV and JSON', async (t) => {
  const env = pipelineEnv(t);
  const W = env.workDir;
  for (const d of ['secret', 'etc', 'data']) fs.mkdirSync(path.join(W, d));
  for (let i = 1; i <= 4; i++) fs.writeFileSync(path.join(W, 'secret', `key${i}`), 'k\n');
  const rules = path.join(env.stateDir, 'rules.yaml');
  fs.writeFileSync(rules, `version: 1\nrules:\n  - id: secret-read\n    name: a read under secret/\n    severity: high\n    match:\n      path: ['${W}/secret/*']\n`);
  const start = new Date(Date.now() - 60_000);
  const collector = await startCollector(t, env);
  const indexer = await startIndexer(t, env, { extra: ['--rules', rules] });
  // The known workload: 4 reads of secrets by root's cat; 2 by nobody's cat (refused: the work
  // directory is 0700); 3 writes by sh (3 opens and 3 write sessions) and 1 open by touch under
  // etc/; 20 files created by node (opened, never written: no write session).
  const script = `
    for i in 1 2 3 4; do cat "$1/secret/key$i" > /dev/null; done
    for i in 1 2; do setpriv --reuid=65534 --regid=65534 --clear-groups cat "$1/secret/key1" 2> /dev/null; done
    for i in 1 2 3; do echo x > "$1/etc/conf$i"; done
    touch "$1/etc/stamp"`;
  const sh = spawn('/bin/sh', ['-c', script, 'sh', W], { cwd: '/', stdio: 'inherit' });
  await new Promise((r) => sh.on('exit', r));
  t.equal(await openWorkload(t, path.join(W, 'data'), 20, 100).done, 20);
  const assigned = await drain(t, env, collector, indexer);
  const to = new Date(Date.now() + 60_000);

  const out = tempDir(t, 'fw-report-');
  const report = async (format: string): Promise<string> => {
    const file = path.join(out, `report.${format}`);
    const r = await cli(
      ['report', ...allIndexNames(env), '--from', start.toISOString(), '--to', to.toISOString(), '--paths', `${W}/`, '--sensitive', `${W}/secret/*`, '--critical', `${W}/etc/`, '--format', format, '--out', file],
      { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl },
    );
    t.equal(r.code, 0, `report --format ${format} exits 0`);
    t.match(r.stdout, `report: ${file} (${format}): 33 events`, `${format}: the summary line`);
    return file;
  };

  const d = JSON.parse(fs.readFileSync(await report('json'), 'utf8')) as ReportData;
  t.match(d.summary, { events: 33, hosts: 1, users: 2, processes: 4, sensitive_accesses: 6, critical_writes: 7, alerts: 6, enforcement_actions: 0, events_lost: 0, verification_ok: true, verification_findings: 0 }, 'the summary counts exactly');
  const byKey = (c: { key: string; count: number }[]): Record<string, number> => Object.fromEntries(c.map((x) => [x.key, x.count]));
  t.same(byKey(d.sensitive_access.by_user), { root: 4, nobody: 2 }, 'sensitive files by user');
  t.same(byKey(d.sensitive_access.by_outcome), { success: 4, failure: 2 }, "by outcome (nobody's reads were refused)");
  t.same(byKey(d.sensitive_access.by_process), { cat: 6 }, 'by process');
  t.same(byKey(d.sensitive_access.files), { [`${W}/secret/key1`]: 3, [`${W}/secret/key2`]: 1, [`${W}/secret/key3`]: 1, [`${W}/secret/key4`]: 1 }, 'by file');
  t.same(byKey(d.critical_writes.by_process), { sh: 6, touch: 1 }, 'critical writes by process');
  t.same(byKey(d.critical_writes.by_outcome), { success: 7 }, 'all seven succeeded');
  t.strictSame(d.critical_writes.by_operation, [{ key: 'open', count: 4 }, { key: 'modify', count: 3 }], 'four opens for writing and the three write sessions that wrote: the workload renames, truncates and deletes nothing');
  t.strictSame([d.summary.protected_removals, d.summary.permission_changes, d.summary.log_file_changes], [0, 0, 0], 'no deletion, rename or permission change of a protected file, and no log file touched');
  t.same(byKey(d.alerts.by_rule), { 'secret-read': 6 }, 'one alert per secret access');
  t.same(byKey(d.activity.top_processes), { node: 20, cat: 6, sh: 6, touch: 1 }, 'top processes');
  t.equal(d.activity.timeline.reduce((n, p) => n + p.count, 0), 33, 'the timeline adds up to the total');
  t.equal(d.completeness.length, 1, 'one host');
  const c = d.completeness[0]!;
  t.match(c, { kernel_dropped: 0, args_lost: 0, spool_dropped: 0, dead_letters: 0, sequence_missing: 0, sequence_expired: 0, heartbeat_gaps: [] }, 'nothing lost');
  t.ok(c.heartbeats >= 2, `the collector's heartbeats are there (${c.heartbeats})`);
  t.equal(d.verification.intact, assigned, `verification: all ${assigned} events of the stream intact`);
  t.same(
    d.pci.map((p) => [p.requirement, p.status]),
    [['10.2', 'met'], ['10.3', 'met'], ['10.3.4', 'met'], ['10.5.1', 'attention'], ['10.7', 'met'], ['11.5', 'met']],
    'PCI DSS: 10.5.1 needs attention until a retention policy has run',
  );

  // A collector that stops sending heartbeats shows as a gap up to the period's end: three
  // intervals (30 s) after its last one, a report over a period ending now names the silence.
  const lastBeat = Date.now();
  await new Promise((r) => setTimeout(r, 31_000));
  const silentFile = path.join(out, 'silent.json');
  const silent = await cli(['report', ...allIndexNames(env), '--from', start.toISOString(), '--to', 'now', '--paths', `${W}/`, '--format', 'json', '--out', silentFile], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  t.equal(silent.code, 0);
  const gaps = (JSON.parse(fs.readFileSync(silentFile, 'utf8')) as ReportData).completeness[0]!.heartbeat_gaps;
  t.equal(gaps.length, 1, 'one heartbeat gap: the collector has been silent since it stopped');
  t.ok(gaps[0]!.seconds >= 30 && Date.parse(gaps[0]!.from) <= lastBeat, `from its last heartbeat, for ${gaps[0]?.seconds} s`);

  // HTML: every section, rendered by Chromium into a page with real content.
  const html = await report('html');
  const text = fs.readFileSync(html, 'utf8');
  SECTIONS.forEach((s, i) => t.match(text, `<h2>${i + 1}. ${s}</h2>`, `the HTML has section ${i + 1}, ${s}`));
  t.notMatch(text, /<script|https?:\/\//, 'no script and no network reference: the file stands alone');
  const artefacts = path.join(repoRoot, 'test-artifacts');
  fs.mkdirSync(artefacts, { recursive: true });
  const png = path.join(artefacts, 'compliance-report.png');
  await screenshot(html, png, 1024, 1400);
  const ink = inkStats(readPng(png));
  t.ok(ink.inkShare > 0.03 && ink.colours > 50, `the screenshot is not blank (${(ink.inkShare * 100).toFixed(1)}% ink, ${ink.colours} colours): ${png}`);

  // PDF: one page per section, each starting with its heading.
  const pdf = await report('pdf');
  const pages = Number(/Pages:\s+(\d+)/.exec(execFileSync('pdfinfo', [pdf], { encoding: 'utf8' }))![1]);
  t.equal(pages, SECTIONS.length, `the PDF has ${SECTIONS.length} pages`);
  for (let i = 1; i <= Math.min(pages, SECTIONS.length); i++) {
    const p = execFileSync('pdftotext', ['-layout', '-f', String(i), '-l', String(i), pdf, '-'], { encoding: 'utf8' });
    t.match(p, `${i}. ${SECTIONS[i - 1]}`, `page ${i} is ${SECTIONS[i - 1]}`);
  }
  fs.copyFileSync(pdf, path.join(artefacts, 'compliance-report.pdf'));

  // CSV: the same figures.
  const rows = fs.readFileSync(await report('csv'), 'utf8').trim().split('\r\n').map((l) => l.split(','));
  const cell = (s: string, g: string, k = ''): string | undefined => rows.find((r) => r[0] === s && r[1] === g && r[2] === k)?.[3];
  t.same(rows[0], ['section', 'group', 'key', 'value'], 'a header row');
  t.equal(cell('summary', 'events'), '33');
  t.equal(cell('sensitive_access', 'by_user', 'nobody'), '2');
  t.equal(cell('critical_writes', 'by_process', 'sh'), '6');
  t.equal(cell('pci_dss', '10.5.1', 'attention')?.length ? 'present' : 'absent', 'present');
  await stopService(t, indexer, 'the indexer');
});
