// `filewarden doctor`: one line per host fact the pipeline depends on, each failing line with a fix.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acceptsAnonymous, probeRedis, redactUrl, resolveEndpoints, StackError, type Endpoints } from '../../../stack/src';
import {
  CAP,
  hasCap,
  mountOf,
  parseCapEff,
  parseKernelRelease,
  parseLockdown,
  parseLsmList,
  parseMemlock,
  parseMounts,
  readKernelConfig,
  readText,
  type Mount,
} from '../../../collector/src/probe/kernel-facts';
import { BPFFS, bpffsMounted } from '../../../collector/src/capture/pinned-capture';
import { selectHook } from '../../../collector/src/probe/hook-select';
import { native } from '../../../collector/src/probe/native';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  /** Stable identifier, for scripts and tests. */
  id: string;
  status: CheckStatus;
  detail: string;
  /** How to fix a warn or fail line. */
  fix?: string;
}

/** The syscalls the tracepoint hook attaches to (open and creat exist only on some architectures). */
export const TRACED_SYSCALLS = ['openat', 'openat2', 'open', 'creat'] as const;

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

export function checkKernel(mounts: Mount[]): CheckResult[] {
  const out: CheckResult[] = [];
  const kconfig = readKernelConfig();
  const cfg = (k: string): string | undefined => kconfig?.config.get(k);

  const btf = '/sys/kernel/btf/vmlinux';
  const btfStat = fs.statSync(btf, { throwIfNoEntry: false });
  out.push(
    btfStat
      ? { id: 'btf', status: 'ok', detail: `${btf} present (${mib(btfStat.size)})` }
      : { id: 'btf', status: 'fail', detail: `${btf} missing: CO-RE programs cannot be relocated`, fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 11+ and most distribution kernels are)' },
  );

  const tracefs = mountOf('tracefs', mounts);
  out.push(
    tracefs
      ? { id: 'tracefs', status: 'ok', detail: `mounted at ${tracefs.target}` }
      : { id: 'tracefs', status: 'fail', detail: 'not mounted: tracepoints and kprobes cannot be attached', fix: 'mount -t tracefs tracefs /sys/kernel/tracing (or run: filewarden doctor --fix)' },
  );
  const securityfs = mountOf('securityfs', mounts);
  out.push(
    securityfs
      ? { id: 'securityfs', status: 'ok', detail: `mounted at ${securityfs.target}` }
      : { id: 'securityfs', status: 'warn', detail: 'not mounted: lockdown mode and active LSMs cannot be read', fix: 'mount -t securityfs securityfs /sys/kernel/security (or run: filewarden doctor --fix)' },
  );
  out.push(checkBpffs(mounts));

  const lockdownText = securityfs ? readText(path.join(securityfs.target, 'lockdown')) : undefined;
  const lockdown = lockdownText ? parseLockdown(lockdownText) : undefined;
  if (lockdown === undefined) {
    out.push({ id: 'lockdown', status: 'warn', detail: securityfs ? 'lockdown=unknown (no lockdown file: the lockdown LSM is not built in)' : 'lockdown=unknown (securityfs not mounted)', fix: securityfs ? undefined : 'mount securityfs (filewarden doctor --fix)' });
  } else if (lockdown === 'none') {
    out.push({ id: 'lockdown', status: 'ok', detail: 'lockdown=none' });
  } else {
    out.push({
      id: 'lockdown',
      status: 'warn',
      detail: `lockdown=${lockdown}: kernels under lockdown can refuse fexit and LSM programs at load; syscall tracepoints still work`,
      fix: lockdown === 'confidentiality' ? 'boot with lockdown=integrity or none for BPF reads of kernel memory' : 'nothing to do when the tracepoint hook is enough; otherwise boot without lockdown',
    });
  }

  const lsmText = securityfs ? readText(path.join(securityfs.target, 'lsm')) : undefined;
  if (lsmText === undefined) {
    out.push({ id: 'lsm', status: 'warn', detail: 'active LSMs unknown (securityfs not mounted)', fix: 'mount securityfs (filewarden doctor --fix)' });
  } else {
    const lsms = parseLsmList(lsmText);
    out.push(
      lsms.includes('bpf')
        ? { id: 'lsm', status: 'ok', detail: `active LSMs: ${lsms.join(',')} (bpf LSM listed)` }
        : {
            id: 'lsm',
            status: 'warn',
            detail: `active LSMs: ${lsms.join(',')} (bpf not listed: the lsm hook and LSM deny are unavailable)`,
            fix: cfg('CONFIG_BPF_LSM') === 'y' ? `add bpf to the kernel command line: lsm=${[...lsms, 'bpf'].join(',')}` : 'the kernel lacks CONFIG_BPF_LSM; enforcement falls back to SIGKILL',
          },
    );
  }

  // Syscall tracepoints: the events must exist in tracefs and the kernel must let BPF attach to them.
  if (tracefs) {
    const dir = path.join(tracefs.target, 'events', 'syscalls');
    const present = TRACED_SYSCALLS.filter((s) => fs.existsSync(path.join(dir, `sys_enter_${s}`)) && fs.existsSync(path.join(dir, `sys_exit_${s}`)));
    const bpfEvents = cfg('CONFIG_BPF_EVENTS');
    if (!present.includes('openat')) {
      out.push({ id: 'tracepoints', status: 'fail', detail: `syscall tracepoints for openat missing in ${dir}`, fix: 'use a kernel with CONFIG_FTRACE_SYSCALLS=y' });
    } else if (bpfEvents === 'n') {
      out.push({ id: 'tracepoints', status: 'fail', detail: 'CONFIG_BPF_EVENTS is not set: BPF cannot attach to tracepoints', fix: 'use a kernel with CONFIG_BPF_EVENTS=y' });
    } else {
      out.push({ id: 'tracepoints', status: 'ok', detail: `syscall tracepoints usable: sys_enter/sys_exit for ${present.join(', ')}` });
    }
  } else {
    out.push({ id: 'tracepoints', status: 'fail', detail: 'unknown: tracefs is not mounted', fix: 'mount tracefs (filewarden doctor --fix)' });
  }

  // kprobes: kprobe_events exists in tracefs only when CONFIG_KPROBE_EVENTS (and so CONFIG_KPROBES) is on.
  const kprobeEvents = tracefs ? fs.existsSync(path.join(tracefs.target, 'kprobe_events')) : undefined;
  const kprobesCfg = cfg('CONFIG_KPROBES');
  if (kprobesCfg === 'y' || kprobeEvents === true) {
    out.push({ id: 'kprobes', status: 'ok', detail: 'kprobes available' });
  } else {
    const why = kprobesCfg === 'n' ? `CONFIG_KPROBES is not set (${kconfig?.source})` : tracefs ? 'no kprobe_events in tracefs' : 'tracefs not mounted and no kernel config to read';
    out.push({ id: 'kprobes', status: 'warn', detail: `kprobes unavailable: ${why}`, fix: 'the kprobe hook needs CONFIG_KPROBES=y; the tracepoint hook works without it' });
  }

  // BPF maps are charged to the memory cgroup since 5.11; before that RLIMIT_MEMLOCK caps them.
  const memlock = parseMemlock(readText('/proc/self/limits') ?? '');
  const [maj, min] = parseKernelRelease(os.release());
  const memcg = maj > 5 || (maj === 5 && min >= 11);
  const caps = parseCapEff(readText('/proc/self/status') ?? '');
  const memlockText = memlock === undefined ? 'unknown' : memlock === Infinity ? 'unlimited' : mib(memlock);
  if (memcg || memlock === Infinity) {
    out.push({ id: 'memlock', status: 'ok', detail: `memlock ${memlockText}${memcg ? `; kernel ${maj}.${min} charges BPF memory to the cgroup, so it does not limit maps` : ''}` });
  } else if (hasCap(caps, CAP.SYS_RESOURCE)) {
    out.push({ id: 'memlock', status: 'ok', detail: `memlock ${memlockText}; CAP_SYS_RESOURCE lets the loader raise it` });
  } else {
    out.push({ id: 'memlock', status: 'warn', detail: `memlock ${memlockText} on kernel ${maj}.${min} without CAP_SYS_RESOURCE: BPF maps must fit in it`, fix: 'ulimit -l unlimited (LimitMEMLOCK=infinity in systemd) or grant CAP_SYS_RESOURCE' });
  }

  const root = process.getuid?.() === 0;
  const bpfCaps = hasCap(caps, CAP.BPF) && hasCap(caps, CAP.PERFMON);
  const sysAdmin = hasCap(caps, CAP.SYS_ADMIN);
  const capNames = [hasCap(caps, CAP.BPF) && 'CAP_BPF', hasCap(caps, CAP.PERFMON) && 'CAP_PERFMON', sysAdmin && 'CAP_SYS_ADMIN', hasCap(caps, CAP.SYS_RESOURCE) && 'CAP_SYS_RESOURCE'].filter(Boolean).join(',');
  out.push(
    bpfCaps || sysAdmin
      ? { id: 'privileges', status: 'ok', detail: `${root ? 'root' : `uid ${process.getuid?.()}`} with ${capNames}` }
      : { id: 'privileges', status: 'fail', detail: `uid ${process.getuid?.()} lacks CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN): cannot load BPF programs`, fix: 'run as root, or grant CAP_BPF,CAP_PERFMON (systemd AmbientCapabilities=)' },
  );
  return out;
}

export async function checkServices(stateDir: string): Promise<CheckResult[]> {
  let ep: Endpoints;
  try {
    ep = resolveEndpoints(stateDir);
  } catch (err) {
    const msg = err instanceof StackError ? err.message : String(err);
    const fix = err instanceof StackError ? err.hint : undefined;
    return [
      { id: 'redis', status: 'fail', detail: msg, fix },
      { id: 'elasticsearch', status: 'fail', detail: msg, fix },
    ];
  }
  const out: CheckResult[] = [];
  const startHint = 'start the embedded stack: filewarden stack up';
  const redisShown = redactUrl(ep.redisUrl);
  let redisUp = false;
  try {
    const d = await probeRedis(ep.redisUrl);
    redisUp = true;
    const base = `${redisShown} (${ep.redisSource}) reachable, version ${d.version}, appendonly=${d.aofEnabled ? 'yes' : 'no'}, maxmemory-policy=${d.maxmemoryPolicy}`;
    out.push(
      d.warnings.length === 0
        ? { id: 'redis', status: 'ok', detail: base }
        : { id: 'redis', status: 'warn', detail: `${base}. WARNING: queued audit events can be lost: ${d.warnings.join('; ')}`, fix: 'configure that Redis with appendonly yes and maxmemory-policy noeviction, or use the embedded stack' },
    );
  } catch (err) {
    out.push({ id: 'redis', status: 'fail', detail: `${redisShown} (${ep.redisSource}) unreachable: ${redactUrl((err as Error).message)}`, fix: ep.redisSource === 'stack' ? startHint : 'check FILEWARDEN_REDIS_URL' });
  }
  if (redisUp) out.push(await checkRedisAuth(ep.redisUrl, redisShown));
  const { Client } = await import('@elastic/elasticsearch'); // loaded on use: see stack/src/stack.ts
  const client = new Client({ node: ep.elasticsearchUrl, requestTimeout: 5000, maxRetries: 0 });
  try {
    const info = await client.info();
    const health = await client.cluster.health();
    out.push({ id: 'elasticsearch', status: health.status === 'red' ? 'warn' : 'ok', detail: `${redactUrl(ep.elasticsearchUrl)} (${ep.elasticsearchSource}) reachable, version ${info.version.number}, health ${health.status}` });
  } catch (err) {
    out.push({ id: 'elasticsearch', status: 'fail', detail: `${redactUrl(ep.elasticsearchUrl)} (${ep.elasticsearchSource}) unreachable: ${(err as Error).message}`, fix: ep.elasticsearchSource === 'stack' ? startHint : 'check FILEWARDEN_ELASTICSEARCH_URL' });
  } finally {
    await client.close();
  }
  return out;
}

/**
 * A Redis that answers a connection without credentials lets any local user add forged batches or
 * delete queued ones. A loud warning, not a failure: the pipeline itself still works.
 */
export async function checkRedisAuth(url: string, shown = redactUrl(url)): Promise<CheckResult> {
  try {
    if (await acceptsAnonymous(url)) {
      return {
        id: 'redis-auth',
        status: 'warn',
        detail: `WARNING: ${shown} answers commands without authentication: any local user can feed or drain the queue (forged batches, deleted evidence)`,
        fix: 'require a password (an ACL user with `user default off`, or requirepass) and pass it in the URL or FILEWARDEN_REDIS_PASSWORD_FILE; the embedded stack does this',
      };
    }
    return { id: 'redis-auth', status: 'ok', detail: `${shown} refuses unauthenticated commands (NOAUTH)` };
  } catch (err) {
    return { id: 'redis-auth', status: 'warn', detail: `cannot tell whether ${shown} requires authentication: ${redactUrl((err as Error).message)}`, fix: 'check that Redis requires a password' };
  }
}

export function readMounts(): Mount[] {
  return parseMounts(readText('/proc/mounts') ?? '');
}

/** bpffs at /sys/fs/bpf: the collector pins its capture there, so it records while the collector is down. */
export function checkBpffs(mounts: Mount[]): CheckResult {
  if (!bpffsMounted(mounts)) {
    return { id: 'bpffs', status: 'warn', detail: `not mounted at ${BPFFS}: the collector's capture ends with it, and what the kernel holds at a crash is lost uncounted`, fix: `mount -t bpf bpf ${BPFFS} (or run: filewarden doctor --fix)` };
  }
  const dir = path.join(BPFFS, 'filewarden');
  const pinned = fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
  return { id: 'bpffs', status: 'ok', detail: `mounted at ${BPFFS}; captures pinned in ${dir}: ${pinned} (each records until the collector of its state directory takes it over, or stops cleanly)` };
}

/** `--fix`: mounts tracefs, securityfs and bpffs where they are missing (needs root). Returns what it did. */
export async function fixMounts(run: (cmd: string, args: string[]) => Promise<{ code: number | null; stderr: string }>): Promise<string[]> {
  const mounts = readMounts();
  const done: string[] = [];
  for (const [type, target] of [
    ['tracefs', '/sys/kernel/tracing'],
    ['securityfs', '/sys/kernel/security'],
    ['bpf', BPFFS],
  ] as const) {
    if (type === 'bpf' ? bpffsMounted(mounts) : mountOf(type, mounts)) continue;
    const r = await run('mount', ['-t', type, type, target]);
    done.push(r.code === 0 ? `mounted ${type} at ${target}` : `could not mount ${type} at ${target}: ${r.stderr.trim()}`);
  }
  return done;
}

/**
 * Where each operation comes from here: the syscall tracepoints, on every hook, and which of its
 * syscalls this kernel lacks (an operation none of whose syscalls exists here cannot be recorded);
 * then which operations the lsm path hooks this kernel has can refuse, and which are judged at the
 * syscall exit.
 */
export function checkOperations(tracefs: string | undefined): CheckResult {
  if (!tracefs) return { id: 'operations', status: 'fail', detail: 'unknown: tracefs is not mounted', fix: 'mount tracefs (filewarden doctor --fix)' };
  const dir = path.join(tracefs, 'events', 'syscalls');
  const has = (sc: string) => fs.existsSync(path.join(dir, `sys_enter_${sc}`)) && fs.existsSync(path.join(dir, `sys_exit_${sc}`));
  const parts: string[] = [];
  const none: string[] = [];
  for (const [op, scs] of Object.entries(native().layout().operationSyscalls)) {
    const missing = scs.filter((sc) => !has(sc));
    if (missing.length === scs.length) none.push(op);
    parts.push(missing.length ? `${op} (not ${missing.join(', ')})` : op);
  }
  // Each operation is judged on the kernel's own path check where there is one: under lsm its path
  // hook refuses before the kernel acts; under kprobe and fexit a program on its security_path_*
  // call kills just before the kernel acts. The rest, and every operation on tracepoint, are judged
  // at the syscall exit (a kill after it ran). An operation's first check judges all its syscalls
  // (file_truncate only adds to path_truncate). An open is judged by its own hook, a write session
  // at its open.
  const checks = Object.entries(native().operationChecks()).filter(([op]) => op !== 'open' && op !== 'modify');
  const refused = checks.filter(([, c]) => c[0]?.lsm).map(([op]) => op);
  const called = checks.filter(([, c]) => c[0]?.call).map(([op]) => op);
  // Where an lsm path hook exists, so does its security_path_* call: the call decides.
  const atExit = checks.filter(([, c]) => !c[0]?.call).map(([op]) => op);
  const detail =
    `recorded from syscall tracepoints on every hook: ${parts.join('; ')}. ` +
    `Enforcement: with --hooks lsm the path hooks refuse ${refused.length ? refused.join(', ') : 'nothing (this kernel has none: CONFIG_BPF_LSM and CONFIG_SECURITY_PATH)'} with EPERM before the kernel acts; ` +
    `with kprobe or fexit the programs on the kernel's security_path_* calls judge ${called.length ? called.join(', ') : 'nothing (this kernel has none: CONFIG_SECURITY_PATH)'} by the name the kernel reached, a deny is a kill as the kernel acts; ` +
    `${atExit.length ? `${atExit.join(', ')} (and every operation on tracepoint)` : 'every operation on tracepoint'} are judged at the syscall exit: a kill after it ran`;
  return none.length
    ? { id: 'operations', status: 'warn', detail: `${detail}; cannot record ${none.join(', ')}`, fix: 'use a kernel with CONFIG_FTRACE_SYSCALLS=y' }
    : { id: 'operations', status: 'ok', detail };
}

/** Which hook `--hooks auto` picks here, and why each stronger one was skipped. */
export function checkHooks(): CheckResult {
  try {
    const c = selectHook('auto');
    const skipped = c.skipped.map((s) => `${s.hook}: ${s.reason}`).join('; ');
    return {
      id: 'hooks',
      status: c.hook === 'lsm' ? 'ok' : 'warn',
      detail: `--hooks auto picks ${c.hook}${skipped ? `; skipped ${skipped}` : ''}; ${c.failedOpens}`,
      fix: 'the lsm hook (full paths, can deny) needs lsm=...,bpf on the kernel command line and no lockdown of BPF LSM; see docs/capture.md',
    };
  } catch (e) {
    return { id: 'hooks', status: 'fail', detail: (e as Error).message, fix: 'run as root on a kernel with BTF and syscall tracepoints' };
  }
}

export async function runChecks(stateDir: string): Promise<CheckResult[]> {
  const mounts = readMounts();
  return [...checkKernel(mounts), checkOperations(mountOf('tracefs', mounts)?.target), checkHooks(), ...(await checkServices(stateDir))];
}

export function formatCheck(c: CheckResult): string {
  const tag = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' }[c.status];
  const fix = c.status !== 'ok' && c.fix ? `  -> fix: ${c.fix}` : '';
  return `${tag}  ${c.id.padEnd(13)} ${c.detail}${fix}`;
}
