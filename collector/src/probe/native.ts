// Typed access to the native addon (native/): the ring-buffer reader and the record layout.
import path from 'node:path';
import type { OperationName, SyscallName } from '../../../contract/src/event';
import { packageRoot } from '../../../stack/src/package-root';

export interface RecordLayout {
  headerSize: number;
  /** Bytes of the record's fixed part: its names start there. */
  recordFixedSize: number;
  recordAlign: number;
  pathMax: number;
  commLen: number;
  /** Longest path prefix a filter can hold. */
  prefixMax: number;
  /** Bytes of device before the path in a filesystem policy key (the path gets the rest). */
  fsKeyDevLen: number;
  /** Most entries per filter kind. */
  filterEntries: number;
  header: Record<'type' | 'size' | 'cpu' | 'ts_ns', number>;
  /** Each operation and the syscalls whose tracepoints record it. */
  operationSyscalls: Record<OperationName, string[]>;
  record: Record<
    | 'pid' | 'tid' | 'ppid' | 'uid' | 'gid' | 'euid' | 'cgroup_id' | 'mntns_id' | 'dirfd' | 'ret' | 'ino' | 'dev'
    | 'open_flags' | 'mode' | 'f_mode' | 'hook' | 'action' | 'syscall' | 'path_kind' | 'flags' | 'name_len' | 'path_len'
    | 'path_orig_len' | 'host_len' | 'op' | 'aux_kind' | 'aux_len' | 'aux_name_len' | 'dirfd2' | 'op_flags' | 'new_uid'
    | 'new_gid' | 'old_mode' | 'old_uid' | 'old_gid' | 'count' | 'length' | 'comm' | 'path',
    number
  >;
  enums: {
    eventType: Record<'open', number>;
    hook: Record<'tracepoint' | 'kprobe' | 'fexit' | 'lsm', number>;
    syscall: Record<SyscallName, number>;
    op: Record<OperationName, number>;
    auxKind: Record<'none' | 'resolved' | 'asPassed' | 'pathAsPassed', number>;
    action: Record<'allow' | 'deny' | 'kill', number>;
    pathKind: Record<'asPassed' | 'resolved', number>;
    flag: Record<
      'pathTruncated' | 'pathUnreadable' | 'hasFile' | 'pathTail' | 'retUnknown' | 'pathUnjudged' | 'denyAsKill' | 'killTarget'
      | 'pathLexical' | 'hostTail' | 'otherTree' | 'hasOld' | 'auxLexical' | 'auxTruncated' | 'auxUnreadable',
      number
    >;
    counter: Record<'seen' | 'filtered' | 'emitted' | 'dropped' | 'argsLost' | 'count', number>;
  };
}

/** Kernel and user-space counters of one reader. */
export interface ReaderStats {
  seen: number;
  filtered: number;
  emitted: number;
  dropped: number;
  argsLost: number;
  recordsRead: number;
  batchesSent: number;
  batchesLost: number;
}

export const HOOKS = ['tracepoint', 'kprobe', 'fexit', 'lsm'] as const;
export type Hook = (typeof HOOKS)[number];

/**
 * In-kernel filters. A path prefix is matched byte for byte (end it with "/" to mean a directory's
 * contents) and the longest matching prefix decides. In each dimension an exclude match drops the
 * event, and once any include is given, only include matches are kept.
 */
export interface FilterOptions {
  includePaths?: (string | Buffer)[];
  excludePaths?: (string | Buffer)[];
  includeComms?: string[];
  excludeComms?: string[];
  includeUids?: number[];
  excludeUids?: number[];
  includeCgroups?: (number | bigint)[];
  excludeCgroups?: (number | bigint)[];
}

/**
 * One entry of the in-kernel enforcement policy (bpf/policy.bpf.h): an absolute byte prefix, for any
 * process or scoped to a comm or an executable (its device and inode, so a renamed copy elsewhere is
 * another executable). Among the any-process entries, and among the scoped ones, the longest matching
 * prefix decides; across the two the strongest action wins (kill > deny > allow). `allow` carves an
 * exception out of a shorter prefix.
 */
export interface PolicyEntry {
  path: string | Buffer;
  action: 'allow' | 'deny' | 'kill';
  /** The operations it acts on (a rule's `on:`). @defaultValue every operation */
  ops?: OperationName[];
  comm?: string;
  /** `dev` in the kernel's encoding (major << 20 | minor). */
  exe?: { dev: number; ino: number | bigint };
  /** `path` is a path within the filesystem of this device (kernel encoding), from its root: judged
   * on where the opened file is in its filesystem, for a process in another mount namespace or under
   * chroot, or a host process reaching it through a bind mount. With `ino`, one file by inode
   * instead (every name of it), and `path` only names it. collector/src/resolve/host-path.ts makes
   * both from the any-process entries. */
  fs?: { dev: number; ino?: number | bigint };
}

/**
 * The load-time policy. `deny`: the lsm hook refuses the open with EPERM; a hook that cannot refuse
 * (tracepoint, kprobe, fexit) sends SIGKILL instead and flags the event `denyAsKill`, and the syscall
 * still runs. `kill`: the hook sends SIGKILL to the opening process; under lsm the open is refused
 * too, elsewhere the syscall in flight completes (an O_TRUNC open still truncates). It acts on the
 * processes the comm/uid/cgroup filters keep, whatever the path filters say, and the event records
 * the action.
 */
export interface PolicyOptions {
  denyPaths?: (string | Buffer)[];
  killPaths?: (string | Buffer)[];
  entries?: PolicyEntry[];
}

export interface ProbeOptions {
  /** Which hook family captures opens. @defaultValue 'tracepoint' */
  hook?: Hook;
  /** A process whose opens are never traced (the collector itself). @defaultValue none */
  selfPid?: number;
  /** @defaultValue no filters */
  filters?: FilterOptions;
  /** @defaultValue no policy */
  policy?: PolicyOptions;
  /** The operations to record: bits of layout().enums.op. @defaultValue every one */
  opMask?: number;
}

export interface RingReaderOptions extends ProbeOptions {
  /** Ring buffer size: a power of two, at least one page. @defaultValue 4 MiB */
  ringbufBytes?: number;
  /** Records per batch before it is handed over. @defaultValue 4096 */
  batchRecords?: number;
  /** Longest a record waits in a partial batch. @defaultValue 50 */
  batchDelayMs?: number;
  /** Batches queued towards JS before the drain thread waits. @defaultValue 8 */
  queueBatches?: number;
  /** A bpffs directory to pin the capture in: it goes on while no reader runs, and close() ends it
   * and removes the pins. @defaultValue not pinned */
  pinDir?: string;
  /** Take over the capture pinned in pinDir (its attach points, for attached()) instead of loading
   * one: nothing is loaded, reading goes on where the last reader released the ring buffer, and
   * the counters carry on. Its hook must be `hook`. @defaultValue load a new capture */
  adopt?: string[];
}

export interface RingReader {
  stats(): ReaderStats;
  /** What is attached, e.g. "tracepoint/syscalls/sys_exit_openat" or "kretprobe/vfs_open". */
  attached(): string[];
  hook(): Hook;
  /** Replaces the whole in-kernel policy (the load-time one included). */
  setPolicy(entries: PolicyEntry[]): void;
  /**
   * SIGKILL for the process at its next traced open, if its start time (USER_HZ ticks since boot, as
   * /proc/<pid>/stat shows it) still matches: a reused pid is spared.
   */
  addKillTarget(pid: number, startTicks: number): void;
  /** True when the process was on the list. */
  removeKillTarget(pid: number): boolean;
  /** The operations (bits of layout().enums.op) judged on the kernel's path checks before the kernel
   * acts: refused with EPERM under lsm, killed under kprobe and fexit; the rest at the syscall exit. */
  judgedOps(): number;
  /** Frees the ring buffer up to a batch's `end`: call it once the batch's events are safe (numbered). */
  release(end: bigint): void;
  /** Stops capture and resolves after every record still buffered was delivered. */
  close(): Promise<void>;
}

/** Errors from the addon carry a code (FW_ERR_BPF_LOAD, FW_ERR_ATTACH, ...), errno, hook and libbpf's log. */
export { isNativeError, type NativeError } from '../../../stack/src/native-error';

export interface HookCheck {
  hook: Hook;
  /** Programs that passed the verifier. */
  loaded: string[];
  /** Attach points (empty when attach was false). */
  attached: string[];
}

interface NativeModule {
  layout(): RecordLayout;
  /** CLOCK_BOOTTIME (the events' clock) and CLOCK_REALTIME, read back to back. */
  clocks(): { bootNs: bigint; realNs: bigint };
  /**
   * The kernel's path checks that judge each operation before the kernel acts (the first judges all
   * its syscalls), and whether this kernel has each as an lsm hook (which refuses) and as a
   * `security_*` call the kprobe and fexit hooks attach to (which kill).
   */
  operationChecks(): Record<OperationName, { check: string; lsm: boolean; call: boolean }[]>;
  /** Loads (the verifier runs), optionally attaches, then unloads one hook's programs. */
  checkHook(opts: ProbeOptions & { attach?: boolean }): HookCheck;
  /**
   * SIGKILL through a pidfd, after checking the start time: 'killed', 'exited' (no such process), or
   * 'reused' (the pid now names another process, which is left alone).
   */
  killProcess(pid: number, startTicks: number): 'killed' | 'exited' | 'reused';
  /** statx of a path, its last component not followed: its inode and the id of the mount it ends in
   * (0 where the kernel does not report it, before 5.8), or the errno. */
  statMount(path: Buffer): StatMount;
  /** `end`: where the batch ends in the ring buffer; its space is freed by release(end), or when onBatch returns. */
  RingReader: new (opts: RingReaderOptions, onBatch: (batch: Buffer, records: number, end: bigint) => void) => RingReader;
}

export type StatMount = { ino: bigint; mntId: number } | { errno: number };

let loaded: NativeModule | undefined;

/** The built addon (the BPF objects are inside it). */
export function nativeAddonPath(): string {
  return path.join(packageRoot(), 'native', 'build', 'Release', 'filewarden_native.node');
}

export function native(): NativeModule {
  loaded ??= require(nativeAddonPath()) as NativeModule;
  return loaded;
}
