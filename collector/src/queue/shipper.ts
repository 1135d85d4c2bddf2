// Hands batches to Redis in sequence order, or to the disk spool while Redis is unreachable, and
// replays the spool oldest first once Redis is back. New batches go behind the spool, never around
// it. A batch the spool cannot hold is dropped, counted and logged with its sequence range.
// Checkpoints and audit records travel the same way; they always fit (a full spool is when they
// matter most).
import { eventsIn, isBatch, type JobData } from '../batch/wire';
import type { DiskSpool } from '../spool/disk-spool';
import { type EventQueue, QueueUnavailableError } from './event-queue';

export interface ShipperStats {
  batchesQueued: number;
  eventsQueued: number;
  eventsSpooled: number;
  eventsReplayed: number;
  eventsDropped: number;
}

export interface ShipperEvents {
  /** Everything up to `last` is in Redis, in the spool, or counted as dropped. */
  acked(last: number): void;
  /** A batch was dropped (spool full): the caller should checkpoint so the loss shows at the tail too. */
  dropped?(): void;
  log(line: string): void;
}


export class Shipper {
  private readonly stats_: ShipperStats = { batchesQueued: 0, eventsQueued: 0, eventsSpooled: 0, eventsReplayed: 0, eventsDropped: 0 };
  private chain: Promise<void> = Promise.resolve();
  private replaying: Promise<void> | undefined;
  private closed = false;
  private lastFailure = '';

  constructor(
    private readonly queue: EventQueue,
    private readonly spool: DiskSpool,
    private readonly on: ShipperEvents,
    /** Pause between replay attempts while Redis is down. @defaultValue 1000 */
    private readonly retryMs = 1000,
  ) {
    if (!spool.empty) {
      const s = spool.stats();
      on.log(`spool: ${s.events} events in ${s.batches} batches from an earlier run; replaying when Redis answers`);
      this.kickReplay();
    }
  }

  stats(): ShipperStats {
    return { ...this.stats_ };
  }

  /** Queues the job behind every earlier one; the promise settles once it is acknowledged. */
  ship(d: JobData): Promise<void> {
    // Never chain onto a rejection: one unexpected failure must not skip every later batch.
    this.chain = this.chain.catch(() => undefined).then(() => this.shipOne(d));
    return this.chain;
  }

  /** Resolves when every batch handed to ship() is acknowledged (queued, spooled or dropped). */
  flushed(): Promise<void> {
    return this.chain;
  }

  /** Stops replaying; batches left in the spool stay there for the next start. */
  async close(): Promise<void> {
    await this.chain;
    this.closed = true;
    await this.replaying;
  }

  private async shipOne(d: JobData): Promise<void> {
    const checkpoint = !isBatch(d);
    if (this.spool.empty) {
      try {
        await this.queue.add(d);
        if (isBatch(d)) {
          this.stats_.batchesQueued++;
          this.stats_.eventsQueued += eventsIn(d);
          this.on.acked(d.last);
        }
        return;
      } catch (e) {
        // Whatever Redis or BullMQ answered, the batch is not queued: the spool keeps it.
        this.noteFailure(e instanceof QueueUnavailableError ? e.message : `unexpected: ${(e as Error).message}`);
      }
    }
    let spooled = false;
    let why = '';
    try {
      spooled = this.spool.append(d, checkpoint);
      if (!spooled) why = `FULL (${this.spool.stats().bytes} of ${this.spool.maxBytes} bytes)`;
    } catch (e) {
      why = `cannot write (${(e as Error).message})`;
    }
    if (spooled) {
      this.stats_.eventsSpooled += eventsIn(d);
    } else if (isBatch(d)) {
      this.stats_.eventsDropped += eventsIn(d);
      this.on.log(`spool: ${why}: dropped events seq ${d.first}..${d.last} of boot ${d.boot}`);
      this.on.dropped?.();
    } else {
      this.on.log(`spool: ${why}: ${d.kind} ${d.kind === 'checkpoint' ? `up to seq ${d.assigned}` : d.id} not kept`);
    }
    if (isBatch(d)) this.on.acked(d.last);
    this.kickReplay();
  }

  private noteFailure(msg: string): void {
    if (msg !== this.lastFailure) this.on.log(`queue: redis unavailable (${msg}); spooling to ${this.spool.dir}`);
    this.lastFailure = msg;
  }

  private kickReplay(): void {
    this.replaying ??= this.replay().finally(() => (this.replaying = undefined));
  }

  private async replay(): Promise<void> {
    while (!this.closed) {
      const head = this.spool.peek();
      if (!head) {
        if (this.lastFailure) this.on.log('queue: redis is back; spool drained');
        this.lastFailure = '';
        return;
      }
      try {
        await this.queue.add(head.data);
      } catch (e) {
        this.noteFailure(e instanceof QueueUnavailableError ? e.message : `unexpected: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, this.retryMs));
        continue;
      }
      this.spool.remove(head.name);
      if (!isBatch(head.data)) continue;
      this.stats_.eventsReplayed += eventsIn(head.data);
      this.stats_.batchesQueued++;
      this.stats_.eventsQueued += eventsIn(head.data);
    }
  }
}
