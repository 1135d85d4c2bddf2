// `stack up --redis-sentinel`: the stack's Redis gets a replica (AOF on, like it) and three
// Sentinels (quorum 2) that promote the replica when the master dies. Clients then use a
// `redis-sentinel://` URL and follow the master through a failover.
import Redis from 'ioredis';
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from './errors';
import type { StackPaths } from './paths';
import { LOOPBACK } from './ports';
import { isOurProcess, readPidFile, sleep, stopPid, tailFile } from './processes';
import { memberBaseConfig, oneShot, probeRedis, redisMarker, runRedisServer, sentinelMaster, type RedisMemberPaths } from './redis';
import { REDIS_USER, ensureRedisPassword, redisAclConfig, withRedisCredentials } from './redis-auth';
import { SENTINEL_MASTER_NAME, connectRedis, parseSentinelUrl } from './redis-connect';
import type { RedisMember, RedisState } from './state';

export const SENTINEL_COUNT = 3;
export const SENTINEL_QUORUM = 2;
/** How long the master may be silent before a Sentinel calls it down. */
export const SENTINEL_DOWN_AFTER_MS = 3000;

export const replicaMember = (p: StackPaths): RedisMemberPaths => {
  const dir = path.join(p.redisDir, 'replica');
  return { dir, conf: path.join(dir, 'redis.conf'), pid: path.join(dir, 'redis.pid'), log: path.join(dir, 'redis.log') };
};

export const sentinelMember = (p: StackPaths, i: number): RedisMemberPaths => {
  const dir = path.join(p.redisDir, `sentinel-${i}`);
  return { dir, conf: path.join(dir, 'sentinel.conf'), pid: path.join(dir, 'sentinel.pid'), log: path.join(dir, 'sentinel.log') };
};

/**
 * sentinel.conf. Sentinel rewrites this file as it learns (its peers, the current master), so it is
 * written only when the Sentinel starts from nothing. The password stands in it (0600, kept so by
 * the umask the Sentinel runs under): a Sentinel needs it to reach the servers and its peers. Its
 * own ACL refuses anonymous clients.
 */
export function sentinelConfig(m: RedisMemberPaths, port: number, masterPort: number, password: string): string {
  return [
    ...memberBaseConfig('# Written by `filewarden stack up --redis-sentinel` at the first start; Sentinel keeps it up to date.', m, port),
    ...redisAclConfig(password),
    `sentinel sentinel-user ${REDIS_USER}`,
    `sentinel sentinel-pass ${password}`,
    `sentinel monitor ${SENTINEL_MASTER_NAME} ${LOOPBACK} ${masterPort} ${SENTINEL_QUORUM}`,
    `sentinel auth-user ${SENTINEL_MASTER_NAME} ${REDIS_USER}`,
    `sentinel auth-pass ${SENTINEL_MASTER_NAME} ${password}`,
    `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${SENTINEL_DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 20000`,
    `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
    '',
  ].join('\n');
}

export const memberRunning = (m: RedisMember): boolean => isOurProcess(m.pid, redisMarker(m.port));

export async function startSentinel(p: StackPaths, i: number, port: number, masterPort: number): Promise<RedisMember> {
  const m = sentinelMember(p, i);
  const password = ensureRedisPassword(p);
  fs.mkdirSync(m.dir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(m.conf)) fs.writeFileSync(m.conf, sentinelConfig(m, port, masterPort, password), { mode: 0o600 });
  fs.chmodSync(m.conf, 0o600);
  fs.rmSync(m.pid, { force: true });
  // redis-server in Sentinel mode: the same binary as Debian's redis-sentinel, without its service.
  const res = await runRedisServer([m.conf, '--sentinel']);
  if (res.spawnError || res.code !== 0) {
    throw new StackError('FW_STACK_REDIS_START', `the Sentinel on port ${port} did not start (${res.spawnError?.message ?? `exit ${res.code}`})`, {
      details: [res.stderr.trim(), tailFile(m.log, 15)].filter(Boolean).join('\n'),
      hint: `see ${m.log}`,
    });
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const pid = readPidFile(m.pid);
    if (pid && isOurProcess(pid, redisMarker(port))) return { pid, port };
    await sleep(100);
  }
  throw new StackError('FW_STACK_REDIS_START', `the Sentinel on port ${port} wrote no pid to ${m.pid} in 10 s`, { details: tailFile(m.log, 15), hint: `see ${m.log}` });
}

/**
 * Waits until the Sentinels agree on the master, see the replica and each other: only then can
 * they fail over. Returns the master's port.
 */
export async function waitSentinelsReady(url: string, sentinels: RedisMember[], timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const master = await sentinelMaster(url, 1000);
      const d = await probeRedis(url, 1000);
      const info = await replicationOf(url);
      const peers = await sentinelPeers(url);
      if (info.connectedReplicas >= 1 && peers >= SENTINEL_COUNT - 1 && sentinels.length === SENTINEL_COUNT) return master.port;
      last = `master ${master.host}:${master.port} (${d.version}) has ${info.connectedReplicas} replica(s) online; a Sentinel knows ${peers} other Sentinel(s)`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(250);
  }
  throw new StackError('FW_STACK_REDIS_START', `the Sentinels were not ready in ${timeoutMs / 1000} s: ${last}`, {
    hint: 'see the sentinel.log files under the Redis directory',
  });
}

/** INFO replication of the current master, through the Sentinels. */
export async function replicationOf(url: string): Promise<{ role: string; connectedReplicas: number }> {
  const client = connectRedis(url, oneShot(2000));
  client.on('error', () => undefined);
  try {
    await client.connect();
    const text = await client.info('replication');
    const role = /role:(\w+)/.exec(text)?.[1] ?? 'unknown';
    const online = [...text.matchAll(/^slave\d+:.*state=online/gm)].length;
    return { role, connectedReplicas: online };
  } finally {
    client.disconnect();
  }
}

/** How many other Sentinels the first answering Sentinel knows. */
async function sentinelPeers(url: string): Promise<number> {
  const t = parseSentinelUrl(url);
  const s = t.sentinels[0]!;
  const client = new Redis({ host: s.host, port: s.port, username: t.username, password: t.password, ...oneShot(2000) });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const reply = (await client.call('SENTINEL', 'sentinels', t.name)) as unknown[];
    return reply.length;
  } finally {
    client.disconnect();
  }
}

/** Stops the Sentinels first (else they would fail over while the servers stop), then the replica. */
export async function stopSentinelSet(s: RedisState): Promise<string[]> {
  const out: string[] = [];
  for (const [i, m] of (s.sentinels ?? []).entries()) {
    out.push(memberRunning(m) ? `redis sentinel ${i}: pid ${m.pid} ${await stopPid(m.pid, 30_000)}` : `redis sentinel ${i}: pid ${m.pid} is not running (nothing to stop)`);
  }
  if (s.replica) {
    const m = s.replica;
    out.push(memberRunning(m) ? `redis replica: pid ${m.pid} ${await stopPid(m.pid, 30_000)}` : `redis replica: pid ${m.pid} is not running (nothing to stop)`);
  }
  return out;
}


/**
 * The master the Sentinels last agreed on, as their files say: the monitor line of the file with
 * the highest config epoch (a Sentinel that was down during a failover keeps the older master in
 * its file, at a lower epoch). Undefined when no file names one.
 */
export function lastSentinelMaster(p: StackPaths): { port: number; epoch: number } | undefined {
  let best: { port: number; epoch: number } | undefined;
  for (let i = 0; i < SENTINEL_COUNT; i++) {
    let text: string;
    try {
      text = fs.readFileSync(sentinelMember(p, i).conf, 'utf8');
    } catch {
      continue;
    }
    const port = new RegExp(`^sentinel monitor ${SENTINEL_MASTER_NAME} \\S+ (\\d+)`, 'm').exec(text)?.[1];
    if (port === undefined) continue;
    const epoch = Number(new RegExp(`^sentinel config-epoch ${SENTINEL_MASTER_NAME} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    if (!best || epoch > best.epoch) best = { port: Number(port), epoch };
  }
  return best;
}

/** What a live server says it is (INFO replication, as the stack's user); undefined if it does not answer. */
export async function serverRole(port: number, password: string): Promise<'master' | 'replica' | undefined> {
  const client = new Redis(withRedisCredentials(`redis://${LOOPBACK}:${port}`, REDIS_USER, password), oneShot(2000));
  client.on('error', () => undefined);
  try {
    await client.connect();
    const role = /role:(\w+)/.exec(await client.info('replication'))?.[1];
    return role === 'master' ? 'master' : role === 'slave' ? 'replica' : undefined;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}
