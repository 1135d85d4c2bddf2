// The hash chain's pure half, shared by the collector (which signs) and the indexer and `verify`
// (which check): event digests, link heads and signatures, and control-record signatures. Each
// stream's batches are chained in sequence order (each link names the previous head) and every
// head is signed with the host's Ed25519 key.
import crypto, { type KeyObject } from 'node:crypto';
import { canonicalize } from './canonical-json';

/**
 * 2: an event's digest is over its document text exactly as shipped and stored (digestText);
 * 1: over the document's RFC 8785 canonical JSON (collectors before the event contract).
 */
export const CHAIN_VERSION = 2;
export const CHAIN_ALG = 'sha256+ed25519';
export type ChainVersion = 1 | 2;

/** One batch's link, carried in the batch job and stored in the audit index. */
export interface ChainLink {
  /** Which text an event's digest is over (see CHAIN_VERSION). */
  v: ChainVersion;
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

/** sha256 in one call where Node has crypto.hash (20.12+): a third of the cost of a Hash object here. */
const sha256 = (text: string): Buffer =>
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? ((crypto as unknown as { hash(alg: string, data: string, enc: 'buffer'): Buffer }).hash('sha256', text, 'buffer'))
    : crypto.createHash('sha256').update(text).digest();

/** The digest of a document line as the collector ships it (wire.ts): sha256 of exactly those bytes. */
export const lineDigest = (line: string): Buffer => sha256(line);

/**
 * The text an event's digest is over, from its stored document: the document without its position
 * (event.sequence, filewarden.seq) and without the indexer's verdict on its source
 * (filewarden.trust), so an event moved to another number is recognised as itself ("reordered").
 * Version 2: that document as JSON in its own key order, which is exactly the line the collector
 * shipped and signed, because Elasticsearch returns _source byte for byte as stored and JSON.parse
 * keeps key order (the document has no integer-like keys). Version 1: its RFC 8785 canonical JSON.
 */
export function digestText(doc: object, v: ChainVersion): string {
  const d = doc as { event?: Record<string, unknown>; filewarden?: Record<string, unknown> };
  // Spread and delete keep the order of the other keys.
  const event = { ...d.event };
  delete event.sequence;
  const filewarden = { ...d.filewarden };
  delete filewarden.seq;
  delete filewarden.trust;
  const copy: Record<string, unknown> = { ...d };
  if (d.event !== undefined) copy.event = event;
  if (d.filewarden !== undefined) copy.filewarden = filewarden;
  return v === 1 ? canonicalize(copy) : JSON.stringify(copy);
}

/** An event's digest, recomputed from its stored document (verify, the dead-letter index). */
export const eventDigest = (doc: object, v: ChainVersion): Buffer => sha256(digestText(doc, v));

/** The value a stream's first link names as its previous head. */
export function genesis(boot: string, stream: string): string {
  // Fixed text, whatever the chain version: a stream begun by a version-1 collector and continued
  // by a version-2 one has one genesis, and verify recognises the start of either.
  return crypto.createHash('sha256').update(`filewarden-chain-v1\0${boot}\0${stream}`).digest('hex');
}

export function linkHead(p: LinkPosition, prev: string, digests: string, times: number[]): string {
  return crypto.createHash('sha256').update(canonicalize({ prev, boot: p.boot, stream: p.stream, first: p.first, last: p.last, digests, times })).digest('hex');
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
  const body = canonicalize({ ...record, sig: undefined });
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
  if (!crypto.verify(null, Buffer.from(canonicalize({ ...record, sig: undefined })), pub, Buffer.from(s.sig, 'base64'))) return { ok: false, reason: 'the signature does not verify' };
  return { ok: true, key: s.key };
}

