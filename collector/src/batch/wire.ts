// The batch format that crosses Redis: one BullMQ job per batch, its events deflated into one
// base64 string so that 100k queued events cost a few MB of Redis memory (bench/pipeline.ts).
// Both the collector (encode) and the indexer (decode) use this file: it is the one definition.
import zlib from 'node:zlib';
import type { CapturedEvent } from '../format/ecs';
import type { HookName, SyscallName, ActionName } from '../decode/open-event';
import type { HostPathStatus } from '../resolve/host-path';
import type { Resolution } from '../resolve/path-resolver';
import type { ProcessInfo } from '../enrich/process-info';
import type { ChainLink, RecordSignature } from '../integrity/hash-chain';

export const WIRE_VERSION = 1;

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

export interface BatchHost {
  name: string;
  id?: string;
  bootId: string;
}

/** What a batch carries besides its events: per-process, per-user and per-group facts, once each. */
export interface WireBatch {
  v: typeof WIRE_VERSION;
  host: BatchHost;
  /** Keyed by pid (decimal). Absent: the process had exited before it could be read. */
  procs: Record<string, ProcessInfo>;
  users: Record<string, string>;
  groups: Record<string, string>;
  events: WireEvent[];
}

/** The BullMQ job data (and the spool file's content). */
export interface BatchJobData {
  v: typeof WIRE_VERSION;
  boot: string;
  /** The sequence stream: a new one starts only when the collector's state was lost mid-boot. */
  stream: string;
  /** The first and last sequence numbers: the batch holds exactly last - first + 1 events. */
  first: number;
  last: number;
  /** deflateRaw(JSON(WireBatch)), base64. */
  z: string;
  /** The batch's signed hash-chain link (integrity/hash-chain.ts); absent from collectors before it. */
  chain?: ChainLink;
}

/**
 * A checkpoint: "this stream has given out every number up to `assigned`". It lets the gap report
 * see losses at the tail of a stream (a dropped last batch, a crash), which no later event reveals.
 */
export interface CheckpointJobData {
  v: typeof WIRE_VERSION;
  kind: 'checkpoint';
  boot: string;
  stream: string;
  assigned: number;
  host: string;
  /** The collector's heartbeat: sent every interval, moved or not, with its loss counters. */
  hb?: Heartbeat;
  /** The host key's signature over the rest: only a signed checkpoint from an enrolled key moves a stream's number. */
  sig?: RecordSignature;
}

/** A collector run's liveness and its loss counters so far (they restart at 0 with each run). */
export interface Heartbeat {
  /** Random per collector run. */
  run: string;
  /** Wall time, ms since the epoch. */
  at: number;
  /** The interval the collector promises: a longer silence is a heartbeat gap. */
  intervalMs: number;
  kernelDropped: number;
  argsLost: number;
  spoolDropped: number;
}

/**
 * An audit record: what the collector decided about an enforcement command (applied or refused, and
 * why). It is evidence too, so it travels like a batch (spooled while Redis is down); `id` is random
 * and makes the job and the document unique.
 */
export interface AuditJobData {
  v: typeof WIRE_VERSION;
  kind: 'audit';
  id: string;
  record: AuditRecord;
  /** The host key's signature over the rest. */
  sig?: RecordSignature;
}

/** One decision about one command, as the collector saw it. */
export interface AuditRecord {
  /** Wall time of the decision, ms since the epoch. */
  at: number;
  host: { name: string; id?: string; bootId: string };
  /** issued: sent by the indexer; applied: carried out; refused: not valid here (the reason says why). */
  decision: 'issued' | 'applied' | 'refused';
  /** A code: ok, bad-signature, malformed, wrong-host, expired, not-yet-valid, replayed, lifetime, other-boot, failed. */
  reason: string;
  detail: string;
  /** The command as far as it could be read (a forged one is still recorded as received). */
  command: { id?: string; type?: string; host?: string; nonce?: string; iat?: number; exp?: number; alert?: string; rule?: string };
  /** What applying it did, e.g. kill: "killed" | "exited" | "reused". */
  outcome?: string;
  target?: { pid?: number; start?: number; paths?: string[]; comm?: string; executable?: string; entries?: number };
}

/** What the queue and the spool carry. */
export type JobData = BatchJobData | CheckpointJobData | AuditJobData;

export const isCheckpoint = (d: JobData): d is CheckpointJobData => (d as CheckpointJobData).kind === 'checkpoint';
export const isAudit = (d: JobData): d is AuditJobData => (d as AuditJobData).kind === 'audit';
/** A batch of events (the other kinds are control records that carry none). */
export const isBatch = (d: JobData): d is BatchJobData => !('kind' in d);

/** Events in a job: a checkpoint or an audit record has none. */
export const eventsIn = (d: JobData): number => (isBatch(d) ? d.last - d.first + 1 : 0);

/** An event's wall time in ms since the epoch, from the wire's ns string (cheaper than BigInt). */
export const wallMsOf = (w: Pick<WireEvent, 'w'>): number => Number(w.w.slice(0, -6));

export class WireError extends Error {
  override readonly name = 'WireError';
}

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
  return { v: WIRE_VERSION, boot: b.host.bootId, stream, first, last, z };
}

/** A batch inflates to at most this: 2,000 events take about 1 MB, and a deflate bomb stops here. */
export const MAX_BATCH_JSON_BYTES = 64 << 20;

/**
 * Decodes and checks a job's batch; a WireError means the job can never succeed (poison).
 * `check` validates the parsed value's shape before anything reads it (the indexer's schema).
 */
export function decodeBatch(d: BatchJobData, check: (parsed: unknown) => WireBatch = (x) => x as WireBatch): WireBatch {
  if (d.v !== WIRE_VERSION) throw new WireError(`unsupported batch version ${String(d.v)}`);
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

/** The BullMQ job id: deterministic, so a batch added twice (spool replay) is one job. */
export function jobId(d: JobData): string {
  if (isAudit(d)) return `audit-${d.id}`;
  if (isCheckpoint(d)) return `${d.boot}-${d.stream}-upto-${d.assigned}${d.hb ? `-hb-${d.hb.run}-${d.hb.at}` : ''}`;
  return `${d.boot}-${d.stream}-${d.first}`;
}
