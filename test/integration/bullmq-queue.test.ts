// BullMQ on the stack's Redis: a job added to a queue is processed by a worker, and a
// deterministic job id is accepted once.
import t from 'tap';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { redisConnection, uniqueName } from '../utils/stack';

t.test('a job added to a queue is processed by a worker and its result comes back', async (t) => {
  const name = uniqueName('fw-test-queue');
  const connection = redisConnection();
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  const seen: number[] = [];
  const worker = new Worker<{ n: number }, number>(
    name,
    async (job) => {
      seen.push(job.data.n);
      return job.data.n * 2;
    },
    { connection },
  );
  t.teardown(async () => {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
  });
  await events.waitUntilReady();

  const job = await queue.add('double', { n: 21 }, { jobId: 'host-a:boot-1:seq-1' });
  t.equal(job.id, 'host-a:boot-1:seq-1');
  const result = await job.waitUntilFinished(events, 30_000);
  t.equal(result, 42);
  t.same(seen, [21]);

  // The same deterministic id again is not a second job.
  const again = await queue.add('double', { n: 99 }, { jobId: 'host-a:boot-1:seq-1' });
  t.equal(again.id, 'host-a:boot-1:seq-1');
  const counts = await queue.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed');
  t.same(counts, { completed: 1, waiting: 0, active: 0, delayed: 0, failed: 0 });
  t.same(seen, [21], 'the duplicate id did not run again');
});
