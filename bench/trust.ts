// What the indexer's source check costs per event (`npm run bench:trust`): the link and signer check
// that every batch gets, and the per-event digest check that only a batch about to cause a command
// gets, next to the indexer's own work on the same batch in the same run (inflating it and
// parsing and checking each document).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BatchBuilder } from '../collector/src/batch/batch-builder';
import { HashChain } from '../collector/src/integrity/hash-chain';
import { type CapturedEvent, OPEN_OPERATION_FIELDS } from '../contract/src/event';
import { decodeDocuments } from '../contract/src/wire';
import { documentCheck } from '../indexer/src/worker/job-schema';
import { judgeLink, verifyDigests } from '../indexer/src/integrity/source-trust';
import { EnrolledKeys } from '../indexer/src/integrity/trusted-keys';

const N = 2000;
const ROUNDS = 15;
const BOOT = '3db6063a-bad0-47d8-8462-a3ddfa1f7b4a';

function event(i: number): CapturedEvent {
  const p = Buffer.from(`/home/user/project/src/module-${i % 97}/file-${i}.ts`);
  return {
    ...OPEN_OPERATION_FIELDS,
    tsNs: 123456789012345n + BigInt(i), wallNs: BigInt(Date.now()) * 1_000_000n + BigInt(i), cpu: i % 2, pid: 4200 + (i % 50), tid: 4200 + (i % 50), ppid: 1,
    uid: 1000, gid: 1000, euid: 1000, cgroupId: 1234n, mntnsId: 4026531832, dirfd: -100, ret: 3, ino: BigInt(100_000 + i), dev: 0x800001,
    openFlags: 0, mode: 0, fMode: 1, hook: 'tracepoint', action: 'allow', syscall: 'openat', pathResolved: true, path: p, resolvedPath: p,
    resolution: 'absolute', pathOrigLen: p.length, pathTruncated: false, pathTail: false, pathUnreadable: false, pathUnjudged: false,
    retUnknown: false, hasFile: true, denyAsKill: false, killTarget: false, comm: 'node',
  };
}

function main(): void {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-trust-'));
  try {
    const k = crypto.generateKeyPairSync('ed25519');
    fs.mkdirSync(path.join(tmp, 'keys'));
    fs.writeFileSync(path.join(tmp, 'keys', 'h.pub'), k.publicKey.export({ type: 'spki', format: 'pem' }));
    const enrolled = new EnrolledKeys([path.join(tmp, 'keys')], () => undefined);
    const builder = new BatchBuilder({ name: 'h', bootId: BOOT }, 's', 'x86_64', { proc: (pid) => ({ executable: '/usr/bin/node', args: ['node', 'build.js'], startTicks: pid - 3200 }), userName: () => 'user', groupName: () => 'user' }, new HashChain(tmp, BOOT, 's', k.privateKey, k.publicKey));
    for (let i = 0; i < N; i++) builder.add(event(i), i + 1);
    const job = builder.take()!;
    const best = { docs: Infinity, link: Infinity, digests: Infinity };
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = process.hrtime.bigint();
      const lines = decodeDocuments(job);
      const check = documentCheck(BOOT, 's', Date.now());
      lines.forEach((l, i) => check(l, i + 1));
      const t1 = process.hrtime.bigint();
      const signed = judgeLink(job, 'h', enrolled);
      const t2 = process.hrtime.bigint();
      const verified = verifyDigests(signed, job, lines);
      const t3 = process.hrtime.bigint();
      if (signed.status !== 'signed' || verified.status !== 'verified') throw new Error(`unexpected verdicts ${signed.status}, ${verified.status}`);
      best.docs = Math.min(best.docs, Number(t1 - t0) / 1000 / N);
      best.link = Math.min(best.link, Number(t2 - t1) / 1000 / N);
      best.digests = Math.min(best.digests, Number(t3 - t2) / 1000 / N);
    }
    console.log(`trust check on ${N}-event batches, best of ${ROUNDS} rounds (µs of CPU per event):`);
    console.log(`  baseline: inflating, parsing and checking the documents ${best.docs.toFixed(2)}`);
    console.log(`  link + signer (every batch)              ${best.link.toFixed(2)}  (${(best.link / best.docs).toFixed(2)}x the baseline)`);
    console.log(`  every digest (batches that cause a command) ${best.digests.toFixed(2)}  (${(best.digests / best.docs).toFixed(2)}x the baseline)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
