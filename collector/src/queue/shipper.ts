// Hands batches to Redis in sequence order, or to the disk spool while Redis is unreachable, and
// replays the spool oldest first once Redis is back. New batches go behind the spool, never around
// it. A batch the spool cannot hold is dropped, counted by cause (spool full or unwritable) and
// logged with its sequence range. Checkpoints and audit records travel the same way; they always
// fit a spool that is only full (a full spool is when they matter most).
// The log says what changed, once: Redis going away and coming back, the spool failing and
// recovering, the spool drained. Never a line per batch except for the drops themselves.
import { eventsIn, isBatch, type JobData } from '../../../contract/src/wire';
import type { DiskSpool } from '../spool/disk-spool';
import { type EventQueue, QueueUnavailableError } from './event-queue';

export interface ShipperStats {
  batchesQueued: number;
  eventsQueued: number;
  eventsSpooled: number;
  eventsReplayed: number;
  /** All events dropped: the sum of the two causes below. */
  eventsDropped: number;
  /** Dropped because the spool had reached --spool-max-bytes. */
  eventsDroppedSpoolFull: number;
  /** Dropped because writing to the spool failed (no space left on the disk, read-only, ...). */
  eventsDroppedSpoolUnwritable: number;
}

export interface ShipperEvents {
  /** Everything up to `last` is in Redis, in the spool, or counted as dropped. */
  acked(last: number): void;
  /** A batch was dropped (spool full or unwritable): the caller should checkpoint so the loss shows at the tail too. */
  dropped?(): void;
  log(line: string): void;
}

/** Why the spool refused a job; `undefined` when it took it. */
type SpoolRefusal = { cause: 'full' | 'unwritable'; detail: string };

export class Shipper {
  private readonly stats_: ShipperStats = { batchesQueued: 0, eventsQueued: 0, eventsSpooled: 0, eventsReplayed: 0, eventsDropped: 0, eventsDroppedSpoolFull: 0, eventsDroppedSpoolUnwritable: 0 };
  private chain: Promise<void> = Promise.resolve();
  private replaying: Promise<void> | undefined;
  private closed = false;
  /** Why Redis refused the last add, while it is unavailable; undefined while it takes jobs. */
  private redisDown: string | undefined;
  /** Redis came back during this outage's replay: said together with "spool drained". */
  private redisBack = false;
  /** The last spool write error, while writes fail. */
  private spoolFailing: string | undefined;

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
    // Behind a non-empty spool a job waits its turn even when Redis is up: order comes first.
    const behindSpool = !this.spool.empty;
    if (!behindSpool) {
      try {
        await this.queue.add(d);
        this.redisAnswered();
        if (isBatch(d)) {
          this.stats_.batchesQueued++;
          this.stats_.eventsQueued += eventsIn(d);
          this.on.acked(d.last);
        }
        return;
      } catch (e) {
        // Whatever Redis or BullMQ answered, the batch is not queued: the spool keeps it.
        this.redisFailed(e);
      }
    }
    const refused = this.append(d, checkpoint);
    if (!refused) {
      this.stats_.eventsSpooled += eventsIn(d);
    } else if (isBatch(d)) {
      const n = eventsIn(d);
      this.stats_.eventsDropped += n;
      if (refused.cause === 'full') this.stats_.eventsDroppedSpoolFull += n;
      else this.stats_.eventsDroppedSpoolUnwritable += n;
      const why = behindSpool ? 'behind the spool being replayed' : `redis unavailable: ${this.redisDown ?? 'unknown'}`;
      this.on.log(`spool: ${refused.detail}: dropped events seq ${d.first}..${d.last} of boot ${d.boot} (${why})`);
      this.on.dropped?.();
    } else if (d.kind === 'audit' || refused.cause === 'full') {
      // An audit record is one enforcement decision: each loss is named. A full spool never refuses a checkpoint.
      this.on.log(`spool: ${refused.detail}: ${d.kind} ${d.kind === 'checkpoint' ? `up to seq ${d.assigned}` : d.id} not kept`);
    }
    if (isBatch(d)) this.on.acked(d.last);
    this.kickReplay();
  }

  /** Appends to the spool; says why not when it cannot. Logs a write failure once, and the recovery. */
  private append(d: JobData, force: boolean): SpoolRefusal | undefined {
    try {
      if (!this.spool.append(d, force)) return { cause: 'full', detail: `FULL (${this.spool.stats().bytes} of ${this.spool.maxBytes} bytes)` };
    } catch (e) {
      const msg = (e as Error).message;
      if (this.spoolFailing === undefined) this.on.log(`spool: cannot write to ${this.spool.dir} (${msg}): batches that Redis does not take are dropped, and checkpoints are not kept, until it can`);
      this.spoolFailing = msg;
      return { cause: 'unwritable', detail: `cannot write (${msg})` };
    }
    if (this.spoolFailing !== undefined) this.on.log(`spool: ${this.spool.dir} is writable again`);
    this.spoolFailing = undefined;
    return undefined;
  }

  /** Redis took a job: the end of an outage, if there was one. */
  private redisAnswered(): void {
    if (this.redisDown === undefined) return;
    this.redisDown = undefined;
    // With batches in the spool, "back" is said with "drained" once the replay ends.
    if (this.spool.empty && !this.replaying) this.on.log('queue: redis is back');
    else this.redisBack = true;
  }

  private redisFailed(e: unknown): void {
    const msg = e instanceof QueueUnavailableError ? e.message : `unexpected: ${(e as Error).message}`;
    if (this.redisDown === undefined) this.on.log(`queue: redis unavailable (${msg}); spooling to ${this.spool.dir}`);
    this.redisDown = msg;
    this.redisBack = false;
  }

  private kickReplay(): void {
    if (this.spool.empty) return;
    this.replaying ??= this.replay().finally(() => (this.replaying = undefined));
  }

  private async replay(): Promise<void> {
    let events = 0;
    let batches = 0;
    while (!this.closed) {
      const head = this.spool.peek();
      if (!head) {
        if (batches > 0 || this.redisBack) {
          const what = `${events} events in ${batches} batches replayed`;
          this.on.log(this.redisBack ? `queue: redis is back; spool drained (${what})` : `spool: drained (${what})`);
        }
        this.redisBack = false;
        return;
      }
      try {
        await this.queue.add(head.data);
      } catch (e) {
        this.redisFailed(e);
        await new Promise((r) => setTimeout(r, this.retryMs));
        continue;
      }
      this.redisAnswered();
      this.spool.remove(head.name);
      if (!isBatch(head.data)) continue;
      batches++;
      events += eventsIn(head.data);
      this.stats_.eventsReplayed += eventsIn(head.data);
      this.stats_.batchesQueued++;
      this.stats_.eventsQueued += eventsIn(head.data);
    }
  }
}
