// The event document: one open as an ECS-shaped document, built once, by the collector, with the
// one function here. ECS fields where ECS has them, everything else under `filewarden.*`. The
// indexer stores these bytes as they come; only the position and its verdict on the source are
// added, outside the signed digest (see wire.ts).
import type { BatchHost } from './batch-host';
import type { CapturedEvent, HostPathStatus, ProcessInfo, Resolution } from './event';
import { type PathText, pathText } from './path-text';
import { accessOf, errnoName, type KernelAbi, openFlagNames } from './tables';


export interface EcsOpenDocument {
  '@timestamp': string;
  event: { kind: 'event'; category: ['file']; type: string[]; action: 'open'; outcome: 'success' | 'failure' | 'unknown'; sequence?: number; id?: string };
  file: { path: string; name: string; directory: string; extension?: string; inode?: string; device?: string };
  process: { pid: number; name: string; executable?: string; args?: string[]; args_count?: number; thread: { id: number }; parent: { pid: number } };
  user: { id: string; name?: string; effective: { id: string; name?: string } };
  group: { id: string; name?: string };
  error?: { code: string };
  filewarden: {
    hook: string;
    syscall: string;
    action: string;
    /** Present when the hook acted: why, and what the kernel could and could not do. */
    enforcement?: { by: 'policy' | 'kill_target'; requested: 'deny' | 'kill'; caveat?: string };
    ret: number | null;
    open_flags: { value: number; names: string[] };
    mode?: string;
    access: { read: boolean; write: boolean; create: boolean; truncate: boolean };
    f_mode?: { read: boolean; write: boolean };
    dirfd?: number;
    path: {
      encoding: 'utf8' | 'escaped';
      raw_b64?: string;
      as_passed?: string;
      as_passed_raw_b64?: string;
      resolution: Resolution;
      /** Present (true) when the last components were joined lexically: a failed open's file was never reached. */
      lexical?: boolean;
      truncated: boolean;
      tail_only: boolean;
      original_length?: number;
      unreadable: boolean;
      /** The file's path on the host's tree, for a process in another mount namespace or under chroot
       * (file.path is the process's view). Absent for host processes, and when not known: see host_status. */
      host?: string;
      host_raw_b64?: string;
      /** Present exactly when the process is in another mount namespace or under chroot. */
      host_status?: HostPathStatus;
    };
    cgroup_id: string;
    mntns_id: number;
    cpu: number;
    boot_ns: string;
    /** Where process.executable/args came from. */
    process_info?: 'proc' | 'unavailable';
    /** The process's start time in USER_HZ ticks (identifies it for a kill). */
    process_start_ticks?: number;
    /** The event's position: added by the indexer, outside the digest (wire.ts). */
    seq?: number;
    seq_stream?: string;
    boot_id?: string;
    /** Set by the indexer, outside the signed digest: whether an enrolled collector signed the event. */
    trust?: { status: 'verified' | 'signed' | 'untrusted'; reason: string };
  };
}

/** The second isoNanos last wrote, and its text. */
let isoSecond: bigint | undefined;
let isoPrefix = '';

/** "2026-11-25T10:00:00.123456789Z": ECS @timestamp with every nanosecond kept. */
export function isoNanos(wallNs: bigint): string {
  // Floored, so a time before 1970 is a second and a positive fraction too.
  let sec = wallNs / 1_000_000_000n;
  let frac = wallNs % 1_000_000_000n;
  if (frac < 0n) {
    sec -= 1n;
    frac += 1_000_000_000n;
  }
  // Events come in bursts within one second: its text is made once.
  if (sec !== isoSecond) {
    isoPrefix = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
    isoSecond = sec;
  }
  return `${isoPrefix}.${frac.toString().padStart(9, '0')}Z`;
}

function splitName(p: Buffer): { dir: Buffer; base: Buffer } {
  const i = p.lastIndexOf(0x2f);
  if (i < 0) return { dir: Buffer.alloc(0), base: p };
  return { dir: i === 0 ? p.subarray(0, 1) : p.subarray(0, i), base: p.subarray(i + 1) };
}

/** The caveat an auditor must read next to a kill: what the kernel did before the process died. */
export const SYSCALL_RAN_CAVEAT = 'the process was killed but the syscall ran to completion (no lsm hook to refuse it)';

function enforcementOf(e: CapturedEvent): NonNullable<EcsOpenDocument['filewarden']['enforcement']> {
  const by = e.killTarget ? 'kill_target' : 'policy';
  if (e.denyAsKill) return { by, requested: 'deny', caveat: SYSCALL_RAN_CAVEAT };
  if (e.action === 'deny') return { by, requested: 'deny' };
  return e.hook === 'lsm' ? { by, requested: 'kill' } : { by, requested: 'kill', caveat: SYSCALL_RAN_CAVEAT };
}

/** How bits and bytes become names: the contract's fixed tables, or a legacy reader's (wire-v1.ts). */
export interface Naming {
  errno(n: number): string;
  openFlags(flags: number, abi: KernelAbi): string[];
  text(name: Buffer): PathText;
}

export const NAMING: Naming = { errno: errnoName, openFlags: openFlagNames, text: pathText };

/** The document of an event alone, as `filewarden collect --stdout` prints it. */
export function toEcs(e: CapturedEvent, abi: KernelAbi, naming: Naming = NAMING): EcsOpenDocument {
  const pathText = naming.text;
  const full = pathText(e.resolvedPath);
  const { dir, base } = splitName(e.resolvedPath);
  const name = pathText(base).text;
  const dot = name.lastIndexOf('.');
  const acc = accessOf(e.openFlags);
  const type = ['access'];
  if (acc.write || acc.truncate) type.push('change');
  if (acc.create) type.push('creation');
  const outcome = e.retUnknown ? 'unknown' : e.ret < 0 ? 'failure' : 'success';
  // The name as passed: carried next to a kernel-resolved path (tracepoint), or the record's own path.
  const asPassedRaw = e.asPassed ?? (e.pathResolved ? undefined : e.path);
  const asPassed = asPassedRaw ? pathText(asPassedRaw) : undefined;
  const doc: EcsOpenDocument = {
    '@timestamp': isoNanos(e.wallNs),
    event: { kind: 'event', category: ['file'], type, action: 'open', outcome },
    file: { path: full.text, name, directory: pathText(dir).text },
    process: { pid: e.pid, name: e.comm, thread: { id: e.tid }, parent: { pid: e.ppid } },
    user: { id: String(e.uid), effective: { id: String(e.euid) } },
    group: { id: String(e.gid) },
    filewarden: {
      hook: e.hook,
      syscall: e.syscall,
      action: e.action,
      ret: e.retUnknown ? null : e.ret,
      open_flags: { value: e.openFlags, names: naming.openFlags(e.openFlags, abi) },
      access: acc,
      path: {
        encoding: full.encoding,
        resolution: e.resolution,
        truncated: e.pathTruncated,
        tail_only: e.pathTail,
        unreadable: e.pathUnreadable,
      },
      cgroup_id: e.cgroupId.toString(),
      mntns_id: e.mntnsId,
      cpu: e.cpu,
      boot_ns: e.tsNs.toString(),
    },
  };
  if (dot > 0) doc.file.extension = name.slice(dot + 1);
  if (e.hasFile) {
    doc.file.inode = e.ino.toString();
    doc.file.device = `${e.dev >>> 20}:${e.dev & 0xfffff}`;
    doc.filewarden.f_mode = { read: (e.fMode & 1) !== 0, write: (e.fMode & 2) !== 0 };
  }
  if (e.action !== 'allow') doc.filewarden.enforcement = enforcementOf(e);
  if (e.ret < 0 && !e.retUnknown) doc.error = { code: naming.errno(-e.ret) };
  if (acc.create) doc.filewarden.mode = `0${e.mode.toString(8)}`;
  if (full.rawBase64) doc.filewarden.path.raw_b64 = full.rawBase64;
  if (e.pathOrigLen !== undefined && e.pathTruncated) doc.filewarden.path.original_length = e.pathOrigLen;
  if (e.pathLexical) doc.filewarden.path.lexical = true;
  if (e.hostPathStatus) {
    doc.filewarden.path.host_status = e.hostPathStatus;
    if (e.hostPath) {
      const host = pathText(e.hostPath);
      doc.filewarden.path.host = host.text;
      if (host.rawBase64) doc.filewarden.path.host_raw_b64 = host.rawBase64;
    }
  }
  if (e.hook === 'tracepoint') doc.filewarden.dirfd = e.dirfd;
  if (asPassed) {
    if (!asPassed.rawBase64 ? asPassed.text !== full.text : asPassed.rawBase64 !== full.rawBase64) {
      doc.filewarden.path.as_passed = asPassed.text;
      if (asPassed.rawBase64) doc.filewarden.path.as_passed_raw_b64 = asPassed.rawBase64;
    }
  }
  return doc;
}

/** The stored document: the event's own fields completed with its host, account and process facts. */
export interface EventDocument extends EcsOpenDocument {
  host: { name: string; id?: string; boot: { id: string } };
  container?: { id: string };
}

/** What the collector knows about an event besides the event itself. */
export interface DocumentContext {
  host: BatchHost;
  /** The sequence stream the event is numbered in. */
  stream: string;
  /** The ABI of the kernel that produced the event: its flag bits are named with this table. */
  abi: KernelAbi;
  /** Read from /proc while the process lived; undefined when it had exited. */
  proc?: ProcessInfo;
  userName?: string;
  effectiveUserName?: string;
  groupName?: string;
  /** @defaultValue NAMING, the contract's fixed tables */
  naming?: Naming;
}

/** UTC day of a @timestamp, as the daily index suffix: 2026.11.25. */
export const dayOf = (timestamp: string): string => `${timestamp.slice(0, 4)}.${timestamp.slice(5, 7)}.${timestamp.slice(8, 10)}`;

/** Deterministic: boot id, kernel boot-time stamp and thread id identify one open on a host. */
export const eventId = (bootId: string, tsNs: bigint | string, tid: number): string => `${bootId}-${tsNs}-${tid}`;

/**
 * The one function that builds an event document. It leaves out the position (event.sequence,
 * filewarden.seq) and the indexer's trust verdict: those are added to the bytes later and are
 * outside the digest, so an event moved to another number is still recognised as itself.
 */
export function buildDocument(e: CapturedEvent, c: DocumentContext): EventDocument {
  const doc = toEcs(e, c.abi, c.naming) as EventDocument;
  doc.event.id = eventId(c.host.bootId, e.tsNs, e.tid);
  doc.host = { name: c.host.name, boot: { id: c.host.bootId } };
  if (c.host.id) doc.host.id = c.host.id;
  if (c.userName !== undefined) doc.user.name = c.userName;
  if (c.effectiveUserName !== undefined) doc.user.effective.name = c.effectiveUserName;
  if (c.groupName !== undefined) doc.group.name = c.groupName;
  const proc = c.proc;
  if (proc) {
    if (proc.executable !== undefined) doc.process.executable = proc.executable;
    if (proc.args !== undefined) {
      doc.process.args = proc.args;
      doc.process.args_count = proc.args.length;
    }
    if (proc.containerId !== undefined) doc.container = { id: proc.containerId };
    if (proc.startTicks !== undefined) doc.filewarden.process_start_ticks = proc.startTicks;
  }
  doc.filewarden.process_info = proc ? 'proc' : 'unavailable';
  doc.filewarden.seq_stream = c.stream;
  doc.filewarden.boot_id = c.host.bootId;
  // The exact bytes of the path, whatever its encoding: the evidence behind file.path.
  doc.filewarden.path.raw_b64 = e.resolvedPath.toString('base64');
  return doc;
}
