// The one way filewarden replaces a file: sequence, spool, enforcement, nonce, key and stack state.
// Policy: every write is durable before it returns, even across a power loss: the file is fsynced
// before the rename and the directory after it, so the name points at the old bytes or the new,
// never at an empty or half-written file (ext4 and xfs can show either after a crash without them).
// The one exception is state that dies with the boot (`perBoot`: the sequence and chain state of
// the current boot, written for every batch): a power loss starts a new boot, a new sequence stream
// and a new chain, so the rename alone, atomic against a process crash, is enough for them.
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';

export interface AtomicWriteOptions {
  /** Permission bits of the file, exactly: the umask does not narrow them. @defaultValue 0o600 */
  mode?: number;
  /** State of the current boot only: renamed atomically, not synced (see the policy above). @defaultValue false */
  perBoot?: boolean;
}

/**
 * Replaces `file` with `data`: written in full to a temporary file in the same directory, synced,
 * renamed over `file`, and the directory synced. Throws on any failure, leaving `file` as it was
 * and no temporary file behind.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  const dir = path.dirname(file);
  // Same directory, so the rename never crosses a file system. A dotfile, so a reader of the
  // directory that skips dotfiles (trusted-keys/) never sees a half-written file; ".tmp", so the
  // spool's start-up sweep removes one a crash left. The writes are synchronous, so pid and thread
  // make the name unique among live writers, and a crash leaves at most one per name.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${threadId}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
    fs.fchmodSync(fd, o.mode ?? 0o600);
    // writeFileSync on a descriptor retries short writes (a nearly full disk) until it errors.
    fs.writeFileSync(fd, data);
    if (!o.perBoot) fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (!o.perBoot) syncDirectory(dir);
}

/** Makes a rename or a new name in `dir` durable: the directory entry is data of its own. */
function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    // Some file systems cannot sync a directory (EINVAL); the file is already in place by then.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP') throw e;
  } finally {
    fs.closeSync(fd);
  }
}
