// `filewarden up`, the README's main command, end to end on the embedded stack: it runs the collector
// and the indexer with the built-in rules and its own command keys, so an open becomes searchable,
// a shadow read raises an alert, a kernel-scope kill rule given with --rules kills the reader with
// an audit record, `filewarden search` shows the event and the alert, and SIGINT stops both cleanly.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../../utils/kernel';
import { until, waitFor } from '../../utils/pipeline';
import { cli, esClient, repoRoot } from '../../utils/stack';

/** Runs a command as a child (filewarden never reports its own opens) and returns its exit status. */
function run(cmd: string, args: string[]): Promise<{ pid: number; status: number }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code, sig) => resolve({ pid: c.pid!, status: code ?? 128 + os.constants.signals[sig!] }));
  });
}

t.test('filewarden up: searchable opens, a built-in alert, a kernel kill from --rules with its audit record, and a clean stop', async (t) => {
  const dir = tempDir(t, 'fw-up-');
  const protectedDir = path.join(dir, 'protected');
  fs.mkdirSync(protectedDir);
  const secret = path.join(protectedDir, 'secret');
  fs.writeFileSync(secret, 'x\n');
  const rules = path.join(dir, 'rules.yaml');
  fs.writeFileSync(rules, ['version: 1', 'rules:', '  - id: up-test-kill', '    name: Read under the up test directory', '    match:', `      path_prefix: ${protectedDir}/`, '    action: kill', '    scope: kernel', ''].join('\n'));
  const begin = new Date().toISOString();

  const proc = spawn(process.execPath, [path.join(repoRoot, 'bin', 'filewarden.js'), 'up', '--duration', '240', '--rules', rules], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  t.teardown(() => void proc.kill('SIGKILL'));
  t.ok(await waitFor(async () => /\[index\] index: queue filewarden-events/.test(out) && /\[collect\] collect: queue/.test(out), 60_000), 'both children started');
  // The indexer prints its rules line after its queue line: wait for it rather than race it.
  await until('the indexer to run the built-in rules and the file given, and to sign commands', () =>
    /\[index\] index: [1-9]\d* rules -> filewarden-alerts; 1 kernel policy entries .*commands signed and sent/.test(out) ? true : undefined,
  );
  await until('the collector to take signed commands', () => (/\[collect\] .*taking signed commands/.test(out) ? true : undefined));
  // The first batch of this boot makes the indexer push the kernel-scope rule as a signed policy.
  await until('the kernel policy from --rules', () => (/\[collect\] .*enforce: policy \w+: 1 of 1 entries in force/.test(out) ? true : undefined));

  const es = esClient();
  const marker = path.join(dir, `evidence-${process.pid}.txt`);
  t.equal((await run('/bin/sh', ['-c', `: > "${marker}"`])).status, 0);
  t.ok(
    await waitFor(async () => {
      const r = await es.search({ index: 'filewarden-events-*', query: { term: { 'file.path': marker } } });
      return r.hits.hits.length === 1;
    }, 60_000),
    'the open is searchable in filewarden-events-*',
  );

  const shadow = await run('/bin/cat', ['/etc/shadow']);
  t.equal(shadow.status, 0, 'the built-in rules only alert');
  const alert = await until('the shadow-read alert', async () => {
    await es.indices.refresh({ index: 'filewarden-alerts', ignore_unavailable: true });
    const r = await es.search<Record<string, any>>({
      index: 'filewarden-alerts',
      ignore_unavailable: true,
      query: { bool: { filter: [{ term: { 'rule.id': 'shadow-read' } }, { term: { 'process.pid': shadow.pid } }, { range: { '@timestamp': { gte: begin } } }] } },
    });
    return r.hits.hits[0]?._source;
  });
  t.equal(alert.process.name, 'cat');
  t.equal(alert.file.path, '/etc/shadow');

  const killed = await run('/bin/cat', [secret]);
  t.equal(killed.status, 137, 'the kernel-scope rule from --rules kills the reader');
  const killEvent = await until('the kill event', async () => {
    await es.indices.refresh({ index: 'filewarden-events-*' });
    const r = await es.search<Record<string, any>>({ index: 'filewarden-events-*', query: { bool: { filter: [{ term: { 'file.path': secret } }, { term: { 'process.pid': killed.pid } }] } } });
    return r.hits.hits[0]?._source;
  });
  t.equal(killEvent.filewarden.action, 'kill', 'the event says the kernel killed it');
  const killAlert = await until('the kernel-acted alert', async () => {
    await es.indices.refresh({ index: 'filewarden-alerts' });
    const r = await es.search<Record<string, any>>({ index: 'filewarden-alerts', query: { bool: { filter: [{ term: { 'rule.id': 'up-test-kill' } }, { term: { 'process.pid': killed.pid } }] } } });
    return r.hits.hits[0]?._source;
  });
  t.equal(killAlert.filewarden.enforcement.status, 'kernel-acted');
  const audit = await until('the audit record of the policy that killed it', async () => {
    await es.indices.refresh({ index: 'filewarden-audit', ignore_unavailable: true });
    const r = await es.search<Record<string, any>>({
      index: 'filewarden-audit',
      ignore_unavailable: true,
      query: { bool: { filter: [{ term: { 'filewarden.audit.source': 'collector' } }, { term: { 'filewarden.audit.outcome': 'policy' } }, { range: { '@timestamp': { gte: begin } } }] } },
    });
    return r.hits.hits[0]?._source;
  });
  t.match(audit.filewarden.audit, { decision: 'applied', target: { entries: 1 } });

  t.ok(await waitFor(async () => /status: events\/s \d+ \| queue \d+ batches \| spooled \d+ \| indexed [1-9]\d* \| dead-lettered 0 \| dropped \d+ \| alerts [1-9]\d* \| commands \d+/.test(out), 15_000), 'the status line shows events indexed and alerts');

  // What the README promises: `filewarden search` shows the event and the alert.
  const found = await cli(['search', '--from', begin, '--json', `process.pid:${killed.pid} AND file.path:"${secret}"`]);
  t.equal(found.code, 0, `search exits 0 (${found.stderr.trim()})`);
  t.strictSame(found.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { file: { path: string } }).file.path), [secret], 'search finds the killed read');
  const alerts = await cli(['search', '--alerts', '--from', begin, `rule.id:shadow-read AND process.pid:${shadow.pid}`]);
  t.equal(alerts.code, 0, `search --alerts exits 0 (${alerts.stderr.trim()})`);
  t.match(alerts.stdout, /\/etc\/shadow/, 'search --alerts shows the alert');

  proc.kill('SIGINT');
  t.equal(await exited, 0, 'up exits 0 on SIGINT');
  t.match(out, /up: stopping \(SIGINT\)/);
  t.match(out, /\[collect\] collect: stopped at seq \d+/, 'the collector flushed and stopped');
  t.match(out, /\[index\] index: stopping/, 'the indexer stopped');
  t.match(out, /up: search: +filewarden search/, 'the summary says where to look');
  t.notMatch(out, /exited \(.*\); restarting/, 'no child crashed');
});
