// The facts of one captured event, as the collector decodes and enriches them: the input of the one
// function that builds an event document (event-document.ts). Names here are the contract's own.

export type HookName = 'tracepoint' | 'kprobe' | 'fexit' | 'lsm';
export type SyscallName = 'unknown' | 'openat' | 'openat2' | 'open' | 'creat';
export type ActionName = 'allow' | 'deny' | 'kill';

export type Resolution =
  /** The kernel resolved the path itself (dentry walk or bpf_d_path; for a failed tracepoint open,
   * the base directory's walk plus a lexical join, flagged `lexical`). */
  | 'kernel'
  /** The name was absolute as passed. */
  | 'absolute'
  /** Joined to the cwd or dirfd read from /proc after the fact: a flagged guess. */
  | 'proc'
  /** The process (or its fd) was gone before it could be read: only the name as passed is known. */
  | 'unavailable';

export type HostPathStatus =
  /** The host path names the same device and inode on the host, checked when the event was handled. */
  | 'verified'
  /** The file was gone when checked: the host path comes from the host's mount table alone (the
   * mount holding it is not covered and no other host mount lies on the way). */
  | 'mount_table'
  /** No host mount shows that part of the filesystem (e.g. a tmpfs mounted only in the namespace). */
  | 'not_mounted'
  /** Host mounts hold that part, but none of their paths reaches this file on the host (covered by
   * another mount, or replaced since): no host path rather than a wrong one. */
  | 'unverified'
  /** The filesystem-relative walk ran out of room in the kernel. */
  | 'truncated'
  /** A failed open: no file was reached, so only the process's view (a lexical join) is known. */
  | 'no_file';

export interface ProcessInfo {
  executable?: string;
  args?: string[];
  containerId?: string;
  /** Start time in USER_HZ ticks since boot (/proc/<pid>/stat field 22): a kill command's identity check. */
  startTicks?: number;
}

export interface OpenEvent {
  tsNs: bigint;
  cpu: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  cgroupId: bigint;
  mntnsId: number;
  dirfd: number;
  /** The fd on success, -errno on failure. */
  ret: number;
  ino: bigint;
  dev: number;
  openFlags: number;
  mode: number;
  fMode: number;
  hook: HookName;
  action: ActionName;
  syscall: SyscallName;
  pathResolved: boolean;
  /** The path's raw bytes (copied out of the batch): resolved in the kernel when `pathResolved`,
   * else the name as passed. */
  path: Buffer;
  /** The name as the caller passed it, when the record carries it (tracepoint hook, resolved path)
   * and it differs from `path`. */
  asPassed?: Buffer;
  /** The resolved path's last components were joined lexically onto a directory the kernel walked
   * (a failed open: the file was never reached, symlinks in the name were not followed). */
  pathLexical?: boolean;
  /** The process is in another mount namespace than the collector's or under another root (chroot):
   * `path` is its own view. */
  otherTree?: boolean;
  /** For such a process, the opened file's path from its filesystem's root (mounts ignored), which
   * user space places on the host's mount table with `dev`. */
  fsPath?: Buffer;
  /** The filesystem-relative walk ran out of room: `fsPath` holds its last bytes. */
  fsPathTail?: boolean;
  /** Original length of a truncated name; undefined when unknown (longer than the kernel limit). */
  pathOrigLen: number | undefined;
  pathTruncated: boolean;
  /** A resolved name that ran out of room: `path` holds its last bytes, not its start. */
  pathTail: boolean;
  pathUnreadable: boolean;
  /** Path filters are set and the kernel could not judge this name: user space must. */
  pathUnjudged: boolean;
  /** The hook ran before the open completed (LSM): `ret` is not the syscall's result. */
  retUnknown: boolean;
  hasFile: boolean;
  /** A deny policy matched on a hook that cannot refuse an open: killed instead, the syscall ran. */
  denyAsKill: boolean;
  /** Killed as a kill target (a remote kill command) at this open. */
  killTarget: boolean;
  comm: string;
}

/** A decoded event with the user-space additions the capture stage makes. */
export interface CapturedEvent extends OpenEvent {
  /** Absolute path (kernel- or user-space-resolved), or the name as passed when unavailable. */
  resolvedPath: Buffer;
  resolution: Resolution;
  /** Wall-clock time in ns since the epoch, from the event's boot-time stamp. */
  wallNs: bigint;
  /** For a process in another mount namespace or under chroot (`otherTree`): the file's path on the
   * host's tree, when the host confirms it (see hostPathStatus). */
  hostPath?: Buffer;
  /** Set with `otherTree`: whether and how the host path was found. */
  hostPathStatus?: HostPathStatus;
}
