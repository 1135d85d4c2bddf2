// Shared test harness: finds the stack that `npm test` started and runs the real CLI.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { ownStateDir, resolveEndpoint, resolveEndpoints, type Endpoints } from '../../stack/src';

export const repoRoot = path.resolve(__dirname, '..', '..');

/** Endpoints of the stack under test; throws (failing the test) when it is not running. */
export function endpoints(): Endpoints {
  return resolveEndpoints(ownStateDir('the tests', 'run them with npm test (or npm run test:only -- FILE)'));
}

export function esClient(): Client {
  return new Client({ node: endpoints().elasticsearchUrl });
}

export interface RedisConnection {
  host: string;
  port: number;
  username?: string;
  password?: string;
  maxRetriesPerRequest: null;
}

/**
 * host, port and the credentials in `url` for BullMQ and ioredis. Workers need
 * maxRetriesPerRequest null (BullMQ's rule).
 */
export function redisConnection(url = endpoints().redisUrl): RedisConnection {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    maxRetriesPerRequest: null,
  };
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
