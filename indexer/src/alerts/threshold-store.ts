// Counts for threshold rules, kept in Redis so they survive an indexer restart and are shared by
// every indexer. Members are event ids: a retried batch adds nothing twice.
import type IORedis from 'ioredis';

export interface WindowCount {
  count: number;
  /** Up to 100 event ids in the window, oldest first. */
  members: string[];
}

export interface Suppression {
  tsMs: number;
  alertId: string;
}

export interface ThresholdStore {
  /** Adds the event and counts the group's events in (tsMs - windowMs, tsMs]. */
  record(key: string, tsMs: number, member: string, windowMs: number): Promise<WindowCount>;
  suppression(key: string): Promise<Suppression | undefined>;
  suppress(key: string, s: Suppression, windowMs: number): Promise<void>;
}

export class RedisThresholdStore implements ThresholdStore {
  constructor(
    private readonly redis: IORedis,
    private readonly prefix = 'filewarden:threshold',
  ) {}

  async record(key: string, tsMs: number, member: string, windowMs: number): Promise<WindowCount> {
    const k = `${this.prefix}:count:${key}`;
    const from = `(${tsMs - windowMs}`;
    const r = await this.redis
      .multi()
      .zadd(k, tsMs, member)
      // Events arrive nearly in time order: keep two windows, enough for stragglers from another CPU.
      .zremrangebyscore(k, '-inf', `(${tsMs - 2 * windowMs}`)
      .zcount(k, from, tsMs)
      .zrangebyscore(k, from, tsMs, 'LIMIT', 0, 100)
      .pexpire(k, 2 * windowMs)
      .exec();
    if (!r) throw new Error('redis: threshold transaction aborted');
    for (const [e] of r) if (e) throw e;
    return { count: r[2]![1] as number, members: r[3]![1] as string[] };
  }

  async suppression(key: string): Promise<Suppression | undefined> {
    const v = await this.redis.get(`${this.prefix}:sup:${key}`);
    return v ? (JSON.parse(v) as Suppression) : undefined;
  }

  async suppress(key: string, s: Suppression, windowMs: number): Promise<void> {
    await this.redis.set(`${this.prefix}:sup:${key}`, JSON.stringify(s), 'PX', 2 * windowMs);
  }
}

/** The same counting in memory: `filewarden rules test` and unit tests. */
export class MemoryThresholdStore implements ThresholdStore {
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly sups = new Map<string, Suppression>();

  async record(key: string, tsMs: number, member: string, windowMs: number): Promise<WindowCount> {
    const m = this.counts.get(key) ?? new Map<string, number>();
    this.counts.set(key, m);
    m.set(member, tsMs);
    const inside = [...m].filter(([, t]) => t > tsMs - windowMs && t <= tsMs).sort((a, b) => a[1] - b[1]);
    return { count: inside.length, members: inside.slice(0, 100).map(([id]) => id) };
  }

  async suppression(key: string): Promise<Suppression | undefined> {
    return this.sups.get(key);
  }

  async suppress(key: string, s: Suppression): Promise<void> {
    this.sups.set(key, s);
  }
}
