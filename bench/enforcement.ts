// Remote enforcement latency on this machine: a process reads a protected file, the indexer's rule
// raises an alert and sends a signed kill, the collector kills it. Prints p50/p99 of alert-to-kill
// and open-to-kill over N trials, next to a same-run baseline: the direct pidfd kill alone.
// Needs root and the embedded stack (npm run bench:enforcement starts it).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@elastic/elasticsearch';
import { startTicksOf } from '../collector/src/enrich/process-info';
import { native } from '../collector/src/probe/native';
import { connectRedis } from '../stack/src/redis-connect';
import { resolveEndpoint } from '../stack/src/endpoints';
import { enrollThisHost } from '../cli/src/pipeline';
import { benchStateDir } from './workload';

const TRIALS = Number(process.env.FW_BENCH_TRIALS ?? 30);
const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'filewarden.js');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function until<T>(f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    // A just-created index answers 503 until its shard is up: that is "not yet".
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

function service(args: string[], env: NodeJS.ProcessEnv): { proc: ChildProcess; log: () => string } {
  const proc = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  proc.stdout!.on('data', (d: Buffer) => (text += d));
  proc.stderr!.on('data', (d: Buffer) => (text += d));
  return { proc, log: () => text };
}

async function main(): Promise<void> {
  const stateDir = benchStateDir();
  const redisUrl = resolveEndpoint(stateDir, 'redis');
  const esUrl = resolveEndpoint(stateDir, 'elasticsearch');
  const es = new Client({ node: esUrl });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fw-bench-enf-'));
  const name = `fwbench-${process.pid}`;
  const prot = path.join(work, 'data', 'protected');
  fs.mkdirSync(prot, { recursive: true });
  fs.writeFileSync(path.join(prot, 'secret'), 'x\n');
  spawnSync(process.execPath, [bin, 'keys', 'generate', '--out', path.join(work, 'keys')]);
  const rules = path.join(work, 'rules.yaml');
  fs.writeFileSync(rules, `rules:\n  - id: bench-kill\n    name: bench\n    match: {path_prefix: ${prot}/}\n    action: kill\n`);
  const envs = { FILEWARDEN_REDIS_URL: redisUrl, FILEWARDEN_ELASTICSEARCH_URL: esUrl };
  const names = ['--index-prefix', `${name}-events`, '--deadletter-index', `${name}-dl`, '--checkpoint-index', `${name}-cp`, '--alert-index', `${name}-alerts`, '--audit-index', `${name}-audit`];
  const indexer = service(['--state-dir', work, 'index', '--queue', name, ...names, '--metrics-port', '0', '--rules', rules, '--command-key', path.join(work, 'keys', 'command-signing.key'), '--trusted-keys', enrollThisHost(work, () => undefined)], envs);
  const collector = service(['--state-dir', work, 'collect', '--hooks', 'tracepoint', '--include-path', `${work}/data/`, '--queue', name, '--metrics-port', '0', '--command-pubkey', path.join(work, 'keys', 'command-signing.pub')], envs);
  try {
    await until(async () => (/taking signed commands/.test(collector.log()) && /rules ->/.test(indexer.log()) ? true : undefined));
    // Baseline: the pidfd kill itself, from a process that is already running.
    const base: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const c = spawn('sleep', ['30']);
      await sleep(20);
      const start = startTicksOf(fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8'))!;
      const t0 = performance.now();
      const exited = new Promise((r) => c.on('exit', r));
      native().killProcess(c.pid!, start);
      await exited;
      base.push(performance.now() - t0);
    }
    const alertToKill: number[] = [];
    const openToKill: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const child = spawn('/bin/sh', ['-c', `read x < ${prot}/secret; exec sleep 30`], { stdio: 'ignore' });
      const at = await new Promise<number>((r) => child.on('exit', () => r(Date.now())));
      const alert = await until(async () => {
        await es.indices.refresh({ index: `${name}-alerts`, ignore_unavailable: true });
        const r = await es.search<{ '@timestamp': string; event: { created: string } }>({ index: `${name}-alerts`, ignore_unavailable: true, query: { term: { 'process.pid': child.pid } } });
        return r.hits.hits[0]?._source;
      });
      alertToKill.push(at - Date.parse(alert.event.created));
      openToKill.push(at - Date.parse(alert['@timestamp']));
    }
    const row = (n: string, xs: number[]): string => `${n.padEnd(32)} p50 ${pct(xs, 50).toFixed(1).padStart(7)} ms   p99 ${pct(xs, 99).toFixed(1).padStart(7)} ms`;
    console.log(`remote enforcement, ${TRIALS} trials (tracepoint hook, batch delay 200 ms)`);
    console.log(row('baseline: pidfd kill alone', base));
    console.log(row('alert -> kill (remote path)', alertToKill));
    console.log(row('open -> kill (incl. batching)', openToKill));
    console.log(`ratio alert->kill p50 / baseline p50: ${(pct(alertToKill, 50) / pct(base, 50)).toFixed(1)}x; target p99 <= 250 ms: ${pct(alertToKill, 99) <= 250 ? 'MET' : 'NOT MET'}`);
    console.log('in-kernel deny (10,000 attempts under lsm): the kernel matrix cell "deny x10000" (npm run test:vm)');
  } finally {
    collector.proc.kill('SIGTERM');
    indexer.proc.kill('SIGTERM');
    await sleep(1500);
    await es.indices.delete({ index: `${name}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => undefined);
    await es.indices.deleteIndexTemplate({ name: `${name}-*` }).catch(() => undefined);
    const redis = connectRedis(redisUrl);
    const left = await redis.keys(`filewarden:${name}*`).catch(() => [] as string[]);
    if (left.length) await redis.del(...left).catch(() => undefined);
    redis.disconnect();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
