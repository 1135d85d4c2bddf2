// The shipper's ordering and accounting, with a stand-in queue (the real Redis paths are the
// integration fault tests): an unexpected add failure spools instead of skipping later batches,
// the spool replays oldest first, and new batches wait behind it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { BatchJobData, JobData } from '../../../collector/src/batch/wire';
import type { EventQueue } from '../../../collector/src/queue/event-queue';
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
