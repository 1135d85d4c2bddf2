// The `filewarden` command line: wires subcommands to the components; no logic of its own.
import { Command, InvalidArgumentError, Option } from 'commander';
import datemath from '@elastic/datemath';
import moment from 'moment';
import { ALL_SERVICES, ELASTICSEARCH_VERSION, ELASTICSEARCH_VERSIONS, ES_MAX_NODES, defaultStateDir, stackDown, stackStatus, stackUp, type Service, type ServiceStatus } from '../../stack/src';
import { run } from '../../stack/src/processes';
import { COLLECTOR_DEFAULTS } from '../../contract/src/collector-defaults';
import { MAX_LIFETIME_MS } from '../../contract/src/command';
import { redactUrl } from '../../stack/src/redact';
import { SENTINEL_SCHEME, SENTINEL_URL_FORM, parseSentinelUrl } from '../../stack/src/redis-connect';
import { debugWanted, errorLines } from './error-report';
import type { CollectOptions } from './collect';
import { parseOps, parsePositive, repeat } from './option-parsers';
import type { GapsCliOptions, IndexCliOptions, ShipOptions, UpOptions } from './pipeline';
import { DEFAULT_QUEUE } from '../../contract/src/queue';
import { INDEXER_DEFAULTS } from '../../indexer/src/worker/defaults';
import { keysGenerate, rulesLint, rulesTest, type RulesTestOptions } from './rules';
import type { ReportCliOptions, RetentionCliOptions, VerifyCliOptions } from './compliance';
import type { KibanaImportCliOptions } from './kibana';
import type { SearchCliOptions } from './search';
import { fatalLog, LOG_FORMATS, serviceLog } from './service-log';

const log = (line: string): void => console.log(line);

// What imports the collector (collect.ts, doctor/, pipeline.ts, hook selection) loads only when a command that
// uses it runs, or when one of collect's options is parsed: the indexer image has no collector/ and no native
// addon (docker/Dockerfile). Option parsers are synchronous, so they require(); actions await import().
const collectModule = (): typeof import('./collect') => require('./collect') as typeof import('./collect');
const hookSelect = (): typeof import('../../collector/src/probe/hook-select') => require('../../collector/src/probe/hook-select') as typeof import('../../collector/src/probe/hook-select');
const parseHookRequest = (v: string) => hookSelect().parseHookRequest(v);
const parsePrefix = (v: string) => collectModule().parsePrefix(v);
const parsePolicyPrefix = (v: string) => collectModule().parsePolicyPrefix(v);
const parseComm = (v: string) => collectModule().parseComm(v);
const parseUid = (v: string) => collectModule().parseUid(v);
const parseCgroup = (v: string) => collectModule().parseCgroup(v);
const pipeline = async () => import('./pipeline');

/** A host name that is also a file name: trusted-keys/<host.name>.pub enrolls its collector. */
function parseHostName(v: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(v)) throw new InvalidArgumentError('a host name is 1 to 255 of A-Z a-z 0-9 . _ - and starts with a letter or digit');
  return v;
}

/** A host id that is also a queue name: commands-<host.id>. */
function parseHostId(v: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(v)) throw new InvalidArgumentError('a host id is 1 to 128 of A-Z a-z 0-9 . _ - and starts with a letter or digit');
  return v;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a TCP port number between 1 and 65535');
  return n;
}

function parseServices(value: string): Service[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of list) {
    if (!(ALL_SERVICES as readonly string[]).includes(s)) throw new InvalidArgumentError(`unknown service "${s}" (expected ${ALL_SERVICES.join(', ')})`);
  }
  if (list.length === 0) throw new InvalidArgumentError('expected at least one service');
  return list as Service[];
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

function parseMetricsPort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('expected a TCP port number (0 picks a free one)');
  return n;
}

function parseBytes(value: string): number {
  const m = /^(\d+)([kmg]i?b?)?$/i.exec(value);
  if (!m) throw new InvalidArgumentError('expected a size such as 1073741824, 512m or 1g');
  const unit = (m[2] ?? '').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

/** The longest timer Node keeps (2^31 - 1 ms): a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** --duration: seconds, within what one timer can wait. */
function parseDuration(value: string): number {
  const n = parsePositive(value);
  const max = Math.floor(MAX_TIMER_MS / 1000);
  if (n > max) throw new InvalidArgumentError(`expected at most ${max} seconds (24.8 days); stop longer runs with SIGTERM`);
  return n;
}

/** --redis-wait-replicas: how many replicas must have a batch before it counts as acknowledged. */
function parseReplicas(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 16) throw new InvalidArgumentError('expected a number of replicas from 0 to 16');
  return Number(value);
}

/** --redis-wait-ms: within the 5 s an add may take in all. */
function parseWaitMs(value: string): number {
  const n = parseCount(value);
  if (n > 4000) throw new InvalidArgumentError('expected at most 4000 ms: an add that takes 5 s in all counts as failed');
  return n;
}

function parseDelayMs(value: string): number {
  const n = parseCount(value);
  if (n > MAX_TIMER_MS) throw new InvalidArgumentError(`expected at most ${MAX_TIMER_MS} ms`);
  return n;
}

/** --command-lifetime-ms: collectors refuse a command that lives longer than MAX_LIFETIME_MS (docs/enforcement.md). */
function parseLifetime(value: string): number {
  const n = parseCount(value);
  if (n > MAX_LIFETIME_MS) throw new InvalidArgumentError(`expected at most ${MAX_LIFETIME_MS} ms (10 minutes): collectors refuse a command valid for longer (docs/enforcement.md)`);
  return n;
}

function parseIntervalMin(value: string): number {
  const n = parseCount(value);
  const max = Math.floor(MAX_TIMER_MS / 60_000);
  if (n > max) throw new InvalidArgumentError(`expected at most ${max} minutes (24.8 days)`);
  return n;
}

/** --ringbuf-bytes: the kernel takes a power of two of at least a page that fits in 32 bits. */
function parseRingbufBytes(value: string): number {
  const n = Math.floor(parsePositive(value));
  if (n < 4096 || n > 2 ** 31 || (n & (n - 1)) !== 0) throw new InvalidArgumentError('expected a power of two from 4096 (a page) to 2147483648, e.g. 4194304 (4 MiB, the default)');
  return n;
}

function parseIndexName(value: string): string {
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(value) || value.length > 200) throw new InvalidArgumentError('expected a lowercase Elasticsearch index name (a-z, 0-9, _ . -)');
  return value;
}

function addEsOptions(c: Command): Command {
  return c
    .addOption(new Option('--es-url <url>', 'Elasticsearch URL (default: the embedded stack)').env('FILEWARDEN_ELASTICSEARCH_URL'))
    .addOption(new Option('--es-api-key <key>', 'API key (base64 id:key)').env('FILEWARDEN_ES_API_KEY'))
    .addOption(new Option('--es-username <name>', 'basic-auth user').env('FILEWARDEN_ES_USERNAME'))
    .addOption(new Option('--es-password <password>', 'basic-auth password').env('FILEWARDEN_ES_PASSWORD'))
    .addOption(new Option('--es-ca <file>', 'PEM CA certificate for https').env('FILEWARDEN_ES_CA'))
    .option('--es-insecure', 'do not verify the server certificate (test clusters only)')
    .option('--index-prefix <name>', 'event indices are <prefix>-YYYY.MM.DD', parseIndexName, INDEXER_DEFAULTS.indexPrefix)
    .option('--deadletter-index <name>', 'where refused events go, with the error', parseIndexName, INDEXER_DEFAULTS.deadletterIndex)
    .option('--checkpoint-index <name>', 'the highest sequence number each collector gave out (for gaps at the tail)', parseIndexName, INDEXER_DEFAULTS.checkpointIndex);
}

/**
 * Elasticsearch date math, evaluated in UTC: moment parses ISO 8601 strictly (no guessing at other formats) and
 * rounds `now/d` to a UTC day, so a bound means the same instant on every host whatever its time zone.
 */
const utcMoment = Object.assign((input?: moment.MomentInput) => (typeof input === 'string' ? moment.utc(input, moment.ISO_8601) : moment.utc(input)), moment) as unknown as typeof moment;

export interface ParseTimeOptions {
  /** What "now" means. @defaultValue the current time */
  now?: Date;
  /** Round `/unit` up to the end of the unit (for an end bound: `--to now/d` is the end of today). @defaultValue false */
  roundUp?: boolean;
}

/**
 * A time bound: an ISO 8601 date or time ("2026-11-01", "2026-11-01T12:00:00Z", UTC unless it says otherwise),
 * "now", or Elasticsearch date math ("now-7d", "now/d", "now-1h/h", "2026-11-01||+1d").
 */
export function parseTime(v: string, o: ParseTimeOptions = {}): Date {
  const m = datemath.parse(v.trim(), { momentInstance: utcMoment, roundUp: o.roundUp ?? false, ...(o.now ? { forceNow: o.now } : {}) });
  if (!m || !m.isValid()) throw new InvalidArgumentError(`expected an ISO 8601 date or time (2026-11-01, 2026-11-01T12:00:00Z) or date math (now, now-7d, now/d, now-1h/h)`);
  return m.toDate();
}

/** An end bound: date math rounds up (`--to now/d` is the last millisecond of today). */
export const parseEndTime = (v: string): Date => parseTime(v, { roundUp: true });
const parseStartTime = (v: string): Date => parseTime(v);

/** --to defaults to the moment the command runs, not the moment the program was built. */
function defaultToNow(cmd: Command): void {
  if (cmd.getOptionValue('to') === undefined) cmd.setOptionValue('to', new Date());
}

/** search --size: Elasticsearch returns at most index.max_result_window (10000) hits to one request. */
function parseSearchSize(value: string): number {
  const n = parseCount(value);
  if (n > 10_000) throw new InvalidArgumentError('expected at most 10000 (Elasticsearch\'s max_result_window); narrow --from/--to for more');
  return n;
}

function parseEsNodes(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > ES_MAX_NODES) throw new InvalidArgumentError(`must be a whole number from 1 to ${ES_MAX_NODES}`);
  return n;
}

function parseHeap(value: string): string {
  if (!/^\d+[mMgG]$/.test(value)) throw new InvalidArgumentError('expected a JVM size such as 512m or 1g');
  return value.toLowerCase();
}

function formatStatus(s: ServiceStatus): string {
  const state = s.running ? 'running' : s.pid ? 'stopped' : 'not started';
  const parts = [s.service.padEnd(13), state.padEnd(11)];
  if (s.pid) parts.push(`pid ${s.pid}`.padEnd(10));
  if (s.url) parts.push(s.url.padEnd(24));
  if (s.version) parts.push(`version ${s.version}`);
  if (s.detail) parts.push(s.detail);
  return parts.join(' ') + s.warnings.map((w) => `\n  WARNING: ${w}`).join('');
}

/** The options among `keys` given on the command line (not defaults, not the environment), as typed. */
function givenOnCommandLine(cmd: Command, keys: string[]): string[] {
  return cmd.options.filter((opt) => keys.includes(opt.attributeName()) && cmd.getOptionValueSource(opt.attributeName()) === 'cli').map((opt) => opt.long ?? opt.flags);
}

/** Refuses options that the chosen mode would ignore: an option that does nothing must not look as if it did. */
function refuseGiven(cmd: Command, keys: string[], why: string): void {
  const given = givenOnCommandLine(cmd, keys);
  if (given.length) throw new InvalidArgumentError(`${given.join(', ')} ${given.length === 1 ? 'applies' : 'apply'} ${why}`);
}

const URL_SCHEMES: Record<string, { schemes: string[]; form: string }> = {
  redisUrl: { schemes: ['redis:', 'rediss:', 'redis-sentinel:'], form: `redis://[user:password@]host:port[/db], rediss:// for TLS, or ${SENTINEL_URL_FORM}` },
  esUrl: { schemes: ['http:', 'https:'], form: 'http(s)://host:port' },
  url: { schemes: ['http:', 'https:'], form: 'http(s)://host:port' },
};

/** Checks the service URLs a command takes, from its option or its environment variable; the message never shows a password. */
function checkUrls(cmd: Command): void {
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    const want = URL_SCHEMES[key];
    const v = cmd.getOptionValue(key) as unknown;
    if (!want || typeof v !== 'string') continue;
    const name = cmd.getOptionValueSource(key) === 'env' && opt.envVar ? opt.envVar : (opt.long ?? opt.flags);
    let u: URL | undefined;
    try {
      u = new URL(v);
    } catch {
      u = undefined;
    }
    if (!u || !want.schemes.includes(u.protocol) || !u.hostname) {
      throw new InvalidArgumentError(`${name} must be a ${want.schemes.map((s) => `${s}//`).join(' or ')} URL (${want.form}), not "${redactUrl(v)}"`);
    }
    if (u.protocol === SENTINEL_SCHEME) {
      try {
        parseSentinelUrl(v);
      } catch (err) {
        throw new InvalidArgumentError(`${name}: ${(err as Error).message} (${SENTINEL_URL_FORM}), not "${redactUrl(v)}"`);
      }
    }
  }
}

/** The queue mode's options, which collect --stdout does not use. */
const QUEUE_ONLY = ['commandPubkey', 'redisUrl', 'queue', 'batchEvents', 'batchDelayMs', 'spoolMaxBytes', 'metricsPort', 'metricsHost', 'chain', 'pin', 'hostName', 'hostId', 'redisWaitReplicas', 'redisWaitMs', 'logFormat'];

/** The long-running services' log format (collect and index). */
const logFormatOption = (): Option =>
  new Option('--log-format <format>', 'text: one line per message; json: one JSON object per line (pino: level, time, service, component, msg) for a log shipper')
    .choices(LOG_FORMATS)
    .default('text')
    .env('FILEWARDEN_LOG_FORMAT');

async function doctor(stateDir: string, opts: { json?: boolean; fix?: boolean }): Promise<number> {
  const { fixMounts, formatCheck, runChecks } = await import('./doctor/checks');
  if (opts.fix) for (const line of await fixMounts(run)) log(`fix: ${line}`);
  const checks = await runChecks(stateDir);
  if (opts.json) log(JSON.stringify(checks, null, 2));
  else for (const c of checks) log(formatCheck(c));
  const failed = checks.filter((c) => c.status === 'fail');
  if (!opts.json) log(failed.length === 0 ? 'doctor: all required checks passed' : `doctor: ${failed.length} required check(s) failed: ${failed.map((c) => c.id).join(', ')}`);
  return failed.length === 0 ? 0 : 1;
}

export function buildProgram(): Command {
  const program = new Command('filewarden')
    .description('File-activity auditing for Linux with eBPF: kernel capture, Redis queue, Elasticsearch index')
    .addOption(new Option('--state-dir <dir>', 'where the embedded stack keeps its data, logs and stack.json').env('FILEWARDEN_STATE_DIR').default(defaultStateDir()))
    .option('--debug', 'print the stack trace of an error (also FILEWARDEN_DEBUG=1)')
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  const stack = program.command('stack').description('the embedded Redis and Elasticsearch used by default and by the tests');
  stack
    .command('up')
    .description('start the stack (idempotent: what runs is left alone, a cluster node or Redis server that died starts again, and after a reboot the recorded topology starts); the first start downloads Elasticsearch through Maven')
    .option('--services <list>', 'comma-separated services to start', parseServices, [...ALL_SERVICES])
    .option('--redis-port <port>', 'Redis port (default 6380, or the next free one)', parsePort)
    .option('--es-port <port>', 'Elasticsearch HTTP port (default 9200, or the next free one)', parsePort)
    .option('--es-transport-port <port>', 'Elasticsearch transport port (default 9300, or the next free one)', parsePort)
    .option('--redis-sentinel', 'also start a second Redis server (a replica) and 3 Sentinels (quorum 2) that promote it when the master dies; clients get a redis-sentinel:// URL')
    .option('--es-heap <size>', 'JVM heap of each Elasticsearch node (default 1g, or 512m per node of a cluster)', parseHeap)
    .addOption(new Option('--es-version <version>', `Elasticsearch version (default ${ELASTICSEARCH_VERSION}); a newer one upgrades existing data for good`).choices(Object.keys(ELASTICSEARCH_VERSIONS)))
    .option('--es-nodes <n>', `Elasticsearch nodes in one loopback cluster, 1 to ${ES_MAX_NODES} (default 1); ports count up from --es-port and --es-transport-port`, parseEsNodes)
    .action(
      async (
        o: { services: Service[]; redisPort?: number; redisSentinel?: boolean; esPort?: number; esTransportPort?: number; esHeap?: string; esVersion?: string; esNodes?: number },
        cmd: Command,
      ) => {
        if (!o.services.includes('redis')) refuseGiven(cmd, ['redisPort', 'redisSentinel'], 'only when --services includes redis');
        if (!o.services.includes('elasticsearch')) refuseGiven(cmd, ['esPort', 'esTransportPort', 'esHeap', 'esVersion', 'esNodes'], 'only when --services includes elasticsearch');
        await stackUp({
          stateDir: program.opts<{ stateDir: string }>().stateDir,
          services: o.services,
          redisPort: o.redisPort,
          redisSentinel: o.redisSentinel,
          esPort: o.esPort,
          esTransportPort: o.esTransportPort,
          esHeap: o.esHeap,
          esVersion: o.esVersion,
          esNodes: o.esNodes,
          log,
        });
      },
    );
  stack
    .command('status')
    .description('show each service: pid, address, version and health; exit 1 if any is not running')
    .option('--json', 'print machine-readable JSON')
    .action(async (o: { json?: boolean }) => {
      const statuses = await stackStatus(program.opts<{ stateDir: string }>().stateDir);
      if (o.json) log(JSON.stringify(statuses, null, 2));
      else for (const s of statuses) log(formatStatus(s));
      if (statuses.some((s) => !s.running || !s.reachable)) process.exitCode = 1;
    });
  stack
    .command('down')
    .description('stop, by pid, only the services that `stack up` started')
    .option('--services <list>', 'comma-separated services to stop', parseServices, [...ALL_SERVICES])
    .action(async (o: { services: Service[] }) => {
      await stackDown(program.opts<{ stateDir: string }>().stateDir, o.services, log);
    });

  program
    .command('doctor')
    .description('check the kernel features, privileges and services filewarden needs; exit 1 when a required one is missing')
    .option('--json', 'print machine-readable JSON')
    .option('--fix', 'mount tracefs, securityfs and bpffs where missing (root) before checking')
    .action(async (o: { json?: boolean; fix?: boolean }) => {
      process.exitCode = await doctor(program.opts<{ stateDir: string }>().stateDir, o);
    });

  program
    .command('collect')
    .description('capture file opens and other file operations on this host and queue or print them (root, or CAP_BPF+CAP_PERFMON)')
    .option('--stdout', 'print one ECS-shaped JSON document per event (NDJSON); counters go to stderr at exit')
    .addOption(
      new Option('--hooks <hook>', 'kernel hook: auto picks the strongest that works here (lsm, fexit, kprobe, then tracepoint) and says why it skipped the others')
        .argParser((v) => {
          try {
            return parseHookRequest(v);
          } catch (e) {
            throw new InvalidArgumentError((e as Error).message);
          }
        })
        .default('auto'),
    )
    .option('--ops <list>', 'operations to record, comma-separated: open, unlink, rmdir, rename, chmod, chown, setxattr, removexattr, link, symlink, mkdir, mknod, truncate, modify (default: all; see docs/capture.md)', parseOps)
    .option('--include-path <prefix>', 'keep only opens under this byte prefix (repeatable; end with / for a directory)', repeat(parsePrefix), [])
    .option('--exclude-path <prefix>', 'drop opens under this byte prefix (repeatable; the longest matching prefix wins)', repeat(parsePrefix), [])
    .option('--include-comm <name>', 'keep only these process names (repeatable)', repeat(parseComm), [])
    .option('--exclude-comm <name>', 'drop these process names (repeatable)', repeat(parseComm), [])
    .option('--include-uid <uid>', 'keep only these uids (repeatable)', repeat(parseUid), [])
    .option('--exclude-uid <uid>', 'drop these uids (repeatable)', repeat(parseUid), [])
    .option('--include-cgroup <id|path>', 'keep only these cgroups (v2 id or path; repeatable)', repeat(parseCgroup), [])
    .option('--exclude-cgroup <id|path>', 'drop these cgroups (v2 id or path; repeatable)', repeat(parseCgroup), [])
    .option('--deny-path <prefix>', 'refuse opens under this absolute prefix with EPERM, in the kernel (lsm; other hooks kill instead; repeatable)', repeat(parsePolicyPrefix), [])
    .option('--kill-path <prefix>', 'SIGKILL a process that opens under this absolute prefix, in the kernel (repeatable; see docs/enforcement.md)', repeat(parsePolicyPrefix), [])
    .option('--count <n>', 'stop after printing n events', (v) => Math.floor(parsePositive(v)))
    .option('--duration <seconds>', 'stop after this many seconds', parseDuration)
    .option('--ringbuf-bytes <n>', 'ring buffer size: a power of two, at least a page (default 4 MiB)', parseRingbufBytes)
    .addOption(new Option('--redis-url <url>', 'Redis for the queue (default: the embedded stack)').env('FILEWARDEN_REDIS_URL'))
    .option('--queue <name>', 'BullMQ queue name', DEFAULT_QUEUE)
    .option('--batch-events <n>', 'send a batch when it holds this many events', parseCount, COLLECTOR_DEFAULTS.batchEvents)
    .option('--batch-delay-ms <ms>', 'or when its oldest event is this old', parseDelayMs, COLLECTOR_DEFAULTS.batchDelayMs)
    .option('--spool-max-bytes <size>', 'disk spool bound while Redis is unreachable (e.g. 512m, 2g)', parseBytes, COLLECTOR_DEFAULTS.spoolMaxBytes)
    .option('--metrics-port <port>', 'Prometheus GET /metrics port (0: any free port)', parseMetricsPort, COLLECTOR_DEFAULTS.metricsPort)
    .option('--metrics-host <addr>', 'address /metrics listens on', COLLECTOR_DEFAULTS.metricsHost)
    .option('--command-pubkey <file>', "the indexer's Ed25519 public key: take signed kill/deny/policy commands (docs/enforcement.md)")
    .option('--no-chain', 'do not sign batches into the hash chain (saves CPU; verify reports the host as unchained; docs/compliance.md)')
    .option('--redis-wait-replicas <n>', 'a batch counts as acknowledged only once this many Redis replicas have it (WAIT); fewer in time and it is spooled and retried (default 0: Redis alone; docs/pipeline.md)', parseReplicas)
    .option('--redis-wait-ms <ms>', 'how long each add waits for the replicas (default 1000)', parseWaitMs)
    .option('--host-name <name>', "host.name in this collector's events instead of the kernel's node name (several collectors on one host, each with its own --state-dir)", parseHostName)
    .option('--host-id <id>', 'host.id (the address of enforcement commands) instead of /etc/machine-id: hosts cloned from one image that share it', parseHostId)
    .option('--no-pin', 'do not pin the capture in bpffs: it then ends with the collector, and what the kernel holds at a crash is lost uncounted (docs/pipeline.md)')
    .addOption(logFormatOption())
    .addHelpText(
      'after',
      '\nWithout --stdout, events go to the Redis queue (or to the disk spool under <state-dir>/collector\nwhile Redis is down), numbered per boot; `filewarden index` moves them to Elasticsearch.\n' +
        'Stops on SIGINT/SIGTERM, --count (--stdout only) or --duration, and ships every event still buffered first.\n' +
        'Hook differences are in docs/capture.md; guarantees and counters in docs/pipeline.md.',
    )
    .action(async (o: CollectOptions & ShipOptions, cmd: Command) => {
      if (o.stdout) {
        refuseGiven(cmd, QUEUE_ONLY, 'only without --stdout: they configure the Redis queue, and --stdout prints events instead (enforcement commands come through the queue too)');
        process.exitCode = await (await import('./collect')).collect(o, (line) => console.error(line));
      } else if (o.count !== undefined) throw new InvalidArgumentError('--count applies to --stdout only');
      else {
        checkUrls(cmd);
        if (o.logFormat === 'json') failed = fatalLog('collect');
        process.exitCode = await (await pipeline()).runCollector(program.opts<{ stateDir: string }>().stateDir, o, serviceLog(o.logFormat ?? 'text', 'collect'));
      }
    });

  addEsOptions(
    program
      .command('index')
      .description('move events from the Redis queue into Elasticsearch (ECS documents, exactly once; refused ones to the dead-letter index)'),
  )
    .addOption(new Option('--redis-url <url>', 'Redis for the queue (default: the embedded stack)').env('FILEWARDEN_REDIS_URL'))
    .option('--queue <name>', 'BullMQ queue name', DEFAULT_QUEUE)
    .option('--concurrency <n>', 'batches indexed at once', parseCount, INDEXER_DEFAULTS.concurrency)
    .option('--no-templates', 'do not install the index templates at start (when the role lacks manage_index_templates)')
    .option('--metrics-port <port>', 'Prometheus GET /metrics port (0: any free port)', parseMetricsPort, INDEXER_DEFAULTS.metricsPort)
    .option('--metrics-host <addr>', 'address /metrics listens on', INDEXER_DEFAULTS.metricsHost)
    .option('--duration <seconds>', 'stop after this many seconds', parseDuration)
    .option('--rules <file>', 'rule file to evaluate on every batch (repeatable; "builtin" is the shipped pack; docs/rules.md)', repeat((v: string) => v), [])
    .option('--command-key <file>', 'Ed25519 private key that signs kill/deny/policy commands (filewarden keys generate)')
    .option('--trusted-keys <file|dir>', "enrolled collectors: their host-signing.pub named <host>.pub (or a directory of them; repeatable). Only batches and checkpoints signed by an enrolled key cause commands or move checkpoints; the rest is indexed as untrusted", repeat((v: string) => v), [])
    .option('--command-lifetime-ms <ms>', `how long a command stays valid (at most ${MAX_LIFETIME_MS}: 10 minutes)`, parseLifetime, INDEXER_DEFAULTS.commandLifetimeMs)
    .option('--alert-index <name>', 'where alerts go', parseIndexName, INDEXER_DEFAULTS.alertIndex)
    .option('--audit-index <name>', 'where enforcement decisions (issued, applied, refused), chain links and retention evidence go', parseIndexName, INDEXER_DEFAULTS.auditIndex)
    .option('--retention-policy <file>', 'run the retention job on a schedule with this policy (docs/compliance.md)')
    .option('--retention-interval-min <minutes>', 'how often the retention job runs', parseIntervalMin, INDEXER_DEFAULTS.retentionIntervalMs / 60_000)
    .addOption(logFormatOption())
    .addHelpText('after', '\nStops on SIGINT/SIGTERM after finishing the batches in hand. Guarantees and counters: docs/pipeline.md.')
    .action(async (o: IndexCliOptions, cmd: Command) => {
      checkUrls(cmd);
      if (!o.commandKey) refuseGiven(cmd, ['commandLifetimeMs'], 'only with --command-key: without it no command is signed');
      if (!o.retentionPolicy) refuseGiven(cmd, ['retentionIntervalMin'], 'only with --retention-policy: without it the retention job does not run');
      if (o.logFormat === 'json') failed = fatalLog('index');
      process.exitCode = await (await pipeline()).runIndexer(program.opts<{ stateDir: string }>().stateDir, o, serviceLog(o.logFormat ?? 'text', 'index'));
    });

  const rules = program.command('rules').description('check rule files and try them on events (docs/rules.md)');
  rules
    .command('lint')
    .description('check rule files; exit 1 with file:line and the reason for every problem')
    .argument('[files...]', 'rule files ("builtin" is the shipped pack)', ['builtin'])
    .action((files: string[]) => {
      process.exitCode = rulesLint(files, log, (l) => console.error(l));
    });
  rules
    .command('test')
    .description('run rules over NDJSON event documents (collect --stdout output, or indexed _source) and print the alerts')
    .argument('<files...>', 'rule files ("builtin" is the shipped pack)')
    .requiredOption('--events <ndjson>', 'event documents, one per line ("-": standard input)')
    .option('--json', 'one JSON object per alert')
    .action(async (files: string[], o: RulesTestOptions) => {
      process.exitCode = await rulesTest(files, o, log, (l) => console.error(l));
    });
  program
    .command('keys')
    .description('the Ed25519 key pair that signs enforcement commands')
    .command('generate')
    .description('write command-signing.key (indexer, 0600) and command-signing.pub (collectors)')
    .requiredOption('--out <dir>', 'directory for the two files')
    .option('--force', 'replace existing files')
    .action((o: { out: string; force?: boolean }) => {
      process.exitCode = keysGenerate(o, log);
    });

  addEsOptions(program.command('gaps').description('list the sequence numbers missing from Elasticsearch per host boot; exit 1 when any are'))
    .option('--boot-id <id>', 'only this boot')
    .option('--from <time>', 'only the host boots with events or checkpoints since then, each checked over its whole stream: ISO 8601 or date math (now-7d, now/d)', parseStartTime)
    .option('--to <time>', 'and until then, like --from (default: now)', parseEndTime)
    .option('--json', 'print machine-readable JSON')
    .action(async (o: GapsCliOptions, cmd: Command) => {
      checkUrls(cmd);
      process.exitCode = await (await pipeline()).gapsCommand(program.opts<{ stateDir: string }>().stateDir, o, log);
    });

  const compliance = async () => import('./compliance');
  const withIndices = (c: Command): Command =>
    addEsOptions(c)
      .option('--alert-index <name>', 'the alerts index', parseIndexName, INDEXER_DEFAULTS.alertIndex)
      .option('--audit-index <name>', 'the audit index (enforcement decisions, chain links, retention evidence)', parseIndexName, INDEXER_DEFAULTS.auditIndex);
  const retention = program.command('retention').description('delete data past its retention period, with evidence (docs/compliance.md)');
  withIndices(retention.command('run').description('delete every document older than its class allows (except legal holds) and record what went in the audit index'))
    .requiredOption('--policy <file>', 'retention policy (YAML or JSON: events, alerts, audit in days; holds)')
    .option('--dry-run', 'count what would be deleted; delete and record nothing')
    .option('--as-of <time>', 'evaluate the policy as of this time instead of now (ISO 8601 or date math: now-30d)', parseStartTime)
    .option('--json', 'print the run (the evidence record) as JSON')
    .action(async (o: RetentionCliOptions, cmd: Command) => {
      checkUrls(cmd);
      process.exitCode = await (await compliance()).retentionRunCommand(program.opts<{ stateDir: string }>().stateDir, o, log, (l) => console.error(l));
    });
  retention
    .command('ilm-policy')
    .description('print ILM policies equivalent to a retention policy, for clusters that use ILM (the built-in job is the tested path)')
    .requiredOption('--policy <file>', 'retention policy file')
    .option('--index-prefix <name>', 'event indices are <prefix>-YYYY.MM.DD', parseIndexName, INDEXER_DEFAULTS.indexPrefix)
    .option('--alert-index <name>', 'the alerts index', parseIndexName, INDEXER_DEFAULTS.alertIndex)
    .option('--audit-index <name>', 'the audit index', parseIndexName, INDEXER_DEFAULTS.auditIndex)
    .action(async (o: { policy: string; indexPrefix: string; alertIndex: string; auditIndex: string }) => {
      process.exitCode = (await compliance()).retentionIlmCommand(o, log);
    });
  const periodOptions = (c: Command): Command =>
    withIndices(c)
      .requiredOption('--from <time>', 'start of the period: ISO 8601 (UTC unless it says otherwise) or date math (now-7d, now/d, now-1h/h)', parseStartTime)
      .option('--to <time>', 'end of the period, like --from (default: now)', parseEndTime)
      .hook('preAction', defaultToNow)
      .option('--hosts <name>', 'only this host (repeatable)', repeat((v: string) => v), [])
      .option('--trusted-keys <file|dir>', "pin hosts' chain keys: <host>.pub files (host-signing.pub, renamed) or a directory of them (repeatable)", repeat((v: string) => v), []);
  periodOptions(program.command('verify').description('check the signed hash chains: name every event deleted, modified or reordered since its collector signed it; exit 1 on any finding'))
    .option('--json', 'print machine-readable JSON')
    .action(async (o: VerifyCliOptions, cmd: Command) => {
      checkUrls(cmd);
      process.exitCode = await (await compliance()).verifyCommand(program.opts<{ stateDir: string }>().stateDir, o, log);
    });
  periodOptions(program.command('report').description('write the compliance report for a period: summary, sensitive files, critical writes, alerts, completeness, verification, retention, PCI DSS mapping'))
    .option('--paths <prefix>', 'only events under this path prefix (repeatable)', repeat((v: string) => v), [])
    .option('--sensitive <pattern>', 'sensitive files, a wildcard pattern with * and ? (repeatable; default: shadow, sudoers, ssh keys...)', repeat((v: string) => v), [])
    .option('--critical <prefix>', 'critical system file prefix for the writes section (repeatable; default: /etc/, /boot/, /usr/bin/...)', repeat((v: string) => v), [])
    .option('--logs <prefix>', 'audit log prefix for the log protection section (repeatable; default: /var/log/)', repeat((v: string) => v), [])
    .addOption(new Option('--format <format>', 'output format').choices(['html', 'pdf', 'csv', 'json']).default('html'))
    .requiredOption('--out <file>', 'where to write the report')
    .addHelpText('after', '\nThe PDF is printed by headless Chromium (Debian package chromium; FILEWARDEN_CHROMIUM overrides the binary).')
    .action(async (o: ReportCliOptions, cmd: Command) => {
      checkUrls(cmd);
      process.exitCode = await (await compliance()).reportCommand(program.opts<{ stateDir: string }>().stateDir, o, log);
    });

  withIndices(program.command('search'))
    .description('find events with a Lucene query over a time window, oldest first (or alerts with --alerts, audit records with --audit)')
    .argument('[query]', 'Lucene query string, e.g. \'file.path:"/etc/shadow" AND NOT process.name:sshd\' (default: every document)')
    .option('--from <time>', 'start: ISO 8601 (UTC unless it says otherwise) or date math (now-7d, now/d, now-1h/h) (default: now-24h)', parseStartTime)
    .option('--to <time>', 'end, like --from (default: now)', parseEndTime)
    .option('--size <n>', 'at most this many documents, the oldest first', parseSearchSize, 100)
    .option('--json', 'print each document (_source) as one JSON line instead of the table')
    .option('--alerts', 'search the alert index instead of the events')
    .option('--audit', 'search the audit index (enforcement decisions, chain links, retention evidence)')
    .hook('preAction', (cmd) => {
      defaultToNow(cmd);
      if (cmd.getOptionValue('from') === undefined) cmd.setOptionValue('from', parseStartTime('now-24h'));
    })
    .addHelpText(
      'after',
      [
        '',
        'The table shows time, host, user, process, action, outcome and path; a count follows it.',
        'Fields are the ECS names of the documents (docs/pipeline.md): host.name, user.name, process.name,',
        'event.action, event.outcome, file.path (exact; file.path.text for words). Examples:',
        "  filewarden search 'file.path:\"/etc/shadow\"' --from now-7d",
        "  filewarden search 'event.outcome:failure AND host.name:web1' --from now/d --json",
        "  filewarden search --alerts 'rule.name:*ssh*'",
        'An empty result prints "search: no events match" and exits 0; a query Elasticsearch refuses prints its reason and exits 1.',
      ].join('\n'),
    )
    .action(async (query: string | undefined, o: SearchCliOptions, cmd: Command) => {
      checkUrls(cmd);
      // Shared with the commands that read them; search reads the event, alert or audit indices only.
      refuseGiven(cmd, ['deadletterIndex', 'checkpointIndex'], 'not to search (it reads the event indices, or the alert or audit index)');
      process.exitCode = await (await import('./search')).searchCommand(program.opts<{ stateDir: string }>().stateDir, query, o, log, (l) => console.error(l));
    });

  const kibana = program.command('kibana').description('Kibana saved objects: data views, searches, Lens charts and dashboards (docs/kibana.md)');
  const kibanaNames = (c: Command): Command =>
    c
      .option('--index-prefix <name>', 'event indices are <prefix>-YYYY.MM.DD', parseIndexName, INDEXER_DEFAULTS.indexPrefix)
      .option('--alert-index <name>', 'the alerts index', parseIndexName, INDEXER_DEFAULTS.alertIndex)
      .option('--audit-index <name>', 'the audit index', parseIndexName, INDEXER_DEFAULTS.auditIndex);
  kibanaNames(kibana.command('export').description('write the saved objects as NDJSON (for the import API or Stack Management > Saved objects)'))
    .option('--out <file>', 'file to write (default: standard output)')
    .action(async (o: { out?: string; indexPrefix: string; alertIndex: string; auditIndex: string }) => {
      process.exitCode = (await import('./kibana')).kibanaExport(o, (l) => console.error(l));
    });
  kibanaNames(kibana.command('import').description("send the saved objects to Kibana's saved-objects import API, overwriting earlier copies"))
    .addOption(new Option('--url <url>', 'Kibana base URL, e.g. https://kibana.example:5601').env('FILEWARDEN_KIBANA_URL').makeOptionMandatory())
    .addOption(new Option('--api-key <key>', 'API key (base64 id:key)').env('FILEWARDEN_KIBANA_API_KEY'))
    .addOption(new Option('--user <name>', 'basic-auth user').env('FILEWARDEN_KIBANA_USER'))
    .addOption(new Option('--password <password>', 'basic-auth password').env('FILEWARDEN_KIBANA_PASSWORD'))
    .option('--space <id>', 'Kibana space id (default: the default space)')
    .option('--ca <file>', 'PEM CA certificate for https')
    .option('--insecure', 'do not verify the server certificate (test setups only)')
    .option('--file <ndjson>', 'import this NDJSON instead of the generated objects')
    .action(async (o: KibanaImportCliOptions, cmd: Command) => {
      checkUrls(cmd);
      process.exitCode = await (await import('./kibana')).kibanaImport(o, log);
    });

  program
    .command('up')
    .description('run filewarden on this host: the embedded stack (unless FILEWARDEN_REDIS_URL and FILEWARDEN_ELASTICSEARCH_URL are set), the collector and the indexer, with a live status line')
    .option('--fix', 'let doctor mount tracefs, securityfs and bpffs where missing')
    .option('--hooks <hook>', 'kernel hook for the collector (see collect --help)', 'auto')
    .option('--duration <seconds>', 'stop after this many seconds', parseDuration)
    .option('--rules <file>', 'rule file evaluated on top of the built-in pack (repeatable; docs/rules.md)', repeat((v: string) => v), [])
    .option('--retention-policy <file>', 'run the retention job hourly with this policy (docs/compliance.md)')
    .addHelpText(
      'after',
      [
        '',
        'The indexer runs the built-in rule pack (plus --rules) and signs enforcement commands with the key pair in',
        '<state-dir>/command-keys (created on the first start; the collector takes its public key). This host\'s',
        'collector is enrolled in <state-dir>/trusted-keys.',
        'Status: events/s sequenced, batches in the queue, events in the disk spool, indexed, dead-lettered,',
        'dropped (ring buffer or spool full), alerts raised and commands sent. Stops on SIGINT/SIGTERM: the collector',
        'first, then the indexer; then it prints the index names and the search, report and verify commands.',
      ].join('\n'),
    )
    .action(async (o: UpOptions) => {
      const stateDir = program.opts<{ stateDir: string }>().stateDir;
      process.exitCode = await (await pipeline()).up(stateDir, o, log, () => doctor(stateDir, { fix: o.fix }));
    });
  return program;
}

/** Where the error that stops a command goes: stderr, or the service's JSON log (--log-format json). */
let failed = (line: string): void => console.error(line);

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    for (const line of errorLines(err)) failed(line);
    if (debugWanted(program.opts<{ debug?: boolean }>().debug) && err instanceof Error && err.stack) console.error(err.stack);
    process.exitCode = 1;
  }
}

if (require.main === module) void main(process.argv);
