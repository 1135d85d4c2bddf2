// Jobs are validated at the door: a job that is null, has a non-numeric 64-bit field, a timestamp
// far in the future, an unknown kind or contract version, a corrupt or oversized body, a document
// off the contract's schema, or a header that does not match its events is dead-lettered whole,
// with its reason, on its first attempt (no retry for a month), and the batches after it are
// indexed. Contract-version-1 batches (collectors before the contract) are checked as well.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { Queue } from 'bullmq';
import t from 'tap';
import { BACKOFF_TYPE, JOB_ATTEMPTS, QUEUE_PREFIX } from '../../../contract/src/queue';
import { decodeDocuments, encodeDocuments, MAX_BATCH_JSON_BYTES } from '../../../contract/src/wire';
import { encodeBatch, type WireBatch } from '../../../contract/src/wire-v1';
import { countIndexed, pipelineEnv, startIndexer, waitForValue, waitQueueEmpty } from '../../utils/pipeline';
import { redisConnection } from '../../utils/stack';
import { batchOf, documentBatch, event } from '../../utils/wire-fixtures';

const now = BigInt(Date.now()) * 1_000_000n;
const good = (first: number): WireBatch => batchOf([event({ wallNs: now, tid: first }), event({ wallNs: now, tid: first + 1 })], first);
const z = (v: unknown): string => zlib.deflateRawSync(JSON.stringify(v)).toString('base64');
/** A version-2 batch of stream `s` whose documents `edit` changes after the collector built them. */
let opens = 0;
const edited = (s: string, edit: (doc: Record<string, any>, i: number) => void): object => {
  // Distinct opens (thread ids) in every batch: each has an event id of its own.
  const job = documentBatch([event({ wallNs: now, tid: 100 + ++opens }), event({ wallNs: now, tid: 100 + ++opens })], 1, s);
  const lines = decodeDocuments(job).map((l, i) => {
    const d = JSON.parse(l) as Record<string, any>;
    edit(d, i);
    return JSON.stringify(d);
  });
  return encodeDocuments(lines, job.boot, s, 1);
};
t.test('malformed jobs are dead-lettered on their first attempt', async (t) => {
  const env = pipelineEnv(t);
  const bad: [string, unknown, RegExp][] = [
    ['null job', null, /job data is null/],
    ['a string job', 'batch', /job data is string/],
    ['unknown kind', { v: 1, kind: 'shutdown', boot: 'b' }, /unknown job kind/],
    ['non-numeric inode', (() => { const b = good(1); b.events[0]!.ino = 'not-a-number'; return encodeBatch(b, 's1'); })(), /\/events\/0\/ino must match pattern/],
    ['far-future timestamp', (() => { const b = good(1); b.events[1]!.w = '9999999999999999999'; return encodeBatch(b, 's2'); })(), /more than 24 h ahead/],
    ['non-numeric checkpoint', { v: 1, kind: 'checkpoint', boot: 'b', stream: 's', assigned: 'lots', host: 'h' }, /\/assigned must be integer/],
    ['corrupt body', { v: 1, boot: 'b', stream: 's3', first: 1, last: 2, z: 'AAAA' }, /corrupt batch/],
    ['header that does not match its events', { ...encodeBatch(good(1), 's4'), first: 5, last: 6 }, /does not match its header/],
    ['deflate bomb', { v: 1, boot: 'b', stream: 's5', first: 1, last: 1, z: zlib.deflateRawSync(Buffer.alloc(MAX_BATCH_JSON_BYTES + 1, 0x20)).toString('base64') }, /corrupt batch.*(larger|exceed|buffer)/i],
    ['unknown contract version', { v: 3, boot: 'b', stream: 's7', first: 1, last: 1, z: 'AAAA' }, /contract version 3 is not one this indexer reads \(1, 2\): the collector is newer than this indexer/],
    ['fewer documents than the header says', { ...encodeDocuments(['{}'], 'b', 's13', 1), last: 2 }, /holds 1 documents, its header says 2/],
    ['events that are not objects', { v: 1, boot: 'b', stream: 's6', first: 1, last: 1, z: z({ v: 1, host: { name: 'h', bootId: 'b' }, procs: {}, users: {}, groups: {}, events: [null] }) }, /\/events\/0 must be object/],
  ];
  const q = new Queue(env.queue, { connection: redisConnection(env.redisUrl), prefix: QUEUE_PREFIX });
  t.teardown(() => q.close());
  const ids: string[] = [];
  for (const [name, data] of bad) {
    const id = `bad-${name.replace(/\W+/g, '-')}-${crypto.randomBytes(3).toString('hex')}`;
    ids.push(id);
    // With the collector's own retry settings: a transient classification would retry for a month.
    await q.add('batch', data, { jobId: id, attempts: JOB_ATTEMPTS, backoff: { type: BACKOFF_TYPE }, removeOnComplete: true, removeOnFail: false });
  }
  await q.add('batch', documentBatch([event({ wallNs: now, tid: 1 }), event({ wallNs: now, tid: 2 })], 1, 'good'), { jobId: `good-${crypto.randomBytes(3).toString('hex')}`, attempts: JOB_ATTEMPTS, backoff: { type: BACKOFF_TYPE }, removeOnComplete: true });

  const indexer = await startIndexer(t, env, { enroll: false });
  t.ok(await waitQueueEmpty(indexer, 60_000), 'every job completed: none waits for a retry');
  const m = await indexer.metrics();
  t.equal(m.get('filewarden_indexer_batches_poison_total'), bad.length, 'each malformed job counted once');
  t.equal(m.get('filewarden_indexer_batch_attempts_failed_total') ?? 0, 0, 'no attempt failed: nothing is retried');
  t.strictSame(await q.getJobCounts('failed', 'delayed', 'wait', 'active'), { failed: 0, delayed: 0, wait: 0, active: 0 });
  t.equal(await countIndexed(env), 2, 'the good batch after them is indexed');
  const dead = await waitForValue(async () => {
    await env.es.indices.refresh({ index: env.deadletterIndex });
    const r = await env.es.search<{ error: { type: string; reason: string }; raw: { job_id: string; job_json: string } }>({ index: env.deadletterIndex, size: 100, query: { term: { 'error.type': 'invalid-job' } } });
    return r.hits.hits.length >= bad.length ? r.hits.hits : undefined;
  }, 10_000, 100);
  t.equal(dead?.length, bad.length, 'one dead letter per malformed job');
  for (const [i, [name, data, reason]] of bad.entries()) {
    const d = dead?.find((h) => h._id === `job-${ids[i]}`)?._source;
    t.match(d?.error.reason, reason, `${name}: dead-lettered with its reason`);
    t.equal(d?.raw.job_json, JSON.stringify(data), `${name}: the job is kept as it came`);
  }
});

t.test('a document that fails its checks is dead-lettered alone, with its bytes and reason; the rest of its batch is indexed', async (t) => {
  const env = pipelineEnv(t);
  // Each batch: seq 1 good, seq 2 bad in one way.
  const cases: [string, object, RegExp][] = [
    ['a field off the contract', edited('d1', (d, i) => i === 1 && (d.process.uid = 0)), /the document of seq 2: \/process must NOT have additional properties/],
    ['a position of its own', edited('d2', (d, i) => i === 1 && (d.event.sequence = 1)), /the document of seq 2: \/event must NOT have additional properties/],
    ['another boot', edited('d3', (d, i) => i === 1 && (d.filewarden.boot_id = 'other')), /names boot other\/.* not the batch's/],
    ['a far-future time', edited('d4', (d, i) => i === 1 && (d['@timestamp'] = '2999-01-01T00:00:00.000000000Z')), /event seq 2 is stamped 2999-01-01T00:00:00.000000000Z, more than 24 h ahead/],
    ['a time that is no date', edited('d5', (d, i) => i === 1 && (d['@timestamp'] = '2026-13-45T00:00:00.000000000Z')), /stamped 2026-13-45T00:00:00.000000000Z, which is no date/],
    ['an id of its choosing', edited('d6', (d, i) => i === 1 && (d.event.id = 'someone-elses-event')), /has event.id "someone-elses-event", not /],
    ['another host', edited('d7', (d, i) => i === 1 && (d.host.name = 'elsewhere')), /seq 2 is of host "elsewhere", not the batch's "h"/],
    ['not JSON', (() => { const j = documentBatch([event({ wallNs: now, tid: 100 + ++opens })], 1, 'd8'); return encodeDocuments([decodeDocuments(j)[0]!, '{"event":'], j.boot, 'd8', 1); })(), /the document of seq 2 is not JSON/],
  ];
  const q = new Queue(env.queue, { connection: redisConnection(env.redisUrl), prefix: QUEUE_PREFIX });
  t.teardown(() => q.close());
  for (const [name, data] of cases) await q.add('batch', data, { jobId: `line-${name.replace(/\W+/g, '-')}-${crypto.randomBytes(3).toString('hex')}`, attempts: JOB_ATTEMPTS, backoff: { type: BACKOFF_TYPE }, removeOnComplete: true, removeOnFail: false });
  const indexer = await startIndexer(t, env, { enroll: false });
  t.ok(await waitQueueEmpty(indexer, 60_000), 'every batch completed');
  const m = await indexer.metrics();
  t.equal(m.get('filewarden_indexer_batches_poison_total') ?? 0, 0, 'no batch is poison: one bad document does not cost the others');
  t.equal(m.get('filewarden_indexer_events_deadlettered_total'), cases.length, 'one dead letter per bad document');
  t.equal(await countIndexed(env), cases.length, 'the good document of every batch is indexed');
  const dead = await waitForValue(async () => {
    await env.es.indices.refresh({ index: env.deadletterIndex });
    const r = await env.es.search<{ error: { type: string; reason: string }; filewarden: { seq: number; seq_stream: string }; raw: { line: string } }>({ index: env.deadletterIndex, size: 100, query: { term: { 'error.type': 'invalid-document' } } });
    return r.hits.hits.length >= cases.length ? r.hits.hits : undefined;
  }, 10_000, 100);
  for (const [i, [name, , reason]] of cases.entries()) {
    const d = dead?.find((h) => h._source!.filewarden.seq_stream === `d${i + 1}`)?._source;
    t.equal(d?.filewarden.seq, 2, `${name}: the refused document is seq 2`);
    t.match(d?.error.reason, reason, `${name}: with its reason`);
    t.ok(typeof d?.raw.line === 'string' && d.raw.line.length > 0, `${name}: and its exact bytes`);
  }
});
