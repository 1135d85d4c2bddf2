// Contract version 1 batches: what collectors before the event contract sent (one JSON object per
// batch holding compact "wire events" and per-batch process, user and group facts, from which the
// indexer built each document). The indexer still reads them during a rolling upgrade, building
// their documents with the same one function the collector uses now (event-document.ts).
import { TextDecoder } from 'node:util';
import zlib from 'node:zlib';
import type { BatchHost } from './batch-host';
import { type ActionName, type CapturedEvent, type HookName, type HostPathStatus, OPEN_OPERATION_FIELDS, type ProcessInfo, type Resolution, type SyscallName } from './event';
import { canonicalize } from './canonical-json';
import { buildDocument, type Naming } from './event-document';
import { pathText } from './path-text';
import { type KernelAbi, openFlagNames } from './tables';
import { type BatchJobData, MAX_BATCH_JSON_BYTES, WireError } from './wire';

export const WIRE_V1 = 1;

/** One event, with short keys: the batch is compressed, but JSON.stringify cost scales with keys. */
export interface WireEvent {
  /** Sequence number: contiguous per host boot. */
  q: number;
  /** Kernel boot-time stamp (ns), decimal. */
  t: string;
  /** Wall-clock time (ns since the epoch), decimal. */
  w: string;
  cpu: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  cg: string;
  mnt: number;
  dfd: number;
  ret: number;
  ino: string;
  dev: number;
  of: number;
  mode: number;
  fm: number;
  hook: HookName;
  act: ActionName;
  sc: SyscallName;
  /** Flag bits, see FLAG. */
  f: number;
  /** The name's raw bytes (base64): as passed when flag `asPassed` is set. */
  p: string;
  /** The resolved path (base64) when it differs from `p`. */
  rp?: string;
  res: Resolution;
  ol?: number;
  /** The host path (base64), for a process in another mount namespace or under chroot. */
  hp?: string;
  /** How the host path was found (set exactly for such a process). */
  hs?: HostPathStatus;
  comm: string;
}

const FLAG = { resolved: 1, truncated: 2, tail: 4, unreadable: 8, unjudged: 16, retUnknown: 32, hasFile: 64, denyAsKill: 128, killTarget: 256, lexical: 512, asPassed: 1024 } as const;

/** What a batch carries besides its events: per-process, per-user and per-group facts, once each. */
export interface WireBatch {
  v: typeof WIRE_V1;
  host: BatchHost;
  /** Keyed by pid (decimal). Absent: the process had exited before it could be read. */
  procs: Record<string, ProcessInfo>;
  users: Record<string, string>;
  groups: Record<string, string>;
  events: WireEvent[];
}

/** An event's wall time in ms since the epoch, from the wire's ns string (cheaper than BigInt). */
export const wallMsOf = (w: Pick<WireEvent, 'w'>): number => Number(w.w.slice(0, -6));

export function toWire(e: CapturedEvent, seq: number): WireEvent {
  const f =
    (e.pathResolved ? FLAG.resolved : 0) |
    (e.pathTruncated ? FLAG.truncated : 0) |
    (e.pathTail ? FLAG.tail : 0) |
    (e.pathUnreadable ? FLAG.unreadable : 0) |
    (e.pathUnjudged ? FLAG.unjudged : 0) |
    (e.retUnknown ? FLAG.retUnknown : 0) |
    (e.hasFile ? FLAG.hasFile : 0) |
    (e.denyAsKill ? FLAG.denyAsKill : 0) |
    (e.killTarget ? FLAG.killTarget : 0) |
    (e.pathLexical ? FLAG.lexical : 0) |
    (e.asPassed ? FLAG.asPassed : 0);
  const w: WireEvent = {
    q: seq,
    t: e.tsNs.toString(),
    w: e.wallNs.toString(),
    cpu: e.cpu,
    pid: e.pid,
    tid: e.tid,
    ppid: e.ppid,
    uid: e.uid,
    gid: e.gid,
    euid: e.euid,
    cg: e.cgroupId.toString(),
    mnt: e.mntnsId,
    dfd: e.dirfd,
    ret: e.ret,
    ino: e.ino.toString(),
    dev: e.dev,
    of: e.openFlags,
    mode: e.mode,
    fm: e.fMode,
    hook: e.hook,
    act: e.action,
    sc: e.syscall,
    f,
    // With the name as passed carried next to the kernel's path, `p` holds the name and `rp` the path.
    p: (e.asPassed ?? e.path).toString('base64'),
    res: e.resolution,
    comm: e.comm,
  };
  if (e.asPassed || !e.resolvedPath.equals(e.path)) w.rp = e.resolvedPath.toString('base64');
  if (e.pathOrigLen !== undefined && e.pathOrigLen !== e.path.length) w.ol = e.pathOrigLen;
  if (e.hostPathStatus) w.hs = e.hostPathStatus;
  if (e.hostPath) w.hp = e.hostPath.toString('base64');
  return w;
}

export function fromWire(w: WireEvent): CapturedEvent {
  const p = Buffer.from(w.p, 'base64');
  const rp = w.rp === undefined ? undefined : Buffer.from(w.rp, 'base64');
  const asPassed = (w.f & FLAG.asPassed) !== 0;
  const path = asPassed && rp ? rp : p;
  const truncated = (w.f & FLAG.truncated) !== 0;
  const e: CapturedEvent = {
    ...OPEN_OPERATION_FIELDS,
    tsNs: BigInt(w.t),
    wallNs: BigInt(w.w),
    cpu: w.cpu,
    pid: w.pid,
    tid: w.tid,
    ppid: w.ppid,
    uid: w.uid,
    gid: w.gid,
    euid: w.euid,
    cgroupId: BigInt(w.cg),
    mntnsId: w.mnt,
    dirfd: w.dfd,
    ret: w.ret,
    ino: BigInt(w.ino),
    dev: w.dev,
    openFlags: w.of,
    mode: w.mode,
    fMode: w.fm,
    hook: w.hook,
    action: w.act,
    syscall: w.sc,
    pathResolved: (w.f & FLAG.resolved) !== 0,
    path,
    resolvedPath: rp ?? path,
    resolution: w.res,
    pathOrigLen: w.ol ?? (truncated ? undefined : path.length),
    pathTruncated: truncated,
    pathTail: (w.f & FLAG.tail) !== 0,
    pathUnreadable: (w.f & FLAG.unreadable) !== 0,
    pathUnjudged: (w.f & FLAG.unjudged) !== 0,
    retUnknown: (w.f & FLAG.retUnknown) !== 0,
    hasFile: (w.f & FLAG.hasFile) !== 0,
    denyAsKill: (w.f & FLAG.denyAsKill) !== 0,
    killTarget: (w.f & FLAG.killTarget) !== 0,
    comm: w.comm,
  };
  // Set only when flagged, so a batch written before these flags reads back unchanged.
  if (asPassed) e.asPassed = p;
  if ((w.f & FLAG.lexical) !== 0) e.pathLexical = true;
  if (w.hs !== undefined) e.hostPathStatus = w.hs;
  if (w.hp !== undefined) e.hostPath = Buffer.from(w.hp, 'base64');
  return e;
}

export function encodeBatch(b: WireBatch, stream: string): BatchJobData {
  const n = b.events.length;
  if (n === 0) throw new WireError('a batch holds at least one event');
  const first = b.events[0].q;
  const last = b.events[n - 1].q;
  if (last - first + 1 !== n) throw new WireError(`batch sequence numbers ${first}..${last} are not contiguous over ${n} events`);
  // Level 1: three times faster than the default for about 10% more bytes on this data.
  const z = zlib.deflateRawSync(JSON.stringify(b), { level: 1 }).toString('base64');
  return { v: WIRE_V1, boot: b.host.bootId, stream, first, last, z };
}


/**
 * Decodes and checks a job's batch; a WireError means the job can never succeed (poison).
 * `check` validates the parsed value's shape before anything reads it (the indexer's schema).
 */
export function decodeBatch(d: BatchJobData, check: (parsed: unknown) => WireBatch = (x) => x as WireBatch): WireBatch {
  if (d.v !== WIRE_V1) throw new WireError(`unsupported batch version ${String(d.v)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(zlib.inflateRawSync(Buffer.from(d.z, 'base64'), { maxOutputLength: MAX_BATCH_JSON_BYTES }).toString('utf8'));
  } catch (e) {
    throw new WireError(`corrupt batch ${d.boot}/${d.first}: ${(e as Error).message}`);
  }
  const b = check(parsed);
  const n = b.events?.length ?? 0;
  if (b.host?.bootId !== d.boot || n !== d.last - d.first + 1 || b.events[0].q !== d.first || b.events[n - 1].q !== d.last) {
    throw new WireError(`batch ${d.boot}/${d.first} does not match its header`);
  }
  return b;
}


/**
 * How version-1 indexers named things, so a version-1 batch's documents hash to what its collector
 * signed: errno names from the reader's own table with the last name of a number winning (Node's
 * os.constants.errno order, passed in: contract code reads no machine), "E<n>" for the rest; an
 * unknown flag bit 31 printed as signed hex; and a leading byte-order mark dropped from a name.
 */
export function v1Naming(errnoTable: Readonly<Record<string, number>>): Naming {
  const errno = new Map(Object.entries(errnoTable).map(([k, v]) => [v, k]));
  const strict = new TextDecoder('utf-8', { fatal: true });
  return {
    errno: (n) => errno.get(n) ?? `E${n}`,
    openFlags: (flags, abi) => {
      const names = openFlagNames(flags & 0x7fffffff, abi);
      if (flags & 0x80000000) {
        const last = names.length > 1 && names[names.length - 1]!.startsWith('0x') ? Number(names.pop()) : 0;
        names.push(`0x${((last | 0x80000000) | 0).toString(16)}`);
      }
      return names;
    },
    text: (name) => {
      const t = pathText(name);
      if (t.encoding !== 'utf8' || !t.text.startsWith('\ufeff')) return t;
      // TextDecoder's default drops a leading BOM: version 1 showed the rest.
      return { ...t, text: strict.decode(name) };
    },
  };
}

/**
 * A version-1 batch's document lines, built as version-1 indexers built them: with the one
 * document builder, the batch's process, user and group facts, version 1's naming, and the flag
 * table of `abi` (version 1 did not say which kernel ABI its events came from; its indexers used
 * their own).
 */
export function v1DocumentLines(b: WireBatch, stream: string, abi: KernelAbi, naming: Naming): string[] {
  return b.events.map((w) => {
    const e = fromWire(w);
    const doc = buildDocument(e, {
      host: b.host,
      stream,
      abi,
      proc: b.procs[String(e.pid)],
      userName: b.users[String(e.uid)],
      effectiveUserName: b.users[String(e.euid)],
      groupName: b.groups[String(e.gid)],
      naming,
    });
    // Version 1 knew only opens and named no operation: its collectors signed documents without one.
    delete doc.filewarden.operation;
    return canonicalize(doc);
  });
}
