// Only an enrolled collector can cause enforcement or move a checkpoint. An attacker who can write
// to the queue adds batches naming a root-owned victim under a kill rule: unsigned, signed by another
// key, and signed by the host key but altered. Here the attacker is uid nobody holding the queue's
// credentials; the embedded stack's firewall refuses nobody on the Redis port itself
// (stack-isolation.test.ts), so nobody reaches it through a root-owned TCP relay, as a remote
// attacker with a stolen password would reach a production Redis.
// Each is indexed and marked untrusted, alerted on with the reason, and causes no command; the
// victim lives. The same batch signed by the enrolled key does cause the kill (the rule works).
// A forged checkpoint claiming 10^12 events does not change `gaps`.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import t, { type Test } from 'tap';
import { signRecord } from '../../../contract/src/chain';
import type { CapturedEvent } from '../../../contract/src/event';
import { commandQueueName, QUEUE_PREFIX } from '../../../contract/src/queue';
import { type BatchJobData, type CheckpointJobData, type JobData } from '../../../contract/src/wire';
import { startTicksOf } from '../../../collector/src/enrich/process-info';
import { HashChain, loadOrCreateHostKey } from '../../../collector/src/integrity/hash-chain';
import { tempDir } from '../../utils/kernel';
import { TcpProxy } from '../../utils/tcp-proxy';
import { gapReport, openWorkload, pipelineEnv, type PipelineEnv, startCollector, startIndexer, until } from '../../utils/pipeline';
import { cli, directRedisUrl, hasExited, redisConnection, repoRoot } from '../../utils/stack';
import { documentBatch, event } from '../../utils/wire-fixtures';

const hostId = fs.readFileSync('/etc/machine-id', 'utf8').trim();
const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** Adds a job exactly as a collector would, from a process running as uid nobody, through `relay`. */
async function addAsNobody(t: Test, env: PipelineEnv, relay: TcpProxy, data: JobData): Promise<void> {
  // Through the relay to the server itself (a Sentinel would hand out the master's own address).
  const url = new URL(await directRedisUrl(env.redisUrl));
  url.port = String(relay.port);
  const script = `const { EventQueue } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'collector', 'src', 'queue', 'event-queue.js'))});
(async () => {
  const q = new EventQueue({ redisUrl: process.env.FW_URL, queue: process.env.FW_QUEUE });
  await q.ready(5000);
  await q.add(JSON.parse(process.env.FW_JOB));
  await q.close();
  console.log('uid ' + process.getuid() + ' added the job');
})().catch((e) => { console.error(e.message); process.exit(1); });`;
  // env -u: tap's process tracking would make the child write into the checkout, which nobody cannot.
  const child = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', '-u', 'NODE_OPTIONS', process.execPath, '-e', script], {
    cwd: '/',
    env: { PATH: process.env.PATH, FW_URL: url.toString(), FW_QUEUE: env.queue, FW_JOB: JSON.stringify(data) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  t.equal(code, 0, 'the job was added as nobody');
  t.equal(err, '', 'without a complaint');
  t.match(out, /^uid 65534 added the job/);
}

/** One open of `file` by `pid`, as the kernel would report it, with what /proc said of the process. */
interface Forged {
  e: CapturedEvent;
  startTicks: number;
  hostId: string;
}

function openBatch(pid: number, start: number, file: string): Forged {
  const now = Date.now();
  const e = event({
    tsNs: BigInt(now) * 1_000_000n + BigInt(crypto.randomInt(1_000_000)),
    wallNs: BigInt(now) * 1_000_000n,
    pid,
    tid: pid,
    uid: 0,
    gid: 0,
    euid: 0,
    cgroupId: 1n,
    ret: 3,
    ino: 1234n,
    openFlags: 0,
    mode: 0,
    fMode: 1,
    pathResolved: true,
    path: Buffer.from(file),
    resolvedPath: Buffer.from(file),
    resolution: 'absolute',
    pathOrigLen: Buffer.byteLength(file),
    pathUnjudged: false,
    denyAsKill: false,
    comm: 'sleep',
  });
  return { e, startTicks: start, hostId };
}

/** The forged open as a batch of its own stream (first number `first`), built as a collector builds it. */
function jobOf(f: Forged, stream: string, chain?: HashChain, first = 1): BatchJobData {
  const root = (n: number): string | undefined => (n === 0 ? 'root' : undefined);
  return documentBatch([f.e], first, stream, chain, { proc: () => ({ executable: '/usr/bin/sleep', args: ['sleep', '300'], startTicks: f.startTicks }), userName: root, groupName: root }, { name: os.hostname(), id: f.hostId, bootId });
}

function signWith(t: Test, f: Forged, stream: string, key: { privateKey: crypto.KeyObject; publicKey: crypto.KeyObject }): BatchJobData {
  return jobOf(f, stream, new HashChain(tempDir(t, 'fw-forge-chain-'), bootId, stream, key.privateKey, key.publicKey));
}

t.test('enforcement only from batches signed by an enrolled collector', async (t) => {
  const env = pipelineEnv(t);
  const keys = path.join(env.stateDir, 'keys');
  t.equal((await cli(['keys', 'generate', '--out', keys])).code, 0);
  const protectedDir = path.join(env.workDir, 'protected');
  fs.mkdirSync(protectedDir);
  const secret = path.join(protectedDir, 'secret');
  fs.writeFileSync(secret, 'top secret\n');
  const rulesFile = path.join(env.stateDir, 'rules.yaml');
  fs.writeFileSync(rulesFile, ['version: 1', 'rules:', '  - id: protected-read', '    name: Read of the protected test file', '    severity: critical', '    match:', `      path_prefix: ${protectedDir}/`, '    action: kill', ''].join('\n'));
  const commands = new Queue(commandQueueName(hostId), { connection: redisConnection(env.redisUrl), prefix: QUEUE_PREFIX });
  t.teardown(() => commands.close());
  await commands.obliterate({ force: true });

  const redis = new URL(await directRedisUrl(env.redisUrl));
  const relay = new TcpProxy(redis.hostname, Number(redis.port));
  await relay.start();
  t.teardown(() => relay.close());

  const indexer = await startIndexer(t, env, { extra: ['--rules', rulesFile, '--command-key', path.join(keys, 'command-signing.key')] });
  t.ok(await until('the trust line', () => (/trust: 1 enrolled host\(s\)/.test(indexer.log()) ? true : undefined)), 'the indexer names its enrolled hosts');
  const collector = await startCollector(t, env, ['--command-pubkey', path.join(keys, 'command-signing.pub')]);
  await until('the collector to take commands', () => (/taking signed commands/.test(collector.log()) ? true : undefined));

  // The victim: a root-owned process the attacker may not signal.
  const victim = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => void victim.kill('SIGKILL'));
  const exited = new Promise<string | null>((r) => victim.on('exit', (_c, s) => r(s)));
  const start = startTicksOf(fs.readFileSync(`/proc/${victim.pid}/stat`, 'utf8'))!;
  const pid = victim.pid!;

  const search = async (index: string, query: object): Promise<Record<string, any>[]> => {
    await env.es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
    const r = await env.es.search<Record<string, any>>({ index, ignore_unavailable: true, allow_no_indices: true, size: 100, query });
    return r.hits.hits.map((h) => h._source!);
  };
  const alertFor = (b: Forged) => async (): Promise<Record<string, any> | undefined> =>
    (await search(env.alertIndex, { bool: { filter: [{ term: { 'rule.id': 'protected-read' } }, { term: { 'filewarden.alert.event_ids': `${bootId}-${b.e.tsNs}-${pid}` } }] } }))[0];
  const issuedFor = async (): Promise<Record<string, any>[]> => search(env.auditIndex, { bool: { filter: [{ term: { 'filewarden.audit.decision': 'issued' } }, { term: { 'filewarden.audit.target.pid': pid } }] } });

  const enrolled = loadOrCreateHostKey(path.join(env.stateDir, 'collector'));
  const other = crypto.generateKeyPairSync('ed25519');
  const cases: { name: string; reason: string; job: (b: Forged, stream: string) => BatchJobData }[] = [
    { name: 'unsigned', reason: 'unsigned', job: (b, s) => jobOf(b, s) },
    { name: 'signed by a key that is not enrolled', reason: 'unenrolled-key', job: (b, s) => signWith(t, b, s, other) },
    {
      name: 'signed by the enrolled key, then altered (another start time)',
      reason: 'digest-mismatch',
      job: (b, s) => {
        const honest = { ...b, startTicks: start + 1 };
        const signed = signWith(t, honest, s, enrolled);
        return { ...signed, z: jobOf(b, s).z };
      },
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.test(`a forged batch ${c.name}: indexed as untrusted, alerted on, no command`, async (t) => {
      const b = openBatch(pid, start, secret);
      await addAsNobody(t, env, relay, c.job(b, `forged-${i}`));
      const alert = await until('the rule alert', alertFor(b));
      t.equal(alert.filewarden.enforcement.status, 'not-sent', 'the kill was not sent');
      t.match(alert.filewarden.enforcement.reason, new RegExp(`untrusted source \\(${c.reason}\\)`), 'and the alert says why');
      t.strictSame(alert.filewarden.trust, { status: 'untrusted', reason: c.reason });
      const [doc] = await search(`${env.indexPrefix}-*`, { term: { 'event.id': `${bootId}-${b.e.tsNs}-${pid}` } });
      t.strictSame(doc?.filewarden.trust, { status: 'untrusted', reason: c.reason }, 'the event is in Elasticsearch, marked untrusted');
      const sys = await until('the untrusted-source alert', async () => (await search(env.alertIndex, { bool: { filter: [{ term: { 'rule.id': 'filewarden.untrusted-source' } }, { term: { 'filewarden.trust.reason': c.reason } }] } }))[0]);
      t.equal(sys.host.name, os.hostname(), 'an untrusted-source alert names the host');
      // The indexer queues commands before it writes the alert: none was issued for the victim.
      t.strictSame(await issuedFor(), [], 'no command was issued');
      t.notOk(hasExited(pid), 'the victim lives');
    });
  }

  await t.test('a batch signed by the enrolled key that names another machine (host.id) causes no command', async (t) => {
    const b = openBatch(pid, start, secret);
    b.hostId = 'f'.repeat(32);
    const q = new Queue(env.queue, { connection: redisConnection(env.redisUrl), prefix: QUEUE_PREFIX });
    await q.add('batch', signWith(t, b, 'other-host-0', enrolled), { jobId: `other-host-${crypto.randomBytes(4).toString('hex')}` });
    await q.close();
    const alert = await until('the rule alert', alertFor(b));
    t.strictSame(alert.filewarden.trust, { status: 'verified', reason: 'ok' }, 'the batch itself verifies');
    t.equal(alert.filewarden.enforcement.status, 'not-sent');
    t.match(alert.filewarden.enforcement.reason, new RegExp(`names host.id f{32}, but host .* is enrolled with ${hostId}`), 'the command would reach another machine: refused');
    t.strictSame(await issuedFor(), [], 'no command was issued');
    t.notOk(hasExited(pid), 'the victim lives');
  });

  await t.test('the same batch signed by the enrolled host key does cause the kill', async (t) => {
    const b = openBatch(pid, start, secret);
    const q = new Queue(env.queue, { connection: redisConnection(env.redisUrl), prefix: QUEUE_PREFIX });
    await q.add('batch', signWith(t, b, 'genuine-0', enrolled), { jobId: `genuine-${crypto.randomBytes(4).toString('hex')}` });
    await q.close();
    const alert = await until('the rule alert', alertFor(b));
    t.equal(alert.filewarden.enforcement.status, 'command-sent');
    t.strictSame(alert.filewarden.trust, { status: 'verified', reason: 'ok' });
    const died = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still alive after 30 s'), 30_000).unref())]);
    t.equal(died, 'SIGKILL', 'the victim was killed');
    t.equal((await issuedFor()).length, 1, 'exactly one command was issued');
  });

  await t.test('a forged checkpoint claiming 10^12 events does not change gaps', async (t) => {
    // Real events first, so the collector's stream has a signed checkpoint to compare with.
    t.equal(await openWorkload(t, env.workDir, 20, 200).done, 20, 'the workload made 20 opens');
    const seqState = JSON.parse(fs.readFileSync(path.join(env.stateDir, 'collector', 'sequence.json'), 'utf8')) as { stream: string };
    const stream = seqState.stream;
    await until("the collector's own checkpoint", async () => ((await gapReport(env)).report.find((g) => g.stream === stream && g.last >= 20) ? true : undefined));
    const before = (await gapReport(env)).report.find((g) => g.stream === stream)!;
    const claim: CheckpointJobData = { v: 1, kind: 'checkpoint', boot: bootId, stream, assigned: 1e12, host: os.hostname() };
    await addAsNobody(t, env, relay, claim);
    await addAsNobody(t, env, relay, signRecord({ ...claim, assigned: 1e12 + 1 }, other.privateKey, other.publicKey));
    // And a forged batch that claims seq 10^12 of the same stream: indexed as untrusted, not counted.
    await addAsNobody(t, env, relay, jobOf(openBatch(pid, start, secret), stream, undefined, 1e12));
    await until('the forged far event indexed', async () => (await search(`${env.indexPrefix}-*`, { term: { 'filewarden.seq': 1e12 } }))[0]);
    const claims = await until('both claims stored as untrusted', async () => {
      const r = await search(env.checkpointIndex, { exists: { field: 'filewarden.claimed_seq_assigned' } });
      return r.length >= 2 ? r : undefined;
    });
    t.strictSame(claims.map((c) => c.filewarden.trust.reason).sort(), ['unenrolled-key', 'unsigned'], 'each claim is kept with its reason');
    const after = (await gapReport(env)).report.find((g) => g.stream === stream)!;
    t.ok(after.last < 1e9, `gaps still ends the stream at the collector's own number (${after.last}), despite the checkpoints and the event claiming 10^12`);
    t.equal(after.missingCount, 0, 'and reports nothing missing');
    t.ok(after.last >= before.last);
  });
});
