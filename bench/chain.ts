// `npm run bench:chain`: what signing the hash chain adds to the collector's per-batch work. The
// baseline, measured in the same run, is what the collector does to every batch without the
// chain: build each document once, its canonical line, and the deflated job. Reported: the cost
// per event of both, and their ratio.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BatchBuilder, type Enrichment } from '../collector/src/batch/batch-builder';
import { HashChain, loadOrCreateHostKey } from '../collector/src/integrity/hash-chain';
import { type CapturedEvent, OPEN_OPERATION_FIELDS } from '../contract/src/event';
import { printTable } from './workload';

const EVENTS = Number(process.env.FW_BENCH_BATCH_EVENTS ?? 2000);
const BATCHES = Number(process.env.FW_BENCH_BATCHES ?? 200);

const host = { name: 'bench', bootId: 'b0000000-0000-0000-0000-000000000000' };
const enrich: Enrichment = {
  proc: (pid) => ({ executable: '/usr/bin/app', args: ['app', '--worker', String(pid - 1000)], startTicks: 12345 }),
  userName: () => 'app',
  groupName: () => 'app',
};

function batch(first: number): CapturedEvent[] {
  const events: CapturedEvent[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const p = Buffer.from(`/var/lib/app/data/${(first + i) % 977}/file-${first + i}.json`);
    const e: CapturedEvent = {
    ...OPEN_OPERATION_FIELDS,
      tsNs: 1_000_000_000n + BigInt(first + i) * 1000n, wallNs: 1_764_064_800_000_000_000n + BigInt(first + i) * 1000n, cpu: i % 2, pid: 1000 + (i % 50), tid: 1000 + (i % 50), ppid: 1, uid: 1000, gid: 1000, euid: 1000,
      cgroupId: 4242n, mntnsId: 4026531832, dirfd: -100, ret: 3, ino: BigInt(100_000 + i), dev: (8 << 20) | 1, openFlags: i % 3 ? 0 : 0o1101, mode: 0o644, fMode: 1,
      hook: 'tracepoint', action: 'allow', syscall: 'openat', pathResolved: true, path: p, resolvedPath: p, resolution: 'kernel', pathOrigLen: p.length,
      pathTruncated: false, pathTail: false, pathUnreadable: false, pathUnjudged: false, retUnknown: false, hasFile: true, denyAsKill: false, killTarget: false, comm: `worker${i % 50}`,
    };
    events.push(e);
  }
  return events;
}

function build(b: BatchBuilder, events: CapturedEvent[], first: number): void {
  for (let i = 0; i < events.length; i++) b.add(events[i]!, first + i);
  b.take();
}

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-chain-'));
  const key = loadOrCreateHostKey(dir);
  const chain = new HashChain(dir, 'b0000000-0000-0000-0000-000000000000', 'bench', key.privateKey, key.publicKey);
  const plain = new BatchBuilder(host, 'bench', 'x86_64', enrich);
  const signed = new BatchBuilder(host, 'bench', 'x86_64', enrich, chain);
  const batches = Array.from({ length: 8 }, (_, i) => batch(1 + i * EVENTS));
  // Warm up both paths, then alternate them so drift hits both alike.
  let next = 1;
  for (const b of batches) {
    build(plain, b, 1);
    build(signed, b, next);
    next += EVENTS;
  }
  let encodeNs = 0n;
  let withNs = 0n;
  for (let i = 0; i < BATCHES; i++) {
    const b = batches[i % batches.length]!;
    const t0 = process.hrtime.bigint();
    build(plain, b, 1);
    const t1 = process.hrtime.bigint();
    build(signed, b, next);
    next += EVENTS;
    withNs += process.hrtime.bigint() - t1;
    encodeNs += t1 - t0;
  }
  const linkNs = withNs - encodeNs;
  fs.rmSync(dir, { recursive: true, force: true });
  const n = BATCHES * EVENTS;
  const perEvent = (ns: bigint): string => `${(Number(ns) / n / 1000).toFixed(2)} µs/event`;
  console.log(`hash chain: ${BATCHES} batches of ${EVENTS} events, ${os.cpus().length} cores, node ${process.version}`);
  printTable([
    { name: 'baseline: documents, lines and the job, no chain', value: perEvent(encodeNs) },
    { name: 'the chain alone (digests, sign, save)', value: perEvent(linkNs), ratio: Number(linkNs) / Number(encodeNs), note: 'ratio to the baseline' },
    { name: 'collector per-batch work with the chain', value: perEvent(encodeNs + linkNs), ratio: Number(encodeNs + linkNs) / Number(encodeNs) },
    { name: 'one core, the whole per-batch work', value: `${Math.round(n / (Number(withNs) / 1e9)).toLocaleString('en-US')} events/s` },
  ]);
}

main();
