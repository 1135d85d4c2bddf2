// The job formats that cross Redis: one BullMQ job per batch of events, and the control records
// (checkpoints, audit records). A batch (contract version 2) carries its events' final document
// bytes: one JSON line per event, as the collector built and hashed it, deflated into
// one base64 string so that 100k queued events cost a few MB of Redis memory (bench/pipeline.ts).
// The indexer adds only the position and its trust verdict to each line, and streams it to
// Elasticsearch; it builds nothing.
import zlib from 'node:zlib';
import type { ChainLink, RecordSignature } from './chain';

/** The contract version a collector writes on every job. */
export const CONTRACT_VERSION = 2;
/** What an indexer of this contract reads: 1 is the legacy batch of wire events (wire-v1.ts). */
export const KNOWN_VERSIONS: readonly number[] = [1, 2];
/** The version of control records (checkpoints, audit records): unchanged since version 1. */
export const RECORD_VERSION = 1;

/** The BullMQ job data (and the spool file's content). */
export interface BatchJobData {
  /** The contract version: 2, or 1 from a collector before the contract (wire-v1.ts). */
  v: 1 | 2;
  boot: string;
  /** The sequence stream: a new one starts only when the collector's state was lost mid-boot. */
  stream: string;
  /** The first and last sequence numbers: the batch holds exactly last - first + 1 events. */
  first: number;
  last: number;
  /** Version 2: deflateRaw of the document lines joined by "\n", base64 (version 1: of JSON(WireBatch)). */
  z: string;
  /** The batch's signed hash-chain link (chain.ts); absent from collectors before it. */
  chain?: ChainLink;
}

/**
 * A checkpoint: "this stream has given out every number up to `assigned`". It lets the gap report
 * see losses at the tail of a stream (a dropped last batch, a crash), which no later event reveals.
 */
export interface CheckpointJobData {
  v: typeof RECORD_VERSION;
  kind: 'checkpoint';
  boot: string;
  stream: string;
  assigned: number;
  host: string;
  /** The collector's heartbeat: sent every interval, moved or not, with its loss counters. */
  hb?: Heartbeat;
  /** The host key's signature over the rest: only a signed checkpoint from an enrolled key moves a stream's number. */
  sig?: RecordSignature;
}

/** A collector run's liveness and its loss counters so far (they restart at 0 with each run). */
export interface Heartbeat {
  /** Random per collector run. */
  run: string;
  /** Wall time, ms since the epoch. */
  at: number;
  /** The interval the collector promises: a longer silence is a heartbeat gap. */
  intervalMs: number;
  kernelDropped: number;
  argsLost: number;
  spoolDropped: number;
}

/**
 * An audit record: what the collector decided about an enforcement command (applied or refused, and
 * why). It is evidence too, so it travels like a batch (spooled while Redis is down); `id` is random
 * and makes the job and the document unique.
 */
export interface AuditJobData {
  v: typeof RECORD_VERSION;
  kind: 'audit';
  id: string;
  record: AuditRecord;
  /** The host key's signature over the rest. */
  sig?: RecordSignature;
}

/** One decision about one command, as the collector saw it. */
export interface AuditRecord {
  /** Wall time of the decision, ms since the epoch. */
  at: number;
  host: { name: string; id?: string; bootId: string };
  /** issued: sent by the indexer; applied: carried out; refused: not valid here (the reason says why). */
  decision: 'issued' | 'applied' | 'refused';
  /** A code: ok, bad-signature, malformed, wrong-host, expired, not-yet-valid, replayed, lifetime, other-boot, failed. */
  reason: string;
  detail: string;
  /** The command as far as it could be read (a forged one is still recorded as received). */
  command: { id?: string; type?: string; host?: string; nonce?: string; iat?: number; exp?: number; alert?: string; rule?: string };
  /** What applying it did, e.g. kill: "killed" | "exited" | "reused". */
  outcome?: string;
  target?: { pid?: number; start?: number; paths?: string[]; comm?: string; executable?: string; entries?: number };
}

/** What the queue and the spool carry. */
export type JobData = BatchJobData | CheckpointJobData | AuditJobData;

export const isCheckpoint = (d: JobData): d is CheckpointJobData => (d as CheckpointJobData).kind === 'checkpoint';
export const isAudit = (d: JobData): d is AuditJobData => (d as AuditJobData).kind === 'audit';
/** A batch of events (the other kinds are control records that carry none). */
export const isBatch = (d: JobData): d is BatchJobData => !('kind' in d);

/** Events in a job: a checkpoint or an audit record has none. */
export const eventsIn = (d: JobData): number => (isBatch(d) ? d.last - d.first + 1 : 0);


export class WireError extends Error {
  override readonly name = 'WireError';
}

/** The BullMQ job id: deterministic, so a batch added twice (spool replay) is one job. */
export function jobId(d: JobData): string {
  if (isAudit(d)) return `audit-${d.id}`;
  if (isCheckpoint(d)) return `${d.boot}-${d.stream}-upto-${d.assigned}${d.hb ? `-hb-${d.hb.run}-${d.hb.at}` : ''}`;
  return `${d.boot}-${d.stream}-${d.first}`;
}

/** A batch inflates to at most this: 2,000 events take about 3 MB, and a deflate bomb stops here. */
export const MAX_BATCH_JSON_BYTES = 64 << 20;

/**
 * A collector sends a batch before its lines reach this many characters (at most 3 bytes each in
 * UTF-8), whatever its event count: every document carries its process's arguments, which can be
 * hundreds of KiB, so a count alone could make a batch the indexer must refuse.
 */
export const BATCH_TEXT_BUDGET = 16 << 20;

/** A version-2 batch job from its document lines (JSON, no position, in sequence order). */
export function encodeDocuments(lines: readonly string[], boot: string, stream: string, first: number): BatchJobData {
  if (lines.length === 0) throw new WireError('a batch holds at least one event');
  // Level 1: three times faster than the default for about 10% more bytes on this data.
  const z = zlib.deflateRawSync(lines.join('\n'), { level: 1 }).toString('base64');
  return { v: CONTRACT_VERSION, boot, stream, first, last: first + lines.length - 1, z };
}

/** A version-2 batch's document lines; a WireError means the job can never succeed (poison). */
export function decodeDocuments(d: BatchJobData): string[] {
  if (d.v !== CONTRACT_VERSION) throw new WireError(`not a version ${CONTRACT_VERSION} batch (version ${String(d.v)})`);
  let text: string;
  try {
    text = zlib.inflateRawSync(Buffer.from(d.z, 'base64'), { maxOutputLength: MAX_BATCH_JSON_BYTES }).toString('utf8');
  } catch (e) {
    throw new WireError(`corrupt batch ${d.boot}/${d.first}: ${(e as Error).message}`);
  }
  // JSON.stringify escapes every newline inside a string: a raw one only ever separates lines.
  const lines = text.split('\n');
  if (lines.length !== d.last - d.first + 1) throw new WireError(`batch ${d.boot}/${d.first} holds ${lines.length} documents, its header says ${d.last - d.first + 1}`);
  return lines;
}

/** The indexer's verdict on where a document came from, stored as filewarden.trust (outside the digest). */
export interface StoredTrust {
  status: 'verified' | 'signed' | 'untrusted';
  reason: string;
}

/**
 * A document line made ready to store: its position (event.sequence, filewarden.seq) and the
 * indexer's trust verdict put in, without parsing or re-serialising it. `"event":{` and
 * `"filewarden":{` can each occur once only, as top-level keys: inside a JSON string every quote is
 * escaped, and no other object of the document has keys of those names (the indexer's document
 * schema holds it to that).
 */
export function placeDocument(line: string, seq: number, trust?: StoredTrust): string {
  const ev = line.indexOf('"event":{');
  const fw = line.indexOf('"filewarden":{');
  if (ev < 0 || fw < 0) throw new WireError('a document line without its event or filewarden object');
  const at1 = ev + 9;
  const at2 = fw + 14;
  const t = trust ? `"trust":{"reason":${JSON.stringify(trust.reason)},"status":"${trust.status}"},` : '';
  const [a, b] = at1 < at2 ? [at1, at2] : [at2, at1];
  const ins = (at: number): string => (at === at1 ? `"sequence":${seq},` : `"seq":${seq},${t}`);
  return line.slice(0, a) + ins(a) + line.slice(a, b) + ins(b) + line.slice(b);
}
