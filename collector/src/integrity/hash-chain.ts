// Tamper evidence: the collector hashes every event's exact Elasticsearch document, chains each
// stream's batches in sequence order (each link names the previous head) and signs every head with
// the host's Ed25519 key. `filewarden verify` recomputes all of it from what the cluster holds.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { wallMsOf, type WireBatch } from '../batch/wire';
import { toDocument } from '../format/event-document';

export const CHAIN_VERSION = 1;
export const CHAIN_ALG = 'sha256+ed25519';

/** One batch's link, carried in the batch job and stored in the audit index. */
export interface ChainLink {
  v: typeof CHAIN_VERSION;
  alg: typeof CHAIN_ALG;
  /** The previous link's head (hex), or the stream's genesis value for its first link. */
  prev: string;
  /** sha256 (hex) of the canonical link body: prev, boot, stream, first, last, digests and times. */
  head: string;
  /** The events' digests in sequence order: 32 bytes each, concatenated, base64. */
  digests: string;
  /** The events' wall times (ms since the epoch), in sequence order: retention decides by them. */
  times: number[];
  /** Key id: the first 16 bytes (hex) of sha256 over the public key's SPKI DER. */
  key: string;
  /** The host's public key (SPKI PEM), so a verifier can check without other input. */
  pub: string;
  /** Ed25519 signature (base64) over the head's 32 bytes. */
  sig: string;
}

/** The position of a link: which stream, which numbers. */
export interface LinkPosition {
  boot: string;
  stream: string;
  first: number;
  last: number;
}

const quotedKeys = new Map<string, string>();
const quoteKey = (k: string): string => {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    // Documents have a few dozen distinct keys; the bound only guards against odd input.
    if (quotedKeys.size < 10_000) quotedKeys.set(k, q);
  }
  return q;
};

/**
 * JSON with object keys sorted at every level: the same value always gives the same bytes, however
 * a store re-serialises it. Written out by hand: this runs for every event (bench/chain.ts).
 */
export function canonicalJson(v: unknown): string {
  return canon(v) ?? 'null';
}

function canon(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + (canon(v[i]) ?? 'null');
    return `${s}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let s = '{';
  let first = true;
  for (const k of keys) {
    const x = canon(o[k]);
    if (x === undefined) continue;
    s += `${first ? '' : ','}${quoteKey(k)}:${x}`;
    first = false;
  }
  return `${s}}`;
}

/** sha256 in one call where Node has crypto.hash (20.12+): a third of the cost of a Hash object here. */
const sha256 = (text: string): Buffer =>
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? ((crypto as unknown as { hash(alg: string, data: string, enc: 'buffer'): Buffer }).hash('sha256', text, 'buffer'))
    : crypto.createHash('sha256').update(text).digest();

/**
 * An event's digest: sha256 of its stored document without the sequence fields and without the
 * indexer's verdict on its source (filewarden.trust, added after the collector signed). The
 * position is the chain's to say, so an event moved to another number is recognised as itself
 * ("reordered").
 */
export function eventDigest(doc: object): Buffer {
  const d = doc as { event?: Record<string, unknown>; filewarden?: Record<string, unknown> };
  const copy = { ...d, event: { ...d.event, sequence: undefined }, filewarden: { ...d.filewarden, seq: undefined, trust: undefined } };
  return sha256(canonicalJson(copy));
}

/** The value a stream's first link names as its previous head. */
export function genesis(boot: string, stream: string): string {
  return crypto.createHash('sha256').update(`filewarden-chain-v${CHAIN_VERSION}\0${boot}\0${stream}`).digest('hex');
}

export function linkHead(p: LinkPosition, prev: string, digests: string, times: number[]): string {
  return crypto.createHash('sha256').update(canonicalJson({ prev, boot: p.boot, stream: p.stream, first: p.first, last: p.last, digests, times })).digest('hex');
}

export function keyId(pub: KeyObject): string {
  return crypto.createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);
}

/** What a link proves, checked: its head recomputes and its signature holds under its key. */
export function checkLink(p: LinkPosition, l: Pick<ChainLink, 'prev' | 'head' | 'digests' | 'times' | 'sig' | 'pub' | 'key'>): { ok: true; pub: KeyObject } | { ok: false; reason: string } {
  const n = p.last - p.first + 1;
  if (Buffer.from(l.digests, 'base64').length !== 32 * n || l.times.length !== n) return { ok: false, reason: `the link holds the wrong number of digests or times for ${n} events` };
  if (linkHead(p, l.prev, l.digests, l.times) !== l.head) return { ok: false, reason: 'the head does not match the link body (digests, times or position changed)' };
  let pub: KeyObject;
  try {
    pub = crypto.createPublicKey(l.pub);
  } catch {
    return { ok: false, reason: 'the public key does not parse' };
  }
  if (keyId(pub) !== l.key) return { ok: false, reason: 'the key id does not match the public key' };
  if (!crypto.verify(null, Buffer.from(l.head, 'hex'), pub, Buffer.from(l.sig, 'base64'))) return { ok: false, reason: 'the signature does not verify' };
  return { ok: true, pub };
}

/** A control record's signature (checkpoints, heartbeats, audit records): who signed, and the proof. */
export interface RecordSignature {
  /** Key id, as in a chain link. */
  key: string;
  /** The signer's public key (SPKI PEM). */
  pub: string;
  /** Ed25519 signature (base64) over the canonical JSON of the record without its `sig`. */
  sig: string;
}

/** Signs a control record: the signature covers every field but `sig` itself. */
export function signRecord<T extends object>(record: T, privateKey: KeyObject, publicKey: KeyObject): T & { sig: RecordSignature } {
  const body = canonicalJson({ ...record, sig: undefined });
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { ...record, sig: { key: keyId(publicKey), pub, sig: crypto.sign(null, Buffer.from(body), privateKey).toString('base64') } };
}

/** Checks a control record's signature under the key it names; who may sign is the caller's question. */
export function checkRecord<T extends { sig?: RecordSignature }>(record: T): { ok: true; key: string } | { ok: false; reason: string } {
  const s = record.sig;
  if (!s) return { ok: false, reason: 'unsigned' };
  let pub: KeyObject;
  try {
    pub = crypto.createPublicKey(s.pub);
  } catch {
    return { ok: false, reason: 'the public key does not parse' };
  }
  if (pub.asymmetricKeyType !== 'ed25519' || keyId(pub) !== s.key) return { ok: false, reason: 'the key id does not match the public key' };
  if (!crypto.verify(null, Buffer.from(canonicalJson({ ...record, sig: undefined })), pub, Buffer.from(s.sig, 'base64'))) return { ok: false, reason: 'the signature does not verify' };
  return { ok: true, key: s.key };
}

export class HostKeyError extends Error {
  override readonly name = 'HostKeyError';
}

/** The host's chain-signing key: created on first start (0600) next to the sequence state. */
export function loadOrCreateHostKey(stateDir: string): { privateKey: KeyObject; publicKey: KeyObject; file: string; pubFile: string; created: boolean } {
  const file = path.join(stateDir, 'host-signing.key');
  const pubFile = path.join(stateDir, 'host-signing.pub');
  let pem: string | undefined;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new HostKeyError(`cannot read the host signing key ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (pem !== undefined) {
    try {
      const privateKey = crypto.createPrivateKey(pem);
      if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`a ${privateKey.asymmetricKeyType} key`);
      return { privateKey, publicKey: crypto.createPublicKey(privateKey), file, pubFile, created: false };
    } catch (e) {
      throw new HostKeyError(`the host signing key ${file} is not an Ed25519 private key (${(e as Error).message}); move it away to have a new one made`);
    }
  }
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { privateKey, publicKey, file, pubFile, created: true };
}

interface ChainFile {
  boot: string;
  stream: string;
  last: number;
  head: string;
}

/**
 * Links a stream's batches. The last head is written to chain.json before its batch is handed on,
 * so a restart of the same stream continues the chain; if the file is lost the stream restarts from
 * genesis at a later number, which `verify` reports as a restart, not as tampering.
 */
export class HashChain {
  private readonly file: string;
  private state: ChainFile;
  readonly key: string;
  private readonly pubPem: string;

  constructor(
    stateDir: string,
    boot: string,
    stream: string,
    private readonly privateKey: KeyObject,
    publicKey: KeyObject,
  ) {
    this.file = path.join(stateDir, 'chain.json');
    this.key = keyId(publicKey);
    this.pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    let prev: ChainFile | undefined;
    try {
      prev = JSON.parse(fs.readFileSync(this.file, 'utf8')) as ChainFile;
    } catch {
      // missing or unreadable: a new chain
    }
    this.state = prev && prev.boot === boot && prev.stream === stream && typeof prev.head === 'string' ? prev : { boot, stream, last: 0, head: genesis(boot, stream) };
  }

  /** Whether this run continues a chain it found on disk. */
  get resumedAt(): number {
    return this.state.last;
  }

  /** The link for a batch; the batch's documents are built exactly as the indexer will store them. */
  link(b: WireBatch, stream: string): ChainLink {
    const n = b.events.length;
    const digests = Buffer.allocUnsafe(32 * n);
    const times = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const w = b.events[i]!;
      eventDigest(toDocument(b, stream, w, '').doc).copy(digests, 32 * i);
      times[i] = wallMsOf(w);
    }
    const p: LinkPosition = { boot: b.host.bootId, stream, first: b.events[0]!.q, last: b.events[n - 1]!.q };
    const d64 = digests.toString('base64');
    const head = linkHead(p, this.state.head, d64, times);
    const link: ChainLink = { v: CHAIN_VERSION, alg: CHAIN_ALG, prev: this.state.head, head, digests: d64, times, key: this.key, pub: this.pubPem, sig: crypto.sign(null, Buffer.from(head, 'hex'), this.privateKey).toString('base64') };
    this.state = { ...this.state, last: p.last, head };
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state));
    fs.renameSync(tmp, this.file);
    return link;
  }
}
