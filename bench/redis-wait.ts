// `npm run bench:redis-wait`: what `collect --redis-wait-replicas 1` costs per batch. The collector's
// own EventQueue adds batch-sized jobs to the benchmarks' Redis, which has a real replica, without
// and with WAIT 1, in alternating rounds so drift hits both alike. Prints the median add time of
// each and the difference: the wait for the replica, per batch and per event of a full batch.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { COLLECTOR_DEFAULTS } from '../contract/src/collector-defaults';
import type { JobData } from '../contract/src/wire';
import { EventQueue } from '../collector/src/queue/event-queue';
import { resolveEndpoints } from '../stack/src';
import { spawnReplica } from '../stack/src/redis';
import { benchStateDir, outDir, printTable, type Row } from './workload';

const ROUNDS = Number(process.env.FW_BENCH_ROUNDS ?? 10);
const PER_ROUND = Number(process.env.FW_BENCH_ADDS ?? 50);
/** About what a full batch takes in Redis: 2,000 events at the ~99 bytes each bench:pipeline measured. */
const BATCH_BYTES = 200_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { redisUrl } = resolveEndpoints(benchStateDir());
  const name = `bench-wait-${crypto.randomBytes(3).toString('hex')}`;
  const dir = path.join(outDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const replica = await spawnReplica(redisUrl, dir);
  const plain = new EventQueue({ redisUrl, queue: name });
  const waiting = new EventQueue({ redisUrl, queue: name, waitReplicas: 1, waitMs: 1000 });
  const pad = crypto.randomBytes(BATCH_BYTES * 0.75).toString('base64');
  let n = 0;
  // Checkpoint-shaped jobs with a batch's bytes: the queue never sees an indexer, and is removed after.
  const job = (): JobData => ({ v: 2, kind: 'checkpoint', boot: name, stream: 'bench', assigned: ++n, host: name, pad }) as unknown as JobData;
  const timeAdds = async (q: EventQueue): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < PER_ROUND; i++) {
      const t0 = process.hrtime.bigint();
      await q.add(job());
      out.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return out;
  };
  try {
    await Promise.all([plain.ready(5000), waiting.ready(5000)]);
    const without: number[] = [];
    const withWait: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      without.push(...(await timeAdds(plain)));
      withWait.push(...(await timeAdds(waiting)));
    }
    const a = median(without);
    const b = median(withWait);
    const perEvent = ((b - a) * 1000) / COLLECTOR_DEFAULTS.batchEvents;
    const rows: Row[] = [
      { name: 'add, Redis acknowledges (baseline)', value: `${a.toFixed(2)} ms`, ratio: 1, note: `median of ${without.length} adds of ${BATCH_BYTES.toLocaleString('en-US')} bytes` },
      { name: 'add + WAIT 1 (a replica has it)', value: `${b.toFixed(2)} ms`, ratio: b / a, note: `median of ${withWait.length}; ${waiting.replicaWaitShortfalls} shortfalls` },
      { name: 'WAIT 1 per batch', value: `${(b - a).toFixed(2)} ms`, note: `${perEvent.toFixed(2)} µs per event of a ${COLLECTOR_DEFAULTS.batchEvents}-event batch; the collector ships batches one after another, so this is latency, not CPU` },
    ];
    printTable(rows);
  } finally {
    await plain.queue.obliterate({ force: true }).catch(() => undefined);
    await plain.close();
    await waiting.close();
    replica.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
