// One way to open a Redis connection from a URL, for every process: a plain `redis://` or
// `rediss://` URL names the server; a `redis-sentinel://` URL names Sentinels and the master they
// watch, and ioredis asks them where the master is (again after a failover).
import Redis, { type RedisOptions } from 'ioredis';
import { StackError } from './errors';

export const SENTINEL_SCHEME = 'redis-sentinel:';
/** The name the stack's Sentinels know its master by (the path of its `redis-sentinel://` URL). */
export const SENTINEL_MASTER_NAME = 'filewarden';
export const SENTINEL_URL_FORM = 'redis-sentinel://[user:password@]host:port/<master name>[?sentinels=host:port,host:port][&db=N]';

export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  /** The master's name in the Sentinels' configuration (`sentinel monitor <name> ...`). */
  name: string;
  username?: string;
  password?: string;
  db: number;
}

export const isSentinelUrl = (url: string): boolean => url.startsWith('redis-sentinel://');

function hostPort(text: string, url: string): { host: string; port: number } {
  const m = /^(\[[0-9a-f:.]+\]|[^:\s/,]+):(\d{1,5})$/i.exec(text);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) throw sentinelUrlError(url, `"${text}" is not host:port`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

const sentinelUrlError = (url: string, why: string): StackError =>
  new StackError('FW_STACK_REDIS_URL', `the Sentinel URL is not valid: ${why}`, { hint: `use the form ${SENTINEL_URL_FORM} (${url.length} characters given)` });

/**
 * Parses a `redis-sentinel://` URL. The user and password authenticate to the Sentinels and to the
 * master and replicas alike (the stack's Sentinels use the same ACL user as its Redis).
 */
export function parseSentinelUrl(url: string): SentinelTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw sentinelUrlError(url, 'it does not parse as a URL');
  }
  if (u.protocol !== SENTINEL_SCHEME) throw sentinelUrlError(url, `the scheme is ${u.protocol}, not ${SENTINEL_SCHEME}`);
  if (!u.hostname || !u.port) throw sentinelUrlError(url, 'the first Sentinel needs a host and a port');
  const sentinels = [hostPort(`${u.hostname}:${u.port}`, url)];
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!name || name.includes('/')) throw sentinelUrlError(url, 'the path must be the master name');
  let db = 0;
  for (const [k, v] of u.searchParams) {
    if (k === 'sentinels') {
      for (const part of v.split(',').filter(Boolean)) sentinels.push(hostPort(part, url));
    } else if (k === 'db') {
      if (!/^\d{1,2}$/.test(v)) throw sentinelUrlError(url, `db must be a number, not "${v}"`);
      db = Number(v);
    } else {
      throw sentinelUrlError(url, `unknown parameter "${k}"`);
    }
  }
  return {
    sentinels,
    name,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db,
  };
}

/** ioredis options for a Sentinel target: the same credentials for the Sentinels and the servers. */
export function sentinelOptions(target: SentinelTarget): RedisOptions {
  return {
    sentinels: target.sentinels,
    name: target.name,
    db: target.db,
    ...(target.username !== undefined ? { username: target.username, sentinelUsername: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password, sentinelPassword: target.password } : {}),
    // After a failover the old master may still answer for a moment (as a replica, READONLY):
    // reconnect through the Sentinels instead of failing the command.
    reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
  };
}

/** A connection to the Redis that `url` names, Sentinel or not, with the caller's options on top. */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  if (isSentinelUrl(url)) return new Redis({ ...sentinelOptions(parseSentinelUrl(url)), ...options });
  return new Redis(url, options);
}

/** The `redis-sentinel://` URL of Sentinels on `host`, with a user and password. */
export function sentinelUrl(host: string, ports: number[], user: string, password: string, name = SENTINEL_MASTER_NAME): string {
  const [first, ...rest] = ports;
  const u = new URL(`redis-sentinel://${host}:${first}/${name}`);
  u.username = user;
  u.password = password;
  if (rest.length) u.search = `?sentinels=${rest.map((p) => `${host}:${p}`).join(',')}`;
  return u.toString();
}
