// stack.json: what `stack up` started (pids, ports, versions), read by `status`, `down` and by
// every command that needs to find the embedded Redis and Elasticsearch. It holds no secret (the
// Redis password stays in its own 0600 file) and is written 0600 all the same.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-write';
import { StackError } from './errors';
import type { FirewallState } from './firewall';
import { readSecretFile, withRedisCredentials } from './redis-auth';
import { sentinelUrl } from './redis-connect';

/** A replica or Sentinel the stack started next to its Redis. */
export interface RedisMember {
  pid: number;
  port: number;
}

export interface RedisState {
  pid: number;
  port: number;
  host: string;
  startedAt: string;
  /** The ACL user clients authenticate as; absent for a Redis started without one (older stacks). */
  user?: string;
  /** Where that user's password is kept (the path only: the password never enters stack.json). */
  passwordFile?: string;
  /** `--redis-sentinel`: the second server (a replica, or the master after a failover)... */
  replica?: RedisMember;
  /** ...and the Sentinels that watch both. Clients then get a redis-sentinel:// URL. */
  sentinels?: RedisMember[];
}

/** One node of a cluster. */
export interface ElasticsearchNodeState {
  name: string;
  pid: number;
  httpPort: number;
  transportPort: number;
}

/** Node 0 at the top level (the node clients use), and for a cluster every node in `nodes`. */
export interface ElasticsearchState {
  pid: number;
  httpPort: number;
  transportPort: number;
  host: string;
  home: string;
  version: string;
  startedAt: string;
  /** The uid the node runs as (when started by root): the firewall lets it reach its own ports. */
  uid?: number;
  /** A cluster's nodes, node 0 first; absent for a one-node stack. */
  nodes?: ElasticsearchNodeState[];
  /** The JVM heap of each node, as given to `stack up`. */
  heap?: string;
}

export interface StackState {
  redis?: RedisState;
  elasticsearch?: ElasticsearchState;
  /** The nftables table `stack up` installed; `stack down` removes exactly this one. */
  firewall?: FirewallState;
}

export function readState(file: string): StackState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    return JSON.parse(text) as StackState;
  } catch (err) {
    throw new StackError('FW_STACK_STATE', `${file} is not valid JSON: ${(err as Error).message}`, {
      hint: `inspect or remove ${file}; the services it names may still be running`,
    });
  }
}

/** Atomic replace, so a crash mid-write never leaves a half-written state file. */
export function writeState(file: string, state: StackState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
}

/**
 * The URL clients use, with the ACL user and the password read from its file: a secret, so print
 * it only through redactUrl. Throws FW_STACK_REDIS_AUTH when the password file is unreadable.
 */
export function redisUrl(s: RedisState): string {
  if (s.sentinels?.length) {
    if (!s.passwordFile) throw new StackError('FW_STACK_REDIS_AUTH', 'a Sentinel stack without a password file', { hint: 'run `filewarden stack down && filewarden stack up --redis-sentinel`' });
    return sentinelUrl(s.host, s.sentinels.map((m) => m.port), s.user ?? 'default', readSecretFile(s.passwordFile));
  }
  const url = `redis://${s.host}:${s.port}`;
  return s.passwordFile ? withRedisCredentials(url, s.user, readSecretFile(s.passwordFile)) : url;
}

export const elasticsearchUrl = (s: ElasticsearchState): string => `http://${s.host}:${s.httpPort}`;
