// The event contract does not depend on the machine that reads it: batches built under each kernel
// ABI's flag table are indexed and verified, with 0 findings, by an indexer and a `verify` whose
// process reports another architecture, and their documents say what the collector's kernel meant.
// A batch from a collector before the contract (version 1, canonical-JSON digests) is still
// indexed and verified clean.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { BatchBuilder } from '../../../collector/src/batch/batch-builder';
import { HashChain, loadOrCreateHostKey } from '../../../collector/src/integrity/hash-chain';
import { EventQueue } from '../../../collector/src/queue/event-queue';
import { canonicalize } from '../../../contract/src/canonical-json';
import { CHAIN_ALG, genesis, keyId, lineDigest, linkHead } from '../../../contract/src/chain';
import { buildDocument } from '../../../contract/src/event-document';
import { abiOf, type KernelAbi } from '../../../contract/src/tables';
import type { JobData } from '../../../contract/src/wire';
import { encodeBatch, fromWire, toWire, type WireBatch } from '../../../contract/src/wire-v1';
import { allIndexNames } from '../../utils/compliance';
import { tempDir } from '../../utils/kernel';
import { countIndexed, pipelineEnv, type PipelineEnv, startIndexer, waitFor, waitQueueEmpty } from '../../utils/pipeline';
import { cli } from '../../utils/stack';
import { enrichment, event } from '../../utils/wire-fixtures';

const O_CREAT = 0o100;
/** O_DIRECTORY on arm64, O_DIRECT on x86_64: one bit that means different things per ABI. */
const BIT = 0o40000;

interface Stored {
  filewarden: { seq: number; seq_stream: string; open_flags: { names: string[] }; trust: { status: string } };
}

/** NODE_OPTIONS that make a process report another architecture, as a reader on another machine would. */
function otherArch(t: Test): string {
  const file = path.join(tempDir(t, 'fw-skew-'), 'arch.cjs');
  fs.writeFileSync(file, "Object.defineProperty(process, 'arch', { value: process.arch === 'arm64' ? 'x64' : 'arm64' });\n");
  return `${process.env.NODE_OPTIONS ?? ''} --require ${file}`;
}

async function queueJobs(t: Test, env: PipelineEnv, jobs: JobData[]): Promise<void> {
  const q = new EventQueue({ redisUrl: env.redisUrl, queue: env.queue });
  t.teardown(() => q.close());
  await waitFor(async () => q.connected, 5000, 50);
  for (const j of jobs) await q.add(j);
}

async function stored(env: PipelineEnv): Promise<Stored[]> {
  await env.es.indices.refresh({ index: `${env.indexPrefix}-*` });
  const r = await env.es.search<Stored>({ index: `${env.indexPrefix}-*`, size: 100, sort: [{ 'filewarden.seq': 'asc' }] });
  return r.hits.hits.map((h) => h._source!);
}

async function verify(env: PipelineEnv, processEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; findings: unknown[]; intact: number[] }> {
  const r = await cli(['verify', '--json', '--from', new Date(Date.now() - 3_600_000).toISOString(), ...allIndexNames(env)], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl, ...processEnv });
  const j = JSON.parse(r.stdout) as { findings: unknown[]; streams: { intact: number }[] };
  return { code: r.code, findings: j.findings, intact: j.streams.map((s) => s.intact).sort() };
}

t.test('batches built under either flag table are indexed and verified by readers of another architecture with 0 findings', async (t) => {
  const env = pipelineEnv(t);
  const host = { name: os.hostname(), bootId: crypto.randomUUID() };
  const key = loadOrCreateHostKey(path.join(env.stateDir, 'collector'));
  const now = BigInt(Date.now()) * 1_000_000n;
  const jobs: JobData[] = [];
  const want: Record<string, string[]> = {};
  let first = 1;
  for (const abi of ['aarch64', 'x86_64'] as KernelAbi[]) {
    const events = [0, 1, 2].map((i) => event({ tsNs: BigInt(first + i), tid: first + i, wallNs: now + BigInt(i), openFlags: O_CREAT | BIT }));
    const b = new BatchBuilder(host, abi, abi, enrichment, new HashChain(tempDir(t, 'fw-skew-chain-'), host.bootId, abi, key.privateKey, key.publicKey));
    events.forEach((e, i) => b.add(e, first + i));
    jobs.push(b.take()!);
    want[abi] = buildDocument(events[0]!, { host, stream: abi, abi }).filewarden.open_flags!.names;
    first += 3;
  }
  t.strictSame(want, { aarch64: ['O_RDONLY', 'O_CREAT', 'O_DIRECTORY'], x86_64: ['O_RDONLY', 'O_CREAT', 'O_DIRECT'] }, 'the two tables name the same bit differently');

  const skew = { NODE_OPTIONS: otherArch(t) };
  const seen = spawnSync(process.execPath, ['-p', 'process.arch'], { env: { ...process.env, ...skew }, encoding: 'utf8' }).stdout.trim();
  t.not(seen, process.arch, `a process started so reports ${seen}, not ${process.arch}`);
  await queueJobs(t, env, jobs);
  const indexer = await startIndexer(t, env, { processEnv: skew });
  t.ok(await waitQueueEmpty(indexer, 60_000), 'both batches complete');
  t.equal(await countIndexed(env), 6, 'all six events indexed');
  for (const d of await stored(env)) {
    t.strictSame(d.filewarden.open_flags.names, want[d.filewarden.seq_stream], `seq ${d.filewarden.seq} of the ${d.filewarden.seq_stream} collector: named by its own table`);
    t.equal(d.filewarden.trust.status, 'signed', 'from the enrolled key');
  }
  for (const [who, pe] of [['this machine', {}], ['another architecture', skew]] as const) {
    const v = await verify(env, pe);
    t.equal(v.code, 0, `verify on ${who} exits 0`);
    t.strictSame(v.findings, [], `verify on ${who} finds nothing`);
    t.strictSame(v.intact, [3, 3], `verify on ${who}: every event intact`);
  }
});

t.test('a batch from a collector before the contract (version 1) is indexed and verified clean', async (t) => {
  const env = pipelineEnv(t);
  const host = { name: os.hostname(), bootId: crypto.randomUUID() };
  const key = loadOrCreateHostKey(path.join(env.stateDir, 'collector'));
  const now = BigInt(Date.now()) * 1_000_000n;
  const stream = 'legacy01';
  const b: WireBatch = { v: 1, host, procs: { '42': { executable: '/usr/bin/cat', args: ['cat', 'x'] } }, users: { '1000': 'u' }, groups: {}, events: [1, 2, 3].map((i) => toWire(event({ tsNs: BigInt(i), tid: i, wallNs: now + BigInt(i) }), i)) };
  // The link a version-1 collector made: digests over each document's canonical JSON, its position left out.
  const abi = abiOf(process.arch);
  // Version 1 knew only opens: its documents named no operation.
  const v1Document = (e: ReturnType<typeof fromWire>) => {
    const d = buildDocument(e, { host, stream, abi, proc: b.procs[String(e.pid)], userName: b.users[String(e.uid)], effectiveUserName: b.users[String(e.euid)] });
    delete d.filewarden.operation;
    return d;
  };
  const digests = Buffer.concat(b.events.map((w) => lineDigest(canonicalize(v1Document(fromWire(w)))))).toString('base64');
  const times = b.events.map((w) => Number(w.w.slice(0, -6)));
  const pos = { boot: host.bootId, stream, first: 1, last: 3 };
  // The genesis text version-1 collectors began their streams with.
  const prev = crypto.createHash('sha256').update(`filewarden-chain-v1\0${host.bootId}\0${stream}`).digest('hex');
  t.equal(prev, genesis(host.bootId, stream), 'and the one this version begins with');
  const head = linkHead(pos, prev, digests, times);
  const job = encodeBatch(b, stream);
  job.chain = { v: 1, alg: CHAIN_ALG, prev, head, digests, times, key: keyId(key.publicKey), pub: key.publicKey.export({ type: 'spki', format: 'pem' }).toString(), sig: crypto.sign(null, Buffer.from(head, 'hex'), key.privateKey).toString('base64') };
  t.equal(job.v, 1, 'a version-1 job');
  await queueJobs(t, env, [job]);
  const indexer = await startIndexer(t, env);
  t.ok(await waitQueueEmpty(indexer, 60_000), 'the batch completes');
  t.equal(await countIndexed(env), 3, 'its three events indexed');
  t.ok((await stored(env)).every((d) => d.filewarden.trust.status === 'signed'), 'its link verifies under the enrolled key');
  const v = await verify(env);
  t.strictSame([v.code, v.findings, v.intact], [0, [], [3]], 'verify checks it by its own version: 0 findings, 3 intact');
});
