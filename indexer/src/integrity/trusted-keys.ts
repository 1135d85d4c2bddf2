// Enrollment: which host may sign with which key. A trusted-keys directory (or files) holds each
// enrolled host's host-signing.pub, named <host>.pub (<host>~<label>.pub during a key rotation).
// `verify --trusted-keys` pins keys with it, and the indexer takes enforcement only from batches
// signed by an enrolled key (docs/enforcement.md, "Who can cause enforcement").
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyId } from '../../../collector/src/integrity/hash-chain';

export class TrustedKeysError extends Error {
  override readonly name = 'TrustedKeysError';
}

/** A host name as the collector reports it (host.name); `~` separates a rotation label. */
const HOST_FILE = /^([^~/\\]+)(?:~[^~/\\]+)?\.pub$/;

/** The enrolled host a key file names, or undefined when the name does not follow <host>.pub. */
export const hostOfKeyFile = (file: string): string | undefined => HOST_FILE.exec(path.basename(file))?.[1];

/**
 * Reads key files and directories of them into host -> key ids. Every file must be named
 * <host>.pub or <host>~<label>.pub and hold a public key: anything else is an error, never skipped.
 */
export function loadTrustedKeys(sources: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const files: string[] = [];
  for (const src of sources) {
    const st = fs.statSync(src, { throwIfNoEntry: false });
    if (!st) throw new TrustedKeysError(`trusted keys ${src}: no such file or directory`);
    if (!st.isDirectory()) {
      files.push(src);
      continue;
    }
    for (const n of fs.readdirSync(src).sort()) {
      // Editors' and rsync's temporary files are not keys; dotfiles are never enrollments.
      if (!n.startsWith('.')) files.push(path.join(src, n));
    }
  }
  for (const f of files) {
    const host = hostOfKeyFile(f);
    if (!host) throw new TrustedKeysError(`trusted keys ${f}: the file must be named <host>.pub or <host>~<label>.pub (host as in host.name), so it says which host it enrolls`);
    let id: string;
    try {
      const key = crypto.createPublicKey(fs.readFileSync(f, 'utf8'));
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not Ed25519`);
      id = keyId(key);
    } catch (e) {
      throw new TrustedKeysError(`trusted keys ${f}: not a readable Ed25519 public key (${(e as Error).message})`);
    }
    let s = out.get(host);
    if (!s) out.set(host, (s = new Set()));
    s.add(id);
  }
  return out;
}

/** Why a key is or is not enrolled for a host. */
export type Enrollment = 'enrolled' | 'unenrolled-host' | 'unenrolled-key';

/**
 * The indexer's view of the enrolled keys. The sources are read again (at most every `reloadMs`)
 * when a host or key is unknown, so a host enrolled while the indexer runs is trusted without a
 * restart; a source that became unreadable keeps the last good set and is reported once.
 */
export class EnrolledKeys {
  private keys = new Map<string, Set<string>>();
  private loadedAt = 0;
  private lastError: string | undefined;

  constructor(
    private readonly sources: string[],
    private readonly log: (line: string) => void,
    private readonly reloadMs = 10_000,
  ) {
    if (sources.length) {
      this.keys = loadTrustedKeys(sources);
      this.loadedAt = Date.now();
    }
  }

  /** Enrolled hosts and their key counts, for the start-up line. */
  get summary(): string {
    if (!this.sources.length) return 'no enrolled hosts (--trusted-keys not given)';
    return `${this.keys.size} enrolled host(s) from ${this.sources.join(', ')}`;
  }

  check(host: string, key: string): Enrollment {
    let r = this.lookup(host, key);
    if (r !== 'enrolled' && this.sources.length && Date.now() - this.loadedAt >= this.reloadMs) {
      this.loadedAt = Date.now();
      try {
        this.keys = loadTrustedKeys(this.sources);
        this.lastError = undefined;
      } catch (e) {
        const m = (e as Error).message;
        if (m !== this.lastError) this.log(`index: cannot reload the trusted keys, keeping the previous set: ${m}`);
        this.lastError = m;
      }
      r = this.lookup(host, key);
    }
    return r;
  }

  private lookup(host: string, key: string): Enrollment {
    const s = this.keys.get(host);
    return !s ? 'unenrolled-host' : s.has(key) ? 'enrolled' : 'unenrolled-key';
  }
}
