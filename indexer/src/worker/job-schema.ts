// Jobs are validated at the door: anything in the queue may have been written by anyone who could
// reach Redis, so every job and every decoded batch is checked against a schema before a field of
// it is used. A job that fails is dead-lettered with the reason on its first attempt, never retried.
import Ajv, { type ValidateFunction } from 'ajv';
import { ACTIONS, EVENT_DOCUMENT_SCHEMA, HOOKS, HOST_PATH_STATUSES, OPEN_SYSCALLS, oneOf, RESOLUTIONS } from '../../../contract/src/document-schema';
import { type EventDocument, eventId } from '../../../contract/src/event-document';
import { type BatchJobData, CONTRACT_VERSION, type JobData, KNOWN_VERSIONS, RECORD_VERSION, WireError } from '../../../contract/src/wire';
import { WIRE_V1, type WireBatch } from '../../../contract/src/wire-v1';

export class InvalidJobError extends Error {
  override readonly name = 'InvalidJobError';
}


/** Events further in the future than this are refused: their daily index cannot be right. */
export const MAX_CLOCK_AHEAD_MS = 24 * 3600_000;
/** A batch holds at most this many events (the collector sends 2,000 by default). */
export const MAX_BATCH_EVENTS = 100_000;

const int = { type: 'integer' } as const;
const uint = { type: 'integer', minimum: 0 } as const;
const u32 = { type: 'integer', minimum: 0, maximum: 0xffff_ffff } as const;
const i32 = { type: 'integer', minimum: -0x8000_0000, maximum: 0x7fff_ffff } as const;
const seqNo = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;
/** A u64 carried as decimal text (JSON numbers lose bits past 2^53). */
const u64 = { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' } as const;
/** Wall time in ns: a clock before 1970 is the event's own problem (Elasticsearch refuses that one event). */
const wallNs = { type: 'string', pattern: '^-?(0|[1-9][0-9]{0,19})$' } as const;
const b64 = (maxLength: number): object => ({ type: 'string', maxLength, pattern: '^[A-Za-z0-9+/]*={0,2}$' });
const str = (maxLength: number): object => ({ type: 'string', maxLength });
const id = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' } as const;
const hex = (n: number): object => ({ type: 'string', pattern: `^[0-9a-f]{${n}}$` });
const obj = (properties: Record<string, object>, required: string[]): object => ({ type: 'object', additionalProperties: false, properties, required });

const signature = obj({ key: hex(32), pub: str(1024), sig: b64(200) }, ['key', 'pub', 'sig']);

const chainLink = obj(
  {
    v: { enum: [1, 2] },
    alg: { const: 'sha256+ed25519' },
    prev: hex(64),
    head: hex(64),
    digests: b64(Math.ceil((MAX_BATCH_EVENTS * 32) / 3) * 4),
    times: { type: 'array', maxItems: MAX_BATCH_EVENTS, items: int },
    key: hex(32),
    pub: str(1024),
    sig: b64(200),
  },
  ['v', 'alg', 'prev', 'head', 'digests', 'times', 'key', 'pub', 'sig'],
);

const batchJob = obj(
  { v: { enum: KNOWN_VERSIONS }, boot: id, stream: id, first: seqNo, last: seqNo, z: b64(96 << 20), chain: chainLink },
  ['v', 'boot', 'stream', 'first', 'last', 'z'],
);

const heartbeat = obj({ run: id, at: uint, intervalMs: { type: 'integer', minimum: 1, maximum: 86_400_000 }, kernelDropped: uint, argsLost: uint, spoolDropped: uint }, ['run', 'at', 'intervalMs', 'kernelDropped', 'argsLost', 'spoolDropped']);

const checkpointJob = obj(
  { v: { const: RECORD_VERSION }, kind: { const: 'checkpoint' }, boot: id, stream: id, assigned: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, host: str(255), hb: heartbeat, sig: signature },
  ['v', 'kind', 'boot', 'stream', 'assigned', 'host'],
);

const auditHost = obj({ name: str(255), id: str(128), bootId: id }, ['name', 'bootId']);
const auditJob = obj(
  {
    v: { const: RECORD_VERSION },
    kind: { const: 'audit' },
    id,
    record: obj(
      {
        at: uint,
        host: auditHost,
        decision: { type: 'string', enum: ['issued', 'applied', 'refused'] },
        reason: str(64),
        detail: str(1 << 20),
        // As far as a received command could be read: a forged one may hold any scalar here.
        command: { type: 'object', maxProperties: 16, additionalProperties: { type: ['string', 'number', 'boolean', 'null'], maxLength: 4096 } },
        outcome: str(64),
        target: obj({ pid: uint, start: uint, paths: { type: 'array', maxItems: 65_536, items: str(4096) }, comm: str(64), executable: str(4096), entries: uint }, []),
      },
      ['at', 'host', 'decision', 'reason', 'detail', 'command'],
    ),
    sig: signature,
  },
  ['v', 'kind', 'id', 'record'],
);

const wireEvent = obj(
  {
    q: seqNo,
    t: u64,
    w: wallNs,
    cpu: uint,
    pid: u32,
    tid: u32,
    ppid: u32,
    uid: u32,
    gid: u32,
    euid: u32,
    cg: u64,
    mnt: uint,
    dfd: i32,
    ret: int,
    ino: u64,
    dev: uint,
    of: u32,
    mode: u32,
    fm: u32,
    hook: oneOf(HOOKS),
    act: oneOf(ACTIONS),
    sc: oneOf(OPEN_SYSCALLS as Record<string, true>),
    f: u32,
    p: b64(22_000),
    rp: b64(22_000),
    res: oneOf(RESOLUTIONS),
    ol: uint,
    hp: b64(22_000),
    hs: oneOf(HOST_PATH_STATUSES),
    comm: str(64),
  },
  ['q', 't', 'w', 'cpu', 'pid', 'tid', 'ppid', 'uid', 'gid', 'euid', 'cg', 'mnt', 'dfd', 'ret', 'ino', 'dev', 'of', 'mode', 'fm', 'hook', 'act', 'sc', 'f', 'p', 'res', 'comm'],
);

// Bounded by what the kernel allows a process (ARG_MAX-sized argument lists, 128 KiB per argument);
// the batch's own size bound (z) caps the total.
const processInfo = obj({ executable: str(8192), args: { type: 'array', maxItems: 1 << 20, items: str(131_072) }, containerId: str(256), startTicks: uint }, []);
const names = { type: 'object', maxProperties: MAX_BATCH_EVENTS, additionalProperties: str(256) } as const;

const wireBatch = obj(
  {
    v: { const: WIRE_V1 },
    host: obj({ name: str(255), id: str(128), bootId: id }, ['name', 'bootId']),
    procs: { type: 'object', maxProperties: MAX_BATCH_EVENTS, propertyNames: { pattern: '^[0-9]{1,10}$' }, additionalProperties: processInfo },
    users: names,
    groups: names,
    events: { type: 'array', minItems: 1, maxItems: MAX_BATCH_EVENTS, items: wireEvent },
  },
  ['v', 'host', 'procs', 'users', 'groups', 'events'],
);

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const compiled = {
  batch: ajv.compile(batchJob),
  checkpoint: ajv.compile(checkpointJob),
  audit: ajv.compile(auditJob),
  wire: ajv.compile(wireBatch),
  document: ajv.compile(EVENT_DOCUMENT_SCHEMA),
};

function check(v: ValidateFunction, data: unknown, what: string): void {
  if (v(data)) return;
  const e = v.errors?.[0];
  throw new InvalidJobError(`${what}: ${e ? `${e.instancePath || '(the whole value)'} ${e.message ?? 'is invalid'}` : 'invalid'}`);
}

/** The job's data, checked; throws InvalidJobError with the first problem found. */
export function validateJob(data: unknown): JobData {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new InvalidJobError(`job data is ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}, not an object`);
  const kind = (data as { kind?: unknown }).kind;
  if (kind === 'checkpoint') check(compiled.checkpoint, data, 'checkpoint job');
  else if (kind === 'audit') check(compiled.audit, data, 'audit job');
  else if (kind !== undefined) throw new InvalidJobError(`unknown job kind ${JSON.stringify(kind).slice(0, 64)}`);
  else {
    const v = (data as { v?: unknown }).v;
    if (!KNOWN_VERSIONS.includes(v as number)) {
      const newer = typeof v === 'number' && v > CONTRACT_VERSION;
      throw new InvalidJobError(`batch job: contract version ${JSON.stringify(v)?.slice(0, 32)} is not one this indexer reads (${KNOWN_VERSIONS.join(', ')})${newer ? ': the collector is newer than this indexer; upgrade the indexer first (docs/operations.md)' : ''}`);
    }
    check(compiled.batch, data, 'batch job');
    const b = data as BatchJobData;
    if (b.last < b.first || b.last - b.first + 1 > MAX_BATCH_EVENTS) throw new InvalidJobError(`batch job: first ${b.first} and last ${b.last} do not make 1..${MAX_BATCH_EVENTS} events`);
    if (b.chain && (b.chain.times.length !== b.last - b.first + 1)) throw new InvalidJobError(`batch job: its chain link has ${b.chain.times.length} times for ${b.last - b.first + 1} events`);
  }
  return data as JobData;
}

/**
 * A decoded batch's shape, checked before any field is read (passed to decodeBatch). Also refuses
 * events stamped more than MAX_CLOCK_AHEAD_MS after `nowMs`. Throws WireError, as decodeBatch does.
 */
export function wireBatchCheck(nowMs: number): (parsed: unknown) => WireBatch {
  // Compared as decimal text of equal length: no BigInt per event.
  const limit = String(BigInt(nowMs + MAX_CLOCK_AHEAD_MS) * 1_000_000n);
  return (parsed) => {
    try {
      check(compiled.wire, parsed, 'batch');
    } catch (e) {
      throw new WireError((e as Error).message);
    }
    const b = parsed as WireBatch;
    // Every number in order, not only the first and the last (decodeBatch checks those and the count).
    const q0 = b.events[0]!.q;
    for (let i = 1; i < b.events.length; i++) {
      if (b.events[i]!.q !== q0 + i) throw new WireError(`batch: event ${i} has seq ${b.events[i]!.q}, not ${q0 + i}: the numbers are not contiguous`);
    }
    for (const ev of b.events) {
      if (ev.w.length > limit.length || (ev.w.length === limit.length && ev.w > limit)) {
        const at = new Date(Number(ev.w.slice(0, -6)));
        const when = Number.isNaN(at.getTime()) ? `${ev.w} ns` : at.toISOString();
        throw new WireError(`batch: event seq ${ev.q} is stamped ${when}, more than ${MAX_CLOCK_AHEAD_MS / 3600_000} h ahead of this indexer's clock`);
      }
    }
    return b;
  };
}

/**
 * One arriving document line, checked: it parses, it has the contract's shape, it belongs to the
 * batch's boot and stream, and its time is not more than MAX_CLOCK_AHEAD_MS after `nowMs`.
 * Throws WireError: the batch can never be indexed.
 */
export function documentCheck(boot: string, stream: string, nowMs: number): (line: string, seq: number) => { doc: EventDocument; tsMs: number } {
  const limit = nowMs + MAX_CLOCK_AHEAD_MS;
  return (line, seq) => {
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (e) {
      throw new WireError(`batch: the document of seq ${seq} is not JSON: ${(e as Error).message}`);
    }
    try {
      check(compiled.document, doc, `batch: the document of seq ${seq}`);
    } catch (e) {
      throw new WireError((e as Error).message);
    }
    const d = doc as EventDocument;
    if (d.host.boot.id !== boot || d.filewarden.boot_id !== boot || d.filewarden.seq_stream !== stream) throw new WireError(`batch: the document of seq ${seq} names boot ${d.filewarden.boot_id}/${d.host.boot.id} stream ${d.filewarden.seq_stream}, not the batch's ${boot}/${stream}`);
    // The _id is the event's identity: derived here, never taken on a document's word.
    const id = eventId(boot, d.filewarden.boot_ns, d.process.thread.id);
    if (d.event.id !== id) throw new WireError(`batch: the document of seq ${seq} has event.id ${JSON.stringify(d.event.id).slice(0, 140)}, not ${id} (boot, boot_ns, thread)`);
    const ms = Date.parse(d['@timestamp']);
    if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== d['@timestamp'].slice(0, 10)) throw new WireError(`batch: the document of seq ${seq} is stamped ${d['@timestamp']}, which is no date`);
    if (ms > limit) throw new WireError(`batch: event seq ${seq} is stamped ${d['@timestamp']}, more than ${MAX_CLOCK_AHEAD_MS / 3600_000} h ahead of this indexer's clock`);
    return { doc: d, tsMs: ms };
  };
}
