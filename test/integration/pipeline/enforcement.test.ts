// Alert rules and enforcement end to end, on the real kernel, Redis and Elasticsearch: a process that
// reads a protected file is killed through the remote path (rule in the indexer, signed command to
// the host); a kernel-scope deny rule pushed as policy kills on this host's kernel (no BPF LSM here;
// the EPERM side runs in the kernel matrix); forged, tampered, replayed, expired, early and
// misaddressed commands are all refused, and every decision is in the audit index.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import t from 'tap';
import { type CommandBody, signCommand } from '../../../contract/src/command';
import { commandQueueName, QUEUE_PREFIX } from '../../../contract/src/queue';
import { pipelineEnv, startCollector, startIndexer, until } from '../../utils/pipeline';
import { cli, redisConnection } from '../../utils/stack';

const hostId = fs.readFileSync('/etc/machine-id', 'utf8').trim();
const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

t.test('rules and signed commands, end to end', async (t) => {
  const env = pipelineEnv(t);
  const keys = path.join(env.stateDir, 'keys');
  const k = await cli(['keys', 'generate', '--out', keys]);
  t.equal(k.code, 0, k.stderr);
  t.equal(fs.statSync(path.join(keys, 'command-signing.key')).mode & 0o777, 0o600, 'the private key is 0600');
  const protectedDir = path.join(env.workDir, 'protected');
  const lockedDir = path.join(env.workDir, 'locked');
  const logsDir = path.join(env.workDir, 'logs');
  fs.mkdirSync(protectedDir);
  fs.mkdirSync(lockedDir);
  fs.mkdirSync(logsDir);
  fs.writeFileSync(path.join(logsDir, 'app.log'), 'first\n');
  fs.writeFileSync(path.join(protectedDir, 'secret'), 'top secret\n');
  const rulesFile = path.join(env.stateDir, 'rules.yaml');
  fs.writeFileSync(
    rulesFile,
    [
      'version: 1',
      'rules:',
      '  - id: protected-read',
      '    name: Read of the protected test file',
      '    severity: critical',
      '    tags: [test]',
      '    match:',
      `      path_prefix: ${protectedDir}/`,
      '      access: read',
      '    action: kill',
      '  - id: locked-write',
      '    name: Write under the locked directory',
      '    match:',
      `      path: ${lockedDir}/**`,
      '    action: deny',
      '    scope: kernel',
      '  - id: logs-kept',
      '    name: Logs are never deleted, renamed or truncated',
      '    match:',
      `      path_prefix: ${logsDir}/`,
      '      on: [unlink, rename, truncate]',
      '    action: deny',
      '    scope: kernel',
      '',
    ].join('\n'),
  );
  // Commands left from an earlier run would be refused (expired) and muddle the counts below.
  const commands = new Queue(commandQueueName(hostId), { connection: redisConnection(env.redisUrl), prefix: QUEUE_PREFIX });
  t.teardown(() => commands.close());
  await commands.obliterate({ force: true });

  await startIndexer(t, env, { extra: ['--rules', rulesFile, '--command-key', path.join(keys, 'command-signing.key')] });
  const collector = await startCollector(t, env, ['--command-pubkey', path.join(keys, 'command-signing.pub')]);
  await until('the collector to take commands', () => (/taking signed commands/.test(collector.log()) ? true : undefined));

  // The first batch from this boot makes the indexer push the kernel-scope rules.
  fs.writeFileSync(path.join(env.workDir, 'warmup'), 'x');
  await until('the kernel policy', () => (/enforce: policy \w+: 2 of 2 entries in force/.test(collector.log()) ? true : undefined));

  await t.test('a kernel-scope deny rule kills the writer on this kernel (no lsm) and says the syscall ran', async (t) => {
    const child = spawn('/bin/sh', ['-c', `true > ${lockedDir}/file; echo survived >&2`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const status = await new Promise<number>((r) => child.on('exit', (c, s) => r(c ?? 128 + os.constants.signals[s!])));
    t.equal(status, 137);
    t.notMatch(err, /survived/);
    const alert = await until('the kernel-acted alert', async () => {
      await env.es.indices.refresh({ index: env.alertIndex, ignore_unavailable: true });
      const r = await env.es.search<Record<string, any>>({ index: env.alertIndex, ignore_unavailable: true, query: { term: { 'rule.id': 'locked-write' } } });
      return r.hits.hits[0]?._source;
    });
    t.equal(alert.filewarden.enforcement.status, 'kernel-acted');
    t.equal(alert.filewarden.enforcement.kernel_action, 'kill');
    const doc = await until('the event', async () => {
      await env.es.indices.refresh({ index: `${env.indexPrefix}-*` });
      const ev = await env.es.search<Record<string, any>>({ index: `${env.indexPrefix}-*`, query: { term: { 'event.id': alert.filewarden.alert.event_ids[0] } } });
      return ev.hits.hits[0]?._source;
    });
    t.equal(doc.filewarden.action, 'kill');
    t.match(doc.filewarden.enforcement, { by: 'policy', requested: 'deny', caveat: /syscall ran to completion/ });
  });

  await t.test("a kernel rule's on: travels to the host: the log is appended to, and whoever deletes it is killed", async (t) => {
    const log = path.join(logsDir, 'app.log');
    const run = async (cmd: string) => {
      const child = spawn('/bin/sh', ['-c', cmd], { stdio: 'ignore' });
      return new Promise<number>((r) => child.on('exit', (c, s) => r(c ?? 128 + os.constants.signals[s!])));
    };
    t.equal(await run(`echo second >> ${log}`), 0, 'the writer appends (an open is not among the rule\'s operations)');
    t.equal(fs.readFileSync(log, 'utf8'), 'first\nsecond\n');
    t.equal(await run(`exec rm -f ${log}`), 137, 'rm is killed (after the unlink ran: no lsm here)');
    const doc = await until('the unlink event', async () => {
      await env.es.indices.refresh({ index: `${env.indexPrefix}-*` });
      const r = await env.es.search<Record<string, any>>({ index: `${env.indexPrefix}-*`, query: { bool: { filter: [{ term: { 'filewarden.operation': 'unlink' } }, { term: { 'file.path': log } }] } } });
      return r.hits.hits[0]?._source;
    });
    t.strictSame([doc.event.action, doc.filewarden.action, doc.filewarden.enforcement.requested], ['deletion', 'kill', 'deny']);
    const opens = await env.es.search<Record<string, any>>({ index: `${env.indexPrefix}-*`, query: { bool: { filter: [{ term: { 'filewarden.operation': 'open' } }, { term: { 'file.path': log } }, { term: { 'process.name': 'sh' } }] } } });
    t.strictSame(opens.hits.hits.map((h) => h._source!.filewarden.action), ['allow'], 'the append\'s open: recorded, allowed');
  });

  await t.test('a process that reads a protected file is killed through the remote path', async (t) => {
    const latencies: { openToKill: number; alertToKill: number }[] = [];
    for (let i = 0; i < 5; i++) {
      // `read` opens the file in the shell itself, then the same process becomes sleep: it must be killed.
      const child = spawn('/bin/sh', ['-c', `read x < ${protectedDir}/secret; exec sleep 30`], { stdio: 'ignore' });
      const started = Date.now();
      const status = await new Promise<{ code: number; at: number }>((r) => child.on('exit', (c, s) => r({ code: c ?? 128 + os.constants.signals[s!], at: Date.now() })));
      t.equal(status.code, 137, `trial ${i + 1}: SIGKILL`);
      t.ok(status.at - started < 10_000, `trial ${i + 1}: killed long before its sleep ends`);
      const alert = await until('the alert', async () => {
        await env.es.indices.refresh({ index: env.alertIndex, ignore_unavailable: true });
        const r = await env.es.search<Record<string, any>>({ index: env.alertIndex, query: { bool: { filter: [{ term: { 'rule.id': 'protected-read' } }, { term: { 'process.pid': child.pid } }] } } });
        return r.hits.hits[0]?._source;
      });
      t.equal(alert.filewarden.enforcement.status, 'command-sent');
      t.equal(alert.event.severity, 99);
      const eventTs = Date.parse(alert['@timestamp']);
      latencies.push({ openToKill: status.at - eventTs, alertToKill: status.at - Date.parse(alert.event.created) });
      const audit = await until('the applied audit record', async () => {
        await env.es.indices.refresh({ index: env.auditIndex, ignore_unavailable: true });
        const r = await env.es.search<Record<string, any>>({ index: env.auditIndex, query: { bool: { filter: [{ term: { 'filewarden.audit.command.id': alert.filewarden.enforcement.command_id } }, { term: { 'filewarden.audit.source': 'collector' } }] } } });
        return r.hits.hits[0]?._source;
      });
      t.match(audit.filewarden.audit, { decision: 'applied', outcome: 'killed', target: { pid: child.pid } });
    }
    t.comment(`remote kill latency (ms): ${latencies.map((l) => `alert->kill ${l.alertToKill}, open->kill ${l.openToKill}`).join('; ')}`);
  });

  await t.test('forged, tampered, replayed, expired, early and misaddressed commands: all refused and audited', async (t) => {
    const good = crypto.createPrivateKey(fs.readFileSync(path.join(keys, 'command-signing.key')));
    const { privateKey: other } = crypto.generateKeyPairSync('ed25519');
    const gone = spawn('true');
    await new Promise((r) => gone.on('exit', r));
    const body = (over: Partial<CommandBody>): CommandBody => {
      const now = Date.now();
      return { v: 1, id: crypto.randomBytes(16).toString('hex'), type: 'kill', host: hostId, nonce: crypto.randomBytes(16).toString('hex'), iat: now, exp: now + 60_000, kill: { pid: gone.pid!, start: 1, boot: bootId }, ...over };
    };
    const valid = signCommand(body({}), good);
    const tampered = signCommand(body({}), good);
    tampered.body = tampered.body.replace(`"pid":${gone.pid}`, `"pid":${process.pid}`);
    const cases: [string, { body: string; sig: string }, string][] = [
      ['forged (another key)', signCommand(body({}), other), 'bad-signature'],
      ['tampered after signing', tampered, 'bad-signature'],
      ['expired', signCommand(body({ iat: Date.now() - 120_000, exp: Date.now() - 60_000 }), good), 'expired'],
      ['issued in the future', signCommand(body({ iat: Date.now() + 300_000, exp: Date.now() + 360_000 }), good), 'not-yet-valid'],
      ['for another host', signCommand(body({ host: 'another-host' }), good), 'wrong-host'],
      ['valid', valid, 'ok'],
      ['replayed', valid, 'replayed'],
    ];
    for (const [name, c] of cases) {
      await commands.add('kill', c, { jobId: `${name.replace(/\W/g, '-')}-${crypto.randomBytes(4).toString('hex')}` });
      await sleep(100); // in order: the replay must come after the original
    }
    const ids = cases.map(([, c]) => (JSON.parse(c.body) as CommandBody).id);
    const audits = await until('seven audit records', async () => {
      await env.es.indices.refresh({ index: env.auditIndex, ignore_unavailable: true });
      const r = await env.es.search<Record<string, any>>({ index: env.auditIndex, size: 50, query: { bool: { filter: [{ terms: { 'filewarden.audit.command.id': [...new Set(ids)] } }, { term: { 'filewarden.audit.source': 'collector' } }] } }, sort: [{ '@timestamp': 'asc' }] });
      return r.hits.hits.length >= cases.length ? r.hits.hits.map((h) => h._source!) : undefined;
    });
    t.equal(audits.length, cases.length, 'one audit record per command received');
    const reasons = audits.map((a) => a.filewarden.audit.reason).sort();
    t.same(reasons, cases.map(([, , r]) => r).sort(), 'each refused for its own reason');
    const refused = audits.filter((a) => a.filewarden.audit.decision === 'refused');
    t.equal(refused.length, cases.length - 1, '100% of the bad commands refused');
    t.equal(audits.find((a) => a.filewarden.audit.reason === 'ok')?.filewarden.audit.outcome, 'exited', 'the valid one ran: its process had already gone');
    t.ok(process.kill(process.pid, 0), 'the tampered target (this test) is alive');
  });
});
