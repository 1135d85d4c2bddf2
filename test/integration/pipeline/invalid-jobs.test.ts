// Jobs are validated at the door: a job that is null, has a non-numeric 64-bit field, a timestamp
// far in the future, an unknown kind, a corrupt or oversized body, or a header that does not match
// its events is dead-lettered whole, with its reason, on its first attempt (no retry for a month),
// and the batches after it are indexed.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { Queue } from 'bullmq';
import t from 'tap';
import { BACKOFF_TYPE, JOB_ATTEMPTS, QUEUE_PREFIX } from '../../../collector/src/queue/event-queue';
import { encodeBatch, MAX_BATCH_JSON_BYTES, type WireBatch } from '../../../collector/src/batch/wire';
import { countIndexed, pipelineEnv, startIndexer, waitForValue, waitQueueEmpty } from '../../utils/pipeline';
import { redisConnection } from '../../utils/stack';
import { batchOf, event } from '../../utils/wire-fixtures';

const now = BigInt(Date.now()) * 1_000_000n;
const good = (first: number): WireBatch => batchOf([event({ wallNs: now, tid: first }), event({ wallNs: now, tid: first + 1 })], first);
const z = (v: unknown): string => zlib.deflateRawSync(JSON.stringify(v)).toString('base64');

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
  await q.add('batch', encodeBatch(good(1), 'good'), { jobId: `good-${crypto.randomBytes(3).toString('hex')}`, attempts: JOB_ATTEMPTS, backoff: { type: BACKOFF_TYPE }, removeOnComplete: true });

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
