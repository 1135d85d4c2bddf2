// Names for open(2) flags, access modes and errno values, so documents read like the man page. The
// tables are fixed here, per kernel ABI, never read from the machine running the code: the collector
// names an event's bits with the table of the kernel that produced them, and nothing rebuilds them.

/** The kernel ABIs whose open(2) flag values differ; errno values are the same on both. */
export type KernelAbi = 'x86_64' | 'aarch64';

// asm-generic values (x86_64 and most architectures).
const GENERIC: readonly (readonly [string, number])[] = [
  ['O_CREAT', 0o100], ['O_EXCL', 0o200], ['O_NOCTTY', 0o400], ['O_TRUNC', 0o1000], ['O_APPEND', 0o2000],
  ['O_NONBLOCK', 0o4000], ['O_DSYNC', 0o10000], ['O_ASYNC', 0o20000], ['O_DIRECT', 0o40000],
  ['O_LARGEFILE', 0o100000], ['O_DIRECTORY', 0o200000], ['O_NOFOLLOW', 0o400000], ['O_NOATIME', 0o1000000],
  ['O_CLOEXEC', 0o2000000], ['__O_SYNC', 0o4000000], ['O_PATH', 0o10000000], ['__O_TMPFILE', 0o20000000],
];
// arch/arm64/include/uapi/asm/fcntl.h moves four of them.
const ARM64: Readonly<Record<string, number>> = { O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_DIRECT: 0o200000, O_LARGEFILE: 0o400000 };

/** Flag name and bit, per ABI, in the order names are listed in a document. */
export const OPEN_FLAGS: Readonly<Record<KernelAbi, readonly (readonly [string, number])[]>> = {
  x86_64: GENERIC,
  aarch64: GENERIC.map(([n, v]) => [n, ARM64[n] ?? v] as const),
};

/** The ABI of the kernel this process runs on, from Node's name for the CPU architecture. */
export function abiOf(nodeArch: string): KernelAbi {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  throw new Error(`no open(2) flag table for architecture ${nodeArch} (known: x64, arm64)`);
}

export const O_ACCMODE = 3;
const bit = (abi: KernelAbi, name: string): number => OPEN_FLAGS[abi].find(([n]) => n === name)![1];
// O_CREAT and O_TRUNC have the same value on every ABI listed.
export const O_CREAT = bit('x86_64', 'O_CREAT');
export const O_TRUNC = bit('x86_64', 'O_TRUNC');

/** ["O_WRONLY", "O_CREAT", "O_TRUNC"] for 0o1101; unknown bits appear as hex. */
export function openFlagNames(flags: number, abi: KernelAbi): string[] {
  const acc = flags & O_ACCMODE;
  const names = [acc === 0 ? 'O_RDONLY' : acc === 1 ? 'O_WRONLY' : acc === 2 ? 'O_RDWR' : 'O_ACCMODE'];
  let rest = flags & ~O_ACCMODE;
  for (const [n, v] of OPEN_FLAGS[abi]) {
    if (rest & v) {
      names.push(n);
      rest &= ~v;
    }
  }
  // Unsigned: bit 31 must not print as a negative number.
  if (rest) names.push(`0x${(rest >>> 0).toString(16)}`);
  return names;
}

export interface Access {
  read: boolean;
  write: boolean;
  create: boolean;
  truncate: boolean;
}

/** What the open asked for, from its flags. */
export function accessOf(flags: number): Access {
  const acc = flags & O_ACCMODE;
  return { read: acc === 0 || acc === 2, write: acc === 1 || acc === 2, create: (flags & O_CREAT) !== 0, truncate: (flags & O_TRUNC) !== 0 };
}

// include/uapi/asm-generic/errno-base.h and errno.h (x86_64 and arm64 alike), with glibc's names
// for the aliases (EAGAIN, not EWOULDBLOCK; EDEADLK, not EDEADLOCK; EOPNOTSUPP, not ENOTSUP).
const ERRNO_NAMES = (
  ',EPERM,ENOENT,ESRCH,EINTR,EIO,ENXIO,E2BIG,ENOEXEC,EBADF,ECHILD,EAGAIN,ENOMEM,EACCES,EFAULT,ENOTBLK,EBUSY,' +
  'EEXIST,EXDEV,ENODEV,ENOTDIR,EISDIR,EINVAL,ENFILE,EMFILE,ENOTTY,ETXTBSY,EFBIG,ENOSPC,ESPIPE,EROFS,EMLINK,EPIPE,' +
  'EDOM,ERANGE,EDEADLK,ENAMETOOLONG,ENOLCK,ENOSYS,ENOTEMPTY,ELOOP,,ENOMSG,EIDRM,ECHRNG,EL2NSYNC,EL3HLT,EL3RST,' +
  'ELNRNG,EUNATCH,ENOCSI,EL2HLT,EBADE,EBADR,EXFULL,ENOANO,EBADRQC,EBADSLT,,EBFONT,ENOSTR,ENODATA,ETIME,ENOSR,' +
  'ENONET,ENOPKG,EREMOTE,ENOLINK,EADV,ESRMNT,ECOMM,EPROTO,EMULTIHOP,EDOTDOT,EBADMSG,EOVERFLOW,ENOTUNIQ,EBADFD,' +
  'EREMCHG,ELIBACC,ELIBBAD,ELIBSCN,ELIBMAX,ELIBEXEC,EILSEQ,ERESTART,ESTRPIPE,EUSERS,ENOTSOCK,EDESTADDRREQ,' +
  'EMSGSIZE,EPROTOTYPE,ENOPROTOOPT,EPROTONOSUPPORT,ESOCKTNOSUPPORT,EOPNOTSUPP,EPFNOSUPPORT,EAFNOSUPPORT,' +
  'EADDRINUSE,EADDRNOTAVAIL,ENETDOWN,ENETUNREACH,ENETRESET,ECONNABORTED,ECONNRESET,ENOBUFS,EISCONN,ENOTCONN,' +
  'ESHUTDOWN,ETOOMANYREFS,ETIMEDOUT,ECONNREFUSED,EHOSTDOWN,EHOSTUNREACH,EALREADY,EINPROGRESS,ESTALE,EUCLEAN,' +
  'ENOTNAM,ENAVAIL,EISNAM,EREMOTEIO,EDQUOT,ENOMEDIUM,EMEDIUMTYPE,ECANCELED,ENOKEY,EKEYEXPIRED,EKEYREVOKED,' +
  'EKEYREJECTED,EOWNERDEAD,ENOTRECOVERABLE,ERFKILL,EHWPOISON'
).split(',');

/** errno value -> name, 1..133 (41 and 58 are unused). */
export const ERRNO: ReadonlyMap<number, string> = new Map(ERRNO_NAMES.flatMap((n, i) => (n ? [[i, n] as const] : [])));

/** "ENOENT" for 2; "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return ERRNO.get(errno) ?? `E${errno}`;
}

// The flags of operations other than open: the same values on every ABI listed.
const RENAME_FLAGS: readonly (readonly [string, number])[] = [['RENAME_NOREPLACE', 1], ['RENAME_EXCHANGE', 2], ['RENAME_WHITEOUT', 4]];
const AT_FLAGS: readonly (readonly [string, number])[] = [
  ['AT_SYMLINK_NOFOLLOW', 0x100], ['AT_REMOVEDIR', 0x200], ['AT_SYMLINK_FOLLOW', 0x400], ['AT_NO_AUTOMOUNT', 0x800], ['AT_EMPTY_PATH', 0x1000],
];
const XATTR_FLAGS: readonly (readonly [string, number])[] = [['XATTR_CREATE', 1], ['XATTR_REPLACE', 2]];

/** Which table names an operation syscall's flags; undefined for a syscall that takes none. */
function opFlagTable(syscall: string): readonly (readonly [string, number])[] | undefined {
  if (syscall === 'renameat2') return RENAME_FLAGS;
  if (syscall === 'unlinkat' || syscall === 'fchmodat2' || syscall === 'fchownat' || syscall === 'linkat') return AT_FLAGS;
  if (syscall.endsWith('setxattr') || syscall === 'setxattrat') return XATTR_FLAGS;
  return undefined;
}

/** ["RENAME_NOREPLACE"] for renameat2's 1; unknown bits appear as hex; undefined when the syscall takes no flags. */
export function opFlagNames(syscall: string, flags: number): string[] | undefined {
  const table = opFlagTable(syscall);
  if (!table) return undefined;
  const names: string[] = [];
  let rest = flags >>> 0;
  for (const [n, v] of table) {
    if (rest & v) {
      names.push(n);
      rest &= ~v;
    }
  }
  if (rest) names.push(`0x${(rest >>> 0).toString(16)}`);
  return names;
}

/** The mode bits an auditor looks for in a chmod, by name. */
export function modeSpecialBits(mode: number): string[] {
  const out: string[] = [];
  if (mode & 0o4000) out.push('setuid');
  if (mode & 0o2000) out.push('setgid');
  if (mode & 0o1000) out.push('sticky');
  if (mode & 0o002) out.push('world-writable');
  return out;
}

/** The file type in a mode's S_IFMT bits (mknod), or undefined when none is set (a regular file). */
export function fileTypeOf(mode: number): string | undefined {
  switch (mode & 0o170000) {
    case 0o100000: return 'file';
    case 0o040000: return 'dir';
    case 0o020000: return 'char-device';
    case 0o060000: return 'block-device';
    case 0o010000: return 'fifo';
    case 0o140000: return 'socket';
    case 0o120000: return 'symlink';
    default: return undefined;
  }
}

/** "major:minor" of a device number as mknod(2) takes it (the kernel's new_encode_dev). */
export function deviceOfMknod(dev: number): string {
  const major = (dev & 0xfff00) >>> 8;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return `${major}:${minor}`;
}
