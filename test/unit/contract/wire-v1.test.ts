// A contract-version-1 batch (a collector before the event contract) survives the trip through
// Redis bit for bit, and a damaged one is refused, not guessed.
import t from 'tap';
import { jobId, WireError } from '../../../contract/src/wire';
import { decodeBatch, encodeBatch, fromWire } from '../../../contract/src/wire-v1';
import { batchOf, event, host } from '../../utils/wire-fixtures';

t.test('every field of an event, 64-bit values and raw name bytes included, comes back unchanged', async (t) => {
  const truncated = event({ pathTruncated: true, pathOrigLen: undefined, pathTail: true, hasFile: true, retUnknown: true, pathResolved: true, resolvedPath: Buffer.from('/a/b') });
  const d = encodeBatch(batchOf([event(), truncated], 7), 'abcd1234');
  t.same([d.first, d.last, d.stream, d.boot], [7, 8, 'abcd1234', host.bootId]);
  const back = decodeBatch(JSON.parse(JSON.stringify(d)));
  t.same(fromWire(back.events[0]), event());
  t.same(fromWire(back.events[1]), truncated);
  t.same(back.procs['42'], { executable: '/usr/bin/cat', args: ['cat', 'x'] });
});

t.test('the job id is deterministic per boot, stream and first sequence number', async (t) => {
  const d = encodeBatch(batchOf([event()], 1), 's1');
  t.equal(jobId(d), `${host.bootId}-s1-1`);
  t.notOk(jobId(d).includes(':'), 'no colon: BullMQ reserves it');
  t.equal(jobId({ v: 1, kind: 'checkpoint', boot: host.bootId, stream: 's1', assigned: 9, host: 'h' }), `${host.bootId}-s1-upto-9`);
});

t.test('a batch with a hole in its sequence numbers cannot be made', async (t) => {
  const b = batchOf([event(), event()], 1);
  b.events[1].q = 3;
  t.throws(() => encodeBatch(b, 's'), WireError);
  t.throws(() => encodeBatch({ ...b, events: [] }, 's'), WireError);
});

t.test('a corrupt or mismatched batch is refused with WireError', async (t) => {
  const d = encodeBatch(batchOf([event(), event()], 1), 's');
  t.throws(() => decodeBatch({ ...d, z: 'AAAA' + d.z.slice(4) }), WireError);
  t.throws(() => decodeBatch({ ...d, last: 3 }), WireError, 'header says three events, the batch holds two');
  t.throws(() => decodeBatch({ ...d, boot: 'other' }), WireError);
  t.throws(() => decodeBatch({ ...d, v: 2 as 1 }), WireError);
});

t.test('the host path and its status of a process in another mount namespace cross the wire, and the indexer accepts them', async (t) => {
  const { wireBatchCheck } = await import('../../../indexer/src/worker/job-schema');
  const inNs = event({ otherTree: true, hostPath: Buffer.from('/srv/a/f\xff', 'latin1'), hostPathStatus: 'verified', hasFile: true, ret: 3 });
  const missing = event({ otherTree: true, hostPathStatus: 'not_mounted', hasFile: true, ret: 3 });
  const b = batchOf([inNs, missing], 1);
  const back = decodeBatch(encodeBatch(b, 's'), wireBatchCheck(Date.now())).events.map(fromWire);
  t.strictSame(back[0]!.hostPath, inNs.hostPath, 'raw bytes kept');
  t.equal(back[0]!.hostPathStatus, 'verified');
  t.equal(back[1]!.hostPath, undefined);
  t.equal(back[1]!.hostPathStatus, 'not_mounted');
  t.throws(() => wireBatchCheck(Date.now())({ ...b, events: [{ ...b.events[0]!, hs: 'guessed' }] }), WireError, 'an unknown status is refused');
});

t.test('a version-1 batch is named as version-1 indexers named it, so its documents hash to what its collector signed', async (t) => {
  const { v1Naming } = await import('../../../contract/src/wire-v1');
  const os = await import('node:os');
  const n = v1Naming(os.constants.errno);
  // Node's table, last name of a number winning: EWOULDBLOCK, not EAGAIN, on Linux.
  t.equal(n.errno(11), [...Object.entries(os.constants.errno)].filter(([, v]) => v === 11).pop()![0]);
  t.equal(n.errno(123), 'E123', 'a number Node has no name for');
  t.strictSame(n.openFlags(0x80000000 | 1, 'x86_64'), ['O_WRONLY', '0x-80000000'], 'bit 31 as signed hex');
  t.strictSame(n.openFlags(0xc0000000, 'x86_64'), ['O_RDONLY', '0x-40000000']);
  t.strictSame(n.openFlags(0o1101, 'x86_64'), ['O_WRONLY', 'O_CREAT', 'O_TRUNC'], 'known bits alike');
  t.equal(n.text(Buffer.from('\ufeffname')).text, 'name', 'a leading byte-order mark dropped');
  t.equal(n.text(Buffer.from('/etc/shadow')).text, '/etc/shadow');
});
