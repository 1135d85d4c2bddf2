// Event documents of every file operation, built by the contract's one buildDocument from a
// CapturedEvent, so rule tests match what the collector really sends (not hand-written JSON).
import type { CapturedEvent, OperationName, SecondName, SyscallName } from '../../contract/src/event';
import { OPEN_OPERATION_FIELDS } from '../../contract/src/event';
import { buildDocument, type EventDocument } from '../../contract/src/event-document';

/** The syscall each operation is recorded from in these fixtures (the *at forms glibc uses). */
const SYSCALL: Record<OperationName, SyscallName> = {
  open: 'openat',
  unlink: 'unlinkat',
  rmdir: 'rmdir',
  rename: 'renameat2',
  chmod: 'fchmodat',
  chown: 'fchownat',
  setxattr: 'setxattr',
  removexattr: 'removexattr',
  link: 'linkat',
  symlink: 'symlinkat',
  mkdir: 'mkdirat',
  mknod: 'mknodat',
  truncate: 'truncate',
  modify: 'close',
};

/** x86_64 open flags, for `openFlags`. */
export const O = { RDONLY: 0, WRONLY: 0o1, RDWR: 0o2, CREAT: 0o100, TRUNC: 0o1000, APPEND: 0o2000 } as const;

export interface OperationEventOptions {
  /** process.name (comm). @defaultValue 'sh' */
  comm?: string;
  /** process.executable. @defaultValue /usr/bin/<comm> */
  executable?: string;
  /** @defaultValue 1000 */
  uid?: number;
  /** rename: the old path; link: the existing file; symlink: the target as written; xattr: its name. */
  second?: string;
  /** open: the flags. @defaultValue O_RDONLY */
  openFlags?: number;
  /** chmod: the new mode; open, mkdir, mknod: the create mode. @defaultValue 0o644 */
  mode?: number;
  /** truncate: the length; modify: the bytes written. */
  length?: bigint;
  /** modify: the write calls. */
  writes?: number;
  /** The syscall's result: 0 or an fd, or -errno. @defaultValue 0 (3 for an open) */
  ret?: number;
}

let clock = 1_000_000_000n;

/** One operation's event as the collector captures it (a tracepoint event with a kernel-resolved path). */
export function operationEvent(op: OperationName, path: string, o: OperationEventOptions = {}): CapturedEvent {
  clock += 1000n;
  const bytes = Buffer.from(path);
  let second: SecondName | undefined;
  if (o.second !== undefined) {
    const text = op === 'symlink' || op === 'setxattr' || op === 'removexattr';
    second = { kind: text ? 'text' : 'path', bytes: Buffer.from(o.second), lexical: false, truncated: false, unreadable: false };
  }
  const uid = o.uid ?? 1000;
  return {
    ...OPEN_OPERATION_FIELDS,
    op,
    syscall: SYSCALL[op],
    ...(second ? { second } : {}),
    length: o.length ?? 0n,
    ...(op === 'modify' ? { writes: o.writes ?? 1 } : {}),
    tsNs: clock,
    wallNs: 1764064800000000000n + clock,
    cpu: 0,
    pid: 4242,
    tid: 4242,
    ppid: 1,
    uid,
    gid: uid,
    euid: uid,
    cgroupId: 1n,
    mntnsId: 4026531840,
    dirfd: -100,
    ret: o.ret ?? (op === 'open' ? 3 : 0),
    ino: 0n,
    dev: 0,
    openFlags: op === 'open' ? (o.openFlags ?? O.RDONLY) : 0,
    mode: o.mode ?? 0o644,
    fMode: 0,
    hook: 'tracepoint',
    action: 'allow',
    pathResolved: true,
    path: bytes,
    resolvedPath: bytes,
    resolution: 'kernel',
    pathOrigLen: bytes.length,
    pathTruncated: false,
    pathTail: false,
    pathUnreadable: false,
    pathUnjudged: false,
    retUnknown: false,
    hasFile: false,
    denyAsKill: false,
    killTarget: false,
    comm: o.comm ?? 'sh',
  };
}

/** The stored document of one operation, built by buildDocument as the collector does. */
export function operationDocument(op: OperationName, path: string, o: OperationEventOptions = {}): EventDocument {
  const comm = o.comm ?? 'sh';
  return buildDocument(operationEvent(op, path, o), {
    host: { name: 'h', id: 'hid', bootId: 'b' },
    stream: 's',
    abi: 'x86_64',
    proc: { executable: o.executable ?? `/usr/bin/${comm}`, args: [comm] },
  });
}

/** A version-1 batch's open: the same document without filewarden.operation. */
export function versionOneOpen(path: string, o: OperationEventOptions = {}): EventDocument {
  const d = operationDocument('open', path, o);
  delete d.filewarden.operation;
  return d;
}
