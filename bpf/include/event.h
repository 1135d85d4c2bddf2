/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one record definition shared by the BPF programs and the native addon. Fixed-width types,
 * explicit padding, a common header first. Enum values are never renumbered: append only.
 */
#ifndef FILEWARDEN_EVENT_H
#define FILEWARDEN_EVENT_H

#ifdef __KERNEL_BPF__
/* vmlinux.h provides the __uN/__sN types on the BPF side. */
#else
#include <linux/types.h>
#endif

#define FW_COMM_LEN 16
/* PATH_MAX including the terminating NUL: the kernel refuses longer names with ENAMETOOLONG. */
#define FW_PATH_MAX 4096

enum fw_event_type {
	/* Every record is a struct fw_file_event; `op` says which operation (FW_OP_OPEN for an open). */
	FW_EVENT_OPEN = 1,
};

/* The file operation a record is about. */
enum fw_op {
	FW_OP_OPEN = 0,
	FW_OP_UNLINK = 1,
	FW_OP_RMDIR = 2,
	FW_OP_RENAME = 3,
	FW_OP_CHMOD = 4,
	FW_OP_CHOWN = 5,
	FW_OP_SETXATTR = 6,
	FW_OP_REMOVEXATTR = 7,
	FW_OP_LINK = 8,
	FW_OP_SYMLINK = 9,
	FW_OP_MKDIR = 10,
	FW_OP_MKNOD = 11,
	FW_OP_TRUNCATE = 12,
	/* A write session ended: a file opened for writing was written and then closed (or its last
	 * holder exited). One record per session, with the bytes and the write calls. */
	FW_OP_MODIFY = 13,
	FW_OP__COUNT = 14,
};

/* What a record's second name (aux_len bytes) is. */
enum fw_aux_kind {
	FW_AUX_NONE = 0,
	/* A path resolved like the first (rename: the old name; link: the existing file), with the name
	 * as passed after it (aux_name_len bytes) when that differs. */
	FW_AUX_RESOLVED = 1,
	/* Bytes as passed, never a path to resolve: a symlink's target, an extended attribute's name. */
	FW_AUX_AS_PASSED = 2,
	/* A second path the kernel could not resolve: the name as passed (relative to dirfd2). */
	FW_AUX_PATH_AS_PASSED = 3,
};

enum fw_hook {
	FW_HOOK_TRACEPOINT = 1,
	FW_HOOK_KPROBE = 2,
	FW_HOOK_FEXIT = 3,
	FW_HOOK_LSM = 4,
};

enum fw_syscall {
	FW_SYS_UNKNOWN = 0,
	FW_SYS_OPENAT = 1,
	FW_SYS_OPENAT2 = 2,
	FW_SYS_OPEN = 3,
	FW_SYS_CREAT = 4,
	FW_SYS_UNLINK = 5,
	FW_SYS_UNLINKAT = 6,
	FW_SYS_RMDIR = 7,
	FW_SYS_RENAME = 8,
	FW_SYS_RENAMEAT = 9,
	FW_SYS_RENAMEAT2 = 10,
	FW_SYS_CHMOD = 11,
	FW_SYS_FCHMOD = 12,
	FW_SYS_FCHMODAT = 13,
	FW_SYS_FCHMODAT2 = 14,
	FW_SYS_CHOWN = 15,
	FW_SYS_LCHOWN = 16,
	FW_SYS_FCHOWN = 17,
	FW_SYS_FCHOWNAT = 18,
	FW_SYS_SETXATTR = 19,
	FW_SYS_LSETXATTR = 20,
	FW_SYS_FSETXATTR = 21,
	FW_SYS_SETXATTRAT = 22,
	FW_SYS_REMOVEXATTR = 23,
	FW_SYS_LREMOVEXATTR = 24,
	FW_SYS_FREMOVEXATTR = 25,
	FW_SYS_REMOVEXATTRAT = 26,
	FW_SYS_LINK = 27,
	FW_SYS_LINKAT = 28,
	FW_SYS_SYMLINK = 29,
	FW_SYS_SYMLINKAT = 30,
	FW_SYS_MKDIR = 31,
	FW_SYS_MKDIRAT = 32,
	FW_SYS_MKNOD = 33,
	FW_SYS_MKNODAT = 34,
	FW_SYS_TRUNCATE = 35,
	FW_SYS_FTRUNCATE = 36,
	FW_SYS_CLOSE = 37,  /* a write session ended by close(2) */
	FW_SYS_EXIT = 38,   /* a write session ended by its last holder's exit (no close call) */
};

enum fw_action {
	FW_ACTION_ALLOW = 0,
	FW_ACTION_DENY = 1,
	FW_ACTION_KILL = 2,
};

/* How `path` was obtained. */
enum fw_path_kind {
	/* As the caller passed it: the tracepoint hook's last resort when the kernel could not resolve
	 * it (name unreadable or too long, base directory gone); user space resolves it against `dirfd`. */
	FW_PATH_AS_PASSED = 1,
	/* Full absolute path resolved in the kernel (bpf_d_path or a dentry walk; for a failed open on
	 * the tracepoint hook, the base directory's walk plus the name joined lexically, see
	 * FW_FLAG_PATH_LEXICAL). */
	FW_PATH_RESOLVED = 2,
};

/* Bits of fw_file_event.flags. */
enum fw_event_flags {
	/* `path` holds only the first path_len bytes of a longer name. */
	FW_FLAG_PATH_TRUNCATED = 1 << 0,
	/* The name could not be read at all (bad pointer, page not resident). */
	FW_FLAG_PATH_UNREADABLE = 1 << 1,
	/* ino/dev/f_mode were read from the opened file. */
	FW_FLAG_HAS_FILE = 1 << 2,
	/* A resolved path ran out of room: `path` holds its last path_len bytes, not its start. */
	FW_FLAG_PATH_TAIL = 1 << 3,
	/* The hook runs before the open completes (LSM): `ret` is not the syscall's result. */
	FW_FLAG_RET_UNKNOWN = 1 << 4,
	/* Path filters are set but the kernel could not judge this name (relative, or with "//" or
	 * "/." in it): user space resolves it and applies the same filters. */
	FW_FLAG_PATH_UNJUDGED = 1 << 5,
	/* A deny policy matched, but this hook cannot refuse an open (only lsm can): the process was
	 * sent SIGKILL instead and the syscall still ran to completion. */
	FW_FLAG_DENY_AS_KILL = 1 << 6,
	/* The process was on the kill-target list (a remote kill command) and got SIGKILL here. */
	FW_FLAG_KILL_TARGET = 1 << 7,
	/* A resolved path whose last components were joined lexically (".", ".." and "//" folded, no
	 * symlink followed) onto a directory the kernel walked: a failed open on the tracepoint hook,
	 * whose file was never reached. */
	FW_FLAG_PATH_LEXICAL = 1 << 8,
	/* The host walk (host_len bytes after the name) ran out of room: it holds its last bytes. */
	FW_FLAG_HOST_TAIL = 1 << 9,
	/* The task is in another mount namespace than the collector's or has another root (chroot):
	 * `path` is its own view. With FW_FLAG_HAS_FILE the record carries the host walk (host_len). */
	FW_FLAG_OTHER_TREE = 1 << 10,
	/* old_mode, old_uid and old_gid hold the file's before the operation (read at its entry from
	 * the file the fd names: fchmod, fchown, ftruncate, fsetxattr, ...). */
	FW_FLAG_HAS_OLD = 1 << 11,
	/* The second name's last components were joined lexically (see FW_FLAG_PATH_LEXICAL). */
	FW_FLAG_AUX_LEXICAL = 1 << 12,
	/* The second name holds only its first (as passed) or last (resolved) aux_len bytes. */
	FW_FLAG_AUX_TRUNCATED = 1 << 13,
	/* The second name could not be read. */
	FW_FLAG_AUX_UNREADABLE = 1 << 14,
};

/* Bits of the runtime `policy_armed` word (.bss, written by user space after load): which policy
 * maps hold entries, so a hook with no policy pays for no lookup. */
enum fw_policy_armed {
	FW_ARMED_PATH = 1 << 0,    /* policy_path: any process */
	FW_ARMED_SCOPED = 1 << 1,  /* policy_scoped: a comm or an executable, plus a path prefix */
	FW_ARMED_TARGETS = 1 << 2, /* kill_tgid: processes to kill at their next traced open */
	FW_ARMED_FS = 1 << 3,      /* policy_fs: a device and a path within its filesystem (another tree) */
};

/* The first byte of a policy_scoped key: what the 16-byte qualifier before the path holds. */
enum fw_scope_kind {
	FW_SCOPE_COMM = 1, /* then the comm's first 15 bytes, NUL padded */
	FW_SCOPE_EXE = 2,  /* then 3 zero bytes, the executable's dev (u32, kernel encoding) and ino (u64) */
	/* Not a policy_scoped qualifier: the entry is a path within the filesystem of one device, in the
	 * policy_fs map, whose key is that dev (u32, kernel encoding) then the path (FW_FS_KEY_DEV_LEN). */
	FW_SCOPE_FS = 3,
};

/* Bytes of device before the path in a policy_fs key. */
#define FW_FS_KEY_DEV_LEN 4

/* Bytes of qualifier before the path in a policy_scoped key; the path gets the rest of the key. */
#define FW_SCOPE_LEN 16
/* Clock ticks per second of /proc/<pid>/stat's start time (USER_HZ, 100 on every Linux ABI). */
#define FW_USER_HZ 100

/* Values of the filter maps: what a match means. */
enum fw_filter_mode {
	FW_FILTER_INCLUDE = 1,
	FW_FILTER_EXCLUDE = 2,
};

/* Bits of the load-time `filter_flags`: which filter maps hold entries. A dimension with at least
 * one include entry keeps only what matches an include. */
enum fw_filter_flags {
	FW_FILTERS_PATH = 1 << 0,
	FW_FILTERS_PATH_INCLUDE = 1 << 1,
	FW_FILTERS_COMM = 1 << 2,
	FW_FILTERS_COMM_INCLUDE = 1 << 3,
	FW_FILTERS_UID = 1 << 4,
	FW_FILTERS_UID_INCLUDE = 1 << 5,
	FW_FILTERS_CGROUP = 1 << 6,
	FW_FILTERS_CGROUP_INCLUDE = 1 << 7,
};

/* Longest path prefix a filter can hold (the LPM trie's key size limit). */
#define FW_PREFIX_MAX 256
#define FW_FILTER_ENTRIES 1024

struct fw_prefix_key {
	__u32 prefixlen; /* in bits */
	__u8 data[FW_PREFIX_MAX];
};

/* A policy entry's value: the action for each operation (indexed by enum fw_op). User space folds the
 * entries before writing them: an entry's operations it does not name take the action of the
 * longest shorter prefix that names them, so the one longest match the trie returns decides every
 * operation alone. */
#define FW_POLICY_OPS 16
struct fw_policy_value {
	__u8 act[FW_POLICY_OPS]; /* enum fw_action */
};

/* Per-CPU counter slots. */
enum fw_counter {
	FW_CNT_SEEN = 0,     /* hook invocations that reached the filters */
	FW_CNT_FILTERED = 1, /* dropped on purpose by an in-kernel filter */
	FW_CNT_EMITTED = 2,  /* written to the ring buffer */
	FW_CNT_DROPPED = 3,  /* lost: the ring buffer had no room */
	FW_CNT_ARGS_LOST = 4, /* entry arguments could not be stashed, or a write session tracked (map full):
			       * the exit, or the session's end, has no event */
	FW_CNT__MAX = 5,
};

struct fw_event_header {
	__u16 type;   /* enum fw_event_type */
	__u16 size;   /* whole record in bytes, including the trailing path */
	__u32 cpu;
	__u64 ts_ns;  /* bpf_ktime_get_boot_ns(): boot-time clock, counts suspend */
};

struct fw_file_event {
	struct fw_event_header hdr;
	__u32 pid;    /* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u64 cgroup_id;
	__u32 mntns_id;
	__s32 dirfd;
	__s64 ret;        /* fd, or -errno */
	__u64 ino;
	__u32 dev;        /* kernel dev_t: major << 20 | minor */
	__u32 open_flags; /* O_* as passed */
	__u32 mode;       /* create mode as passed (open, mkdir, mknod), or the new mode (chmod) */
	__u32 f_mode;     /* FMODE_* of the opened file (FMODE_READ 1, FMODE_WRITE 2) */
	__u8 hook;        /* enum fw_hook */
	__u8 action;      /* enum fw_action */
	__u8 syscall;     /* enum fw_syscall */
	__u8 path_kind;   /* enum fw_path_kind */
	__u16 flags;      /* enum fw_event_flags */
	__u16 name_len;   /* bytes of the name as passed after the path (tracepoint, resolved path only) */
	__u32 path_len;   /* bytes in path, without a NUL */
	__u32 path_orig_len; /* original length when known; 0 = longer than FW_PATH_MAX - 1, unknown */
	/* Bytes of the opened file's path from its filesystem's (superblock's) root, mounts ignored, after
	 * the name as passed. Only for a process in another mount namespace than the collector's or under
	 * chroot, and only when the record has the file (FW_FLAG_HAS_FILE): user space maps it onto the
	 * host's mount table with `dev`. 0 = not walked. */
	__u16 host_len;
	__u8 op;          /* enum fw_op */
	__u8 aux_kind;    /* enum fw_aux_kind */
	__u16 aux_len;    /* bytes of the second name, after the host walk */
	__u16 aux_name_len; /* bytes of the second name as passed, after it (FW_AUX_RESOLVED only) */
	__s32 dirfd2;     /* the second name's dirfd as passed (renameat, linkat, symlinkat) */
	__u32 op_flags;   /* the operation's flags as passed: RENAME_*, AT_*, XATTR_* */
	__u32 new_uid;    /* chown: the owner as passed (0xffffffff: unchanged) */
	__u32 new_gid;
	__u32 old_mode;   /* FW_FLAG_HAS_OLD: the file's i_mode, i_uid and i_gid before the operation */
	__u32 old_uid;
	__u32 old_gid;
	__u32 count;      /* modify: the write calls that wrote at least one byte */
	__s64 length;     /* truncate: the length as passed; mknod: the device number as passed; modify:
			   * the bytes written */
	char comm[FW_COMM_LEN];
	char path[];      /* path_len bytes, then name_len bytes of the name as passed, then host_len bytes of
			   * the superblock-relative path, then aux_len bytes of the second name and aux_name_len
			   * bytes of it as passed, then padding to 8 */
};
#define FW_RECORD_ALIGN 8

#endif /* FILEWARDEN_EVENT_H */
