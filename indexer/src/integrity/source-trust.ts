// Whether a job comes from an enrolled collector: a batch's hash-chain link must verify, be signed
// by a key enrolled for the batch's host, and name exactly the events the batch holds; a
// checkpoint, heartbeat or audit record must carry such a signature. Only verified input may move
// a checkpoint or cause an enforcement command; the rest is indexed and marked untrusted.
import { type ChainLink, checkLink, checkRecord, eventDigest, type RecordSignature } from '../../../collector/src/integrity/hash-chain';
import type { EnrolledKeys } from './trusted-keys';

/** Why input is not trusted; `ok` when it is. */
export type TrustReason = 'ok' | 'unsigned' | 'bad-signature' | 'unenrolled-host' | 'unenrolled-key' | 'digest-mismatch';

/** The indexer's verdict on where a document came from (filewarden.trust; outside the signed digest). */
export interface SourceTrust {
  status: 'verified' | 'untrusted';
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
 * A batch's trust. `docs` are the documents the indexer built, in sequence order, without
 * filewarden.trust; their digests are computed only once the key is known to be enrolled.
 */
export function judgeBatch(b: BatchToJudge, host: string, docs: readonly object[], enrolled: EnrolledKeys): SourceTrust {
  const l = b.chain;
  if (!l) return untrusted('unsigned', 'the batch has no hash-chain link (a collector run with --no-chain, or not a collector)');
  const c = checkLink({ boot: b.boot, stream: b.stream, first: b.first, last: b.last }, l);
  if (!c.ok) return untrusted('bad-signature', `the batch's chain link does not verify: ${c.reason}`, l.key);
  const e = enrollment(enrolled, host, l.key);
  if (e) return e;
  const digests = Buffer.from(l.digests, 'base64');
  for (let i = 0; i < docs.length; i++) {
    if (!eventDigest(docs[i]!).equals(digests.subarray(32 * i, 32 * i + 32))) return untrusted('digest-mismatch', `event seq ${b.first + i} does not match the digest its collector signed`, l.key);
  }
  return { status: 'verified', reason: 'ok', detail: `signed by enrolled key ${l.key}`, key: l.key };
}

/** A control record's trust (checkpoint, heartbeat, audit record): signed by a key enrolled for `host`. */
export function judgeRecord(r: { sig?: RecordSignature }, host: string, enrolled: EnrolledKeys): SourceTrust {
  const c = checkRecord(r);
  if (!c.ok) return c.reason === 'unsigned' ? untrusted('unsigned', 'the record is not signed') : untrusted('bad-signature', `the record's signature does not verify: ${c.reason}`, r.sig?.key);
  return enrollment(enrolled, host, c.key) ?? { status: 'verified', reason: 'ok', detail: `signed by enrolled key ${c.key}`, key: c.key };
}

/** The stored form: status and reason only (the detail goes to alerts and logs). */
export const storedTrust = (t: SourceTrust): { status: SourceTrust['status']; reason: TrustReason } => ({ status: t.status, reason: t.reason });
