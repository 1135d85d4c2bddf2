// The event document: one open as an ECS-shaped document, built once, by the collector, with the
// one function here. ECS fields where ECS has them, everything else under `filewarden.*`. The
// indexer stores these bytes as they come; only the position and its verdict on the source are
// added, outside the signed digest (see wire.ts).
import type { BatchHost } from './batch-host';
import type { CapturedEvent, HostPathStatus, OperationName, ProcessInfo, Resolution } from './event';
import { type PathText, pathText } from './path-text';
import { accessOf, deviceOfMknod, errnoName, fileTypeOf, type KernelAbi, modeSpecialBits, openFlagNames, opFlagNames } from './tables';

/** ECS event.action and event.type of each operation (an open's type comes from its flags). */
export const OPERATIONS: Readonly<Record<OperationName, { action: string; type: readonly string[] }>> = {
  open: { action: 'open', type: ['access'] },
  unlink: { action: 'deletion', type: ['deletion'] },
  rmdir: { action: 'deletion', type: ['deletion'] },
  rename: { action: 'rename', type: ['change'] },
  chmod: { action: 'attributes-modified', type: ['change'] },
  chown: { action: 'attributes-modified', type: ['change'] },
  setxattr: { action: 'attributes-modified', type: ['change'] },
  removexattr: { action: 'attributes-modified', type: ['change'] },
  link: { action: 'creation', type: ['creation'] },
  symlink: { action: 'creation', type: ['creation'] },
  mkdir: { action: 'creation', type: ['creation'] },
  mknod: { action: 'creation', type: ['creation'] },
  truncate: { action: 'truncation', type: ['change'] },
  modify: { action: 'modification', type: ['change'] },
};

/** What an operation other than open changed, as passed to it (and the file's before, when known). */
export interface OperationChange {
  flags?: { value: number; names: string[] };
  /** chmod: the special bits the new mode has. */
  special?: string[];
  /** chmod, chown through an fd: the file's mode before. */
  old_mode?: string;
  uid?: string;
  gid?: string;
  old_uid?: string;
  old_gid?: string;
  /** truncate: the length as passed (decimal text: 64 bits). */
  length?: string;
  /** modify: the bytes the session wrote (decimal text) and its write calls that wrote any. */
  bytes_written?: string;
  writes?: number;
  /** mknod: the node's type and, for a device, its number. */
  node_type?: string;
  device?: string;
  /** setxattr, removexattr: the attribute's name, and its raw bytes when they are no UTF-8. */
  xattr?: string;
  xattr_raw_b64?: string;
}

/** The second name's provenance (rename's old path, link's existing file, symlink's target). */
export interface SecondPathFacts {
  encoding: 'utf8' | 'escaped';
  raw_b64: string;
  as_passed?: string;
  as_passed_raw_b64?: string;
  resolution: Resolution | 'as_stored';
  lexical?: true;
  truncated: boolean;
  unreadable: boolean;
}


export interface EcsOpenDocument {
  '@timestamp': string;
  event: { kind: 'event'; category: ['file']; type: string[]; action: string; outcome: 'success' | 'failure' | 'unknown'; sequence?: number; id?: string };
  file: { path: string; name: string; directory: string; extension?: string; inode?: string; device?: string; target_path?: string };
  process: { pid: number; name: string; executable?: string; args?: string[]; args_count?: number; thread: { id: number }; parent: { pid: number } };
  user: { id: string; name?: string; effective: { id: string; name?: string } };
  group: { id: string; name?: string };
  error?: { code: string };
  filewarden: {
    hook: string;
    syscall: string;
    /** Absent only in the documents of version-1 batches, which are all opens (their digests are
     * over documents without it). */
    operation?: OperationName;
    action: string;
    /** Present when the hook acted: why, and what the kernel could and could not do. */
    enforcement?: { by: 'policy' | 'kill_target'; requested: 'deny' | 'kill'; caveat?: string };
    ret: number | null;
    /** Opens only. */
    open_flags?: { value: number; names: string[] };
    mode?: string;
    /** Opens only. */
    access?: { read: boolean; write: boolean; create: boolean; truncate: boolean };
    f_mode?: { read: boolean; write: boolean };
    dirfd?: number;
    /** rename, link: the second name's dirfd as passed (tracepoint). */
    dirfd2?: number;
    /** Operations other than open: what they changed. */
    change?: OperationChange;
    /** rename: the path the file had before. */
    original_path?: string;
    /** rename, link, symlink: how the second name (original_path, file.target_path) was obtained. */
    second_path?: SecondPathFacts;
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
  const isOpen = e.op === 'open';
  const acc = accessOf(e.openFlags);
  const type = isOpen ? ['access'] : [...OPERATIONS[e.op].type];
  if (isOpen && (acc.write || acc.truncate)) type.push('change');
  if (isOpen && acc.create) type.push('creation');
  const outcome = e.retUnknown ? 'unknown' : e.ret < 0 ? 'failure' : 'success';
  // The name as passed: carried next to a kernel-resolved path (tracepoint), or the record's own path.
  const asPassedRaw = e.asPassed ?? (e.pathResolved ? undefined : e.path);
  const asPassed = asPassedRaw ? pathText(asPassedRaw) : undefined;
  const doc: EcsOpenDocument = {
    '@timestamp': isoNanos(e.wallNs),
    event: { kind: 'event', category: ['file'], type, action: OPERATIONS[e.op].action, outcome },
    file: { path: full.text, name, directory: pathText(dir).text },
    process: { pid: e.pid, name: e.comm, thread: { id: e.tid }, parent: { pid: e.ppid } },
    user: { id: String(e.uid), effective: { id: String(e.euid) } },
    group: { id: String(e.gid) },
    filewarden: {
      hook: e.hook,
      syscall: e.syscall,
      operation: e.op,
      action: e.action,
      ret: e.retUnknown ? null : e.ret,
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
  if (isOpen) {
    doc.filewarden.open_flags = { value: e.openFlags, names: naming.openFlags(e.openFlags, abi) };
    doc.filewarden.access = acc;
  }
  if (dot > 0) doc.file.extension = name.slice(dot + 1);
  if (e.hasFile) {
    doc.file.inode = e.ino.toString();
    doc.file.device = `${e.dev >>> 20}:${e.dev & 0xfffff}`;
    doc.filewarden.f_mode = { read: (e.fMode & 1) !== 0, write: (e.fMode & 2) !== 0 };
  }
  if (e.action !== 'allow') doc.filewarden.enforcement = enforcementOf(e);
  if (e.ret < 0 && !e.retUnknown) doc.error = { code: naming.errno(-e.ret) };
  if ((isOpen && acc.create) || e.op === 'mkdir' || e.op === 'mknod' || e.op === 'chmod') doc.filewarden.mode = `0${e.mode.toString(8)}`;
  if (!isOpen) addOperationFields(doc, e, naming);
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
  if (e.hook === 'tracepoint' && e.op !== 'modify') doc.filewarden.dirfd = e.dirfd;
  if (asPassed) {
    if (!asPassed.rawBase64 ? asPassed.text !== full.text : asPassed.rawBase64 !== full.rawBase64) {
      doc.filewarden.path.as_passed = asPassed.text;
      if (asPassed.rawBase64) doc.filewarden.path.as_passed_raw_b64 = asPassed.rawBase64;
    }
  }
  return doc;
}

const octal = (mode: number): string => `0${mode.toString(8)}`;
const UNCHANGED = 0xffff_ffff;

/** The fields of an operation other than open: what it changed, and its second name. */
function addOperationFields(doc: EcsOpenDocument, e: CapturedEvent, naming: Naming): void {
  const change: OperationChange = {};
  const names = opFlagNames(e.syscall, e.opFlags);
  if (names) change.flags = { value: e.opFlags >>> 0, names };
  if (e.op === 'chmod') change.special = modeSpecialBits(e.mode);
  if (e.op === 'chown') {
    if (e.newUid !== UNCHANGED) change.uid = String(e.newUid);
    if (e.newGid !== UNCHANGED) change.gid = String(e.newGid);
  }
  if (e.old && (e.op === 'chmod' || e.op === 'chown')) {
    change.old_mode = octal(e.old.mode);
    change.old_uid = String(e.old.uid);
    change.old_gid = String(e.old.gid);
  }
  if (e.op === 'truncate') change.length = e.length.toString();
  if (e.op === 'modify') {
    change.bytes_written = e.length.toString();
    change.writes = e.writes ?? 0;
  }
  if (e.op === 'mknod') {
    const t = fileTypeOf(e.mode);
    if (t) change.node_type = t;
    if (t === 'char-device' || t === 'block-device') change.device = deviceOfMknod(Number(e.length & 0xffff_ffffn));
  }
  const second = e.second;
  if (second && (e.op === 'setxattr' || e.op === 'removexattr')) {
    const x = naming.text(second.bytes);
    change.xattr = x.text;
    if (x.rawBase64) change.xattr_raw_b64 = x.rawBase64;
  } else if (second) {
    const t = naming.text(second.bytes);
    if (e.op === 'rename') doc.filewarden.original_path = t.text;
    else doc.file.target_path = t.text;
    const facts: SecondPathFacts = {
      encoding: t.encoding,
      raw_b64: second.bytes.toString('base64'),
      resolution: second.kind === 'text' ? 'as_stored' : second.kind === 'path' ? 'kernel' : second.bytes[0] === 0x2f ? 'absolute' : 'unavailable',
      truncated: second.truncated,
      unreadable: second.unreadable,
    };
    if (second.lexical) facts.lexical = true;
    if (second.asPassed) {
      const a = naming.text(second.asPassed);
      facts.as_passed = a.text;
      if (a.rawBase64) facts.as_passed_raw_b64 = a.rawBase64;
    }
    doc.filewarden.second_path = facts;
    if (e.hook === 'tracepoint' && second.kind !== 'text') doc.filewarden.dirfd2 = e.dirfd2;
  }
  if (Object.keys(change).length > 0) doc.filewarden.change = change;
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
