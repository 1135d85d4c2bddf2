// The last resort for names the kernel could not resolve (tracepoint records it kept as passed: an
// unreadable base, a join too long): a relative name is joined to the process's cwd or to the
// directory behind its dirfd, read from /proc while the process lives. That is a guess (the process
// may have moved or exited), so it is flagged (`proc`) and counted. The join is lexical ("." and
// ".." folded, symlinks not followed); the raw name as passed is always kept next to it.
import fs from 'node:fs';
import type { Resolution } from '../../../contract/src/event';

export const AT_FDCWD = -100;

export interface ResolvedPath {
  /** Absolute path bytes, or the name as passed when resolution was unavailable. */
  path: Buffer;
  resolution: Resolution;
}

const SLASH = 0x2f;

/** True when an absolute name has no "//", "/." (so no "." or ".." component) and no trailing "/". */
function isNormal(p: Buffer): boolean {
  if (p.length > 1 && p[p.length - 1] === SLASH) return false;
  let i = p.indexOf(SLASH);
  while (i >= 0 && i + 1 < p.length) {
    const next = p[i + 1];
    if (next === SLASH || next === 0x2e) return false;
    i = p.indexOf(SLASH, i + 1);
  }
  return true;
}

/** Folds "", "." and ".." components of an absolute path, byte-exact for everything else. */
export function normalizeAbsolute(p: Buffer): Buffer {
  if (isNormal(p)) return p;
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i === p.length || p[i] === SLASH) {
      const part = p.subarray(start, i);
      if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) {
        // skip
      } else if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) {
        out.pop();
      } else {
        out.push(part);
      }
      start = i + 1;
    }
  }
  if (out.length === 0) return Buffer.from('/');
  const parts: Buffer[] = [];
  for (const part of out) parts.push(Buffer.from('/'), part);
  return Buffer.concat(parts);
}

/**
 * Resolves within one batch: the cwd and dirfd of a process are read once per batch, which keeps
 * /proc reads bounded when a process opens many relative names.
 */
export class PathResolver {
  private readonly bases = new Map<string, Buffer | null>();

  /** Forget cached cwd/dirfd targets (call between batches: they change). */
  reset(): void {
    this.bases.clear();
  }

  resolve(pid: number, dirfd: number, name: Buffer, kernelResolved: boolean): ResolvedPath {
    if (kernelResolved) return { path: name, resolution: 'kernel' };
    if (name.length > 0 && name[0] === SLASH) return { path: normalizeAbsolute(name), resolution: 'absolute' };
    // No name at all (an fd the kernel could not read back, a name it could not read): joining
    // nothing to /proc/<pid>/fd/<n> later would name whatever that fd number holds by then.
    if (name.length === 0) return { path: name, resolution: 'unavailable' };
    const base = this.base(pid, dirfd);
    if (!base) return { path: name, resolution: 'unavailable' };
    return { path: normalizeAbsolute(Buffer.concat([base, Buffer.from('/'), name])), resolution: 'proc' };
  }

  private base(pid: number, dirfd: number): Buffer | null {
    const key = `${pid}:${dirfd}`;
    let b = this.bases.get(key);
    if (b === undefined) {
      const link = dirfd === AT_FDCWD ? `/proc/${pid}/cwd` : `/proc/${pid}/fd/${dirfd}`;
      try {
        b = fs.readlinkSync(link, { encoding: 'buffer' });
        // A deleted directory reads as "/path (deleted)": not a usable base.
        if (b.length === 0 || b[0] !== SLASH || b.toString('latin1').endsWith(' (deleted)')) b = null;
      } catch {
        b = null;
      }
      this.bases.set(key, b);
    }
    return b;
  }
}
