// Typed access to the native addon (native/): the ring-buffer reader and the record layout.
import path from 'node:path';
import { packageRoot } from '../../../stack/src/package-root';

export interface RecordLayout {
  headerSize: number;
  openEventSize: number;
  recordAlign: number;
  pathMax: number;
  commLen: number;
  header: Record<'type' | 'size' | 'cpu' | 'ts_ns', number>;
  open: Record<
    | 'pid' | 'tid' | 'ppid' | 'uid' | 'gid' | 'euid' | 'cgroup_id' | 'mntns_id' | 'dirfd' | 'ret' | 'ino' | 'dev'
    | 'open_flags' | 'mode' | 'f_mode' | 'hook' | 'action' | 'syscall' | 'path_kind' | 'flags' | 'path_len'
    | 'path_orig_len' | 'comm' | 'path',
    number
  >;
  enums: {
    eventType: Record<'open', number>;
    hook: Record<'tracepoint' | 'kprobe' | 'fexit' | 'lsm', number>;
    syscall: Record<'unknown' | 'openat' | 'openat2' | 'open' | 'creat', number>;
    action: Record<'allow' | 'deny' | 'kill', number>;
    pathKind: Record<'asPassed' | 'resolved', number>;
    flag: Record<'pathTruncated' | 'pathUnreadable' | 'hasFile', number>;
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

export interface RingReaderOptions {
  /** Ring buffer size: a power of two, at least one page. @defaultValue 4 MiB */
  ringbufBytes?: number;
  /** A process whose opens are never traced (the collector itself). @defaultValue none */
  selfPid?: number;
  /** Records per batch before it is handed over. @defaultValue 4096 */
  batchRecords?: number;
  /** Longest a record waits in a partial batch. @defaultValue 50 */
  batchDelayMs?: number;
  /** Batches queued towards JS before the drain thread waits. @defaultValue 8 */
  queueBatches?: number;
}

export interface RingReader {
  stats(): ReaderStats;
  /** Tracepoints attached, e.g. "sys_exit_openat". */
  attached(): string[];
  /** Stops capture and resolves after every record still buffered was delivered. */
  close(): Promise<void>;
}

/** Errors from the addon carry a code (FW_ERR_BPF_LOAD, FW_ERR_ATTACH, ...), errno and hook. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  hook: string;
}

interface NativeModule {
  layout(): RecordLayout;
  RingReader: new (opts: RingReaderOptions, onBatch: (batch: Buffer, records: number) => void) => RingReader;
}

let loaded: NativeModule | undefined;

export function native(): NativeModule {
  loaded ??= require(path.join(packageRoot(), 'native', 'build', 'Release', 'filewarden_native.node')) as NativeModule;
  return loaded;
}
