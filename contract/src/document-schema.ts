// The event document's JSON schema, as it travels (without its position and trust verdict, which
// the indexer adds). The indexer checks every arriving document against it before reading a field:
// anyone who can write to Redis can write a batch. Every object is closed, which also keeps the
// keys `event` and `filewarden` unique to the top level (wire.ts places the position by them).
import type { ActionName, HookName, HostPathStatus, OperationName, Resolution, SyscallName } from './event';
import { OPERATIONS } from './event-document';

// Typed as complete records, so a name added to the event types fails the build until it is here.
// The indexer's schema of version-1 batches uses them too.
export const HOOKS: Record<HookName, true> = { tracepoint: true, kprobe: true, fexit: true, lsm: true };
export const SYSCALLS: Record<SyscallName, true> = {
  unknown: true, openat: true, openat2: true, open: true, creat: true,
  unlink: true, unlinkat: true, rmdir: true, rename: true, renameat: true, renameat2: true,
  chmod: true, fchmod: true, fchmodat: true, fchmodat2: true, chown: true, lchown: true, fchown: true, fchownat: true,
  setxattr: true, lsetxattr: true, fsetxattr: true, setxattrat: true, removexattr: true, lremovexattr: true, fremovexattr: true, removexattrat: true,
  link: true, linkat: true, symlink: true, symlinkat: true, mkdir: true, mkdirat: true, mknod: true, mknodat: true, truncate: true, ftruncate: true,
  close: true, exit: true,
};
/** The syscalls a version-1 batch (opens only) can name. */
export const OPEN_SYSCALLS: Partial<Record<SyscallName, true>> = { unknown: true, openat: true, openat2: true, open: true, creat: true };
export const OPERATION_NAMES: Record<OperationName, true> = Object.fromEntries(Object.keys(OPERATIONS).map((k) => [k, true])) as Record<OperationName, true>;
export const ACTIONS: Record<ActionName, true> = { allow: true, deny: true, kill: true };
export const RESOLUTIONS: Record<Resolution, true> = { kernel: true, absolute: true, proc: true, unavailable: true };
export const HOST_PATH_STATUSES: Record<HostPathStatus, true> = { verified: true, mount_table: true, not_mounted: true, unverified: true, truncated: true, no_file: true };
export const oneOf = (r: Record<string, true>): object => ({ type: 'string', enum: Object.keys(r) });

const str = (maxLength: number): object => ({ type: 'string', maxLength });
const uint = { type: 'integer', minimum: 0 } as const;
const u32 = { type: 'integer', minimum: 0, maximum: 0xffff_ffff } as const;
const i32 = { type: 'integer', minimum: -0x8000_0000, maximum: 0x7fff_ffff } as const;
/** A u64 carried as decimal text (JSON numbers lose bits past 2^53). */
const u64 = { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' } as const;
const b64 = (maxLength: number): object => ({ type: 'string', maxLength, pattern: '^[A-Za-z0-9+/]*={0,2}$' });
const id = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' } as const;
const bool = { type: 'boolean' } as const;
const obj = (properties: Record<string, object>, required: string[]): object => ({ type: 'object', additionalProperties: false, properties, required });

/**
 * A path's text and raw bytes. The kernel's names are at most 4096 bytes, but the last-resort join
 * of a cwd and a relative name in user space can reach 8191; escaped, a byte takes 4 characters.
 */
const pathStr = str(4 * 8192 + 64);
const pathB64 = b64(Math.ceil(8192 / 3) * 4);

export const EVENT_DOCUMENT_SCHEMA = obj(
  {
    '@timestamp': { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z$' },
    event: obj(
      {
        kind: { const: 'event' },
        category: { type: 'array', minItems: 1, maxItems: 1, items: { const: 'file' } },
        type: { type: 'array', minItems: 1, maxItems: 3, uniqueItems: true, items: { type: 'string', enum: ['access', 'change', 'creation', 'deletion'] } },
        action: { type: 'string', enum: [...new Set(Object.values(OPERATIONS).map((o) => o.action))] },
        outcome: { type: 'string', enum: ['success', 'failure', 'unknown'] },
        id: str(200),
      },
      ['kind', 'category', 'type', 'action', 'outcome', 'id'],
    ),
    file: obj({ path: pathStr, name: pathStr, directory: pathStr, extension: pathStr, inode: u64, device: str(32), target_path: pathStr }, ['path', 'name', 'directory']),
    process: obj(
      {
        pid: u32,
        name: str(64),
        executable: pathStr,
        // Not bounded per item: a process can rewrite its own argv into one huge argument. The
        // batch's text budget (wire.ts) bounds the whole.
        args: { type: 'array', items: { type: 'string' } },
        args_count: uint,
        thread: obj({ id: u32 }, ['id']),
        parent: obj({ pid: u32 }, ['pid']),
      },
      ['pid', 'name', 'thread', 'parent'],
    ),
    user: obj({ id: str(16), name: str(4096), effective: obj({ id: str(16), name: str(4096) }, ['id']) }, ['id', 'effective']),
    group: obj({ id: str(16), name: str(4096) }, ['id']),
    error: obj({ code: str(32) }, ['code']),
    filewarden: obj(
      {
        hook: oneOf(HOOKS),
        syscall: oneOf(SYSCALLS),
        operation: oneOf(OPERATION_NAMES),
        action: oneOf(ACTIONS),
        enforcement: obj({ by: { type: 'string', enum: ['policy', 'kill_target'] }, requested: { type: 'string', enum: ['deny', 'kill'] }, caveat: str(512) }, ['by', 'requested']),
        ret: { type: ['integer', 'null'] },
        open_flags: obj({ value: u32, names: { type: 'array', maxItems: 40, items: str(32) } }, ['value', 'names']),
        mode: { type: 'string', pattern: '^0[0-7]{1,11}$' },
        access: obj({ read: bool, write: bool, create: bool, truncate: bool }, ['read', 'write', 'create', 'truncate']),
        f_mode: obj({ read: bool, write: bool }, ['read', 'write']),
        dirfd: i32,
        dirfd2: i32,
        change: obj(
          {
            flags: obj({ value: u32, names: { type: 'array', maxItems: 40, items: str(32) } }, ['value', 'names']),
            special: { type: 'array', maxItems: 4, uniqueItems: true, items: { type: 'string', enum: ['setuid', 'setgid', 'sticky', 'world-writable'] } },
            old_mode: { type: 'string', pattern: '^0[0-7]{1,11}$' },
            uid: str(16),
            gid: str(16),
            old_uid: str(16),
            old_gid: str(16),
            length: { type: 'string', pattern: '^-?(0|[1-9][0-9]{0,18})$' },
            bytes_written: u64,
            writes: u32,
            node_type: { type: 'string', enum: ['file', 'dir', 'char-device', 'block-device', 'fifo', 'socket', 'symlink'] },
            device: str(32),
            xattr: pathStr,
            xattr_raw_b64: pathB64,
          },
          [],
        ),
        original_path: pathStr,
        second_path: obj(
          {
            encoding: { type: 'string', enum: ['utf8', 'escaped'] },
            raw_b64: pathB64,
            as_passed: pathStr,
            as_passed_raw_b64: pathB64,
            resolution: { type: 'string', enum: [...Object.keys(RESOLUTIONS), 'as_stored'] },
            lexical: { const: true },
            truncated: bool,
            unreadable: bool,
          },
          ['encoding', 'raw_b64', 'resolution', 'truncated', 'unreadable'],
        ),
        path: obj(
          {
            encoding: { type: 'string', enum: ['utf8', 'escaped'] },
            raw_b64: pathB64,
            as_passed: pathStr,
            as_passed_raw_b64: pathB64,
            resolution: oneOf(RESOLUTIONS),
            lexical: { const: true },
            truncated: bool,
            tail_only: bool,
            original_length: uint,
            unreadable: bool,
            host: pathStr,
            host_raw_b64: pathB64,
            host_status: oneOf(HOST_PATH_STATUSES),
          },
          ['encoding', 'resolution', 'truncated', 'tail_only', 'unreadable'],
        ),
        cgroup_id: u64,
        mntns_id: uint,
        cpu: uint,
        boot_ns: u64,
        process_info: { type: 'string', enum: ['proc', 'unavailable'] },
        process_start_ticks: uint,
        seq_stream: id,
        boot_id: id,
      },
      ['hook', 'syscall', 'action', 'ret', 'path', 'cgroup_id', 'mntns_id', 'cpu', 'boot_ns', 'process_info', 'seq_stream', 'boot_id'],
    ),
    host: obj({ name: str(255), id: str(128), boot: obj({ id }, ['id']) }, ['name', 'boot']),
    container: obj({ id: str(256) }, ['id']),
  },
  ['@timestamp', 'event', 'file', 'process', 'user', 'group', 'filewarden', 'host'],
);
