// Places a file that a process in another mount namespace (or under chroot) opened on the host's
// tree: the kernel gives its path from the filesystem's root (mounts ignored) and its device; the
// host's mount table (the collector's /proc/self/mountinfo) says where that part of the filesystem
// is mounted. A host path is given only when the host itself confirms it (the same device and inode
// there), or, for a file already gone, when no other host mount lies on its way: never a guess.
import fs from 'node:fs';
import os from 'node:os';
import type { HostPathStatus } from '../../../contract/src/event';
import { native, type PolicyEntry, type StatMount } from '../probe/native';


export interface HostPathResult {
  path?: Buffer;
  status: HostPathStatus;
}

export interface MountEntry {
  id: number;
  parent: number;
  /** Kernel dev_t encoding, as in the records: major << 20 | minor. */
  dev: number;
  /** The mount's root within its filesystem. */
  root: Buffer;
  mountPoint: Buffer;
}

export interface HostPathMapperOptions {
  /** @defaultValue '/proc/self/mountinfo' */
  mountinfo?: string;
  /** Most cached answers before the cache starts over. @defaultValue 4096 */
  cacheEntries?: number;
  /** Most candidate mounts checked per file. @defaultValue 8 */
  maxCandidates?: number;
  /** The check of a candidate host path. @defaultValue the addon's statMount (statx) */
  statMount?: (p: Buffer) => StatMount;
}

const { ENOENT, ENOTDIR } = os.constants.errno;

const SLASH = 0x2f;

/** mountinfo escapes space, tab, newline and backslash as \ooo (octal); `s` holds one byte per char. */
function unescapeField(s: string): Buffer {
  return Buffer.from(s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1');
}

/** Parses /proc/<pid>/mountinfo read as latin1 (one char per byte: names are bytes). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    if (f.length < 5) continue;
    const [major, minor] = f[2].split(':').map(Number);
    if (!Number.isInteger(major) || !Number.isInteger(minor)) continue;
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      dev: major * 2 ** 20 + minor,
      root: unescapeField(f[3]),
      mountPoint: unescapeField(f[4]),
    });
  }
  return out;
}

/** The rest of `p` below `root` ('' when equal), or undefined when `root` is not a component prefix. */
function below(p: Buffer, root: Buffer): Buffer | undefined {
  if (root.length === 1 && root[0] === SLASH) return p.length === 1 ? Buffer.alloc(0) : p;
  if (p.length < root.length || !p.subarray(0, root.length).equals(root)) return undefined;
  if (p.length === root.length) return Buffer.alloc(0);
  return p[root.length] === SLASH ? p.subarray(root.length) : undefined;
}

function join(mountPoint: Buffer, rest: Buffer): Buffer {
  if (rest.length === 0) return mountPoint;
  if (mountPoint.length === 1 && mountPoint[0] === SLASH) return rest;
  return Buffer.concat([mountPoint, rest]);
}

/** Linux's user-space dev_t (st_dev) in the kernel's encoding (major << 20 | minor). */
export function kernelDev(stDev: bigint): number {
  const major = Number(((stDev >> 8n) & 0xfffn) | ((stDev >> 32n) & ~0xfffn));
  const minor = Number((stDev & 0xffn) | ((stDev >> 12n) & ~0xffn));
  return major * 2 ** 20 + minor;
}

export class HostPathMapper {
  private readonly file: string;
  private readonly cacheEntries: number;
  private readonly maxCandidates: number;
  private readonly statMount: (p: Buffer) => StatMount;
  private mounts: MountEntry[] = [];
  private text = '';
  private read = false;
  private generation = 0;
  private readonly cache = new Map<string, HostPathResult>();

  constructor(opts: HostPathMapperOptions = {}) {
    this.file = opts.mountinfo ?? '/proc/self/mountinfo';
    this.cacheEntries = opts.cacheEntries ?? 4096;
    this.maxCandidates = opts.maxCandidates ?? 8;
    this.statMount = opts.statMount ?? ((p) => native().statMount(p));
  }

  /** The host's mount table, read now; `generation` moves when it changed. */
  table(): { mounts: MountEntry[]; generation: number } {
    this.sync();
    return { mounts: this.mounts, generation: this.generation };
  }

  /**
   * Re-reads the mount table; a changed table drops every cached answer. The capture calls it once
   * per batch that holds such events, so no answer is given from a table older than the batch (a
   * cached answer from before a host mount could name another file).
   */
  sync(): void {
    this.read = true;
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'latin1');
    } catch {
      return;
    }
    if (text === this.text) return;
    this.text = text;
    this.generation++;
    this.mounts = parseMountinfo(text);
    this.cache.clear();
  }

  /** The host path of an opened file given by its device, inode and filesystem-relative path. */
  map(dev: number, fsPath: Buffer, ino: bigint): HostPathResult {
    if (!this.read) this.sync();
    const key = `${dev}:${ino}:${fsPath.toString('latin1')}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const r = this.lookup(dev, fsPath, ino);
    if (this.cache.size >= this.cacheEntries) this.cache.clear();
    // A file that was gone is not cached: a later open of a new file by that name checks again.
    if (r.status !== 'mount_table') this.cache.set(key, r);
    return r;
  }

  private lookup(dev: number, fsPath: Buffer, ino: bigint): HostPathResult {
    const cands: { m: MountEntry; rest: Buffer }[] = [];
    for (const m of this.mounts) {
      if (m.dev !== dev) continue;
      const rest = below(fsPath, m.root);
      if (rest !== undefined) cands.push({ m, rest });
    }
    if (cands.length === 0) return { status: 'not_mounted' };
    // The deepest mount root first (the shortest rest), then the shortest mount point.
    cands.sort((a, b) => a.rest.length - b.rest.length || a.m.mountPoint.length - b.m.mountPoint.length);
    for (const { m, rest } of cands.slice(0, this.maxCandidates)) {
      const p = join(m.mountPoint, rest);
      const st = this.statMount(p);
      if ('errno' in st) {
        if ((st.errno === ENOENT || st.errno === ENOTDIR) && this.unobstructed(m, p)) return { path: p, status: 'mount_table' };
        continue;
      }
      // The path ends in the candidate mount, at the file's inode: the file itself, through no other
      // mount. (st_dev could not say as much: btrfs subvolumes report another device than their
      // superblock's.) Before 5.8 there is no mount id: the device and inode then.
      if (st.mntId !== 0 ? st.mntId === m.id && st.ino === ino : this.sameDevIno(p, dev, ino)) return { path: p, status: 'verified' };
    }
    return { status: 'unverified' };
  }

  private sameDevIno(p: Buffer, dev: number, ino: bigint): boolean {
    try {
      const st = fs.lstatSync(p, { bigint: true });
      return kernelDev(st.dev) === dev && st.ino === ino;
    } catch {
      return false;
    }
  }

  /** True when every host mount whose point lies on p's way is m or one of m's parents: nothing
   * covers m or anything under it on the way (conservative: stacked mounts answer false). */
  private unobstructed(m: MountEntry, p: Buffer): boolean {
    const byId = new Map(this.mounts.map((x) => [x.id, x]));
    const chain = new Set<number>([m.id]);
    for (let x = byId.get(m.parent); x && !chain.has(x.id); x = byId.get(x.parent)) chain.add(x.id);
    return this.mounts.every((o) => chain.has(o.id) || below(p, o.mountPoint) === undefined);
  }
}

function dirOf(root: Buffer): Buffer {
  return root.length > 0 && root[root.length - 1] === SLASH ? root : Buffer.concat([root, Buffer.from('/')]);
}

/**
 * The any-process path entries of a policy translated onto the filesystems of the host's mount
 * table: the mount holding each path (the longest mount point on its way, the last listed of equals,
 * which is on top) gives (its device, its root + the rest), and every mount whose point lies under the
 * path is covered whole. The kernel judges a task in another tree on these too, so a bind mount, a
 * volume or a chroot of a protected directory is no way around the policy. Scoped entries (comm,
 * exe) are not translated; a translated path longer than `maxPath` (what a key holds) is left out.
 */
export function fsPolicyEntries(entries: readonly PolicyEntry[], mounts: readonly MountEntry[], maxPath: number): PolicyEntry[] {
  const out: PolicyEntry[] = [];
  const add = (dev: number, p: Buffer, action: PolicyEntry['action'], ops: PolicyEntry['ops']) => {
    if (p.length <= maxPath) out.push({ path: p, action, fs: { dev }, ...(ops ? { ops } : {}) });
  };
  // A mount whose root is not a path (nsfs: "net:[4026531840]") holds no file a path entry names.
  mounts = mounts.filter((m) => m.root[0] === SLASH);
  for (const e of entries) {
    if (e.comm !== undefined || e.exe !== undefined || e.fs !== undefined) continue;
    const p = Buffer.isBuffer(e.path) ? e.path : Buffer.from(e.path);
    let holder: MountEntry | undefined;
    let rest: Buffer | undefined;
    for (const m of mounts) {
      const r = below(p, m.mountPoint);
      if (r !== undefined && (!holder || m.mountPoint.length >= holder.mountPoint.length)) [holder, rest] = [m, r];
    }
    if (holder && rest !== undefined) add(holder.dev, rest.length === 0 ? dirOf(holder.root) : join(holder.root, rest), e.action, e.ops);
    for (const m of mounts) {
      if (m === holder || m.mountPoint.length <= p.length || !m.mountPoint.subarray(0, p.length).equals(p)) continue;
      add(m.dev, dirOf(m.root), e.action, e.ops);
    }
  }
  return out;
}

/**
 * One entry per any-process deny or kill entry that names an existing regular file (not a symlink,
 * a directory or a prefix ending in "/"): that file by device and inode, so the policy holds for
 * every name the file has or gets (a hard link, a bind mount of the file), in any mount namespace.
 * A symlink at the protected name is not followed: whoever can write its directory could otherwise
 * point it at a file every process opens. Re-made whenever the policy is refreshed: a file replaced
 * under the protected name (a new inode) is covered from then on, and the old inode, which the
 * filesystem may give to another file, is dropped.
 */
export function inodePolicyEntries(entries: readonly PolicyEntry[], lstat: (p: Buffer) => fs.BigIntStats | undefined = lstatQuiet): PolicyEntry[] {
  const out: PolicyEntry[] = [];
  for (const e of entries) {
    if (e.action === 'allow' || e.comm !== undefined || e.exe !== undefined || e.fs !== undefined) continue;
    const p = Buffer.isBuffer(e.path) ? e.path : Buffer.from(e.path);
    if (p.length === 0 || p[p.length - 1] === SLASH) continue;
    const st = lstat(p);
    if (!st || !st.isFile() || st.ino === 0n) continue;
    out.push({ path: p, action: e.action, fs: { dev: kernelDev(st.dev), ino: st.ino }, ...(e.ops ? { ops: e.ops } : {}) });
  }
  return out;
}

function lstatQuiet(p: Buffer): fs.BigIntStats | undefined {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch {
    return undefined;
  }
}
