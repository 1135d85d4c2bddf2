// The spool is a bounded FIFO that survives restarts: batches come back oldest first, a batch
// that does not fit is refused without touching the others, and a half-written file is ignored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { BatchJobData } from '../../../contract/src/wire';
import { DiskSpool } from '../../../collector/src/spool/disk-spool';

const batch = (first: number, n: number, pad = 0): BatchJobData => ({ v: 1, boot: 'b', stream: 's', first, last: first + n - 1, z: 'x'.repeat(pad) });

t.test('batches come back in order, also after a restart, and the bound is kept', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-spool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const one = Buffer.byteLength(JSON.stringify(batch(11, 10, 1000))); // same size for firsts 11..91
  const s = new DiskSpool(dir, one * 3);
  t.ok(s.empty);
  t.ok(s.append(batch(11, 10, 1000)));
  t.ok(s.append(batch(21, 10, 1000)));
  t.ok(s.append(batch(31, 10, 1000)));
  t.notOk(s.append(batch(41, 10, 1000)), 'the fourth does not fit');
  t.same(s.stats(), { batches: 3, events: 30, bytes: one * 3 });
  fs.writeFileSync(path.join(dir, '0000000000000009.batch.tmp'), '{"half');

  const again = new DiskSpool(dir, one * 3);
  t.same(again.stats(), { batches: 3, events: 30, bytes: one * 3 }, 'a restart finds the same three batches');
  t.notOk(fs.existsSync(path.join(dir, '0000000000000009.batch.tmp')), 'the half-written file is removed');
  const firsts: number[] = [];
  for (let e = again.peek(); e; e = again.peek()) {
    firsts.push((e.data as BatchJobData).first);
    t.throws(() => again.remove('0000000000000099.batch'), /not the oldest/);
    again.remove(e.name);
  }
  t.same(firsts, [11, 21, 31]);
  t.ok(again.empty);
  t.ok(again.append(batch(41, 10, 1000)), 'room again once drained');
  t.match(fs.readdirSync(dir), ['0000000000000004.batch'], 'numbering continues after the restart');
});

t.test('a checkpoint is kept even by a full spool: it is what records the loss', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-spool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = new DiskSpool(dir, 100);
  t.notOk(s.append(batch(11, 10, 1000)), 'a batch larger than the bound is refused');
  t.ok(s.append({ v: 1, kind: 'checkpoint', boot: 'b', stream: 's', assigned: 20, host: 'h' }, true), 'a forced checkpoint is written');
  t.same(new DiskSpool(dir, 100).stats().events, 0, 'a checkpoint holds no events');
  t.equal(new DiskSpool(dir, 100).stats().batches, 1);
});
