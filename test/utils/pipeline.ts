// Harness for the pipeline fault tests: the real `filewarden collect` and `filewarden index`
// processes on a queue, indices and state directory of their own, a paced open workload whose
// every open is one event, and readers for what reached Elasticsearch.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { Test } from 'tap';
import { pinDirOf } from '../../collector/src/capture/pinned-capture';
import { parseMetrics } from '../../stack/src/metrics-server';
import { enrollThisHost } from '../../cli/src/pipeline';
import { tempDir } from './kernel';
import { cli, endpoints, esClient, repoRoot, uniqueName } from './stack';

export interface PipelineEnv {
  name: string;
  queue: string;
  indexPrefix: string;
  deadletterIndex: string;
  checkpointIndex: string;
  alertIndex: string;
  auditIndex: string;
  /** The collector's --state-dir (holds collector/sequence.json and collector/spool). */
  stateDir: string;
  /** Opens under here are the only ones the collector keeps (--include-path). */
  workDir: string;
  redisUrl: string;
  esUrl: string;
  es: Client;
}

export function pipelineEnv(t: Test, o: { redisUrl?: string; esUrl?: string } = {}): PipelineEnv {
  const name = uniqueName('fwp');
  const env: PipelineEnv = {
    name,
    queue: name,
    indexPrefix: `${name}-events`,
    deadletterIndex: `${name}-deadletter`,
    checkpointIndex: `${name}-checkpoints`,
    alertIndex: `${name}-alerts`,
    auditIndex: `${name}-audit`,
    stateDir: tempDir(t, 'fw-pipeline-state-'),
    workDir: tempDir(t, 'fw-pipeline-work-'),
    redisUrl: o.redisUrl ?? endpoints().redisUrl,
    esUrl: o.esUrl ?? endpoints().elasticsearchUrl,
    es: esClient(),
  };
  // A collector killed and not restarted leaves its capture pinned (and recording): end it.
  fs.mkdirSync(path.join(env.stateDir, 'collector'), { recursive: true, mode: 0o700 });
  const pins = pinDirOf(path.join(env.stateDir, 'collector'));
  t.teardown(() => fs.rmSync(pins, { recursive: true, force: true }));
  t.teardown(async () => {
    const all = [env.deadletterIndex, env.checkpointIndex, env.alertIndex, env.auditIndex];
    await env.es.indices.delete({ index: `${env.indexPrefix}-*,${all.join(',')}`, ignore_unavailable: true, allow_no_indices: true }).catch(() => undefined);
    await env.es.indices.deleteIndexTemplate({ name: [env.indexPrefix, ...all].join(',') }).catch(() => undefined);
  });
  return env;
}

export interface Service {
  proc: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  metricsUrl: string;
  metrics(): Promise<Map<string, number>>;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<number | string>;
}

function spawnService(t: Test, args: string[], env: NodeJS.ProcessEnv): Promise<Service> {
  const proc = spawn(process.execPath, [path.join(repoRoot, 'bin', 'filewarden.js'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | string>((r) => proc.on('exit', (code, sig) => r(code ?? sig ?? 'unknown')));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`${args[0]} did not start in 30 s:\n${text}`)), 30_000);
    const check = (): void => {
      const m = /metrics (http:\/\/\S+\/metrics)/.exec(text);
      if (!m) return;
      clearTimeout(deadline);
      proc.stderr!.off('data', check);
      const url = m[1];
      resolve({
        proc,
        log: () => text,
        metricsUrl: url,
        metrics: async () => parseMetrics(await (await fetch(url)).text()),
        exited,
      });
    };
    proc.stderr!.on('data', check);
    void exited.then((c) => reject(new Error(`${args[0]} exited (${c}) before it started:\n${text}`)));
  });
}

/** `filewarden collect` on the test's queue, keeping the opens under workDir; another `stateDir` makes another host's collector. */
export function startCollector(t: Test, env: PipelineEnv, extra: string[] = [], stateDir = env.stateDir): Promise<Service> {
  if (stateDir !== env.stateDir) {
    fs.mkdirSync(path.join(stateDir, 'collector'), { recursive: true, mode: 0o700 });
    const pins = pinDirOf(path.join(stateDir, 'collector'));
    t.teardown(() => fs.rmSync(pins, { recursive: true, force: true }));
  }
  return spawnService(
    t,
    ['--state-dir', stateDir, 'collect', '--hooks', 'tracepoint', '--include-path', `${env.workDir}/`, '--queue', env.queue, '--metrics-port', '0', '--batch-delay-ms', '100', ...extra],
    { FILEWARDEN_REDIS_URL: env.redisUrl },
  );
}

/**
 * The indexer on this test's queue and indices. Unless `enroll` is false, it trusts the test's
 * collector: its host key (in env.stateDir) is enrolled as `up` does it.
 */
export function startIndexer(t: Test, env: PipelineEnv, o: { esUrl?: string; extra?: string[]; enroll?: boolean; processEnv?: NodeJS.ProcessEnv } = {}): Promise<Service> {
  const trust = o.enroll === false ? [] : ['--trusted-keys', enrollThisHost(env.stateDir, () => undefined)];
  return spawnService(
    t,
    ['--state-dir', env.stateDir, 'index', '--queue', env.queue, ...indexNames(env), '--alert-index', env.alertIndex, '--audit-index', env.auditIndex, '--metrics-port', '0', ...trust, ...(o.extra ?? [])],
    { FILEWARDEN_REDIS_URL: env.redisUrl, FILEWARDEN_ELASTICSEARCH_URL: o.esUrl ?? env.esUrl, ...o.processEnv },
  );
}

/** The --index-prefix, --deadletter-index and --checkpoint-index options of this test's indices. */
export function indexNames(env: PipelineEnv): string[] {
  return ['--index-prefix', env.indexPrefix, '--deadletter-index', env.deadletterIndex, '--checkpoint-index', env.checkpointIndex];
}

/** Runs `filewarden gaps --json` on this test's indices. */
export async function gapReport(env: PipelineEnv): Promise<{ code: number | null; stdout: string; report: { stream: string; last: number; found: number; missingCount: number; missing: { from: number; to: number }[] }[] }> {
  const r = await cli(['gaps', '--json', ...indexNames(env)], { FILEWARDEN_ELASTICSEARCH_URL: env.esUrl });
  return { code: r.code, stdout: r.stdout, report: r.code === 0 || r.code === 1 ? JSON.parse(r.stdout) : [] };
}

/** Stops a service with SIGTERM (a clean shutdown) and checks it exited 0. */
export async function stopService(t: Test, s: Service, what: string): Promise<void> {
  s.proc.kill('SIGTERM');
  const code = await s.exited;
  t.equal(code, 0, `${what} exits 0 after SIGTERM`);
}

export interface Workload {
  /** How many opens it made so far (each one an event under workDir). */
  done: Promise<number>;
  proc: ChildProcess;
}

/**
 * Creates `count` distinct files under `dir` at about `perSecond`, one openat(O_CREAT) each.
 * Prints the number made at the end; the paths are f<i>.
 */
export function openWorkload(t: Test, dir: string, count: number, perSecond: number, cgroup?: string): Workload {
  const script = `
    const fs = require('fs');
    const [dir, count, rate] = [process.argv[1], +process.argv[2], +process.argv[3]];
    let i = 0; const t0 = Date.now();
    const step = () => {
      const due = Math.min(count, Math.ceil(((Date.now() - t0) / 1000) * rate));
      for (; i < due; i++) fs.closeSync(fs.openSync(dir + '/f' + i, 'w'));
      if (i < count) setTimeout(step, 5); else console.log(i);
    };
    step();`;
  // In a cgroup: the shell moves itself there before it becomes the workload, so no open is outside.
  const proc = cgroup
    ? spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, process.execPath, '-e', script, dir, String(count), String(perSecond)], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, ['-e', script, dir, String(count), String(perSecond)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void proc.kill('SIGKILL'));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number>((resolve, reject) =>
    proc.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`workload exited ${code}`)))),
  );
  return { done, proc };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns true or the time is up; false when it never did. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<boolean> {
  return (await waitForValue(async () => ((await check()) ? true : undefined), timeoutMs, everyMs)) ?? false;
}

/** Polls until `get` yields a value (an error counts as not yet); undefined when the time is up. */
export async function waitForValue<T>(get: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 500): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve().then(get).catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) return undefined;
    await sleep(everyMs);
  }
}

/** waitForValue with a 30 s bound that fails the test, naming what it waited for. */
export async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const v = await waitForValue(f, 30_000, 50);
  if (v === undefined) throw new Error(`timed out waiting for ${what}`);
  return v;
}

export async function countIndexed(env: PipelineEnv): Promise<number> {
  await env.es.indices.refresh({ index: `${env.indexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true });
  const r = await env.es.count({ index: `${env.indexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true });
  return r.count;
}

export interface IndexedEvent {
  id: string;
  seq: number;
  stream: string;
  path: string;
  resolution: string;
}

/** Every event document (id, seq, stream, path), read with search_after. */
export async function readIndexed(env: PipelineEnv): Promise<IndexedEvent[]> {
  await env.es.indices.refresh({ index: `${env.indexPrefix}-*`, ignore_unavailable: true, allow_no_indices: true });
  const out: IndexedEvent[] = [];
  let after: (string | number)[] | undefined;
  for (;;) {
    const r = await env.es.search<{ file: { path: string }; filewarden: { seq: number; seq_stream: string; path: { resolution: string } } }>({
      index: `${env.indexPrefix}-*`,
      size: 10_000,
      _source: ['file.path', 'filewarden.seq', 'filewarden.seq_stream', 'filewarden.path.resolution'],
      sort: [{ 'filewarden.seq': 'asc' }, { 'event.id': 'asc' }],
      ...(after ? { search_after: after } : {}),
    });
    for (const h of r.hits.hits) {
      const s = h._source!;
      out.push({ id: h._id!, seq: s.filewarden.seq, stream: s.filewarden.seq_stream, path: s.file.path, resolution: s.filewarden.path.resolution });
    }
    if (r.hits.hits.length < 10_000) return out;
    after = r.hits.hits[r.hits.hits.length - 1].sort as (string | number)[];
  }
}

/** The collector's persisted sequence state. */
export function sequenceState(env: PipelineEnv): { assigned: number; acked: number; stream: string } {
  return JSON.parse(fs.readFileSync(path.join(env.stateDir, 'collector', 'sequence.json'), 'utf8')) as { assigned: number; acked: number; stream: string };
}

/** Waits until the queue holds no job waiting, active or delayed (stalled jobs included). */
export async function waitQueueEmpty(indexer: Service, timeoutMs: number): Promise<boolean> {
  return waitFor(async () => {
    const m = await indexer.metrics();
    return ['wait', 'active', 'delayed', 'prioritized'].every((s) => (m.get(`filewarden_queue_jobs{state="${s}"}`) ?? 0) === 0);
  }, timeoutMs);
}

/**
 * Splits documents into the workload's (under workDir) and the rest. The rest can only be
 * relative names from processes that exited before user space could resolve them: the path
 * filter cannot judge those, so the collector keeps them rather than lose them (docs/capture.md).
 */
export function splitOurs(t: Test, env: PipelineEnv, docs: IndexedEvent[]): IndexedEvent[] {
  const ours = docs.filter((d) => d.path.startsWith(`${env.workDir}/`));
  const others = docs.filter((d) => !d.path.startsWith(`${env.workDir}/`));
  t.same(
    others.filter((d) => d.resolution !== 'unavailable'),
    [],
    `the ${others.length} events outside the work directory are all unresolvable relative names, kept by design`,
  );
  return ours;
}

/**
 * After a collector killed at `atKill` and a restarted one stopped cleanly: waits for the queue to
 * drain, checks that no sequence number and no opened file is there twice, and that every number
 * missing up to the last one given out lies in the range the dead collector never acknowledged.
 */
export async function afterCollectorCrash(t: Test, env: PipelineEnv, indexer: Service, atKill: { assigned: number; acked: number }): Promise<{ docs: IndexedEvent[]; ours: IndexedEvent[]; missing: number[]; last: number }> {
  const last = sequenceState(env).assigned;
  const lost = atKill.assigned - atKill.acked;
  t.ok(await waitFor(async () => (await readIndexed(env)).length >= last - lost, 60_000), 'events arrive');
  t.ok(await waitQueueEmpty(indexer, 60_000), 'the queue is empty');
  const docs = await readIndexed(env);
  const seqs = new Set(docs.map((d) => d.seq));
  t.equal(seqs.size, docs.length, 'no sequence number twice');
  const ours = splitOurs(t, env, docs);
  t.equal(new Set(ours.map((d) => d.path)).size, ours.length, 'no opened file twice');
  const missing: number[] = [];
  for (let q = 1; q <= last; q++) if (!seqs.has(q)) missing.push(q);
  t.ok(missing.every((q) => q > atKill.acked && q <= atKill.assigned), `the ${missing.length} missing numbers all lie in the range the dead collector never acknowledged (${atKill.acked + 1}..${atKill.assigned})`);
  return { docs, ours, missing, last };
}

/** The "queued N" figure from a stopped collector's last line. */
export function queuedAtStop(log: string): number {
  const m = /stopped at seq \d+; queued (\d+), spooled (\d+) \(left in spool (\d+)\), dropped (\d+)/.exec(log);
  return m ? Number(m[1]) : NaN;
}

/**
 * The exactly-once promise after a stopped collector and a running indexer: every event the
 * collector queued is in Elasticsearch once (one _id, one sequence number, 1..N without a hole),
 * each of the workload's `opens` files appears once, and `filewarden gaps` finds nothing missing.
 */
export async function expectExactlyOnce(t: Test, env: PipelineEnv, collector: Service, indexer: Service, opens: number, timeoutMs: number): Promise<void> {
  const queued = queuedAtStop(collector.log());
  t.ok(queued >= opens, `the collector queued every event (${queued})`);
  t.ok(await waitFor(async () => (await countIndexed(env)) >= queued, timeoutMs), 'every event reaches Elasticsearch');
  // Batches a dead indexer held, or a failed attempt left delayed, must finish too before counting.
  t.ok(await waitQueueEmpty(indexer, timeoutMs), 'the queue is empty, stalled and delayed batches included');
  const all = await readIndexed(env);
  t.equal(all.length, queued, 'as many documents as events queued');
  t.equal(new Set(all.map((d) => d.id)).size, all.length, 'no duplicate _id');
  t.same([new Set(all.map((d) => d.seq)).size, all[0]?.seq, all[all.length - 1]?.seq], [queued, 1, queued], 'sequence 1..N, each number once');
  const docs = splitOurs(t, env, all);
  t.equal(docs.length, opens, 'one document per workload open');
  t.equal(new Set(docs.map((d) => d.path)).size, opens, 'every opened file once');
  const gaps = await gapReport(env);
  t.equal(gaps.code, 0, 'the gap report finds nothing missing');
  t.same(gaps.report.map((g) => [g.last, g.found, g.missingCount]), [[queued, queued, 0]], `gaps: seq 1..${queued}, all found`);
  t.comment(`indexer: ${(await indexer.metrics()).get('filewarden_indexer_events_duplicate_total')} duplicates (409, already indexed), none stored twice`);
}
