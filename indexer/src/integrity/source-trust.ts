// Whether a job comes from an enrolled collector: a batch's hash-chain link must verify, be signed
// by a key enrolled for the batch's host, and name exactly the events the batch holds; a
// checkpoint, heartbeat or audit record must carry such a signature. Only verified input may move
// a checkpoint or cause an enforcement command; the rest is indexed and marked untrusted.
import { type ChainLink, checkLink, checkRecord, lineDigest, type RecordSignature } from '../../../contract/src/chain';
import type { EnrolledKeys } from './trusted-keys';

/** Why input is not trusted; `ok` when it is. */
export type TrustReason = 'ok' | 'unsigned' | 'bad-signature' | 'unenrolled-host' | 'unenrolled-key' | 'digest-mismatch';

/**
 * The indexer's verdict on where a document came from (filewarden.trust; outside the signed
 * digest). `signed`: the link verifies under a key enrolled for the host, and the events' digests
 * were not recomputed on arrival (`verify` does that later); `verified`: they were, and all match.
 * Only `verified` input causes a command.
 */
export interface SourceTrust {
  status: 'verified' | 'signed' | 'untrusted';
  reason: TrustReason;
  /** One sentence for alerts and logs; not stored on every event. */
  detail: string;
  /** The signing key id, when there was a signature. */
  key?: string;
}

const untrusted = (reason: TrustReason, detail: string, key?: string): SourceTrust => ({ status: 'untrusted', reason, detail, ...(key ? { key } : {}) });

function enrollment(enrolled: EnrolledKeys, host: string, key: string): SourceTrust | undefined {
  const e = enrolled.check(host, key);
  if (e === 'enrolled') return undefined;
  return e === 'unenrolled-host'
    ? untrusted(e, `host ${JSON.stringify(host)} is not enrolled (no ${host}.pub among the trusted keys)`, key)
    : untrusted(e, `key ${key} is not enrolled for host ${JSON.stringify(host)}`, key);
}

export interface BatchToJudge {
  boot: string;
  stream: string;
  first: number;
  last: number;
  chain?: ChainLink;
}

/**
 * A batch's link and signer, without its events: cheap (one hash and one signature check per
 * batch), so every batch gets it. `signed` at best; `verifyDigests` makes that `verified`.
 */
export function judgeLink(b: BatchToJudge, host: string, enrolled: EnrolledKeys): SourceTrust {
  const l = b.chain;
  if (!l) return untrusted('unsigned', 'the batch has no hash-chain link (a collector run with --no-chain, or not a collector)');
  const c = checkLink({ boot: b.boot, stream: b.stream, first: b.first, last: b.last }, l);
  if (!c.ok) return untrusted('bad-signature', `the batch's chain link does not verify: ${c.reason}`, l.key);
  return enrollment(enrolled, host, l.key) ?? { status: 'signed', reason: 'ok', detail: `signed by enrolled key ${l.key}`, key: l.key };
}

/**
 * Upgrades a `signed` verdict to `verified` when every document line (as it arrived, in sequence
 * order) has exactly the digest the link signed. This costs a sha256 per event, so the indexer
 * pays it only for a batch that is about to cause a command.
 */
export function verifyDigests(t: SourceTrust, b: BatchToJudge, lines: readonly string[]): SourceTrust {
  if (t.status !== 'signed' || !b.chain) return t;
  const digests = Buffer.from(b.chain.digests, 'base64');
  for (let i = 0; i < lines.length; i++) {
    if (!lineDigest(lines[i]!).equals(digests.subarray(32 * i, 32 * i + 32))) return untrusted('digest-mismatch', `event seq ${b.first + i} does not match the digest its collector signed`, t.key);
  }
  return { ...t, status: 'verified', detail: `${t.detail}; every event matches its signed digest` };
}

/** Both checks at once: what a batch that may cause a command gets. */
export const judgeBatch = (b: BatchToJudge, host: string, lines: readonly string[], enrolled: EnrolledKeys): SourceTrust => verifyDigests(judgeLink(b, host, enrolled), b, lines);

/** A control record's trust (checkpoint, heartbeat, audit record): signed by a key enrolled for `host`. */
export function judgeRecord<T extends { sig?: RecordSignature }>(r: T, host: string, enrolled: EnrolledKeys): SourceTrust {
  const c = checkRecord(r);
  if (!c.ok) return c.reason === 'unsigned' ? untrusted('unsigned', 'the record is not signed') : untrusted('bad-signature', `the record's signature does not verify: ${c.reason}`, r.sig?.key);
  return enrollment(enrolled, host, c.key) ?? { status: 'verified', reason: 'ok', detail: `signed by enrolled key ${c.key}`, key: c.key };
}

/** The stored form: status and reason only (the detail goes to alerts and logs). */
export const storedTrust = (t: SourceTrust): { status: SourceTrust['status']; reason: TrustReason } => ({ status: t.status, reason: t.reason });
