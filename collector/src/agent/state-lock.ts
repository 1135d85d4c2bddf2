// One collector per state directory: two would number events from the same sequence file, and
// their batches would collide on job ids and be lost without a word. The lock file names its
// holder by pid, start time and boot, so a lock left by a killed collector is known to be stale.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'collector.lock';

export class StateLockError extends Error {
  override readonly name = 'StateLockError';
}

/** Who holds a lock: the pid alone is not enough, since pids are reused. */
export interface LockHolder {
  pid: number;
  /** Start time in clock ticks since boot, field 22 of /proc/<pid>/stat. */
  start: number;
  boot: string;
}

export interface StateLock {
  readonly file: string;
  /** Removes the lock file if it is still this process's; idempotent. */
  release(): void;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The process's start time and whether it is a zombie (exited, not yet reaped); undefined when gone. */
function processFacts(pid: number): { start: number; zombie: boolean } | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The comm before the fields may hold spaces and parentheses: count from the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { start: Number(f[19]), zombie: f[0] === 'Z' };
}

function bootId(): string {
  return (readText('/proc/sys/kernel/random/boot_id') ?? '').trim();
}

/** This process, as a lock file names it. */
export function selfHolder(): LockHolder {
  return { pid: process.pid, start: processFacts(process.pid)?.start ?? 0, boot: bootId() };
}

function parseHolder(text: string | undefined): LockHolder | undefined {
  try {
    const h = JSON.parse(text ?? '') as Partial<LockHolder>;
    if (Number.isSafeInteger(h.pid) && Number.isSafeInteger(h.start) && typeof h.boot === 'string') return h as LockHolder;
  } catch {
    // fall through: an unreadable lock names no live holder
  }
  return undefined;
}

/** True while the process the lock names runs: same boot, that pid, that start time. */
export function holderAlive(h: LockHolder): boolean {
  if (h.boot !== bootId()) return false;
  const p = processFacts(h.pid);
  return p !== undefined && !p.zombie && p.start === h.start;
}

const sameHolder = (a: LockHolder | undefined, b: LockHolder | undefined): boolean => !!a && !!b && a.pid === b.pid && a.start === b.start && a.boot === b.boot;

/**
 * Takes the lock on `dir` for this process, or throws StateLockError naming the live holder.
 *
 * The lock file appears whole or not at all: it is written under a private name and hard-linked
 * into place, which fails when a lock exists (O_EXCL semantics with the content already there).
 * A stale lock is renamed to a private name first, and deleted only if the renamed file is the one
 * judged stale; a live lock moved by a racing take-over is put back.
 */
export function lockStateDir(dir: string): StateLock {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LOCK_FILE);
  const me = selfHolder();
  const mine = JSON.stringify(me) + '\n';
  const tag = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const tmp = `${file}.new-${tag}`;
  fs.writeFileSync(tmp, mine, { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const text = readText(file);
      if (text === undefined) continue; // released between the link and the read
      const holder = parseHolder(text);
      if (holder && holderAlive(holder)) {
        throw new StateLockError(`another collector (pid ${holder.pid}) is running on ${dir}: one collector per state directory (--state-dir)`);
      }
      if (attempt >= 10) throw new StateLockError(`cannot take over the stale lock ${file}: other collectors keep racing for it`);
      const away = `${file}.stale-${tag}`;
      try {
        fs.renameSync(file, away);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // another start moved it first
        throw e;
      }
      const moved = readText(away);
      if (moved === text || (holder && sameHolder(parseHolder(moved), holder))) {
        fs.rmSync(away, { force: true });
        continue;
      }
      // A racing start took the stale lock over and made its own between our read and our rename:
      // that one is live, put it back (microseconds later). Only a third start linking its own lock
      // inside that window would leave two holders; no flock() from Node closes that last gap.
      try {
        fs.linkSync(away, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        fs.rmSync(away, { force: true });
      }
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Only our own lock: never delete one that a later holder wrote.
    if (sameHolder(parseHolder(readText(file)), me)) fs.rmSync(file, { force: true });
  };
  // An exit on an uncaught error releases it too; only SIGKILL and power loss leave it, as stale.
  process.on('exit', release);
  return { file, release };
}
