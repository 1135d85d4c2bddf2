// A captured event with every field set to something awkward (64-bit values, raw name bytes), and
// a batch of such events: the wire and hash-chain unit tests share them.
import { toWire, type WireBatch } from '../../collector/src/batch/wire';
import type { CapturedEvent } from '../../collector/src/format/ecs';

export const event = (over: Partial<CapturedEvent> = {}): CapturedEvent => ({
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

