// A rule glob that made the old RegExp backtrack for over a minute on one long path held the
// indexer's event loop past its job lock: the batch stalled and ran again. Here the real indexer,
// with that rule, gets the 1,419-byte failed open in one batch and completes it on its first
// attempt, lock kept, the event indexed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import t from 'tap';
import { BACKOFF_TYPE, JOB_ATTEMPTS, QUEUE_PREFIX } from '../../../contract/src/queue';
import { tempDir } from '../../utils/kernel';
import { pipelineEnv, readIndexed, startIndexer, stopService, waitForValue } from '../../utils/pipeline';
import { redisConnection } from '../../utils/stack';
import { documentBatch, event } from '../../utils/wire-fixtures';

/** The indexer's BullMQ lock (indexer-worker.ts): a batch held longer than this stalls and runs again. */
const LOCK_MS = 15_000;

t.test('an indexer fed the 1,419-byte failed open keeps its lock', async (t) => {
  const env = pipelineEnv(t);
  const glob = '/**/a/**/a/**/a/**/zzz';
  const rules = path.join(tempDir(t, 'fw-glob-redos-'), 'redos.yaml');
  fs.writeFileSync(rules, ['version: 1', 'rules:', '  - id: glob-redos', '    name: the backtracking glob', `    match: {path: '${glob}'}`, '    action: alert', ''].join('\n'));

  const failedPath = '/a'.repeat(709) + 'a';
  t.equal(Buffer.byteLength(failedPath), 1419, 'the failed open is 1,419 bytes');
  const hitPath = '/a'.repeat(700) + '/zzz';
  const now = BigInt(Date.now()) * 1_000_000n;
  const open = (p: string, ret: number, tid: number) =>
    event({ wallNs: now, tid, ret, openFlags: 0, path: Buffer.from(p), resolvedPath: Buffer.from(p), pathResolved: true, resolution: 'kernel', pathOrigLen: Buffer.byteLength(p), pathUnjudged: false, hasFile: ret >= 0 });
  // The failed open (ENOENT) first; the second event matches the rule, so the rule is seen to run.
  const data = documentBatch([open(failedPath, -2, 1), open(hitPath, 3, 2)], 1, `redos${crypto.randomBytes(3).toString('hex')}`);

  const q = new Queue(env.queue, { connection: redisConnection(env.redisUrl), prefix: QUEUE_PREFIX });
  t.teardown(() => q.close());
  const id = `redos-${crypto.randomBytes(4).toString('hex')}`;
  // The collector's retry settings, but the finished job is kept so its attempts can be read.
  await q.add('batch', data, { jobId: id, attempts: JOB_ATTEMPTS, backoff: { type: BACKOFF_TYPE }, removeOnComplete: false, removeOnFail: false });

  const indexer = await startIndexer(t, env, { extra: ['--rules', rules] });
  const state = await waitForValue(async () => {
    const s = await q.getJobState(id);
    return s === 'completed' || s === 'failed' ? s : undefined;
  }, 60_000, 200);
  t.equal(state, 'completed', 'the batch completes');
  const job = (await q.getJob(id))!;
  t.strictSame(
    { attemptsStarted: job.attemptsStarted, attemptsMade: job.attemptsMade, stalledCounter: job.stalledCounter },
    { attemptsStarted: 1, attemptsMade: 1, stalledCounter: 0 },
    'on its first attempt, never stalled',
  );
  t.ok(job.finishedOn! - job.processedOn! < LOCK_MS, `processed in ${job.finishedOn! - job.processedOn!} ms, within the ${LOCK_MS} ms lock`);
  t.strictSame(await q.getJobCounts('failed', 'delayed', 'wait', 'active'), { failed: 0, delayed: 0, wait: 0, active: 0 }, 'nothing failed, retried or left');
  t.notMatch(indexer.log(), /stall|\block\b|attempt \d+ failed|worker error/i, 'no stalled, lost-lock, retry or worker-error line in the log');

  const docs = await readIndexed(env);
  t.strictSame(docs.map((d) => d.path).sort(), [failedPath, hitPath].sort(), 'both events are indexed, the failed open with its whole path');
  await env.es.indices.refresh({ index: env.alertIndex });
  const alerts = await env.es.search<{ rule: { id: string }; file: { path: string } }>({ index: env.alertIndex, size: 100 });
  // Only this rule's alerts: the indexer may raise others of its own about the batch (an unsigned source).
  t.strictSame(
    alerts.hits.hits.filter((h) => h._source!.rule.id === 'glob-redos').map((h) => h._source!.file.path),
    [hitPath],
    'the rule ran: it alerts on the matching open and not on the failed one',
  );
  await stopService(t, indexer, 'the indexer');
});
