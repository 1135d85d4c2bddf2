// A captured event with every field set to something awkward (64-bit values, raw name bytes), and
// batches of such events (as collectors send them now, and as collectors before the contract did):
// the wire, hash-chain and trust tests share them.
import { BatchBuilder, type Enrichment } from '../../collector/src/batch/batch-builder';
import type { HashChain } from '../../collector/src/integrity/hash-chain';
import type { BatchHost } from '../../contract/src/batch-host';
import { type CapturedEvent, OPEN_OPERATION_FIELDS } from '../../contract/src/event';
import type { BatchJobData } from '../../contract/src/wire';
import { toWire, type WireBatch } from '../../contract/src/wire-v1';

export const event = (over: Partial<CapturedEvent> = {}): CapturedEvent => ({
  ...OPEN_OPERATION_FIELDS,
  tsNs: 123456789012345n,
  wallNs: 1764064800123456789n,
  cpu: 1,
  pid: 42,
  tid: 43,
  ppid: 1,
  uid: 1000,
  gid: 1000,
  euid: 0,
  cgroupId: 18446744073709551615n,
  mntnsId: 4026531832,
  dirfd: -100,
  ret: -13,
  ino: 9007199254740993n,
  dev: (254 << 20) | 1,
  openFlags: 0o1101,
  mode: 0o644,
  fMode: 0,
  hook: 'tracepoint',
  action: 'allow',
  syscall: 'openat',
  pathResolved: false,
  path: Buffer.from([0x72, 0x65, 0x6c, 0xff, 0x0a]),
  resolvedPath: Buffer.from('/home/u/rel\xff\n', 'latin1'),
  resolution: 'proc',
  pathOrigLen: 5,
  pathTruncated: false,
  pathTail: false,
  pathUnreadable: false,
  pathUnjudged: true,
  retUnknown: false,
  hasFile: false,
  denyAsKill: true,
  killTarget: false,
  comm: 'cat',
  ...over,
});

export const host = { name: 'h', bootId: '3db6063a-bad0-47d8-8462-a3ddfa1f7b4a' };
export const batchOf = (events: CapturedEvent[], first: number): WireBatch => ({
  v: 1,
  host,
  procs: { '42': { executable: '/usr/bin/cat', args: ['cat', 'x'] } },
  users: { '1000': 'u' },
  groups: {},
  events: events.map((e, i) => toWire(e, first + i)),
});


/** The facts batchOf carries for its events, as the collector's enrichment would find them. */
export const enrichment: Enrichment = {
  proc: (pid) => (pid === 42 ? { executable: '/usr/bin/cat', args: ['cat', 'x'] } : undefined),
  userName: (uid) => (uid === 1000 ? 'u' : undefined),
  groupName: () => undefined,
};

/** A batch job as the collector sends it (contract version 2), signed into `chain` when given. */
export function documentBatch(events: CapturedEvent[], first: number, stream = 's', chain?: HashChain, over: Partial<Enrichment> = {}, h: BatchHost = host): BatchJobData {
  const b = new BatchBuilder(h, stream, 'x86_64', { ...enrichment, ...over }, chain);
  events.forEach((e, i) => b.add(e, first + i));
  return b.take()!;
}
