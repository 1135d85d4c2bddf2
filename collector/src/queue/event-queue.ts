// The collector's side of the BullMQ queue: adds one job per batch with a deterministic id and
// fails fast when Redis is unreachable, so the caller can spool instead of waiting.
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
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
}

export class EventQueue {
  readonly connection: IORedis;
  readonly queue: Queue;
  private readonly timeoutMs: number;

  constructor(o: EventQueueOptions) {
    // No offline queue: a command while disconnected fails at once instead of waiting for Redis.
    this.connection = new IORedis(o.redisUrl, {
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
    try {
      await Promise.race([
        this.queue.add(isBatch(data) ? 'batch' : data.kind, data, {
          jobId: jobId(data),
          attempts: JOB_ATTEMPTS,
          backoff: { type: BACKOFF_TYPE },
          removeOnComplete: true,
          removeOnFail: false,
        }),
        timeout,
      ]);
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
