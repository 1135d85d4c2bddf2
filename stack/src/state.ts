// stack.json: what `stack up` started (pids, ports, versions), read by `status`, `down` and by
// every command that needs to find the embedded Redis and Elasticsearch.
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from './errors';

export interface RedisState {
  pid: number;
  port: number;
  host: string;
  startedAt: string;
}

export interface ElasticsearchState {
  pid: number;
  httpPort: number;
  transportPort: number;
  host: string;
  home: string;
  version: string;
  startedAt: string;
}

export interface StackState {
  redis?: RedisState;
  elasticsearch?: ElasticsearchState;
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
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export const redisUrl = (s: RedisState): string => `redis://${s.host}:${s.port}`;
export const elasticsearchUrl = (s: ElasticsearchState): string => `http://${s.host}:${s.httpPort}`;
