// `npm run bench:chain`: what signing the hash chain adds to the collector's per-batch work. The
// baseline, measured in the same run, is what the collector already does to every batch: encode it
// for Redis (JSON + deflate). Reported: the link's cost per event and the ratio to that baseline.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeBatch, toWire, type WireBatch } from '../collector/src/batch/wire';
import type { CapturedEvent } from '../collector/src/format/ecs';
import { HashChain, loadOrCreateHostKey } from '../collector/src/integrity/hash-chain';
import { printTable } from './workload';

const EVENTS = Number(process.env.FW_BENCH_BATCH_EVENTS ?? 2000);
const BATCHES = Number(process.env.FW_BENCH_BATCHES ?? 200);

function batch(first: number): WireBatch {
  const events = [];
  for (let i = 0; i < EVENTS; i++) {
    const p = Buffer.from(`/var/lib/app/data/${(first + i) % 977}/file-${first + i}.json`);
    const e: CapturedEvent = {
      tsNs: 1_000_000_000n + BigInt(first + i) * 1000n, wallNs: 1_764_064_800_000_000_000n + BigInt(first + i) * 1000n, cpu: i % 2, pid: 1000 + (i % 50), tid: 1000 + (i % 50), ppid: 1, uid: 1000, gid: 1000, euid: 1000,
      cgroupId: 4242n, mntnsId: 4026531832, dirfd: -100, ret: 3, ino: BigInt(100_000 + i), dev: (8 << 20) | 1, openFlags: i % 3 ? 0 : 0o1101, mode: 0o644, fMode: 1,
      hook: 'tracepoint', action: 'allow', syscall: 'openat', pathResolved: true, path: p, resolvedPath: p, resolution: 'kernel', pathOrigLen: p.length,
      pathTruncated: false, pathTail: false, pathUnreadable: false, pathUnjudged: false, retUnknown: false, hasFile: true, denyAsKill: false, killTarget: false, comm: `worker${i % 50}`,
    };
    events.push(toWire(e, first + i));
  }
  const procs: WireBatch['procs'] = {};
  for (let i = 0; i < 50; i++) procs[String(1000 + i)] = { executable: '/usr/bin/app', args: ['app', '--worker', String(i)], startTicks: 12345 };
  return { v: 1, host: { name: 'bench', bootId: 'b0000000-0000-0000-0000-000000000000' }, procs, users: { '1000': 'app' }, groups: { '1000': 'app' }, events };
}

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-chain-'));
  const key = loadOrCreateHostKey(dir);
  const chain = new HashChain(dir, 'b0000000-0000-0000-0000-000000000000', 'bench', key.privateKey, key.publicKey);
  const batches = Array.from({ length: 8 }, (_, i) => batch(1 + i * EVENTS));
  // Warm up both paths, then alternate them so drift hits both alike.
  for (const b of batches) {
    encodeBatch(b, 'bench');
    chain.link(b, 'bench');
  }
  let encodeNs = 0n;
  let linkNs = 0n;
  for (let i = 0; i < BATCHES; i++) {
    const b = batches[i % batches.length]!;
    const t0 = process.hrtime.bigint();
    encodeBatch(b, 'bench');
    const t1 = process.hrtime.bigint();
    chain.link(b, 'bench');
    linkNs += process.hrtime.bigint() - t1;
    encodeNs += t1 - t0;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const n = BATCHES * EVENTS;
  const perEvent = (ns: bigint): string => `${(Number(ns) / n / 1000).toFixed(2)} µs/event`;
  console.log(`hash chain: ${BATCHES} batches of ${EVENTS} events, ${os.cpus().length} cores, node ${process.version}`);
  printTable([
    { name: 'baseline: encode a batch for Redis', value: perEvent(encodeNs) },
    { name: 'chain link (documents, digests, sign, save)', value: perEvent(linkNs), ratio: Number(linkNs) / Number(encodeNs), note: 'ratio to the baseline' },
    { name: 'collector per-batch work with the chain', value: perEvent(encodeNs + linkNs), ratio: Number(encodeNs + linkNs) / Number(encodeNs) },
    { name: 'one core, chain links alone', value: `${Math.round(n / (Number(linkNs) / 1e9)).toLocaleString('en-US')} events/s` },
  ]);
}

main();
