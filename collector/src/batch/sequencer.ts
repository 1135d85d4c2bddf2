// Per-boot sequence numbers that survive collector restarts. A number is written to disk as
// "assigned" before any event carries it, and as "acked" once its batch is in Redis or the spool.
// A kill -9 loses at most the numbers between the two, and the next start says exactly which.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../stack/src/atomic-write';

interface SequenceFile {
  bootId: string;
  stream: string;
  /** Every number up to here was given to an event. */
  assigned: number;
  /** Every number up to here is durable (queued in Redis or spooled on disk). */
  acked: number;
}

export interface SequenceStart {
  /** The stream continues (same boot, state intact) or is new. */
  resumed: boolean;
  /**
   * Numbers given to events by the previous run of this boot that it never acknowledged: those
   * events were lost with it. [from, to] inclusive; undefined when nothing was outstanding.
   */
  unacked?: { from: number; to: number };
}

export class Sequencer {
  private readonly file: string;
  private state: SequenceFile;
  readonly start: SequenceStart;

  constructor(stateDir: string, bootId: string) {
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.file = path.join(stateDir, 'sequence.json');
    const prev = this.read();
    if (prev && prev.bootId === bootId) {
      this.state = { ...prev, acked: prev.assigned };
      this.start = { resumed: true, unacked: prev.assigned > prev.acked ? { from: prev.acked + 1, to: prev.assigned } : undefined };
    } else {
      // A new boot, or this boot's state was lost: a fresh stream keeps job ids from colliding.
      this.state = { bootId, stream: crypto.randomBytes(4).toString('hex'), assigned: 0, acked: 0 };
      this.start = { resumed: false };
    }
    this.write();
  }

  get stream(): string {
    return this.state.stream;
  }

  get assigned(): number {
    return this.state.assigned;
  }

  get acked(): number {
    return this.state.acked;
  }

  /** Reserves n numbers and returns the first; the reservation is on disk before this returns. */
  assign(n: number): number {
    const first = this.state.assigned + 1;
    this.state.assigned += n;
    this.write();
    return first;
  }

  /** Everything up to and including `last` is durable. Batches are acknowledged in order. */
  ack(last: number): void {
    if (last <= this.state.acked) return;
    this.state.acked = last;
    this.write();
  }

  private read(): SequenceFile | undefined {
    try {
      const v = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<SequenceFile>;
      if (typeof v.bootId === 'string' && typeof v.stream === 'string' && Number.isSafeInteger(v.assigned) && Number.isSafeInteger(v.acked)) {
        return v as SequenceFile;
      }
    } catch {
      // missing or unreadable: a new stream
    }
    return undefined;
  }

  // A crash leaves the old or the new state, never half of one. Not synced: it is written for every
  // batch the addon hands over, and a power loss starts a new boot, and so a new stream.
  private write(): void {
    writeFileAtomic(this.file, JSON.stringify(this.state), { perBoot: true });
  }
}
