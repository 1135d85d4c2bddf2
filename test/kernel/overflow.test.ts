// Root, real kernel: when the ring buffer overflows, every lost event is counted. With a one-page
// ring buffer and a consumer that stalls, a burst of opens ends as delivered + dropped == produced.
import fs from 'node:fs';
import t from 'tap';
import { runWorkload, startCapture, tempDir } from '../utils/kernel';

const COMM = 'fw-burst';
const OPENS = 20000;

const WORKLOAD = String.raw`
import os, sys, json, ctypes
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
name = sys.argv[2].encode()
for _ in range(int(sys.argv[3])):
    os.close(os.open(name, os.O_RDONLY))
print(json.dumps({"pid": os.getpid()}))
`;

t.test('a tiny ring buffer under a burst: delivered + dropped == produced, exactly', async (t) => {
  const dir = tempDir(t);
  const file = `${dir}/f`;
  fs.writeFileSync(file, 'x');
  const { capture } = startCapture(t, { filters: { includeComms: [COMM] }, ringbufBytes: 4096, batchRecords: 64 });
  const run = runWorkload<{ pid: number }>(t, WORKLOAD, [COMM, file, String(OPENS)]);
  // Stall the event loop while the burst runs: batches queue up, the drain thread waits on the
  // bounded queue, and the kernel finds the ring buffer full.
  await new Promise((r) => setTimeout(r, 20));
  const until = Date.now() + 300;
  while (Date.now() < until);
  await run;
  await capture.close();
  const s = capture.stats();
  t.ok(s.dropped > 0, `the burst overflowed the ring buffer (${s.dropped} dropped)`);
  t.equal(s.seen - s.filtered, OPENS, 'the kernel saw exactly the burst\'s opens past the comm filter');
  t.equal(s.delivered + s.dropped, OPENS, `delivered (${s.delivered}) + dropped (${s.dropped}) == produced (${OPENS})`);
  t.equal(s.recordsRead, s.emitted, 'every record written to the ring buffer was read');
  t.equal(s.argsLost, 0);
});
