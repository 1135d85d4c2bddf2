// The stack's own redis-server: loopback only, AOF on, noeviction (BullMQ loses jobs under any
// eviction policy), one password-protected ACL user and no anonymous access. Also the durability
// and authentication checks applied to any Redis a user points filewarden at.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import Redis, { type RedisOptions } from 'ioredis';
import { StackError } from './errors';
import { connectRedis, isSentinelUrl, parseSentinelUrl } from './redis-connect';
import type { StackPaths } from './paths';
import { REDIS_USER, ensureRedisPassword, redisAclConfig, withRedisCredentials } from './redis-auth';
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

/**
 * Options of a connection that tries once: no reconnection, no queue while disconnected, and
 * through Sentinels one round over them (ioredis would otherwise try them forever).
 */
export const oneShot = (timeoutMs: number): RedisOptions => ({
  lazyConnect: true,
  connectTimeout: timeoutMs,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
  sentinelRetryStrategy: () => null,
  enableOfflineQueue: false,
});

/** Connects once (no retries) and reads INFO. Throws when the server is unreachable. */
export async function probeRedis(url: string, timeoutMs = 2000): Promise<RedisDurability> {
  const client = connectRedis(url, oneShot(timeoutMs));
  // ioredis rejects with "Connection is closed." when authentication fails; the event says why.
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause ??= err));
  try {
    await client.connect();
    return judgeDurability(parseInfo(await client.info()));
  } catch (err) {
    throw cause && /^(NOAUTH|WRONGPASS|NOPERM)\b/.test(cause.message) ? cause : err;
  } finally {
    client.disconnect();
  }
}

/**
 * Whether the server at `url` answers commands from a connection that sent no credentials (the
 * URL's own user and password are ignored). True means any local user can feed or drain the queue;
 * false means it answered NOAUTH. Throws when the server cannot be reached at all.
 */
export async function acceptsAnonymous(url: string, timeoutMs = 2000): Promise<boolean> {
  if (!isSentinelUrl(url)) {
    const u = new URL(url);
    return pingsAnonymous(u.hostname, Number(u.port || 6379), u.protocol === 'rediss:', timeoutMs);
  }
  // Through Sentinels: each Sentinel that answers, then the master they name.
  const target = parseSentinelUrl(url);
  const errors: string[] = [];
  let answered = 0;
  for (const s of target.sentinels) {
    try {
      if (await pingsAnonymous(s.host, s.port, false, timeoutMs)) return true;
      answered++;
    } catch (err) {
      errors.push(`${s.host}:${s.port}: ${(err as Error).message}`);
    }
  }
  if (answered === 0) throw new Error(`no Sentinel answered (${errors.join('; ')})`);
  const master = await sentinelMaster(url, timeoutMs);
  return pingsAnonymous(master.host, master.port, false, timeoutMs);
}

/** Where the Sentinels of `url` say the master is now: the first Sentinel that answers. */
export async function sentinelMaster(url: string, timeoutMs = 2000): Promise<{ host: string; port: number }> {
  const t = parseSentinelUrl(url);
  const errors: string[] = [];
  for (const s of t.sentinels) {
    const client = new Redis({
      host: s.host,
      port: s.port,
      ...(t.username !== undefined ? { username: t.username } : {}),
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...oneShot(timeoutMs),
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const reply = (await client.call('SENTINEL', 'get-master-addr-by-name', t.name)) as [string, string] | null;
      if (reply) return { host: reply[0], port: Number(reply[1]) };
      errors.push(`${s.host}:${s.port}: monitors no master named ${t.name}`);
    } catch (err) {
      errors.push(`${s.host}:${s.port}: ${(err as Error).message}`);
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`no Sentinel named the master ${t.name} (${errors.join('; ')})`);
}

async function pingsAnonymous(host: string, port: number, useTls: boolean, timeoutMs: number): Promise<boolean> {
  // A bare PING on a fresh socket: a client library would send its own setup commands first.
  const reply = await firstReplyLine(host, port, useTls, 'PING\r\n', timeoutMs);
  if (reply.startsWith('+PONG')) return true;
  if (reply.startsWith('-NOAUTH')) return false;
  throw new Error(`unexpected reply to PING: ${reply.slice(0, 200)}`);
}

function firstReplyLine(host: string, port: number, useTls: boolean, request: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = useTls ? tls.connect({ host, port, servername: host }) : net.connect({ host, port });
    let buf = '';
    const done = (err: Error | undefined, line?: string): void => {
      sock.destroy();
      if (err) reject(err);
      else resolve(line ?? '');
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`no reply from ${host}:${port} in ${timeoutMs} ms`)));
    sock.once(useTls ? 'secureConnect' : 'connect', () => sock.write(request));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const eol = buf.indexOf('\r\n');
      if (eol >= 0) done(undefined, buf.slice(0, eol));
    });
    sock.once('error', (err) => done(err));
    sock.once('end', () => done(new Error(`${host}:${port} closed the connection without a reply`)));
  });
}

/** One redis-server's own files: the stack's Redis, its replica, or a Sentinel. */
export interface RedisMemberPaths {
  dir: string;
  conf: string;
  pid: string;
  log: string;
}

export const masterMember = (p: StackPaths): RedisMemberPaths => ({ dir: p.redisDir, conf: p.redisConf, pid: p.redisPid, log: p.redisLog });

/** The lines every redis-server the stack starts begins with: loopback only, its port, its own files. */
export function memberBaseConfig(header: string, m: RedisMemberPaths, port: number): string[] {
  return [header, `bind ${LOOPBACK}`, 'protected-mode yes', `port ${port}`, 'daemonize yes', `pidfile ${m.pid}`, `logfile ${m.log}`, `dir ${m.dir}`];
}

/** How a server of a Sentinel set replicates: `replicaOf` the master's port, or none (it is the master). */
export interface Replication {
  replicaOf?: number;
}

/**
 * redis.conf of the stack's Redis. In a Sentinel set (`replication` given) every server can become
 * a replica at any time (Sentinel demotes a master that comes back), so each one carries the
 * stack's user and password for its master (`masteruser`/`masterauth`): the password then stands in
 * this file, 0600 in the 0700 Redis directory. A lone server's file holds only its digest.
 */
export function redisConfig(m: RedisMemberPaths, port: number, password: string, replication?: Replication): string {
  return [
    ...memberBaseConfig('# Written by `filewarden stack up`; rewritten on every start.', m, port),
    // AOF with fsync every second: a Redis crash loses nothing already acknowledged (the write
    // reaches the kernel before the reply); a host power loss can lose up to one second.
    'appendonly yes',
    'appendfsync everysec',
    'aof-use-rdb-preamble yes',
    'maxmemory-policy noeviction',
    ...redisAclConfig(password),
    ...(replication ? [`masteruser ${REDIS_USER}`, `masterauth ${password}`] : []),
    ...(replication?.replicaOf !== undefined ? [`replicaof ${LOOPBACK} ${replication.replicaOf}`] : []),
    '',
  ].join('\n');
}

export const redisMarker = (port: number): string => `:${port}`;

export function redisRunning(s: RedisState | undefined): boolean {
  return s !== undefined && isOurProcess(s.pid, redisMarker(s.port));
}

/**
 * Runs redis-server with umask 077: Redis rewrites its configuration file (CONFIG REWRITE, which
 * Sentinel sends at a failover, and a Sentinel's own file at every change) as 0644 less the umask,
 * and those files may hold the password.
 */
export const runRedisServer = (args: string[]): ReturnType<typeof run> => run('sh', ['-c', 'umask 077 && exec redis-server "$@"', 'redis-server', ...args]);

/**
 * Starts the stack's Redis (or, with `o.member`, the second server of a Sentinel set; `o.replication`
 * for either server of such a set) and waits until it answers with authentication and refuses without.
 */
export async function startRedis(p: StackPaths, port: number, o: { member?: RedisMemberPaths; replication?: Replication } = {}): Promise<RedisState> {
  const m = o.member ?? masterMember(p);
  const password = ensureRedisPassword(p); // also makes the Redis directory 0700
  fs.mkdirSync(m.dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(m.dir, 0o700);
  fs.writeFileSync(m.conf, redisConfig(m, port, password, o.replication), { mode: 0o600 });
  fs.chmodSync(m.conf, 0o600);
  const res = await runRedisServer([m.conf]);
  if (res.spawnError) {
    throw new StackError('FW_STACK_REDIS_START', `cannot run redis-server: ${res.spawnError.message}`, {
      hint: 'install it with: apt-get install redis-server',
    });
  }
  if (res.code !== 0) {
    throw new StackError('FW_STACK_REDIS_START', `redis-server exited with code ${res.code}`, {
      details: [res.stderr.trim(), res.stdout.trim(), tailFile(m.log, 15)].filter(Boolean).join('\n'),
      hint: `see ${m.log}`,
    });
  }
  const url = withRedisCredentials(`redis://${LOOPBACK}:${port}`, REDIS_USER, password);
  const deadline = Date.now() + 20_000;
  let lastErr = '';
  while (Date.now() < deadline) {
    try {
      // Loading a large AOF answers LOADING until done; probeRedis fails until then.
      const d = await probeRedis(url, 1000);
      if (d.warnings.length > 0) throw new Error(d.warnings.join('; '));
      const pid = readPidFile(m.pid);
      if (!pid) throw new Error(`no pid in ${m.pid}`);
      if (await acceptsAnonymous(url, 1000)) {
        // Never leave an open Redis behind: this one was started a moment ago from our pid file.
        await stopPid(pid, 30_000);
        throw new StackError('FW_STACK_REDIS_START', `redis-server on port ${port} answered without authentication, so it was stopped`, {
          hint: `check that ${m.conf} is the configuration it read, and that no other server listens on port ${port}`,
        });
      }
      return { pid, port, host: LOOPBACK, startedAt: new Date().toISOString(), user: REDIS_USER, passwordFile: p.redisPasswordFile };
    } catch (err) {
      if (err instanceof StackError) throw err;
      lastErr = (err as Error).message;
      await sleep(100);
    }
  }
  throw new StackError('FW_STACK_REDIS_START', `redis-server on port ${port} did not become ready in 20 s: ${lastErr}`, {
    details: tailFile(m.log, 15),
    hint: `see ${m.log}`,
  });
}

export async function stopRedis(s: RedisState): Promise<string> {
  if (!redisRunning(s)) return `redis: pid ${s.pid} is not running (nothing to stop)`;
  const how = await stopPid(s.pid, 30_000);
  return `redis: pid ${s.pid} ${how}`;
}

/** A replica started by spawnReplica: its port, its process, and how to stop it. */
export interface RedisReplica {
  port: number;
  proc: ChildProcess;
  stop(): void;
}

/**
 * A redis-server replicating `masterUrl` (its user and password from the URL), on loopback, keeping
 * nothing on disk (`dir` holds only what replication writes there), in the foreground; resolves once
 * its link to the master is up. For the tests and benchmarks of `collect --redis-wait-replicas`:
 * the stack runs no replica itself yet.
 */
export async function spawnReplica(masterUrl: string, dir: string, timeoutMs = 30_000): Promise<RedisReplica> {
  const master = new URL(masterUrl);
  const port = await new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, LOOPBACK, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const proc = spawn('redis-server', ['--port', String(port), '--bind', LOOPBACK, '--dir', dir, '--save', '', '--appendonly', 'no',
    '--replicaof', master.hostname, master.port || '6379', '--masteruser', decodeURIComponent(master.username), '--masterauth', decodeURIComponent(master.password)], { stdio: 'ignore' });
  const stop = (): void => void proc.kill('SIGKILL');
  const probe = new Redis({ host: LOOPBACK, port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  probe.on('error', () => undefined);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await probe.info('replication').catch(() => '');
      if (info.includes('master_link_status:up')) return { port, proc, stop };
      if (proc.exitCode !== null || Date.now() > deadline) {
        stop();
        throw new StackError('FW_STACK_REDIS_START', `the replica on port ${port} did not link to ${master.hostname}:${master.port} in ${timeoutMs} ms`);
      }
      await sleep(100);
    }
  } finally {
    probe.disconnect();
  }
}
