// The shipper's ordering and accounting, with a stand-in queue (the real Redis paths are the
// integration fault tests): an unexpected add failure spools instead of skipping later batches,
// the spool replays oldest first, and new batches wait behind it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { BatchJobData, JobData } from '../../../contract/src/wire';
import { type EventQueue, QueueUnavailableError } from '../../../collector/src/queue/event-queue';
import { Shipper } from '../../../collector/src/queue/shipper';
import { DiskSpool } from '../../../collector/src/spool/disk-spool';

const batch = (first: number): BatchJobData => ({ v: 1, boot: 'b', stream: 's', first, last: first + 9, z: 'x' });

t.test('after an unexpected queue error, batches are spooled, replayed in order, and none is skipped', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-shipper-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const added: number[] = [];
  let failing = true;
  const queue = {
    add: async (d: JobData) => {
      if (failing) throw new Error('ERR something BullMQ did not expect');
      added.push((d as BatchJobData).first);
    },
  } as unknown as EventQueue;
  const acked: number[] = [];
  const logs: string[] = [];
  const shipper = new Shipper(queue, new DiskSpool(dir, 1 << 20), { acked: (l) => acked.push(l), log: (l) => logs.push(l) }, 20);
  await shipper.ship(batch(1));
  await shipper.ship(batch(11));
  t.same(acked, [10, 20], 'both acknowledged: they are on disk');
  t.same(shipper.stats().eventsSpooled, 20);
  t.match(logs[0], /unexpected: ERR something BullMQ did not expect/);
  failing = false;
  await shipper.ship(batch(21)); // goes behind the spool, not around it
  for (let i = 0; i < 100 && added.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(added, [1, 11, 21], 'replayed oldest first, the new batch after them');
  t.same(shipper.stats().eventsDropped, 0);
  await shipper.close();
});

t.test('with Redis down and the spool unwritable, drops are blamed on the spool, and nobody says Redis is back', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-shipper-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let up = false;
  const queue = {
    add: async () => {
      if (!up) throw new QueueUnavailableError('redis is reconnecting');
    },
  } as unknown as EventQueue;
  const spool = new DiskSpool(dir, 1 << 20);
  let writable = false;
  const append = spool.append.bind(spool);
  spool.append = (d, force) => {
    if (!writable) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return append(d, force);
  };
  const logs: string[] = [];
  const shipper = new Shipper(queue, spool, { acked: () => undefined, log: (l) => logs.push(l) }, 10);
  for (let i = 0; i < 16; i++) await shipper.ship(batch(1 + 10 * i));
  await new Promise((r) => setTimeout(r, 50));
  t.strictSame(logs.filter((l) => /redis is back|drained/.test(l)), [], 'no "redis is back" and no "spool drained" while neither is true');
  t.equal(logs.filter((l) => /^queue: redis unavailable/.test(l)).length, 1, 'the outage is said once');
  t.equal(logs.filter((l) => /^spool: cannot write to .* \(ENOSPC/.test(l)).length, 1, 'the spool failure is said once');
  t.equal(logs.filter((l) => /^spool: cannot write \(ENOSPC.*\): dropped events seq \d+\.\.\d+ of boot b \(redis unavailable: redis is reconnecting\)$/.test(l)).length, 16, 'each dropped batch is named, with both causes');
  const s = shipper.stats();
  t.strictSame([s.eventsDropped, s.eventsDroppedSpoolUnwritable, s.eventsDroppedSpoolFull], [160, 160, 0], 'the drops are counted as spool unwritable, not spool full');

  up = true;
  await shipper.ship(batch(161));
  t.strictSame(logs.slice(-1), ['queue: redis is back'], 'Redis coming back is said once, when it does, and nothing was drained');
  await shipper.ship(batch(171));
  t.equal(logs.filter((l) => /redis is back/.test(l)).length, 1);
  await shipper.close();
});

t.test('a spool is said to be drained only once it was, after Redis really came back', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-shipper-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let up = false;
  const added: number[] = [];
  const queue = {
    add: async (d: JobData) => {
      if (!up) throw new QueueUnavailableError('redis is reconnecting');
      added.push((d as BatchJobData).first);
    },
  } as unknown as EventQueue;
  const logs: string[] = [];
  const shipper = new Shipper(queue, new DiskSpool(dir, 1 << 20), { acked: () => undefined, log: (l) => logs.push(l) }, 10);
  await shipper.ship(batch(1));
  await shipper.ship(batch(11));
  await new Promise((r) => setTimeout(r, 50));
  t.strictSame(logs.filter((l) => /back|drained/.test(l)), [], 'nothing drained yet');
  up = true;
  for (let i = 0; i < 100 && added.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20));
  t.strictSame(logs.filter((l) => /back|drained/.test(l)), ['queue: redis is back; spool drained (20 events in 2 batches replayed)'], 'one line, once drained');
  await shipper.close();
});

t.test('drops from a full spool are counted as such', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-shipper-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const queue = { add: async () => Promise.reject(new QueueUnavailableError('redis is reconnecting')) } as unknown as EventQueue;
  const logs: string[] = [];
  const shipper = new Shipper(queue, new DiskSpool(dir, 200), { acked: () => undefined, log: (l) => logs.push(l) }, 10);
  for (let i = 0; i < 5; i++) await shipper.ship(batch(1 + 10 * i));
  const s = shipper.stats();
  t.ok(s.eventsDroppedSpoolFull > 0, `${s.eventsDroppedSpoolFull} dropped as spool full`);
  t.strictSame([s.eventsDroppedSpoolUnwritable, s.eventsDropped], [0, s.eventsDroppedSpoolFull]);
  t.match(logs.join('\n'), /spool: FULL \(\d+ of 200 bytes\): dropped events seq/);
  await shipper.close();
});
