// A bounded on-disk FIFO of batches for when Redis is unreachable. One file per batch, named by a
// counter so a directory listing is the order; written to a temporary name, fsynced and renamed,
// so a crash leaves whole batches only. What does not fit is refused, and the caller counts it.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../stack/src/atomic-write';
import { eventsIn, type JobData } from '../../../contract/src/wire';

const SUFFIX = '.batch';
const NAME = /^(\d{16})\.batch$/;

export interface SpoolEntry {
  name: string;
  data: JobData;
}

export interface SpoolStats {
  batches: number;
  events: number;
  bytes: number;
}

export class DiskSpool {
  private readonly names: string[] = [];
  private readonly sizes = new Map<string, { bytes: number; events: number }>();
  private next = 1;
  private bytes = 0;
  private events = 0;

  /** @param maxBytes the spool refuses a batch that would take it past this size */
  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of fs.readdirSync(dir).sort()) {
      const m = NAME.exec(f);
      if (!m) {
        // A temporary file from a crash mid-write: that batch was never acknowledged.
        if (f.endsWith('.tmp')) fs.rmSync(path.join(dir, f), { force: true });
        continue;
      }
      const full = path.join(dir, f);
      const data = this.load(full);
      const bytes = fs.statSync(full).size;
      this.names.push(f);
      this.sizes.set(f, { bytes, events: eventsIn(data) });
      this.bytes += bytes;
      this.events += eventsIn(data);
      this.next = Number(m[1]) + 1;
    }
  }

  get empty(): boolean {
    return this.names.length === 0;
  }

  stats(): SpoolStats {
    return { batches: this.names.length, events: this.events, bytes: this.bytes };
  }

  /**
   * Appends a job durably; false when it does not fit (nothing is written then). `force` is for
   * checkpoints: a few hundred bytes that record a loss must not be lost to the same full spool.
   * Throws when the disk refuses the write (no space, read-only); nothing is left behind then.
   */
  append(data: JobData, force = false): boolean {
    const text = JSON.stringify(data);
    const bytes = Buffer.byteLength(text);
    if (!force && this.bytes + bytes > this.maxBytes) return false;
    const name = String(this.next++).padStart(16, '0') + SUFFIX;
    // A full or failing disk throws, and leaves no partial file behind to fill it further.
    writeFileAtomic(path.join(this.dir, name), text, { mode: 0o600 });
    const events = eventsIn(data);
    this.names.push(name);
    this.sizes.set(name, { bytes, events });
    this.bytes += bytes;
    this.events += events;
    return true;
  }

  /** The oldest batch, without removing it. */
  peek(): SpoolEntry | undefined {
    const name = this.names[0];
    return name === undefined ? undefined : { name, data: this.load(path.join(this.dir, name)) };
  }

  /** Removes the oldest batch once it is safely elsewhere. */
  remove(name: string): void {
    if (this.names[0] !== name) throw new Error(`spool: ${name} is not the oldest batch`);
    fs.rmSync(path.join(this.dir, name), { force: true });
    this.names.shift();
    const s = this.sizes.get(name)!;
    this.sizes.delete(name);
    this.bytes -= s.bytes;
    this.events -= s.events;
  }

  private load(file: string): JobData {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as JobData;
  }
}
