// The stack's own redis-server: loopback only, AOF on, noeviction (BullMQ loses jobs under any
// eviction policy). Also the durability check applied to any Redis a user points filewarden at.
import fs from 'node:fs';
import Redis from 'ioredis';
import { StackError } from './errors';
import type { StackPaths } from './paths';
import { LOOPBACK } from './ports';
import { isOurProcess, readPidFile, run, sleep, stopPid, tailFile } from './processes';
import type { RedisState } from './state';

export const REDIS_DEFAULT_PORT = 6380;

/** What INFO says about a Redis server's ability to keep queued events. */
export interface RedisDurability {
  version: string;
  aofEnabled: boolean;
  maxmemoryPolicy: string;
  /** Loud warnings: each one is a way queued audit events can be lost. */
  warnings: string[];
}

export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** Judges durability from INFO alone, which managed Redis services allow even when CONFIG is off. */
export function judgeDurability(info: Map<string, string>): RedisDurability {
  const policy = info.get('maxmemory_policy') ?? 'unknown';
  const aof = info.get('aof_enabled') === '1';
  const warnings: string[] = [];
  if (policy !== 'noeviction') {
    warnings.push(
      `maxmemory-policy is ${policy}: Redis may evict queued events under memory pressure; set maxmemory-policy noeviction`,
    );
  }
  if (!aof) {
    // RDB snapshots alone lose everything written since the last snapshot on a crash.
    const lastSave = info.get('rdb_last_save_time');
    const changes = info.get('rdb_changes_since_last_save');
    warnings.push(
      `appendonly is off: queued events do not survive a Redis restart` +
        (lastSave ? ` (last RDB save at ${new Date(Number(lastSave) * 1000).toISOString()}, ${changes ?? '?'} changes since)` : '') +
        '; set appendonly yes',
    );
  }
  return {
    version: info.get('redis_version') ?? 'unknown',
    aofEnabled: aof,
    maxmemoryPolicy: policy,
    warnings,
  };
}

/** Connects once (no retries) and reads INFO. Throws when the server is unreachable. */
export async function probeRedis(url: string, timeoutMs = 2000): Promise<RedisDurability> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => {}); // surfaced through the rejected promise below
  try {
    await client.connect();
    return judgeDurability(parseInfo(await client.info()));
  } finally {
    client.disconnect();
  }
}

export function redisConfig(p: StackPaths, port: number): string {
  return [
    '# Written by `filewarden stack up`; rewritten on every start.',
    `bind ${LOOPBACK}`,
    'protected-mode yes',
    `port ${port}`,
    'daemonize yes',
    `pidfile ${p.redisPid}`,
    `logfile ${p.redisLog}`,
    `dir ${p.redisDir}`,
    // AOF with fsync every second: a Redis crash loses nothing already acknowledged (the write
    // reaches the kernel before the reply); a host power loss can lose up to one second.
    'appendonly yes',
    'appendfsync everysec',
    'aof-use-rdb-preamble yes',
    'maxmemory-policy noeviction',
    '',
  ].join('\n');
}

const redisMarker = (port: number): string => `:${port}`;

export function redisRunning(s: RedisState | undefined): boolean {
  return s !== undefined && isOurProcess(s.pid, redisMarker(s.port));
}

export async function startRedis(p: StackPaths, port: number): Promise<RedisState> {
  fs.mkdirSync(p.redisDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(p.redisConf, redisConfig(p, port));
  const res = await run('redis-server', [p.redisConf]);
  if (res.spawnError) {
    throw new StackError('FW_STACK_REDIS_START', `cannot run redis-server: ${res.spawnError.message}`, {
      hint: 'install it with: apt-get install redis-server',
    });
  }
  if (res.code !== 0) {
    throw new StackError('FW_STACK_REDIS_START', `redis-server exited with code ${res.code}`, {
      details: [res.stderr.trim(), res.stdout.trim(), tailFile(p.redisLog, 15)].filter(Boolean).join('\n'),
      hint: `see ${p.redisLog}`,
    });
  }
  const url = `redis://${LOOPBACK}:${port}`;
  const deadline = Date.now() + 20_000;
  let lastErr = '';
  while (Date.now() < deadline) {
    try {
      // Loading a large AOF answers LOADING until done; probeRedis fails until then.
      const d = await probeRedis(url, 1000);
      if (d.warnings.length > 0) throw new Error(d.warnings.join('; '));
      const pid = readPidFile(p.redisPid);
      if (!pid) throw new Error(`no pid in ${p.redisPid}`);
      return { pid, port, host: LOOPBACK, startedAt: new Date().toISOString() };
    } catch (err) {
      lastErr = (err as Error).message;
      await sleep(100);
    }
  }
  throw new StackError('FW_STACK_REDIS_START', `redis-server on port ${port} did not become ready in 20 s: ${lastErr}`, {
    details: tailFile(p.redisLog, 15),
    hint: `see ${p.redisLog}`,
  });
}

export async function stopRedis(s: RedisState): Promise<string> {
  if (!redisRunning(s)) return `redis: pid ${s.pid} is not running (nothing to stop)`;
  const how = await stopPid(s.pid, 30_000);
  return `redis: pid ${s.pid} ${how}`;
}
