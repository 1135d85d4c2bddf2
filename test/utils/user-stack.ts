// The isolation guard: what the user's own embedded stack (the default state directory, not the one
// the tests and benchmarks run against) holds before and after a run, so that a test can show the
// run left it exactly as it was and that `verify` over the period still finds nothing.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import Redis from 'ioredis';
import { BPFFS } from '../../collector/src/capture/pinned-capture';
import { resolveEndpoints, stackPaths, stackStatus, userStateDir } from '../../stack/src';

export { userStateDir };
import { cli, redisConnection, repoRoot } from './stack';

/** Run against the user's stack: FILEWARDEN_STATE_DIR names it, no URL override leaks in. */
export function userEnv(stateDir: string): NodeJS.ProcessEnv {
  return { FILEWARDEN_STATE_DIR: stateDir, FILEWARDEN_REDIS_URL: undefined, FILEWARDEN_ELASTICSEARCH_URL: undefined, FILEWARDEN_REDIS_PASSWORD_FILE: undefined };
}

export interface IndexFacts {
  docs: number;
  deleted: number;
  /** Index and delete operations since the node started: any write moves them, even one undone later. */
  indexed: number;
  deletes: number;
}

export interface StackContents {
  clusterUuid: string;
  indices: Record<string, IndexFacts>;
  /** Each persistent key's type and the SHA-256 of its DUMP: any change to a value changes it. */
  redisKeys: Record<string, string>;
  /** Keys with a TTL change on their own; listed by name only. */
  redisVolatile: string[];
}

/** Written into a state directory the guard made, with the run's id: the only directory it removes. */
export const GUARD_MARKER = '.made-by-isolation-guard';

export interface GuardState {
  /** This run's id, also in the marker of a directory the guard made. */
  runId: string;
  stateDir: string;
  /** The guard created the state directory (fresh machine): it removes it afterwards. */
  created: boolean;
  /** The guard started the stack: it stops it afterwards. */
  started: boolean;
  /** When the guarded run began (ISO). */
  begin: string;
  before: StackContents;
  /** Chain findings of `verify` over the hour before the run. */
  findingsBefore: number;
  /** The captures pinned in bpffs before the run (the user's collectors'). */
  pinsBefore: string[];
}

/** The captures pinned in bpffs now: a run must end every one it pinned. */
export function pinnedCaptures(): string[] {
  const dir = path.join(BPFFS, 'filewarden');
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

async function clients(stateDir: string): Promise<{ es: Client; redis: Redis }> {
  const ep = resolveEndpoints(stateDir, {});
  const redis = new Redis({ ...redisConnection(ep.redisUrl), lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  return { es: new Client({ node: ep.elasticsearchUrl }), redis };
}

/** Every index (hidden ones too) with its counts, and every Redis key with a digest of its value. */
export async function stackContents(stateDir: string): Promise<StackContents> {
  const { es, redis } = await clients(stateDir);
  try {
    const root = await es.info();
    // docs.count shows only refreshed documents: make the last writes before the run visible, so
    // that the counts compare what was written, not when Elasticsearch last refreshed.
    await es.indices.refresh({ index: '*', expand_wildcards: 'all', ignore_unavailable: true });
    const stats = await es.indices.stats({ index: '*', metric: ['docs', 'indexing'], expand_wildcards: 'all', level: 'indices' });
    const indices: Record<string, IndexFacts> = {};
    for (const [name, s] of Object.entries(stats.indices ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      indices[name] = {
        docs: s.primaries?.docs?.count ?? 0,
        deleted: s.primaries?.docs?.deleted ?? 0,
        indexed: s.primaries?.indexing?.index_total ?? 0,
        deletes: s.primaries?.indexing?.delete_total ?? 0,
      };
    }
    const redisKeys: Record<string, string> = {};
    const redisVolatile: string[] = [];
    let cursor = '0';
    const names: string[] = [];
    do {
      const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      names.push(...batch);
    } while (cursor !== '0');
    for (const key of names.sort()) {
      const [ttl, type, dump] = await Promise.all([redis.pttl(key), redis.type(key), redis.dumpBuffer(key)]);
      if (ttl === -2 || dump === null) continue; // expired between SCAN and now
      if (ttl >= 0) redisVolatile.push(key);
      else redisKeys[key] = `${type}:${crypto.createHash('sha256').update(dump).digest('hex')}`;
    }
    return { clusterUuid: root.cluster_uuid, indices, redisKeys, redisVolatile };
  } finally {
    redis.disconnect();
    await es.close();
  }
}

/** `filewarden verify` on the user's stack over [from, to]: its finding count (exit 1 = findings). */
export async function verifyFindings(stateDir: string, from: string, to: string): Promise<{ findings: number; streams: number; text: string }> {
  const trusted = path.join(stateDir, 'trusted-keys');
  const args = ['verify', '--from', from, '--to', to, '--json', ...(fs.existsSync(trusted) ? ['--trusted-keys', trusted] : [])];
  const r = await cli(args, userEnv(stateDir));
  if (r.code !== 0 && r.code !== 1) throw new Error(`verify on ${stateDir} failed (exit ${r.code}): ${r.stderr.trim()}`);
  const report = JSON.parse(r.stdout) as { findings: unknown[]; streams: unknown[] };
  return { findings: report.findings.length, streams: report.streams.length, text: r.stdout };
}

/** Both services of the stack in `stateDir` are up and answering. */
export async function stackRunning(stateDir: string): Promise<boolean> {
  if (!fs.existsSync(stackPaths(stateDir).stateFile)) return false;
  return (await stackStatus(stateDir)).every((s) => s.running && s.reachable);
}

/**
 * On a machine with no user stack, makes one that looks used: `filewarden up` in it for a short
 * while, with a read of /etc/shadow (a built-in rule alerts on it), so that events, an alert,
 * chain links and checkpoints exist for the guard to watch.
 */
export async function seedUserStack(stateDir: string, log: (l: string) => void): Promise<void> {
  const proc = spawn(process.execPath, [path.join(repoRoot, 'bin', 'filewarden.js'), 'up', '--duration', '300'], {
    env: { ...process.env, ...userEnv(stateDir) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const waitLog = async (re: RegExp, what: string, ms: number): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!re.test(out)) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`seeding the user stack in ${stateDir}: ${what} did not happen:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  await waitLog(/\[collect\] collect: queue/, 'the collector start', 240_000);
  await waitLog(/\[index\] index: queue/, 'the indexer start', 60_000);
  await new Promise<void>((resolve, reject) => {
    const c = spawn('/bin/cat', ['/etc/shadow'], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', () => resolve());
  });
  await waitLog(/alerts [1-9]/, 'the shadow-read alert', 60_000);
  proc.kill('SIGINT');
  const code = await exited;
  if (code !== 0) throw new Error(`seeding the user stack: up exited ${code}:\n${out}`);
  log(`user stack seeded in ${stateDir}: ${/indexed (\d+)/.exec(out.split('\n').filter((l) => l.includes('indexed')).pop() ?? '')?.[1] ?? '?'} events, an alert`);
}

/** Makes the user's state directory on a machine that has none, marked as this run's. */
export function makeMarkedStateDir(stateDir: string, runId: string): void {
  fs.mkdirSync(stateDir, { recursive: false });
  fs.writeFileSync(path.join(stateDir, GUARD_MARKER), runId);
}

/**
 * Stops the user's stack if the guard started it, and removes its directory if the guard made it:
 * only when the directory holds this run's marker, so a stale or foreign record never removes a
 * user's data.
 */
export async function releaseUserStack(g: Pick<GuardState, 'runId' | 'stateDir' | 'created' | 'started'>): Promise<void> {
  if (g.started || g.created) {
    const r = await cli(['stack', 'down'], userEnv(g.stateDir));
    if (r.code !== 0) throw new Error(`stack down in ${g.stateDir}: ${r.stderr.trim()}`);
  }
  if (!g.created) return;
  const marker = path.join(g.stateDir, GUARD_MARKER);
  const mark = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : undefined;
  if (mark !== g.runId) throw new Error(`not removing ${g.stateDir}: it holds no marker of this run (${GUARD_MARKER})`);
  fs.rmSync(g.stateDir, { recursive: true, force: true });
}
