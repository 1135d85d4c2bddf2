// Enrollment: which host may sign with which key, and which machine it is. A trusted-keys directory
// (or files) holds each enrolled host's host-signing.pub, named <host>.pub (<host>~<label>.pub during
// a key rotation), and its /etc/machine-id as <host>.id: commands are addressed by that id.
// `verify --trusted-keys` pins keys with it, and the indexer takes enforcement only from batches
// signed by an enrolled key (docs/enforcement.md, "Who can cause enforcement").
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyId } from '../../../contract/src/chain';

export class TrustedKeysError extends Error {
  override readonly name = 'TrustedKeysError';
}

/** A host name as the collector reports it (host.name); `~` separates a rotation label. */
const HOST_FILE = /^([^~/\\]+)(?:~[^~/\\]+)?\.pub$/;
const ID_FILE = /^([^~/\\]+)\.id$/;

/** The enrolled host a key file names, or undefined when the name does not follow <host>.pub. */
export const hostOfKeyFile = (file: string): string | undefined => HOST_FILE.exec(path.basename(file))?.[1];

/** What the trusted-keys sources enroll: key ids per host name, and machine ids per host name. */
export interface Enrolment {
  keys: Map<string, Set<string>>;
  ids: Map<string, string>;
}

/** Reads key files and directories of them into host -> key ids (what verify pins). */
export const loadTrustedKeys = (sources: string[]): Map<string, Set<string>> => loadEnrolment(sources).keys;

/**
 * Reads the enrolment. Every file must be named <host>.pub, <host>~<label>.pub (a public key) or
 * <host>.id (the host's machine id, 32 hex digits): anything else is an error, never skipped.
 */
export function loadEnrolment(sources: string[]): Enrolment {
  const out = new Map<string, Set<string>>();
  const ids = new Map<string, string>();
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
    const idHost = ID_FILE.exec(path.basename(f))?.[1];
    if (idHost) {
      const id = fs.readFileSync(f, 'utf8').trim();
      if (!/^[0-9a-f]{32}$/.test(id)) throw new TrustedKeysError(`trusted keys ${f}: not a machine id (32 hex digits, as in /etc/machine-id)`);
      ids.set(idHost, id);
      continue;
    }
    const host = hostOfKeyFile(f);
    if (!host) throw new TrustedKeysError(`trusted keys ${f}: the file must be named <host>.pub, <host>~<label>.pub or <host>.id (host as in host.name), so it says which host it enrolls`);
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
  return { keys: out, ids };
}

/** Why a key is or is not enrolled for a host. */
export type Enrollment = 'enrolled' | 'unenrolled-host' | 'unenrolled-key';

/**
 * The indexer's view of the enrolment. The sources are read again at most every `reloadMs` when
 * asked, so a host enrolled or withdrawn while the indexer runs counts within that time, without a
 * restart; a source that became unreadable keeps the last good set and is reported once.
 */
export class EnrolledKeys {
  private keys = new Map<string, Set<string>>();
  private ids = new Map<string, string>();
  private loadedAt = 0;
  private lastError: string | undefined;

  constructor(
    private readonly sources: string[],
    private readonly log: (line: string) => void,
    private readonly reloadMs = 10_000,
  ) {
    if (sources.length) {
      ({ keys: this.keys, ids: this.ids } = loadEnrolment(sources));
      this.loadedAt = Date.now();
    }
  }

  /** Enrolled hosts and their key counts, for the start-up line. */
  get summary(): string {
    if (!this.sources.length) return 'no enrolled hosts (--trusted-keys not given)';
    return `${this.keys.size} enrolled host(s) from ${this.sources.join(', ')}`;
  }

  check(host: string, key: string): Enrollment {
    this.refresh();
    const s = this.keys.get(host);
    return !s ? 'unenrolled-host' : s.has(key) ? 'enrolled' : 'unenrolled-key';
  }

  /**
   * Why a command may not be addressed to `id` for enrolled host `host`, or undefined when it may:
   * the signer is enrolled by name, and only the enrolled machine id ties that name to the machine
   * a command reaches.
   */
  hostIdCheck(host: string, id: string | undefined): string | undefined {
    this.refresh();
    const want = this.ids.get(host);
    if (!want) return `no machine id is enrolled for host ${JSON.stringify(host)} (${host}.id among the trusted keys): commands are addressed by host.id`;
    if (id !== want) return `the batch names host.id ${id ?? '(none)'}, but host ${JSON.stringify(host)} is enrolled with ${want}`;
    return undefined;
  }

  private refresh(): void {
    if (!this.sources.length || Date.now() - this.loadedAt < this.reloadMs) return;
    this.loadedAt = Date.now();
    try {
      ({ keys: this.keys, ids: this.ids } = loadEnrolment(this.sources));
      this.lastError = undefined;
    } catch (e) {
      const m = (e as Error).message;
      if (m !== this.lastError) this.log(`index: cannot reload the trusted keys, keeping the previous set: ${m}`);
      this.lastError = m;
    }
  }
}
