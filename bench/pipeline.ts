// `npm run bench:pipeline`: the pipeline's speed and memory against baselines measured in the same
// run, on the embedded stack: end-to-end events/s into Elasticsearch against raw helpers.bulk of
// the same documents, event-to-searchable latency, Redis memory per 100k queued events, and the
// collector's RSS under load. The collector and the indexer run as the real CLI processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { COLLECTOR_NODE_FLAGS } from '../collector/src/agent/collector-agent';
import { COLLECTOR_DEFAULTS } from '../contract/src/collector-defaults';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import type Redis from 'ioredis';
import { connectRedis } from '../stack/src/redis-connect';
import { parseMetrics } from '../stack/src/metrics-server';
import { installTemplates } from '../indexer/src/ecs/index-templates';
import { parseInfo } from '../stack/src/redis';
import { resolveEndpoint, resolveEndpoints, stackDown, stackUp, type StackUpOptions } from '../stack/src';
import { packageRoot } from '../stack/src/package-root';
import { benchStateDir, ensureTools, outDir, printTable, type Row, runOpenloop } from './workload';
import { enrollThisHost } from '../cli/src/pipeline';

const THROUGHPUT_EVENTS = Number(process.env.FW_BENCH_PIPELINE_EVENTS ?? 200_000);
const QUEUED_EVENTS = 100_000;
const CHUNK = 10_000;
const LATENCY_SECONDS = 15;
const LATENCY_RATE = 50; // opens per second
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const bin = path.join(packageRoot(), 'bin', 'filewarden.js');

interface Proc {
  child: ChildProcess;
  metrics(): Promise<Map<string, number>>;
  stop(): Promise<void>;
  /** CPU seconds used so far (user + system). */
  cpu(): number;
  /** Highest VmRSS seen by sample(), in bytes. */
  maxRss: number;
  sample(): void;
}

const running: ChildProcess[] = [];

async function service(args: string[], env: NodeJS.ProcessEnv): Promise<Proc> {
  // The collector is launched as production launches it (filewarden up, the systemd unit, the image).
  const flags = args.includes('collect') ? COLLECTOR_NODE_FLAGS : [];
  const child = spawn(process.execPath, [...flags, bin, ...args, '--metrics-port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  running.push(child);
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /metrics (http:\/\/\S+\/metrics)/.exec(log);
      if (m) {
        clearInterval(timer);
        resolve(m[1]);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`${args[0]} exited: ${log}`));
      }
    }, 50);
  });
  const p: Proc = {
    child,
    maxRss: 0,
    metrics: async () => parseMetrics(await (await fetch(url)).text()),
    cpu() {
      try {
        const st = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
      } catch {
        return NaN;
      }
    },
    sample() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) p.maxRss = Math.max(p.maxRss, Number(m[1]) * 1024);
      } catch {
        // exited
      }
    },
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
  return p;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  // An index created a moment ago may answer no_shard_available until its primary starts.
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];


interface StageContext {
  name: string;
  /** '' for the main stack; else the topology, prefixed to every row's name. */
  label: string;
  es: Client;
  redis: Redis;
  env: NodeJS.ProcessEnv;
  count(index: string): Promise<number>;
  collectArgs(queue: string): string[];
  indexArgs(queue: string, prefix: string): string[];
  target: string;
  rows: Row[];
}

/**
 * Stages 2 and 3: the collector and the indexer end to end as fast as the workload goes, then raw
 * helpers.bulk of the same documents into the same Elasticsearch, and their ratio.
 */
async function endToEndAndRaw(x: StageContext): Promise<void> {
  const { name, es, redis, env, count, collectArgs, indexArgs, target, rows } = x;
  console.error(`bench: end to end${x.label ? ` (${x.label})` : ''}`);
  const tag = (s: string): string => (x.label ? `${x.label}: ${s}` : s);
  const suffix = x.label ? `-${x.label.replace(/[^a-z0-9]+/gi, '').toLowerCase()}` : '';
  const prefix = `${name}${suffix}-events`;
  const rawPrefix = `${name}${suffix}-raw`;
  // 2. End to end: the collector and the indexer together, the workload as fast as it goes.
  let e2eRate = 0;
  {
    const q = `${name}-e2e${suffix}`;
    const c = await service(collectArgs(q), env);
    const i = await service(indexArgs(q, prefix), env);
    const rss = setInterval(() => c.sample(), 100);
    const commandsBefore = Number(parseInfo(await redis.info('stats')).get('total_commands_processed'));
    const t0 = Date.now();
    // In chunks the ring buffer can hold, each started once the collector has caught up: a C loop
    // opens faster than any shipper can number, batch and compress, and drops would skew the rate.
    for (let done = 0; done < THROUGHPUT_EVENTS; done += CHUNK) {
      await until(async () => (await c.metrics()).get('filewarden_events_sequenced_total')! >= done - CHUNK, 60_000, 'the collector to catch up');
      await runOpenloop(target, Math.min(CHUNK, THROUGHPUT_EVENTS - done));
    }
    await until(async () => {
      const m = await c.metrics();
      return m.get('filewarden_events_queued_total')! + m.get('filewarden_kernel_events_dropped_total')! >= THROUGHPUT_EVENTS;
    }, 60_000, 'the collector to queue everything');
    const kernelDropped = (await c.metrics()).get('filewarden_kernel_events_dropped_total')!;
    const queuedSecs = (Date.now() - t0) / 1000;
    const queued = (await c.metrics()).get('filewarden_events_queued_total')!;
    await until(async () => (await count(`${prefix}-*`)) >= queued, 300_000, 'the events to be indexed');
    const secs = (Date.now() - t0) / 1000;
    clearInterval(rss);
    e2eRate = queued / secs;
    const cpuNote = `collector queued all in ${queuedSecs.toFixed(1)} s; CPU s per 100k events: collector ${((c.cpu() * 1e5) / queued).toFixed(1)}, indexer ${((i.cpu() * 1e5) / queued).toFixed(1)}`;
    rows.push({ name: tag('end to end into Elasticsearch'), value: `${Math.round(e2eRate).toLocaleString('en-US')} events/s`, note: `${queued} events in ${secs.toFixed(1)} s (includes the refresh); ${kernelDropped} dropped in the kernel; ${cpuNote}` });
    const perEvent = (cpuSecs: number): number => (cpuSecs * 1e6) / queued;
    const chainOn = process.env.FW_BENCH_NO_CHAIN !== '1';
    rows.push({ name: tag(`collector CPU per event, chain ${chainOn ? 'on' : 'off'}`), value: `${perEvent(c.cpu()).toFixed(1)} µs`, target: '<= 8 µs', met: perEvent(c.cpu()) <= 8, note: 'user + system CPU of the collector process over the run (/proc/<pid>/stat)' });
    rows.push({ name: tag('indexer CPU per event'), value: `${perEvent(i.cpu()).toFixed(1)} µs`, target: '<= 10 µs', met: perEvent(i.cpu()) <= 10, note: 'user + system CPU of the indexer process over the run' });
    rows.push({ name: tag(`collector RSS under load, chain ${chainOn ? 'on' : 'off'}`), value: `${(c.maxRss / 2 ** 20).toFixed(0)} MiB`, target: '<= 100 MiB', met: c.maxRss <= 100 * 2 ** 20, note: 'max VmRSS sampled every 100 ms' });
    await c.stop();
    await i.stop();
    // For sizing (docs/operations.md): Redis commands per event (the collector's adds and
    // checkpoints, the indexer's BullMQ moves, this bench's polling aside), and Elasticsearch disk
    // per event as indexed and after the daily index is merged, replicas not counted.
    const commands = Number(parseInfo(await redis.info('stats')).get('total_commands_processed')) - commandsBefore;
    rows.push({ name: tag('Redis commands per 1,000 events'), value: `${((commands * 1000) / queued).toFixed(1)}`, note: `${commands} commands (INFO total_commands_processed) for ${queued} events, batches of up to ${COLLECTOR_DEFAULTS.batchEvents}` });
    const store = async (): Promise<number> => {
      const st = await es.indices.stats({ index: `${prefix}-*`, metric: 'store' });
      return st._all.primaries?.store?.size_in_bytes ?? NaN;
    };
    const asIndexed = await store();
    await es.indices.forcemerge({ index: `${prefix}-*`, max_num_segments: 1 });
    const merged = await store();
    rows.push({ name: tag('Elasticsearch disk per event, primaries'), value: `${(asIndexed / queued).toFixed(0)} B as indexed, ${(merged / queued).toFixed(0)} B merged`, note: `${queued} documents: ${asIndexed} and ${merged} bytes of store (one replica doubles it)` });
  }

  // 3. Raw helpers.bulk of the same documents into an index with the same template.
  {
    const docs: { _id: string; _index: string; doc: unknown }[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const r = await es.search({ index: `${prefix}-*`, size: 10_000, sort: [{ 'filewarden.seq': 'asc' }], ...(after ? { search_after: after as (string | number)[] } : {}) });
      for (const h of r.hits.hits) docs.push({ _id: h._id!, _index: h._index.replace(prefix, rawPrefix), doc: h._source });
      if (r.hits.hits.length < 10_000) break;
      after = r.hits.hits[r.hits.hits.length - 1].sort as unknown[];
    }
    await installTemplates(es, { indexPrefix: rawPrefix, deadletterIndex: `${rawPrefix}dead`, checkpointIndex: `${rawPrefix}ckpt` });
    const t0 = Date.now();
    const s = await es.helpers.bulk({ datasource: docs, onDocument: (d) => [{ create: { _index: d._index, _id: d._id } }, d.doc], concurrency: 4, flushBytes: 5_000_000 });
    await until(async () => (await count(`${rawPrefix}-*`)) >= docs.length, 300_000, 'the raw bulk to be searchable');
    const secs = (Date.now() - t0) / 1000;
    const raw = docs.length / secs;
    rows.push({ name: tag('raw helpers.bulk of the same documents'), value: `${Math.round(raw).toLocaleString('en-US')} events/s`, ratio: 1, note: `${s.successful} written, ${s.failed} failed, in ${secs.toFixed(1)} s` });
    rows.push({ name: tag('end to end / raw bulk'), value: '', ratio: e2eRate / raw, target: '>= 0.9x', met: e2eRate / raw >= 0.9 });
  }

}

/**
 * `--topologies`: stages 2 and 3 again against Elasticsearch 9.5.4 (one node) and against a 3-node
 * 8.19.21 cluster (replicas 1), each a stack of its own started for it and stopped after it, with
 * the same Redis. Each changes one thing against the main stack's single 8.19.21 node.
 */
const TOPOLOGIES: { label: string; dir: string; options: Partial<StackUpOptions> }[] = [
  { label: 'ES 9.5.4 one node', dir: 'es9', options: { esVersion: '9.5.4', esNodes: 1, esPort: 29210, esTransportPort: 29310 } },
  { label: 'ES 8.19.21 3 nodes', dir: 'cluster', options: { esNodes: 3, esPort: 29220, esTransportPort: 29320 } },
];

async function otherTopologies(x: Omit<StageContext, 'label' | 'es' | 'count'>, redisUrl: string): Promise<void> {
  const base = x.rows.find((r) => r.name === 'end to end into Elasticsearch');
  for (const t of TOPOLOGIES) {
    const stateDir = `${benchStateDir()}-${t.dir}`;
    const log = (l: string): void => console.error(`bench: ${t.label}: ${l}`);
    await stackUp({ stateDir, services: ['elasticsearch'], ...t.options, log });
    const url = resolveEndpoint(stateDir, 'elasticsearch', undefined, {});
    const es = new Client({ node: url });
    const count = async (index: string): Promise<number> => {
      await es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
      return (await es.count({ index, ignore_unavailable: true, allow_no_indices: true })).count;
    };
    try {
      await endToEndAndRaw({ ...x, label: t.label, es, count, env: { FILEWARDEN_REDIS_URL: redisUrl, FILEWARDEN_ELASTICSEARCH_URL: url } });
      const mine = x.rows.find((r) => r.name === `${t.label}: end to end into Elasticsearch`);
      if (base && mine) {
        const rate = (r: Row): number => Number(r.value.replace(/[^0-9]/g, ''));
        x.rows.push({ name: `${t.label}: end to end / the main stack's`, value: '', ratio: rate(mine) / rate(base), note: `${mine.value} against ${base.value} (8.19.21, one node), same run` });
      }
    } finally {
      await es.indices.delete({ index: `${x.name}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => undefined);
      await es.indices.deleteIndexTemplate({ name: `${x.name}-*` }).catch(() => undefined);
      await es.close();
      await stackDown(stateDir, ['elasticsearch'], log);
    }
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark loads BPF programs: run it as root');
  ensureTools([]);
  const { redisUrl, elasticsearchUrl } = resolveEndpoints(benchStateDir());
  const es = new Client({ node: elasticsearchUrl });
  const redis = connectRedis(redisUrl);
  const name = `bench-${crypto.randomBytes(3).toString('hex')}`;
  const work = path.join(outDir, name);
  fs.mkdirSync(work, { recursive: true });
  const target = path.join(work, 'target-file');
  fs.writeFileSync(target, 'x');
  const rows: Row[] = [];
  const stateDir = path.join(outDir, `${name}-state`);
  // FW_BENCH_NO_CHAIN=1 measures the collector without the hash chain (collect --no-chain).
  const chainArgs = process.env.FW_BENCH_NO_CHAIN === '1' ? ['--no-chain'] : [];
  const collectArgs = (queue: string): string[] => ['--state-dir', stateDir, 'collect', '--hooks', 'tracepoint', '--include-path', `${work}/`, '--queue', queue, ...chainArgs];
  const indexArgs = (queue: string, prefix: string): string[] => [
    // The collector's key enrolled, as `up` does: the indexer verifies every batch's link and digests.
    // Every index it writes is the bench's own (chain links and alerts included), deleted at the end:
    // the user's filewarden-audit must never hold links whose events the bench then deletes.
    ...['--state-dir', stateDir, 'index', '--queue', queue, '--index-prefix', prefix, '--deadletter-index', `${name}-dead`, '--checkpoint-index', `${name}-ckpt`],
    ...['--alert-index', `${name}-alerts`, '--audit-index', `${name}-audit`, '--trusted-keys', enrollThisHost(stateDir, () => undefined)],
    ...(process.env.FW_BENCH_INDEX_CONCURRENCY ? ['--concurrency', process.env.FW_BENCH_INDEX_CONCURRENCY] : []),
  ];
  const env = { FILEWARDEN_REDIS_URL: redisUrl, FILEWARDEN_ELASTICSEARCH_URL: elasticsearchUrl };
  const count = async (index: string): Promise<number> => {
    await es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
    return (await es.count({ index, ignore_unavailable: true, allow_no_indices: true })).count;
  };
  try {
    console.error('bench: 1/4 Redis memory per queued event');
    // 1. Redis memory per 100k queued events: a collector with no indexer behind it.
    {
      const q = `${name}-mem`;
      const c = await service(collectArgs(q), env);
      await sleep(500);
      const before = Number(parseInfo(await redis.info('memory')).get('used_memory'));
      const rss = setInterval(() => c.sample(), 100);
      for (let done = 0; done < QUEUED_EVENTS; done += CHUNK) {
        await until(async () => (await c.metrics()).get('filewarden_events_sequenced_total')! >= done - CHUNK, 60_000, 'the collector to catch up');
        await runOpenloop(target, CHUNK);
      }
      await until(async () => (await c.metrics()).get('filewarden_events_queued_total')! >= QUEUED_EVENTS, 60_000, 'the queue to fill');
      await c.stop();
      clearInterval(rss);
      const after = Number(parseInfo(await redis.info('memory')).get('used_memory'));
      const perHundredK = ((after - before) * 100_000) / QUEUED_EVENTS;
      rows.push({ name: 'Redis memory per 100k queued events', value: `${(perHundredK / 1e6).toFixed(2)} MB`, target: '<= 15 MB', met: perHundredK <= 15e6, note: `used_memory ${before} -> ${after} bytes; collector max RSS ${(c.maxRss / 2 ** 20).toFixed(0)} MiB` });
      await redis.del(...(await redis.keys(`filewarden:${q}:*`)));
    }

    console.error('bench: 2/4 end to end');
    // 2 and 3. End to end and raw helpers.bulk against the main stack (8.19, one node).
    await endToEndAndRaw({ name, label: '', es, redis, env, count, collectArgs, indexArgs, target, rows });
    console.error('bench: 4/4 latency');
    // 4. Event-to-searchable latency at a steady rate, with the template's 1 s refresh.
    {
      const q = `${name}-lat`;
      const latPrefix = `${name}-lat`;
      const c = await service(collectArgs(q), env);
      const i = await service(indexArgs(q, latPrefix), env);
      const lat: number[] = [];
      const seen = new Set<string>();
      const script = `const fs=require('fs');let n=0;const t=setInterval(()=>{fs.closeSync(fs.openSync(process.argv[1],'r'));if(++n>=${LATENCY_SECONDS * LATENCY_RATE})clearInterval(t)},${1000 / LATENCY_RATE})`;
      const w = spawn(process.execPath, ['-e', script, target], { stdio: 'ignore' });
      const total = LATENCY_SECONDS * LATENCY_RATE;
      const end = Date.now() + (LATENCY_SECONDS + 30) * 1000;
      while (seen.size < total && Date.now() < end) {
        const r = await es
          .search<{ '@timestamp': string }>({ index: `${latPrefix}-*`, size: 1000, ignore_unavailable: true, allow_no_indices: true, _source: ['@timestamp'], query: { range: { '@timestamp': { gte: 'now-2m' } } }, sort: [{ '@timestamp': 'desc' }] })
          .catch(() => ({ hits: { hits: [] as { _id?: string; _source?: { '@timestamp': string } }[] } })); // index still starting
        const now = Date.now();
        for (const h of r.hits.hits) {
          if (seen.has(h._id!)) continue;
          seen.add(h._id!);
          lat.push(now - Date.parse(h._source!['@timestamp']));
        }
        await sleep(50);
      }
      w.kill();
      await c.stop();
      await i.stop();
      const p50 = percentile(lat, 50);
      const p99 = percentile(lat, 99);
      rows.push({ name: 'event to searchable, p50', value: `${p50} ms`, note: `${lat.length} of ${total} events seen; polled every 50 ms` });
      rows.push({ name: 'event to searchable, p99', value: `${p99} ms`, target: '<= 2000 ms (1 s refresh)', met: p99 <= 2000 });
    }
    if (process.argv.includes('--topologies')) await otherTopologies({ name, redis, env, collectArgs, indexArgs, target, rows }, redisUrl);
  } finally {
    for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
    await es.indices.delete({ index: `${name}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => undefined);
    await es.indices.deleteIndexTemplate({ name: `${name}-*` }).catch(() => undefined);
    // The queues' keys (jobs, events, meta) of every stage: nothing of the bench stays in Redis.
    const left = await redis.keys(`filewarden:${name}-*`).catch(() => [] as string[]);
    if (left.length) await redis.del(...left).catch(() => undefined);
    redis.disconnect();
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  printTable(rows);
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
});
