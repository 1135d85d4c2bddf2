// The collector's side of the BullMQ queue: adds one job per batch with a deterministic id and
// fails fast when Redis is unreachable, so the caller can spool instead of waiting.
import { Queue } from 'bullmq';
import type IORedis from 'ioredis';
import { connectRedis } from '../../../stack/src/redis-connect';
import { BACKOFF_TYPE, DEFAULT_QUEUE, JOB_ATTEMPTS, QUEUE_PREFIX } from '../../../contract/src/queue';
import { isBatch, jobId, type JobData } from '../../../contract/src/wire';


export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
}

export interface EventQueueOptions {
  redisUrl: string;
  /** @defaultValue 'filewarden-events' */
  queue?: string;
  /** An add that takes longer counts as failed (the batch is spooled). @defaultValue 5000 */
  addTimeoutMs?: number;
  /**
   * A job counts as added only once this many replicas have it (Redis `WAIT`, on the connection that
   * added it): Redis replication is asynchronous, and a failover loses what no replica has yet.
   * Fewer within `waitMs` means not acknowledged: the batch is spooled and added again later (its
   * job id keeps that from making a second job). @defaultValue 0 (Redis's own acknowledgement)
   */
  waitReplicas?: number;
  /** @defaultValue 1000 */
  waitMs?: number;
}

/** Too few replicas had a job within the wait: it is not acknowledged. */
export class ReplicaWaitError extends Error {
  override readonly name = 'ReplicaWaitError';
}

export class EventQueue {
  readonly connection: IORedis;
  readonly queue: Queue;
  private readonly timeoutMs: number;
  private readonly waitReplicas: number;
  private readonly waitMs: number;
  private waitShortfalls = 0;

  constructor(o: EventQueueOptions) {
    // No offline queue: a command while disconnected fails at once instead of waiting for Redis.
    this.connection = connectRedis(o.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 1000),
      lazyConnect: false,
    });
    // ioredis logs unhandled 'error' events; connection state is reported through metrics instead.
    this.connection.on('error', () => undefined);
    this.queue = new Queue(o.queue ?? DEFAULT_QUEUE, { connection: this.connection, prefix: QUEUE_PREFIX });
    this.queue.on('error', () => undefined);
    this.timeoutMs = o.addTimeoutMs ?? 5000;
    this.waitReplicas = o.waitReplicas ?? 0;
    this.waitMs = o.waitMs ?? 1000;
  }

  /** Adds whose WAIT found fewer replicas than asked (each one spooled). */
  get replicaWaitShortfalls(): number {
    return this.waitShortfalls;
  }

  /** Resolves once Redis answers, or after `timeoutMs` (then adds fail fast and batches spool). */
  ready(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.connection.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.connection.once('ready', done);
    });
  }

  get connected(): boolean {
    return this.connection.status === 'ready';
  }

  /** Adds a batch or checkpoint as a job; resolves once Redis has it. Rejects with QueueUnavailableError. */
  async add(data: JobData): Promise<void> {
    if (!this.connected) throw new QueueUnavailableError(`redis is ${this.connection.status}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueueUnavailableError(`redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    const add = async (): Promise<void> => {
      await this.queue.add(isBatch(data) ? 'batch' : data.kind, data, {
        jobId: jobId(data),
        attempts: JOB_ATTEMPTS,
        backoff: { type: BACKOFF_TYPE },
        removeOnComplete: true,
        removeOnFail: false,
      });
      if (this.waitReplicas === 0) return;
      // WAIT counts the replicas that have every write this connection made so far: the add's too
      // (BullMQ's queue wraps this connection, it does not open its own).
      const have = await this.connection.wait(this.waitReplicas, this.waitMs);
      if (have < this.waitReplicas) {
        this.waitShortfalls++;
        throw new ReplicaWaitError(`only ${have} of ${this.waitReplicas} Redis replicas had the job within ${this.waitMs} ms (WAIT): not acknowledged`);
      }
    };
    try {
      await Promise.race([add(), timeout]);
    } catch (e) {
      if (e instanceof QueueUnavailableError) throw e;
      throw new QueueUnavailableError((e as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.connection.disconnect();
  }
}
