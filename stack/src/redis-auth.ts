// The embedded Redis's one user and its password: generated on the first start, kept 0600 in the
// state directory and reused, never written to stack.json or a command line. redis.conf holds only
// its digest, except in a Sentinel set, where each server and Sentinel needs it to log in to the
// others (0600 files in the 0700 Redis directory; see redis-sentinel.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { StackError } from './errors';
import type { StackPaths } from './paths';

/** The ACL user every client of the embedded Redis authenticates as (`user default` is off). */
export const REDIS_USER = 'filewarden';

/** Reads a password kept in a file: one line, a trailing newline ignored. */
export function readSecretFile(file: string, what = 'the Redis password file'): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new StackError('FW_STACK_REDIS_AUTH', `cannot read ${what} ${file}: ${(err as Error).message}`, {
      hint: 'run as the user that ran `filewarden stack up` (root for the default stack), or set FILEWARDEN_REDIS_URL with the credentials',
    });
  }
  const secret = text.replace(/\r?\n$/, '');
  if (!secret || secret.includes('\n')) {
    throw new StackError('FW_STACK_REDIS_AUTH', `${what} ${file} must hold exactly one non-empty line`, {
      hint: 'write the password alone on one line',
    });
  }
  return secret;
}

/**
 * The password of the embedded Redis: read when it exists, else 32 random bytes (hex) written 0600
 * with O_EXCL in the 0700 Redis directory. A file someone else owns, or one that is not a plain
 * file, is refused: its content could be known to them.
 */
export function ensureRedisPassword(p: StackPaths): string {
  fs.mkdirSync(p.redisDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(p.redisDir, 0o700);
  try {
    fs.writeFileSync(p.redisPasswordFile, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(p.redisPasswordFile);
  if (!st.isFile() || st.uid !== process.getuid?.()) {
    throw new StackError('FW_STACK_REDIS_AUTH', `${p.redisPasswordFile} is not a plain file owned by uid ${process.getuid?.()}`, {
      hint: `remove it; the next \`filewarden stack up\` generates a new password`,
    });
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(p.redisPasswordFile, 0o600);
  return readSecretFile(p.redisPasswordFile);
}

/**
 * The ACL lines of redis.conf. The password appears only as its SHA-256 (`#<hex>`), so the
 * configuration file gives nothing away even if it leaks.
 */
export function redisAclConfig(password: string): string[] {
  const digest = crypto.createHash('sha256').update(password).digest('hex');
  return [
    // No anonymous access: with the default user off (and no password to log in with), a connection
    // that has not authenticated gets NOAUTH for every command. Its permissions stay complete: Redis
    // 7.0 replays the AOF as the default user and refuses a MULTI/EXEC it may not run (NOPERM),
    // which would drop queued jobs on every restart.
    'user default off resetpass ~* &* +@all',
    `user ${REDIS_USER} on #${digest} ~* &* +@all`,
  ];
}

/** `url` with this user and password (percent-encoded as URLs require). */
export function withRedisCredentials(url: string, user: string | undefined, password: string): string {
  const u = new URL(url);
  if (user !== undefined) u.username = user;
  u.password = password;
  return u.toString();
}
