// `filewarden collect --stdout` and the capture options shared with the Redis mode: captures opens with the chosen hook and prints one ECS-shaped JSON
// document per line, like opensnoop but with every field, exact names and visible drop counters.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { Capture, type CaptureStats } from '../../collector/src/capture/capture';
import { toEcs } from '../../contract/src/event-document';
import { abiOf } from '../../contract/src/tables';
import type { HookRequest } from '../../collector/src/probe/hook-select';
import { mountOf, parseMounts, readText } from '../../collector/src/probe/kernel-facts';
import { type FilterOptions, native, type PolicyOptions } from '../../collector/src/probe/native';
import type { OperationName } from '../../contract/src/event';

export interface CollectOptions {
  stdout?: boolean;
  hooks: HookRequest;
  includePath: string[];
  excludePath: string[];
  includeComm: string[];
  excludeComm: string[];
  includeUid: number[];
  excludeUid: number[];
  includeCgroup: bigint[];
  excludeCgroup: bigint[];
  denyPath: string[];
  killPath: string[];
  count?: number;
  duration?: number;
  ringbufBytes?: number;
  /** @defaultValue every operation */
  ops?: OperationName[];
}

export function parsePrefix(v: string): string {
  const max = native().layout().prefixMax;
  if (v.length === 0) throw new InvalidArgumentError('a path prefix cannot be empty');
  if (Buffer.byteLength(v) > max) throw new InvalidArgumentError(`a path prefix can be at most ${max} bytes (the kernel's LPM trie key)`);
  return v;
}

/** A policy prefix: absolute, because the kernel enforces only on full, normalised paths. */
export function parsePolicyPrefix(v: string): string {
  if (!v.startsWith('/')) throw new InvalidArgumentError('an enforcement prefix must be an absolute path');
  return parsePrefix(v);
}

export function parseComm(v: string): string {
  const max = native().layout().commLen - 1;
  if (v.length === 0 || Buffer.byteLength(v) > max) throw new InvalidArgumentError(`a process name (comm) is 1 to ${max} bytes: the kernel truncates longer names`);
  return v;
}

export function parseUid(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new InvalidArgumentError('expected a numeric uid');
  return Number(v);
}

/**
 * A cgroup v2 id, or a cgroup path: absolute, or relative to the cgroup2 mount (which is
 * /sys/fs/cgroup/unified on hybrid hosts). Its id is the inode number of its directory.
 */
export function parseCgroup(v: string): bigint {
  if (/^\d+$/.test(v)) return BigInt(v);
  const cgroup2 = mountOf('cgroup2', parseMounts(readText('/proc/mounts') ?? ''))?.target;
  if (!cgroup2 && !path.isAbsolute(v)) throw new InvalidArgumentError('no cgroup2 mount on this host: give a cgroup id or an absolute path');
  const dir = path.isAbsolute(v) ? v : path.join(cgroup2!, v);
  try {
    return fs.statSync(dir, { bigint: true }).ino;
  } catch (e) {
    throw new InvalidArgumentError(`expected a cgroup id or a cgroup v2 path: cannot stat ${dir} (${(e as NodeJS.ErrnoException).code})`);
  }
}

export function filtersFrom(o: CollectOptions): FilterOptions {
  return {
    includePaths: o.includePath,
    excludePaths: o.excludePath,
    includeComms: o.includeComm,
    excludeComms: o.excludeComm,
    includeUids: o.includeUid,
    excludeUids: o.excludeUid,
    includeCgroups: o.includeCgroup,
    excludeCgroups: o.excludeCgroup,
  };
}

export function policyFrom(o: CollectOptions): PolicyOptions | undefined {
  return o.denyPath.length || o.killPath.length ? { denyPaths: o.denyPath, killPaths: o.killPath } : undefined;
}

export function formatStats(s: CaptureStats): string {
  return (
    `seen ${s.seen}, filtered ${s.filtered} in kernel + ${s.filteredUser} in user space, emitted ${s.emitted}, ` +
    `dropped ${s.dropped} (ring buffer full), args lost ${s.argsLost}, delivered ${s.delivered}, unresolved ${s.unresolved}, resolved from /proc ${s.procResolved}, ` +
    `host path ${s.hostPathed} given + ${s.hostPathMissing} without (another mount namespace or chroot)`
  );
}

export async function collect(o: CollectOptions, err: (line: string) => void): Promise<number> {
  let printed = 0;
  let stopping: Promise<void> | undefined;
  let capture: Capture | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const stop = (): Promise<void> => (stopping ??= (capture ? capture.close() : Promise.resolve()).then(stopped));
  let pipeClosed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      pipeClosed = true;
      void stop();
    }
  });
  // The open(2) flag table of the kernel this runs on.
  const abi = abiOf(process.arch);
  capture = new Capture({ hooks: o.hooks, filters: filtersFrom(o), policy: policyFrom(o), ringbufBytes: o.ringbufBytes, ops: o.ops }, (events) => {
    let out = '';
    for (const e of events) {
      if (pipeClosed || (o.count !== undefined && printed >= o.count)) break;
      out += JSON.stringify(toEcs(e, abi)) + '\n';
      printed++;
    }
    if (out) process.stdout.write(out);
    if (o.count !== undefined && printed >= o.count) void stop();
  });
  const c = capture.choice;
  err(`collect: hook ${c.hook}${c.requested === 'auto' ? ' (auto)' : ''}: ${capture.attached().join(', ')}`);
  for (const s of c.skipped) err(`collect: skipped ${s.hook}: ${s.reason}`);
  const ops = capture.operationEnforcement();
  if (ops) err(`collect: ${ops}`);

  const onSignal = (): void => void stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = o.duration ? setTimeout(() => void stop(), o.duration * 1000) : undefined;
  await done;
  if (timer) clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  const s = capture.stats();
  err(`collect: printed ${printed}; ${formatStats(s)}`);
  if (s.dropped > 0) err(`collect: WARNING: ${s.dropped} events were lost in the kernel (ring buffer full); raise --ringbuf-bytes`);
  return 0;
}
