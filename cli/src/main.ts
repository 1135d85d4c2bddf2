// The `filewarden` command line: wires subcommands to the components; no logic of its own.
import { Command, InvalidArgumentError, Option } from 'commander';
import { ALL_SERVICES, defaultStateDir, stackDown, StackError, stackStatus, stackUp, type Service, type ServiceStatus } from '../../stack/src';
import { run } from '../../stack/src/processes';
import { NoHookError, parseHookRequest } from '../../collector/src/probe/hook-select';
import { isNativeError } from '../../collector/src/probe/native';
import { collect, type CollectOptions, parseCgroup, parseComm, parsePositive, parsePrefix, parseUid, repeat } from './collect';
import { fixMounts, formatCheck, runChecks } from './doctor/checks';

const log = (line: string): void => console.log(line);

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

async function doctor(stateDir: string, opts: { json?: boolean; fix?: boolean }): Promise<number> {
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
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  const stack = program.command('stack').description('the embedded Redis and Elasticsearch used by default and by the tests');
  stack
    .command('up')
    .description('start the stack (idempotent: running services are left alone); the first start downloads Elasticsearch through Maven')
    .option('--services <list>', 'comma-separated services to start', parseServices, [...ALL_SERVICES])
    .option('--redis-port <port>', 'Redis port (default 6380, or the next free one)', parsePort)
    .option('--es-port <port>', 'Elasticsearch HTTP port (default 9200, or the next free one)', parsePort)
    .option('--es-transport-port <port>', 'Elasticsearch transport port (default 9300, or the next free one)', parsePort)
    .option('--es-heap <size>', 'Elasticsearch JVM heap', parseHeap, '1g')
    .action(async (o: { services: Service[]; redisPort?: number; esPort?: number; esTransportPort?: number; esHeap: string }) => {
      await stackUp({ stateDir: program.opts<{ stateDir: string }>().stateDir, services: o.services, redisPort: o.redisPort, esPort: o.esPort, esTransportPort: o.esTransportPort, esHeap: o.esHeap, log });
    });
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
    .option('--fix', 'mount tracefs and securityfs where missing (root) before checking')
    .action(async (o: { json?: boolean; fix?: boolean }) => {
      process.exitCode = await doctor(program.opts<{ stateDir: string }>().stateDir, o);
    });

  program
    .command('collect')
    .description('capture file opens on this host and print them (root, or CAP_BPF+CAP_PERFMON)')
    .option('--stdout', 'print one ECS-shaped JSON document per open (NDJSON); counters go to stderr at exit')
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
    .option('--include-path <prefix>', 'keep only opens under this byte prefix (repeatable; end with / for a directory)', repeat(parsePrefix), [])
    .option('--exclude-path <prefix>', 'drop opens under this byte prefix (repeatable; the longest matching prefix wins)', repeat(parsePrefix), [])
    .option('--include-comm <name>', 'keep only these process names (repeatable)', repeat(parseComm), [])
    .option('--exclude-comm <name>', 'drop these process names (repeatable)', repeat(parseComm), [])
    .option('--include-uid <uid>', 'keep only these uids (repeatable)', repeat(parseUid), [])
    .option('--exclude-uid <uid>', 'drop these uids (repeatable)', repeat(parseUid), [])
    .option('--include-cgroup <id|path>', 'keep only these cgroups (v2 id or path; repeatable)', repeat(parseCgroup), [])
    .option('--exclude-cgroup <id|path>', 'drop these cgroups (v2 id or path; repeatable)', repeat(parseCgroup), [])
    .option('--count <n>', 'stop after printing n events', (v) => Math.floor(parsePositive(v)))
    .option('--duration <seconds>', 'stop after this many seconds', parsePositive)
    .option('--ringbuf-bytes <n>', 'ring buffer size: a power of two, at least a page (default 4 MiB)', (v) => Math.floor(parsePositive(v)))
    .addHelpText('after', '\nStops on SIGINT/SIGTERM, --count or --duration, and prints every event still buffered first.\nHook differences (which opens each one sees, which path it gives) are in docs/capture.md.')
    .action(async (o: CollectOptions) => {
      process.exitCode = await collect(o, (line) => console.error(line));
    });

  program
    .command('up')
    .description('run filewarden on this host with the embedded stack (today: start the stack, then run doctor)')
    .option('--fix', 'let doctor mount tracefs and securityfs where missing')
    .action(async (o: { fix?: boolean }) => {
      const stateDir = program.opts<{ stateDir: string }>().stateDir;
      await stackUp({ stateDir, log });
      process.exitCode = await doctor(stateDir, { fix: o.fix });
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof StackError) {
      console.error(`filewarden: ${err.message} [${err.code}]`);
      if (err.details) console.error(err.details.replace(/^/gm, '  | '));
      if (err.hint) console.error(`  hint: ${err.hint}`);
    } else if (isNativeError(err)) {
      console.error(`filewarden: ${err.hook} hook: ${err.message} [${err.code}, errno ${err.errno}]`);
      if (err.log) console.error(err.log.trimEnd().replace(/^/gm, '  | '));
    } else if (err instanceof NoHookError) {
      console.error(`filewarden: ${err.message}`);
      console.error('  hint: run filewarden doctor to see what this kernel and these privileges allow');
    } else {
      console.error(`filewarden: ${(err as Error).stack ?? String(err)}`);
    }
    process.exitCode = 1;
  }
}

if (require.main === module) void main(process.argv);
