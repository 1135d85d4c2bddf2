// Sequence numbers continue across restarts of the same boot, and an unacknowledged range left
// by a crash is named exactly; a new boot starts a new stream.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Sequencer } from '../../../collector/src/batch/sequencer';

const dir = (t: Test): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-seq-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

t.test('a restart after a crash continues after every number given out and names the unacknowledged ones', async (t) => {
  const d = dir(t);
  const a = new Sequencer(d, 'boot-1');
  t.same(a.start, { resumed: false });
  t.equal(a.assign(10), 1);
  t.equal(a.assign(5), 11);
  a.ack(10);
  // "crash": a is dropped without acknowledging 11..15
  const b = new Sequencer(d, 'boot-1');
  t.same(b.start, { resumed: true, unacked: { from: 11, to: 15 } });
  t.equal(b.stream, a.stream);
  t.equal(b.assign(1), 16);
  b.ack(16);
  const c = new Sequencer(d, 'boot-1');
  t.same(c.start, { resumed: true, unacked: undefined }, 'a clean stop leaves nothing outstanding');
});

t.test('a new boot, or lost state, starts a new stream at 1', async (t) => {
  const d = dir(t);
  const a = new Sequencer(d, 'boot-1');
  a.assign(3);
  const b = new Sequencer(d, 'boot-2');
  t.same(b.start, { resumed: false });
  t.not(b.stream, a.stream);
  t.equal(b.assign(1), 1);
  fs.writeFileSync(path.join(d, 'sequence.json'), '{"garbage":');
  const c = new Sequencer(d, 'boot-2');
  t.same(c.start, { resumed: false });
  t.not(c.stream, b.stream, 'job ids cannot collide with the lost stream');
});

t.test('acknowledgements never move backwards', async (t) => {
  const s = new Sequencer(dir(t), 'b');
  s.assign(10);
  s.ack(8);
  s.ack(5);
  t.equal(s.acked, 8);
});
