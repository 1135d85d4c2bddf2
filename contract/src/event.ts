// The facts of one captured event, as the collector decodes and enriches them: the input of the one
// function that builds an event document (event-document.ts). Names here are the contract's own.

export type HookName = 'tracepoint' | 'kprobe' | 'fexit' | 'lsm';
export type SyscallName =
  | 'unknown' | 'openat' | 'openat2' | 'open' | 'creat'
  | 'unlink' | 'unlinkat' | 'rmdir' | 'rename' | 'renameat' | 'renameat2'
  | 'chmod' | 'fchmod' | 'fchmodat' | 'fchmodat2' | 'chown' | 'lchown' | 'fchown' | 'fchownat'
  | 'setxattr' | 'lsetxattr' | 'fsetxattr' | 'setxattrat' | 'removexattr' | 'lremovexattr' | 'fremovexattr' | 'removexattrat'
  | 'link' | 'linkat' | 'symlink' | 'symlinkat' | 'mkdir' | 'mkdirat' | 'mknod' | 'mknodat' | 'truncate' | 'ftruncate'
  /** A write session's end: close(2), or its last holder's exit. */
  | 'close' | 'exit';

/** The file operation an event records (`--ops` selects them; rules match them with `on:`). */
export type OperationName =
  | 'open' | 'unlink' | 'rmdir' | 'rename' | 'chmod' | 'chown' | 'setxattr' | 'removexattr'
  | 'link' | 'symlink' | 'mkdir' | 'mknod' | 'truncate' | 'modify';
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

/**
 * An operation's second name: a rename's old path, a link's existing file (both resolved like the
 * first), a symlink's target or an extended attribute's name (bytes as passed, never a path).
 */
export interface SecondName {
  /** `path`: resolved in the kernel; `path_as_passed`: a path the kernel could not resolve, as
   * passed (relative to dirfd2); `text`: bytes that are no path to resolve. */
  kind: 'path' | 'path_as_passed' | 'text';
  bytes: Buffer;
  /** A resolved path's name as the caller passed it, when it differs. */
  asPassed?: Buffer;
  /** Its last components were joined lexically onto a directory the kernel walked. */
  lexical: boolean;
  /** Only part of it fits: the first bytes as passed, the last bytes of a resolved path. */
  truncated: boolean;
  unreadable: boolean;
}

/** One file event: an open, or another operation (`op`) with its own fields. */
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
  op: OperationName;
  /** rename, link, symlink, xattr: the second name. */
  second?: SecondName;
  /** The second name's dirfd as passed (renameat, linkat: the old name's). */
  dirfd2: number;
  /** The operation's flags as passed (RENAME_*, AT_*, XATTR_*). */
  opFlags: number;
  /** chown: the owner as passed (0xffffffff: unchanged). */
  newUid: number;
  newGid: number;
  /** The file's mode and owner before the operation, when an fd named the file (fchmod, fchown, ...). */
  old?: { mode: number; uid: number; gid: number };
  /** truncate: the length as passed; mknod: the device number as passed; modify: the bytes written. */
  length: bigint;
  /** modify: the write calls that wrote at least one byte. */
  writes?: number;
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

/** The operation fields of an open (which has none of its own): for code that builds an open by hand. */
export const OPEN_OPERATION_FIELDS = { op: 'open', dirfd2: 0, opFlags: 0, newUid: 0, newGid: 0, length: 0n } as const satisfies Partial<OpenEvent>;

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
