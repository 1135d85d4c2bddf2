// Names for open(2) flags, access modes and errno values, so documents read like the man page.
import os from 'node:os';

// asm-generic values (x86_64 and most architectures); arm64 moves four of them.
const GENERIC: [string, number][] = [
  ['O_CREAT', 0o100], ['O_EXCL', 0o200], ['O_NOCTTY', 0o400], ['O_TRUNC', 0o1000], ['O_APPEND', 0o2000],
  ['O_NONBLOCK', 0o4000], ['O_DSYNC', 0o10000], ['O_ASYNC', 0o20000], ['O_DIRECT', 0o40000],
  ['O_LARGEFILE', 0o100000], ['O_DIRECTORY', 0o200000], ['O_NOFOLLOW', 0o400000], ['O_NOATIME', 0o1000000],
  ['O_CLOEXEC', 0o2000000], ['__O_SYNC', 0o4000000], ['O_PATH', 0o10000000], ['__O_TMPFILE', 0o20000000],
];
const ARM64: Record<string, number> = { O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_DIRECT: 0o200000, O_LARGEFILE: 0o400000 };

const FLAGS = GENERIC.map(([n, v]): [string, number] => [n, process.arch === 'arm64' ? (ARM64[n] ?? v) : v]);
export const O_ACCMODE = 3;
export const O_CREAT = FLAGS.find(([n]) => n === 'O_CREAT')![1];
export const O_TRUNC = FLAGS.find(([n]) => n === 'O_TRUNC')![1];

/** ["O_WRONLY", "O_CREAT", "O_TRUNC"] for 0o1101; unknown bits appear as hex. */
export function openFlagNames(flags: number): string[] {
  const acc = flags & O_ACCMODE;
  const names = [acc === 0 ? 'O_RDONLY' : acc === 1 ? 'O_WRONLY' : acc === 2 ? 'O_RDWR' : 'O_ACCMODE'];
  let rest = flags & ~O_ACCMODE;
  for (const [n, v] of FLAGS) {
    if (rest & v) {
      names.push(n);
      rest &= ~v;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
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

const ERRNO = new Map(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));

/** "ENOENT" for 2; "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return ERRNO.get(errno) ?? `E${errno}`;
}
