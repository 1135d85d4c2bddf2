// `filewarden collect` (to Redis), `filewarden index`, `filewarden gaps` and `filewarden up`: the
// pipeline commands. Each long-running one stops cleanly on SIGINT/SIGTERM or after --duration.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { keyId } from '../../contract/src/chain';
import { generateKeys, loadPrivateKey, loadPublicKey } from '../../stack/src/command-keys';
import { loadRules } from '../../indexer/src/rules/rule-loader';
import { INDEXER_DEFAULTS } from '../../indexer/src/worker/defaults';
import { loadRetentionPolicy } from '../../indexer/src/retention/retention-policy';
import { parseMetrics } from '../../stack/src/metrics-server';
import type { EsConnectionOptions } from '../../indexer/src/es-client';
import { defaultStateDir, resolveEndpoint, stackUp } from '../../stack/src';
import { writeFileAtomic } from '../../stack/src/atomic-write';
import { choosePort } from '../../stack/src/ports';
import type { CollectOptions } from './collect';
import { checkPeriod } from './period';
import type { LogFormat } from './service-log';

// The collector's modules load only where the collector runs (collect, up, the enrolment of this
// host): the indexer image has neither collector/ nor the addon (docker/Dockerfile).
type CollectorModules = typeof import('../../collector/src/agent/collector-agent') & typeof import('../../collector/src/enrich/host-identity') & typeof import('../../collector/src/integrity/hash-chain') & typeof import('./collect');
const collector = (): CollectorModules => ({
  ...(require('../../collector/src/agent/collector-agent') as typeof import('../../collector/src/agent/collector-agent')),
  ...(require('../../collector/src/enrich/host-identity') as typeof import('../../collector/src/enrich/host-identity')),
  ...(require('../../collector/src/integrity/hash-chain') as typeof import('../../collector/src/integrity/hash-chain')),
  ...(require('./collect') as typeof import('./collect')),
});

export interface ShipOptions {
  redisUrl?: string;
  queue: string;
  batchEvents?: number;
  batchDelayMs?: number;
  spoolMaxBytes?: number;
  metricsPort?: number;
  metricsHost?: string;
  commandPubkey?: string;
  /** false with --no-chain. */
  chain?: boolean;
  /** false with --no-pin. */
  pin?: boolean;
  hostName?: string;
  hostId?: string;
  redisWaitReplicas?: number;
  redisWaitMs?: number;
  /** --log-format: plain lines or pino JSON lines. @defaultValue 'text' */
  logFormat?: LogFormat;
}

export interface EsCliOptions {
  esUrl?: string;
  esApiKey?: string;
  esUsername?: string;
  esPassword?: string;
  esCa?: string;
  esInsecure?: boolean;
}

export interface IndexCliOptions extends EsCliOptions {
  redisUrl?: string;
  queue: string;
  indexPrefix: string;
  deadletterIndex: string;
  checkpointIndex: string;
  concurrency: number;
  templates: boolean;
  metricsPort?: number;
  metricsHost?: string;
  duration?: number;
  alertIndex: string;
  auditIndex: string;
  rules: string[];
  commandKey?: string;
  commandLifetimeMs: number;
  trustedKeys: string[];
  retentionPolicy?: string;
  retentionIntervalMin: number;
  /** --log-format: plain lines or pino JSON lines. @defaultValue 'text' */
  logFormat?: LogFormat;
}

type Log = (line: string) => void;

/**
 * How long starting or stopping a service may take once a stop is asked for: enough to finish
 * the batches in hand against a slow Elasticsearch, not so long that --duration means nothing.
 */
export const STOP_DEADLINE_MS = 30_000;
/** After a stop, how long handles left open (a connection retrying an unreachable Redis) may keep the process. */
const EXIT_GRACE_MS = 2000;

interface Stopper {
  /** Resolves with why: SIGINT, SIGTERM or duration. */
  stopped: Promise<string>;
  cancel(): void;
}

/** Resolves on SIGINT, SIGTERM or after `seconds`, counted from now. */
function untilStopped(seconds?: number): Stopper {
  let cancel!: () => void;
  const stopped = new Promise<string>((resolve) => {
    const done = (why: string): void => {
      cancel();
      resolve(why);
    };
    const onInt = (): void => done('SIGINT');
    const onTerm = (): void => done('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    const timer = seconds ? setTimeout(() => done('duration'), seconds * 1000) : undefined;
    cancel = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      clearTimeout(timer);
    };
  });
  return { stopped, cancel };
}

/** True when `p` settles within `ms`; its rejection is passed on. */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What is left undone when a stop is cut short. */
  unfinished?(): string;
}

/**
 * Starts a long-running service, runs it until a signal or --duration (counted from the command's
 * start, so it holds while starting too), then stops it cleanly. Neither a start nor a stop that
 * waits on an unreachable service holds the process past STOP_DEADLINE_MS: it says what is left
 * undone and exits 1.
 */
async function serve(name: string, svc: Service, duration: number | undefined, stopping: (why: string) => void, log: Log): Promise<number> {
  const stop = untilStopped(duration);
  const started = svc.start();
  let first: string | undefined;
  try {
    first = await Promise.race([started.then(() => undefined), stop.stopped]);
  } catch (e) {
    stop.cancel();
    throw e;
  }
  const why = first ?? (await stop.stopped);
  if (first !== undefined) {
    log(`${name}: ${why} while starting: stopping once started`);
    if (!(await within(started, STOP_DEADLINE_MS))) giveUp(name, `the start did not finish within ${STOP_DEADLINE_MS / 1000} s`, svc, log);
  }
  stopping(why);
  if (!(await within(svc.stop(), STOP_DEADLINE_MS))) giveUp(name, `the stop did not finish within ${STOP_DEADLINE_MS / 1000} s`, svc, log);
  // Stopped: whatever still holds the event loop has nothing left to deliver.
  setTimeout(() => {
    const open = [...new Set(process.getActiveResourcesInfo().filter((r) => !['PipeWrap', 'TTYWrap', 'FSReqCallback'].includes(r)))];
    log(`${name}: stopped; exiting although ${open.join(', ') || 'handles'} still hold the process (a connection retrying an unreachable service?)`);
    process.exit(process.exitCode ?? 0);
  }, EXIT_GRACE_MS).unref();
  return 0;
}

function giveUp(name: string, what: string, svc: Service, log: Log): never {
  log(`filewarden: ${name}: ${what}; exiting: ${svc.unfinished?.() ?? 'work in hand is left unfinished'}`);
  process.exit(1);
}

export function esOptions(stateDir: string, o: EsCliOptions): EsConnectionOptions {
  return {
    url: resolveEndpoint(stateDir, 'elasticsearch', o.esUrl),
    apiKey: o.esApiKey,
    username: o.esUsername,
    password: o.esPassword,
    caFile: o.esCa,
    insecure: o.esInsecure,
  };
}

export async function runCollector(stateDir: string, o: CollectOptions & ShipOptions, log: Log): Promise<number> {
  const { CollectorAgent, filtersFrom, policyFrom } = collector();
  const agent = new CollectorAgent({
    capture: { hooks: o.hooks, filters: filtersFrom(o), policy: policyFrom(o), ringbufBytes: o.ringbufBytes, ops: o.ops },
    redisUrl: resolveEndpoint(stateDir, 'redis', o.redisUrl),
    stateDir: path.join(stateDir, 'collector'),
    queue: o.queue,
    batchEvents: o.batchEvents,
    batchDelayMs: o.batchDelayMs,
    spoolMaxBytes: o.spoolMaxBytes,
    metricsPort: o.metricsPort,
    metricsHost: o.metricsHost,
    ...(o.commandPubkey ? { commandPublicKey: loadPublicKey(o.commandPubkey) } : {}),
    chain: o.chain ?? true,
    pin: o.pin ?? true,
    ...(o.hostName ? { hostName: o.hostName } : {}),
    ...(o.hostId ? { hostId: o.hostId } : {}),
    ...(o.redisWaitReplicas !== undefined ? { redisWaitReplicas: o.redisWaitReplicas } : {}),
    ...(o.redisWaitMs !== undefined ? { redisWaitMs: o.redisWaitMs } : {}),
    log,
  });
  return serve('collect', agent, o.duration, (why) => log(`collect: stopping (${why}): flushing`), log);
}

// The Elasticsearch side is loaded only by the commands that use it: the collector stays lean.
const esModules = async () => ({
  ...(await import('../../indexer/src/es-client')),
  ...(await import('../../indexer/src/gaps/sequence-gaps')),
  ...(await import('../../indexer/src/worker/indexer-worker')),
});

export async function runIndexer(stateDir: string, o: IndexCliOptions, log: Log): Promise<number> {
  const { esClient, IndexerWorker } = await esModules();
  const worker = new IndexerWorker({
    es: esClient(esOptions(stateDir, o)),
    redisUrl: resolveEndpoint(stateDir, 'redis', o.redisUrl),
    queue: o.queue,
    indexPrefix: o.indexPrefix,
    deadletterIndex: o.deadletterIndex,
    checkpointIndex: o.checkpointIndex,
    alertIndex: o.alertIndex,
    auditIndex: o.auditIndex,
    rules: loadRules(o.rules),
    ...(o.commandKey ? { commandKey: loadPrivateKey(o.commandKey) } : {}),
    commandLifetimeMs: o.commandLifetimeMs,
    trustedKeys: o.trustedKeys,
    ...(o.retentionPolicy ? { retention: loadRetentionPolicy(o.retentionPolicy), retentionIntervalMs: o.retentionIntervalMin * 60_000 } : {}),
    concurrency: o.concurrency,
    installTemplates: o.templates,
    metricsPort: o.metricsPort,
    metricsHost: o.metricsHost,
    log,
  });
  const unfinished = (): string => 'batches in hand go back to the queue when their locks expire (15 s) and are indexed by the next indexer to take them';
  return serve('index', { start: () => worker.start(), stop: () => worker.stop(), unfinished }, o.duration, (why) => log(`index: stopping (${why}): finishing the batches in hand`), log);
}

export interface GapsCliOptions extends EsCliOptions {
  indexPrefix: string;
  deadletterIndex: string;
  checkpointIndex: string;
  bootId?: string;
  /** Only the host boots with events or checkpoints in [from, to]. */
  from?: Date;
  /** @defaultValue now, when from is given */
  to?: Date;
  json?: boolean;
}

/** Prints every missing sequence range; exit 1 when any event is missing. */
export async function gapsCommand(stateDir: string, o: GapsCliOptions, log: Log): Promise<number> {
  const { esClient, sequenceGaps } = await esModules();
  const es = esClient(esOptions(stateDir, o));
  await es.indices.refresh({ index: `${o.indexPrefix}-*,${o.deadletterIndex},${o.checkpointIndex}`, ignore_unavailable: true, allow_no_indices: true });
  const period = o.from || o.to ? { from: o.from ?? new Date(0), to: o.to ?? new Date() } : undefined;
  if (period) checkPeriod(period.from, period.to);
  const report = await sequenceGaps(es, { indices: [`${o.indexPrefix}-*`, o.deadletterIndex], checkpointIndex: o.checkpointIndex }, { bootId: o.bootId, period });
  if (o.json) log(JSON.stringify(report, null, 2));
  else if (report.length === 0) log(period ? `gaps: no sequenced events between ${period.from.toISOString()} and ${period.to.toISOString()}` : 'gaps: no sequenced events found');
  for (const g of o.json ? [] : report) {
    const head = `host ${g.host} boot ${g.bootId} stream ${g.stream}: seq 1..${g.last}, ${g.found} found, ${g.missingCount} missing`;
    log(g.duplicated ? `${head}, ${g.duplicated} DUPLICATED` : head);
    for (const m of g.missing) log(`  missing ${m.from === m.to ? m.from : `${m.from}..${m.to}`}`);
  }
  return report.some((g) => g.missingCount > 0 || g.duplicated > 0) ? 1 : 0;
}

/**
 * `up` enrolls its own collector: the host key (created here if the collector has not run yet) is
 * written as <state>/trusted-keys/<host>.pub, the directory the indexer trusts. Returns that directory.
 */
export function enrollThisHost(stateDir: string, log: Log): string {
  const { hostIdentity, loadOrCreateHostKey } = collector();
  const key = loadOrCreateHostKey(path.join(stateDir, 'collector'));
  const dir = path.join(stateDir, 'trusted-keys');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const id = hostIdentity();
  // writeFileAtomic writes under a dotfile name first: the indexer reads every other file in the directory.
  const put = (name: string, text: string): boolean => {
    const file = path.join(dir, name);
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return false;
    writeFileAtomic(file, text, { mode: 0o644 });
    return true;
  };
  const pub = `${id.name}.pub`;
  const had = fs.existsSync(path.join(dir, pub));
  if (put(pub, key.publicKey.export({ type: 'spki', format: 'pem' }).toString())) {
    log(`up: enrolled this host's collector key ${keyId(key.publicKey)} as ${path.join(dir, pub)}${had ? ' (it replaces the key enrolled before)' : ''}`);
  }
  // The machine id commands are addressed to (host.id); without it the host can cause none.
  if (id.id) put(`${id.name}.id`, `${id.id}\n`);
  return dir;
}

export interface UpOptions {
  hooks: string;
  duration?: number;
  fix?: boolean;
  /** Rule files evaluated on top of the built-in pack. @defaultValue [] */
  rules?: string[];
  /** Retention policy the indexer runs hourly; none without it. */
  retentionPolicy?: string;
}

/**
 * `up` signs its own enforcement commands: the pair lives in <state>/command-keys (created on the first start,
 * the private key 0600 in a 0700 directory) and is reused after, so a collector never sees a second key.
 */
export function ensureCommandKeys(stateDir: string, log: Log): { privateFile: string; publicFile: string } {
  const dir = path.join(stateDir, 'command-keys');
  const privateFile = path.join(dir, 'command-signing.key');
  const publicFile = path.join(dir, 'command-signing.pub');
  if (fs.existsSync(privateFile) && fs.existsSync(publicFile)) {
    // Loading both refuses a damaged file now, not in a child that would restart forever.
    loadPrivateKey(privateFile);
    loadPublicKey(publicFile);
    return { privateFile, publicFile };
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  // generateKeys refuses when only one of the two exists: replacing half a pair is for `keys generate --force`.
  const k = generateKeys(dir);
  log(`up: created the command-signing key pair ${k.privateFile} (0600) and ${k.publicFile}`);
  return k;
}

/** Everything the two children of `up` are started with, decided in one place. */
export interface UpChildren {
  hooks: string;
  collectorMetricsPort: number;
  indexerMetricsPort: number;
  trustedKeysDir: string;
  commandKeys: { privateFile: string; publicFile: string };
  rules: string[];
  retentionPolicy?: string;
}

/** The collector's and the indexer's command lines (after `filewarden --state-dir <dir>`). */
export function upChildArgs(c: UpChildren): { collect: string[]; index: string[] } {
  return {
    collect: ['collect', '--hooks', c.hooks, '--metrics-port', String(c.collectorMetricsPort), '--command-pubkey', c.commandKeys.publicFile],
    index: [
      'index',
      '--metrics-port',
      String(c.indexerMetricsPort),
      '--trusted-keys',
      c.trustedKeysDir,
      '--command-key',
      c.commandKeys.privateFile,
      ...['builtin', ...c.rules].flatMap((r) => ['--rules', r]),
      ...(c.retentionPolicy ? ['--retention-policy', c.retentionPolicy] : []),
    ],
  };
}

/** Where the run's data is and the commands that read it, printed when `up` stops. */
export function upSummary(stateDir: string): string[] {
  const d = INDEXER_DEFAULTS;
  const global = stateDir === defaultStateDir() ? '' : ` --state-dir ${stateDir}`;
  return [
    `up: events in ${d.indexPrefix}-*, alerts in ${d.alertIndex}, enforcement and chain links in ${d.auditIndex}, refused events in ${d.deadletterIndex}`,
    `up: search:        filewarden${global} search --from now-1h 'file.path:"/etc/shadow"'   (--alerts for the alerts)`,
    `up: report:        filewarden${global} report --from now/d --format html --out report.html`,
    `up: verify chains: filewarden${global} verify --from now/d --trusted-keys ${path.join(stateDir, 'trusted-keys')}`,
  ];
}

interface Child {
  name: 'collect' | 'index';
  args: string[];
  metricsUrl: string;
  proc?: ChildProcess;
}

/**
 * Runs the collector and the indexer as two supervised child processes (so either can crash
 * alone, as in production under systemd) and prints one status line a second.
 */
export async function up(stateDir: string, o: UpOptions, log: Log, doctor: () => Promise<number>): Promise<number> {
  if (!process.env.FILEWARDEN_REDIS_URL || !process.env.FILEWARDEN_ELASTICSEARCH_URL) await stackUp({ stateDir, log });
  if ((await doctor()) !== 0) return 1;
  // The built-in pack always runs; --rules files come on top of it.
  const rules = (o.rules ?? []).filter((f) => f !== 'builtin').map((f) => path.resolve(f));
  // A bad rule file or policy stops up here, once, instead of making the indexer exit and restart every 2 s.
  loadRules(['builtin', ...rules]);
  const retentionPolicy = o.retentionPolicy ? path.resolve(o.retentionPolicy) : undefined;
  if (retentionPolicy) loadRetentionPolicy(retentionPolicy);
  const cPort = (await choosePort('collector metrics', 9464, { explicit: false })).port;
  const iPort = (await choosePort('indexer metrics', 9465, { explicit: false, avoid: [cPort] })).port;
  const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'filewarden.js');
  const args = upChildArgs({
    hooks: o.hooks,
    collectorMetricsPort: cPort,
    indexerMetricsPort: iPort,
    trustedKeysDir: enrollThisHost(stateDir, log),
    commandKeys: ensureCommandKeys(stateDir, log),
    rules,
    ...(retentionPolicy ? { retentionPolicy } : {}),
  });
  const children: Child[] = [
    { name: 'collect', args: args.collect, metricsUrl: `http://127.0.0.1:${cPort}/metrics` },
    { name: 'index', args: args.index, metricsUrl: `http://127.0.0.1:${iPort}/metrics` },
  ];
  const tty = process.stdout.isTTY === true;
  let statusShown = false;
  const print = (line: string): void => {
    if (tty && statusShown) process.stdout.write('\r\x1b[K');
    statusShown = false;
    log(line);
  };
  let stopping = false;
  const startChild = (c: Child): void => {
    const flags = c.name === 'collect' ? collector().COLLECTOR_NODE_FLAGS : [];
    const proc = spawn(process.execPath, [...flags, bin, '--state-dir', stateDir, ...c.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.proc = proc;
    for (const s of [proc.stdout, proc.stderr]) {
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) print(`[${c.name}] ${l}`);
      });
    }
    proc.on('exit', (code, signal) => {
      if (stopping) return;
      print(`up: ${c.name} exited (${signal ?? `code ${code}`}); restarting in 2 s`);
      setTimeout(() => !stopping && startChild(c), 2000);
    });
  };
  children.forEach(startChild);

  let prev: { t: number; seq: number } | undefined;
  const status = async (): Promise<void> => {
    const [cm, im] = await Promise.all(children.map((c) => fetch(c.metricsUrl).then((r) => r.text()).then(parseMetrics, () => new Map<string, number>())));
    const seq = cm.get('filewarden_events_sequenced_total') ?? 0;
    const now = Date.now();
    const rate = prev && now > prev.t ? Math.max(0, ((seq - prev.seq) * 1000) / (now - prev.t)) : 0;
    prev = { t: now, seq };
    const depth = ['wait', 'active', 'delayed', 'prioritized'].reduce((a, s) => a + (im.get(`filewarden_queue_jobs{state="${s}"}`) ?? 0), 0);
    const dropped = (cm.get('filewarden_kernel_events_dropped_total') ?? 0) + (cm.get('filewarden_spool_dropped_events_total') ?? 0);
    const line =
      `events/s ${rate.toFixed(0)} | queue ${depth} batches | spooled ${cm.get('filewarden_spool_events') ?? 0} | ` +
      `indexed ${im.get('filewarden_indexer_events_indexed_total') ?? 0} | dead-lettered ${im.get('filewarden_indexer_events_deadlettered_total') ?? 0} | dropped ${dropped} | ` +
      `alerts ${im.get('filewarden_indexer_alerts_total') ?? 0} | commands ${im.get('filewarden_indexer_commands_sent_total') ?? 0}`;
    if (tty) {
      process.stdout.write(`\r\x1b[K${line}`);
      statusShown = true;
    } else log(`status: ${line}`);
  };
  const timer = setInterval(() => void status(), tty ? 1000 : 5000);
  const why = await untilStopped(o.duration).stopped;
  clearInterval(timer);
  stopping = true;
  print(`up: stopping (${why}): collector first, so everything it read reaches the queue`);
  const exited = (c: Child): Promise<void> =>
    new Promise((r) => (c.proc && c.proc.exitCode === null && c.proc.signalCode === null ? c.proc.once('exit', () => r()) : r()));
  children[0].proc?.kill('SIGTERM');
  await exited(children[0]);
  children[1].proc?.kill('SIGTERM');
  await exited(children[1]);
  for (const line of upSummary(stateDir)) print(line);
  return 0;
}
