// The indexer: a BullMQ worker that decodes each batch, maps it to ECS and bulk-writes it. A job
// completes only when every event is indexed, already there, or dead-lettered; otherwise BullMQ
// retries it with a capped backoff, so an Elasticsearch outage delays events and loses none.
import type { Client } from '@elastic/elasticsearch';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type BatchJobData, type CheckpointJobData, decodeBatch, isCheckpoint, type JobData, WireError } from '../../../collector/src/batch/wire';
import { serveMetrics, type MetricsServer } from '../../../collector/src/metrics/metrics-server';
import { BACKOFF_TYPE, DEFAULT_QUEUE, QUEUE_PREFIX } from '../../../collector/src/queue/event-queue';
import { type BulkItem, type BulkResult, BulkWriter } from '../bulk/bulk-writer';
import { toDocument } from '../ecs/event-document';
import { installTemplates } from '../ecs/index-templates';
import { INDEXER_DEFAULTS } from './defaults';

export interface IndexerOptions {
  es: Client;
  redisUrl: string;
  /** @defaultValue 'filewarden-events' */
  queue?: string;
  /** Daily indices are <prefix>-YYYY.MM.DD. @defaultValue 'filewarden-events' */
  indexPrefix?: string;
  /** @defaultValue 'filewarden-deadletter' */
  deadletterIndex?: string;
  /** @defaultValue 'filewarden-checkpoints' */
  checkpointIndex?: string;
  /** Batches indexed at once. @defaultValue 2 */
  concurrency?: number;
  /** Install the index templates at start (needs manage_index_templates). @defaultValue true */
  installTemplates?: boolean;
  /** @defaultValue 9465 */
  metricsPort?: number;
  /** @defaultValue '127.0.0.1' */
  metricsHost?: string;
  log(line: string): void;
}


export class IndexerStartError extends Error {
  override readonly name = 'IndexerStartError';
}

export class IndexNameError extends Error {
  override readonly name = 'IndexNameError';
}

/** Job retry delay: 0.5 s doubling to a 30 s cap. */
export function backoffDelay(attemptsMade: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, attemptsMade - 1));
}

export class IndexerWorker {
  readonly registry = new Registry();
  private worker: Worker | undefined;
  private queue: Queue;
  private readonly connection: IORedis;
  private readonly writer: BulkWriter;
  private metrics: MetricsServer | undefined;
  private readonly c: {
    indexed: Counter;
    duplicates: Counter;
    deadLettered: Counter;
    retried: Counter;
    batches: Counter;
    attemptsFailed: Counter;
    poison: Counter;
    checkpoints: Counter;
    latency: Histogram;
  };
  readonly prefix: string;
  readonly deadletterIndex: string;
  readonly checkpointIndex: string;

  constructor(private readonly o: IndexerOptions) {
    this.prefix = o.indexPrefix ?? INDEXER_DEFAULTS.indexPrefix;
    this.deadletterIndex = o.deadletterIndex ?? INDEXER_DEFAULTS.deadletterIndex;
    this.checkpointIndex = o.checkpointIndex ?? INDEXER_DEFAULTS.checkpointIndex;
    for (const i of [this.deadletterIndex, this.checkpointIndex]) {
      if (i.startsWith(`${this.prefix}-`)) throw new IndexNameError(`the index ${i} must not match the event indices ${this.prefix}-*`);
    }
    this.connection = new IORedis(o.redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    this.queue = new Queue(o.queue ?? DEFAULT_QUEUE, { connection: this.connection, prefix: QUEUE_PREFIX });
    this.queue.on('error', () => undefined);
    this.writer = new BulkWriter(o.es, { deadletterIndex: this.deadletterIndex });
    const r = this.registry;
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers: [r] });
    this.c = {
      indexed: counter('filewarden_indexer_events_indexed_total', 'events written to Elasticsearch (201 created)'),
      duplicates: counter('filewarden_indexer_events_duplicate_total', 'events already indexed (409 on create: a retried batch), not written twice'),
      deadLettered: counter('filewarden_indexer_events_deadlettered_total', 'events refused by Elasticsearch (4xx) and stored in the dead-letter index'),
      retried: counter('filewarden_indexer_items_retried_total', 'document writes repeated after a 429 or 5xx'),
      batches: counter('filewarden_indexer_batches_total', 'batches (jobs) completed'),
      attemptsFailed: counter('filewarden_indexer_batch_attempts_failed_total', 'batch attempts that failed and will be retried (Elasticsearch unavailable or overloaded)'),
      poison: counter('filewarden_indexer_batches_poison_total', 'batches that can never be decoded, left in the failed set for inspection'),
      checkpoints: counter('filewarden_indexer_checkpoints_total', 'sequence checkpoints recorded (highest number a collector gave out)'),
      latency: new Histogram({
        name: 'filewarden_indexer_event_latency_seconds',
        help: 'from the open (event time) to Elasticsearch acknowledging the write',
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
        registers: [r],
      }),
    };
    const queue = this.queue;
    new Gauge({
      name: 'filewarden_queue_jobs',
      help: 'jobs in the queue by state',
      labelNames: ['state'],
      registers: [r],
      async collect() {
        const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'failed', 'prioritized');
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
  }

  async start(): Promise<void> {
    try {
      if (this.o.installTemplates ?? true) {
        await installTemplates(this.o.es, { indexPrefix: this.prefix, deadletterIndex: this.deadletterIndex, checkpointIndex: this.checkpointIndex }).catch((e: Error) => {
          throw new IndexerStartError(`cannot install the index templates: ${e.message}`);
        });
      }
      this.metrics = await serveMetrics(this.registry, this.o.metricsPort ?? INDEXER_DEFAULTS.metricsPort, this.o.metricsHost ?? INDEXER_DEFAULTS.metricsHost);
    } catch (e) {
      // Close what is open so the process exits with the error (a supervisor restarts it).
      await this.queue.close().catch(() => undefined);
      this.connection.disconnect();
      throw e;
    }
    this.worker = new Worker<JobData, BulkResult | undefined>(this.queue.name, (job) => (isCheckpoint(job.data) ? this.checkpoint(job.data) : this.process(job as Job<BatchJobData, BulkResult>)), {
      connection: this.connection,
      prefix: QUEUE_PREFIX,
      concurrency: this.o.concurrency ?? INDEXER_DEFAULTS.concurrency,
      // A killed indexer's jobs return to the queue after the lock expires; a stall is never the job's fault.
      lockDuration: 15_000,
      stalledInterval: 5_000,
      maxStalledCount: 1_000_000,
      settings: { backoffStrategy: (attemptsMade: number, type?: string) => (type === BACKOFF_TYPE ? backoffDelay(attemptsMade) : 1000) },
    });
    this.worker.on('error', (e) => this.o.log(`index: worker error: ${e.message}`));
    this.worker.on('failed', (job, e) => {
      if (e instanceof UnrecoverableError || e.name === 'UnrecoverableError') {
        this.c.poison.inc();
        this.o.log(`index: batch ${job?.id} can never be indexed, left in the failed set: ${e.message}`);
      } else {
        this.c.attemptsFailed.inc();
        this.o.log(`index: batch ${job?.id} attempt ${job?.attemptsMade} failed, will retry: ${e.message}`);
      }
    });
    this.o.log(`index: queue ${this.queue.name} -> ${this.prefix}-YYYY.MM.DD (dead letters: ${this.deadletterIndex}, checkpoints: ${this.checkpointIndex}); metrics ${this.metrics.url}`);
  }

  /** Finishes the jobs in hand, then stops. */
  async stop(): Promise<void> {
    await this.worker?.close();
    await this.queue.close().catch(() => undefined);
    this.connection.disconnect();
    await this.metrics?.close();
  }

  /** Keeps the highest number per stream: external versioning refuses a lower one with 409. */
  private async checkpoint(d: CheckpointJobData): Promise<undefined> {
    try {
      await this.o.es.index({
        index: this.checkpointIndex,
        id: `${d.boot}-${d.stream}`,
        version: d.assigned,
        version_type: 'external_gte',
        document: { '@timestamp': new Date().toISOString(), host: { name: d.host }, filewarden: { boot_id: d.boot, seq_stream: d.stream, seq_assigned: d.assigned } },
      });
    } catch (e) {
      if ((e as { meta?: { statusCode?: number } }).meta?.statusCode !== 409) throw e;
    }
    this.c.checkpoints.inc();
    return undefined;
  }

  private async process(job: Job<BatchJobData, BulkResult>): Promise<BulkResult> {
    let items: BulkItem[];
    try {
      const b = decodeBatch(job.data);
      const stream = job.data.stream;
      items = b.events.map((w) => {
        const { index, id, doc } = toDocument(b, stream, w, this.prefix);
        return { index, id, doc, raw: w, seq: w.q, stream, bootId: b.host.bootId };
      });
    } catch (e) {
      if (e instanceof WireError) throw new UnrecoverableError(e.message);
      throw e;
    }
    const r = await this.writer.write(items);
    const now = Date.now();
    // Wall time in ms from the wire's ns string: cheaper than parsing @timestamp back.
    for (const i of items) this.c.latency.observe((now - Number(i.raw.w.slice(0, -6))) / 1000);
    this.c.indexed.inc(r.indexed);
    this.c.duplicates.inc(r.duplicates);
    this.c.deadLettered.inc(r.deadLettered);
    this.c.retried.inc(r.retried);
    this.c.batches.inc();
    return r;
  }
}
