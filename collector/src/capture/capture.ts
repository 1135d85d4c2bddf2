// The capture stage: the chosen hook's ring-buffer reader, the decoder, the last-resort user-space
// path resolution (names the kernel could not resolve) and the user-space half of the path filter. It hands batches of CapturedEvent to one callback.
import type { CapturedEvent, OpenEvent } from '../../../contract/src/event';
import { DecodeError, OpenEventDecoder } from '../decode/open-event';
import { PathFilter } from '../filter/path-filter';
import { type HookChoice, type HookRequest, selectHook } from '../probe/hook-select';
import { type FilterOptions, type Hook, native, type PolicyEntry, type PolicyOptions, type ReaderStats, type RingReader } from '../probe/native';
import { fsPolicyEntries, HostPathMapper, type HostPathResult, inodePolicyEntries } from '../resolve/host-path';
import { ProtectedFilesWatch } from './protected-files-watch';
import { PathResolver } from '../resolve/path-resolver';
import type { OperationName } from '../../../contract/src/event';

/** The kernel's bit mask of a set of operations. */
export function opMaskOf(ops: readonly OperationName[], bits: Record<OperationName, number>): number {
  return ops.reduce((m, op) => m | (1 << bits[op]), 0);
}

export interface CaptureOptions {
  /** @defaultValue 'auto' */
  hooks?: HookRequest;
  /** @defaultValue none */
  filters?: FilterOptions;
  /** In-kernel enforcement at load; setPolicy() replaces it later. @defaultValue none */
  policy?: PolicyOptions;
  /** @defaultValue 4 MiB (see RingReaderOptions) */
  ringbufBytes?: number;
  /** The operations to record (docs/capture.md). @defaultValue every one */
  ops?: readonly OperationName[];
  /** @defaultValue 4096 */
  batchRecords?: number;
  /** @defaultValue 50 */
  batchDelayMs?: number;
  /** Told when a policy refresh (a mount or a protected file changed) is refused; the previous
   * policy stays in force. @defaultValue none (counted in stats only) */
  onPolicyRefreshError?: (message: string) => void;
  /** Told when a batch holds a record that cannot be decoded: the rest of the batch is lost, and
   * counted (stats().undecodable). @defaultValue none (counted only) */
  onDecodeError?: (message: string) => void;
  /** Pin the capture in this bpffs directory, so it goes on while no collector runs (pinned-capture.ts);
   * with `adopt`, take over the capture pinned there instead of loading one. @defaultValue not pinned */
  pin?: { dir: string; adopt?: { hook: Hook; attached: string[] } };
}

export interface CaptureStats extends ReaderStats {
  /** Dropped in user space by the path filter (names the kernel could not judge). */
  filteredUser: number;
  /** Relative names whose process was gone before its cwd or dirfd could be read. */
  unresolved: number;
  /** Names the kernel could not resolve, joined to a cwd or dirfd read from /proc (a guess: resolution `proc`). */
  procResolved: number;
  /** Events handed to the callback. */
  delivered: number;
  /** Records lost because they could not be decoded (a malformed batch: onDecodeError says why). */
  undecodable: number;
  /** Events of a process in another mount namespace or under chroot that got a host path. */
  hostPathed: number;
  /** Such events without one (host_status not_mounted, unverified, truncated or no_file). */
  hostPathMissing: number;
  /** Policy re-translations (a mount or a protected file changed) the kernel refused: the policy in
   * force stays the previous one, and the refresh is tried again every 2 s. */
  policyRefreshFailures: number;
  /** Refreshes started at once because a file protected by inode changed under its name. */
  policyWatchRefreshes: number;
}

/** How often the host's mount table is checked for changes that move a protected path. */
const POLICY_REFRESH_MS = 2000;

/** A load-time policy as entries (what setPolicy takes). */
function policyEntriesOf(p: PolicyOptions | undefined): PolicyEntry[] {
  if (!p) return [];
  return [
    ...(p.denyPaths ?? []).map((path): PolicyEntry => ({ path, action: 'deny' })),
    ...(p.killPaths ?? []).map((path): PolicyEntry => ({ path, action: 'kill' })),
    ...(p.entries ?? []),
  ];
}

export class Capture {
  readonly choice: HookChoice;
  private readonly reader: RingReader;
  private readonly resolver = new PathResolver();
  private readonly hostPaths = new HostPathMapper();
  /** The policy as given (setPolicy's entries): its filesystem translation is redone when the host's
   * mount table changes. */
  private policyEntries: PolicyEntry[];
  private policyGeneration = -1;
  /** The protected files' device:inode pairs last put in the kernel. */
  private policyInodes = '';
  private policyRefreshFailures = 0;
  private readonly protectedWatch = new ProtectedFilesWatch(() => this.refreshPolicy());
  private readonly onPolicyRefreshError?: (message: string) => void;
  private readonly fsPolicyPathMax: number;
  private readonly ops: readonly OperationName[] | undefined;
  private readonly policyTimer: NodeJS.Timeout;
  private readonly pathFilter: PathFilter;
  private filteredUser = 0;
  private unresolved = 0;
  private procResolved = 0;
  private delivered = 0;
  private undecodable = 0;
  private hostPathed = 0;
  private hostPathMissing = 0;

  /**
   * Loads and attaches the hook; events flow to onEvents until close(). onEvents may call `numbered`
   * once the events are safe (the collector numbers them on disk): their ring buffer space is freed
   * then, or when it returns.
   */
  constructor(opts: CaptureOptions, onEvents: (events: CapturedEvent[], numbered: () => void) => void) {
    const { RingReader, layout, clocks } = native();
    const adopt = opts.pin?.adopt;
    // A pinned capture keeps the hook it was started with.
    this.choice = adopt ? { ...selectHook(adopt.hook), requested: opts.hooks ?? 'auto' } : selectHook(opts.hooks ?? 'auto', opts.filters, opts.policy);
    this.ops = opts.ops;
    if (this.choice.hook !== 'tracepoint' && opts.ops && !opts.ops.includes('open')) {
      throw new Error(`--ops without open needs --hooks tracepoint: the ${this.choice.hook} hook records every open (docs/capture.md)`);
    }
    this.pathFilter = new PathFilter(opts.filters);
    const lay = layout();
    const decoder = new OpenEventDecoder(lay);
    this.fsPolicyPathMax = lay.prefixMax - lay.fsKeyDevLen;
    this.policyEntries = policyEntriesOf(opts.policy);
    this.onPolicyRefreshError = opts.onPolicyRefreshError;
    const fsEntries = this.fsEntries();
    this.reader = new RingReader(
      {
        hook: this.choice.hook,
        selfPid: process.pid,
        filters: opts.filters,
        policy: opts.policy && fsEntries.length > 0 ? { ...opts.policy, entries: [...(opts.policy.entries ?? []), ...fsEntries] } : opts.policy,
        ringbufBytes: opts.ringbufBytes,
        opMask: opts.ops ? opMaskOf(opts.ops, lay.enums.op) : undefined,
        batchRecords: opts.batchRecords,
        batchDelayMs: opts.batchDelayMs,
        ...(opts.pin ? { pinDir: opts.pin.dir, ...(adopt ? { adopt: adopt.attached } : {}) } : {}),
      },
      (batch, records, end) => {
        // Wall time = boot time + (realtime - boottime) now: NTP steps are picked up per batch.
        const c = clocks();
        const offset = c.realNs - c.bootNs;
        this.resolver.reset();
        const out: CapturedEvent[] = [];
        let synced = false;
        let read = 0;
        try {
          for (const e of decoder.decodeBatch(batch)) {
            read++;
            const r = this.resolver.resolve(e.pid, e.dirfd, e.path, e.pathResolved);
            if (r.resolution === 'unavailable') this.unresolved++;
            else if (r.resolution === 'proc') this.procResolved++;
            // An unresolved relative name cannot be judged here either, nor a path that kept only its
            // tail: keep it rather than lose it.
            if (e.pathUnjudged && r.resolution !== 'unavailable' && !e.pathTail && this.pathFilter.drops(r.path)) {
              this.filteredUser++;
              continue;
            }
            // Extend the decoded object in place: a copy per event is measurable at 400k events/s.
            const c = e as CapturedEvent;
            c.resolvedPath = r.path;
            c.resolution = r.resolution;
            c.wallNs = e.tsNs + offset;
            if (e.otherTree) {
              if (!synced) this.hostPaths.sync(); // the host's mount table as of this batch
              synced = true;
              const h = this.hostPathOf(e);
              c.hostPathStatus = h.status;
              if (h.path) {
                c.hostPath = h.path;
                this.hostPathed++;
              } else {
                this.hostPathMissing++;
              }
            }
            out.push(c);
          }
        } catch (err) {
          // A record this build cannot read: thrown on, it would crash every collector that takes
          // the capture over, at the same record. Counted, said, and its space freed.
          if (!(err instanceof DecodeError)) throw err;
          this.undecodable += records - read;
          opts.onDecodeError?.(`${records - read} of ${records} records lost: ${err.message}`);
        }
        this.delivered += out.length;
        if (out.length > 0) onEvents(out, () => this.reader.release(end));
      },
    );
    this.policyTimer = setInterval(() => this.refreshPolicy(), POLICY_REFRESH_MS);
    this.policyTimer.unref();
  }

  /** The host path of a file opened in another mount namespace or under chroot. */
  private hostPathOf(e: OpenEvent): HostPathResult {
    if (!e.hasFile) return { status: 'no_file' };
    if (!e.fsPath || e.fsPathTail) return { status: 'truncated' };
    return this.hostPaths.map(e.dev, e.fsPath, e.ino);
  }

  stats(): CaptureStats {
    return {
      ...this.reader.stats(),
      filteredUser: this.filteredUser,
      unresolved: this.unresolved,
      procResolved: this.procResolved,
      delivered: this.delivered,
      undecodable: this.undecodable,
      hostPathed: this.hostPathed,
      hostPathMissing: this.hostPathMissing,
      policyRefreshFailures: this.policyRefreshFailures,
      policyWatchRefreshes: this.protectedWatch.changes,
    };
  }

  /** Replaces the in-kernel policy (see RingReader.setPolicy), with its translation onto the host's
   * filesystems (fsPolicyEntries) for processes in another mount namespace or under chroot. */
  setPolicy(entries: PolicyEntry[]): void {
    const before = this.policyEntries;
    this.policyEntries = entries;
    this.policyGeneration = -1;
    try {
      this.reader.setPolicy([...entries, ...this.fsEntries()]);
    } catch (err) {
      // Refused whole by the addon (a bad entry, too many keys): the policy in force stays, and so
      // does what the refresh re-translates (the next refresh redoes the watch and the inodes).
      this.policyEntries = before;
      this.policyGeneration = -1;
      this.policyInodes = '';
      throw err;
    }
  }

  /** The filesystem entries for the current policy and mount table, and the protected files' inodes. */
  private fsEntries(inodes = inodePolicyEntries(this.policyEntries)): PolicyEntry[] {
    const { mounts, generation } = this.hostPaths.table();
    this.policyGeneration = generation;
    this.protectedWatch.set(inodes.map((e) => e.path as Buffer));
    if (this.policyEntries.length === 0) return [];
    this.policyInodes = inodeKeys(inodes);
    return [...fsPolicyEntries(this.policyEntries, mounts, this.fsPolicyPathMax), ...inodes];
  }

  /** Re-translates the policy when the host's mount table changed (a mount moves a protected path),
   * or a protected file is another inode now (replaced by a rename). */
  private refreshPolicy(): void {
    if (this.policyEntries.length === 0) return;
    try {
      const inodes = inodePolicyEntries(this.policyEntries); // one lstat per protected file
      if (this.hostPaths.table().generation === this.policyGeneration && inodeKeys(inodes) === this.policyInodes) return;
      this.reader.setPolicy([...this.policyEntries, ...this.fsEntries(inodes)]);
    } catch (err) {
      // On a timer: a throw would end the collector and with it every policy. Keep the one in force.
      this.policyRefreshFailures++;
      this.policyGeneration = -1;
      this.policyInodes = '';
      this.onPolicyRefreshError?.((err as Error).message);
    }
  }

  /** SIGKILL at the process's next traced open, if its start time still matches. */
  addKillTarget(pid: number, startTicks: number): void {
    this.reader.addKillTarget(pid, startTicks);
  }

  removeKillTarget(pid: number): boolean {
    return this.reader.removeKillTarget(pid);
  }

  attached(): string[] {
    return this.reader.attached();
  }

  /** How the policy acts on the selected operations other than open with this hook, one line
   * (collect prints it next to the hook choice); undefined when only opens are selected. */
  operationEnforcement(): string | undefined {
    const lay = native().layout();
    const ops = (this.ops ?? (Object.keys(lay.operationSyscalls) as OperationName[])).filter((op) => op !== 'open' && op !== 'modify');
    if (ops.length === 0) return undefined;
    // The operations the programs on the kernel's path checks judge: lsm refuses, kprobe and fentry kill.
    const bits = this.reader.judgedOps();
    const judged = new Set(ops.filter((op) => bits & (1 << lay.enums.op[op])));
    const refused = this.choice.hook === 'lsm' ? judged : new Set<string>();
    const called = this.choice.hook === 'lsm' ? new Set<string>() : judged;
    const atExit = ops.filter((op) => !judged.has(op));
    const parts = [
      ...(refused.size ? [`${ops.filter((op) => refused.has(op)).join(', ')} refused with EPERM by the lsm path hooks, before the kernel acts`] : []),
      ...(called.size ? [`${ops.filter((op) => called.has(op)).join(', ')} judged on the kernel's security_path_* calls, by the name it reached (a deny is a kill as the kernel acts)`] : []),
      ...(atExit.length ? [`${atExit.join(', ')} judged at the syscall exit (a deny is a kill after the syscall ran)`] : []),
    ];
    return `operations: ${parts.join('; ')}; modify is judged at its open`;
  }

  /** Stops capture; resolves after every buffered event was handed over. */
  close(): Promise<void> {
    this.protectedWatch.close();
    clearInterval(this.policyTimer);
    return this.reader.close();
  }
}

const inodeKeys = (entries: readonly PolicyEntry[]): string => entries.map((e) => `${e.fs!.dev}:${e.fs!.ino}:${e.action}`).join(',');
