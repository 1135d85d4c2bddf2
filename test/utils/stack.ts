// Shared test harness: finds the stack that `npm test` started and runs the real CLI.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import type { RedisOptions } from 'bullmq';
import { ELASTICSEARCH_VERSION, isSentinelUrl, ownStateDir, parseSentinelUrl, resolveEndpoint, resolveEndpoints, sentinelMaster, sentinelOptions, type Endpoints } from '../../stack/src';

export const repoRoot = path.resolve(__dirname, '..', '..');

/** Endpoints of the stack under test; throws (failing the test) when it is not running. */
export function endpoints(): Endpoints {
  return resolveEndpoints(ownStateDir('the tests', 'run them with npm test (or npm run test:only -- FILE)'));
}

/**
 * The Elasticsearch version the run was started against: scripts/test.sh sets
 * FILEWARDEN_EXPECT_ES_VERSION for its 9.x pass, so a test that talks to the wrong server fails.
 */
export const expectedEsVersion = (): string => process.env.FILEWARDEN_EXPECT_ES_VERSION ?? ELASTICSEARCH_VERSION;

export function esClient(): Client {
  return new Client({ node: endpoints().elasticsearchUrl });
}

export type RedisConnection = RedisOptions & { maxRetriesPerRequest: null };

/**
 * Connection options for BullMQ and ioredis from `url`: host, port and credentials, or for a
 * redis-sentinel:// URL the Sentinels and the master's name. Workers need maxRetriesPerRequest null
 * (BullMQ's rule).
 */
export function redisConnection(url = endpoints().redisUrl): RedisConnection {
  if (isSentinelUrl(url)) return { ...(sentinelOptions(parseSentinelUrl(url)) as RedisOptions), maxRetriesPerRequest: null };
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    maxRetriesPerRequest: null,
  };
}

/** A redis:// URL of the server itself: for a redis-sentinel:// URL, the master the Sentinels name now. */
export async function directRedisUrl(url = endpoints().redisUrl): Promise<string> {
  if (!isSentinelUrl(url)) return url;
  const t = parseSentinelUrl(url);
  const m = await sentinelMaster(url);
  const u = new URL(`redis://${m.host}:${m.port}`);
  if (t.username) u.username = t.username;
  if (t.password) u.password = t.password;
  return u.toString();
}

/** The Redis URL, with its credentials, of the stack in another state directory (env ignored). */
export function stackRedisUrl(stateDir: string): string {
  return resolveEndpoint(stateDir, 'redis', undefined, {});
}

/** A name no other test run uses, for indices and queues. */
export const uniqueName = (prefix: string): string => `${prefix}-${crypto.randomBytes(4).toString('hex')}`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `filewarden <args>` from the build, exactly as a user would. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'filewarden.js'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** True when the process has exited: gone, or a zombie its parent (here PID 1) has not reaped yet. */
export function hasExited(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
