/* SPDX-License-Identifier: GPL-2.0 */
/* Maps, load-time settings and helpers shared by every hook family: one ring buffer, per-CPU
 * counters, and a per-CPU scratch record (too large for the 512-byte BPF stack). */
#ifndef FILEWARDEN_MAPS_BPF_H
#define FILEWARDEN_MAPS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized by the loader before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* The fixed part, a path, (tracepoint) the name as passed after it, (another mount namespace or
 * chroot) the superblock-relative path after that, then (rename, link, symlink, xattr) a second name
 * and that name as passed, each up to FW_PATH_MAX. */
#define FW_SCRATCH_SIZE (sizeof(struct fw_file_event) + 5 * FW_PATH_MAX)

/* The lexical join's state (path.bpf.h): kept in the map, see fw_join_step. */
struct fw_join_state {
	__u32 base_len; /* bytes of the walked base directory at the start of e->path */
	__u32 total;    /* base_len + 1 + the name's length: the input is base, '/', name */
	__u32 out;      /* e->path[0..out) holds the components kept so far */
	__u32 clen;     /* bytes of the component being read, written after a '/' at e->path[out] */
	__u32 depth;    /* entries on join_stack */
	__u32 out_of_room;
};

struct fw_scratch {
	__u8 buf[FW_SCRATCH_SIZE];
	/* The path filter's lookup key, built from the record's path. */
	struct fw_prefix_key key;
	/* The name as passed, read at syscall exit before the path is resolved (tracepoint). */
	char name[FW_PATH_MAX];
	/* The lexical join's stack: where each output component starts, for "..". */
	__u16 join_stack[FW_PATH_MAX / 2];
	struct fw_join_state join;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_scratch);
} scratch SEC(".maps");

/* More per-CPU room, apart: a per-CPU value is at most 32 KiB (PCPU_MIN_UNIT_SIZE). */
struct fw_walk_buf {
	/* A resolved path is assembled backwards in the first half; the second half is slack so a
	 * bounded copy at any offset of the first half stays inside the buffer. */
	char walk[2 * FW_PATH_MAX];
	/* An operation's second name (syscalls.bpf.c), resolved before the first and kept here until the
	 * record is complete, and that name as passed. */
	char aux[FW_PATH_MAX];
	char aux_name[FW_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_walk_buf);
} walk_bufs SEC(".maps");

static __always_inline struct fw_walk_buf *fw_walk_buf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&walk_bufs, &zero);
}

/* The collector's own process: its file activity is never traced (it would feed back). In .bss, not
 * rodata: a collector that takes over a pinned capture (probe.cc, Adopt) writes its own here. Its start
 * time (USER_HZ ticks since boot, as /proc/<pid>/stat shows it) keeps a process that reuses the pid of a
 * collector that died traced while no collector runs. */
__u32 self_tgid = 0;
__u64 self_start = 0;

#define FW_NSEC_PER_TICK (1000000000ULL / FW_USER_HZ)

/* Set when the syscall exit programs record failed opens next to this object's hook (lsm, fexit,
 * kprobe; syscalls.bpf.c's failures_only): the hook then marks every open it handles, so that the
 * syscall exit never records that open a second time. */
const volatile __u32 mark_opens = 0;

/* The collector's mount namespace (inode of /proc/self/ns/mnt) and its root directory (kernel dev_t
 * and inode of "/"): a task elsewhere, or with another root, gets the superblock-relative walk of its
 * files (path.bpf.h, fw_host_path). host_mntns 0: unknown, no walk. In .bss, like self_tgid: a
 * collector that takes over a pinned capture writes its own tree (a restarted service gets a new
 * mount namespace, and a dead one's inode number can go to a container's). */
__u32 host_mntns = 0;
__u32 host_root_dev = 0;
__u64 host_root_ino = 0;
/* The mount id of the collector's root (statx STATX_MNT_ID, 5.8+): a chroot into a bind mount of the
 * host's root directory has the same dev and inode, but not the same mount (nor its submounts).
 * 0: unknown, dev and inode alone decide. */
__u32 host_root_mnt_id = 0;

/* One entry per open syscall in flight (failures_only mode): created at sys_enter with 0, set to 1
 * by the primary hook when it handles the open, read and deleted at sys_exit. Created only at
 * sys_enter, so a mark from an open outside an open syscall (exec, a kernel thread) never lingers
 * to hide a later failure. Shared between the two objects (the loader reuses the primary's fd). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);   /* tid */
	__type(value, __u32); /* 1: the primary hook handled (recorded or filtered) this open */
} open_marks SEC(".maps");

/* One entry per operation syscall in flight whose family a kernel hook judges (syscalls.bpf.c's
 * judged_ops): created at sys_enter with judged 0, filled by the hook on the kernel's path check (the
 * lsm path hooks, or the kprobe or fentry programs on security_path_*: ops.bpf.h) when it judges the
 * operation, read and deleted at sys_exit, which records that verdict instead of judging (and killing)
 * again. Created only at sys_enter, like open_marks, so a hook run outside such a syscall (an O_CREAT
 * open's mknod check, a socket bind) never leaves one behind. Shared by both objects. */
struct fw_op_verdict {
	__u8 judged; /* the hook ran its policy on this operation */
	__u8 action; /* enum fw_action: what it did (lsm: refused with EPERM; the others: killed) */
	__u8 hook;   /* enum fw_hook: the hook that judged */
	__u8 _pad;
	__u16 flags; /* FW_FLAG_KILL_TARGET, FW_FLAG_DENY_AS_KILL */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct fw_op_verdict);
} op_verdicts SEC(".maps");

/* The names that hook resolved from the dentries the kernel reached, kept for the syscall exit to
 * record instead of its own lexical join: per thread and slot (key tid << 1 | slot; slot 0 is the
 * record's name, 1 its second name: a rename's old name, a link's existing file). Written only while
 * an op_verdicts entry exists, deleted at the exit. Allocated per operation. Shared by both objects. */
struct fw_op_resolved {
	__u32 len;   /* bytes of path */
	__u16 flags; /* FW_FLAG_PATH_TRUNCATED | FW_FLAG_PATH_TAIL: the walk kept only the name's end */
	__u16 _pad;
	char path[FW_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct fw_op_resolved);
} op_resolved SEC(".maps");

/* A thread's op_resolved key for a slot (0: the record's name, 1: its second name). */
static __always_inline __u64 fw_resolved_key(__u32 tid, __u32 slot)
{
	return ((__u64)tid << 1) | (slot & 1);
}

/* Drops a thread's kept names, both slots. */
static __always_inline void fw_forget_names(__u32 tid)
{
	__u64 k0 = fw_resolved_key(tid, 0), k1 = fw_resolved_key(tid, 1);

	bpf_map_delete_elem(&op_resolved, &k0);
	bpf_map_delete_elem(&op_resolved, &k1);
}

static __always_inline void fw_count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);
	if (v)
		*v += 1; /* per-CPU slot: no other CPU writes it */
}

/* Starts a record: the task fields common to every hook, everything else zeroed. */
static __always_inline void fw_fill_task(struct fw_file_event *e, __u8 hook)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();

	e->hdr.type = FW_EVENT_OPEN;
	e->hdr.cpu = bpf_get_smp_processor_id();
	e->hdr.ts_ns = bpf_ktime_get_boot_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)ug;
	e->gid = ug >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->euid = BPF_CORE_READ(task, cred, euid.val);
	e->mntns_id = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->dirfd = 0;
	e->ret = 0;
	e->ino = 0;
	e->dev = 0;
	e->open_flags = 0;
	e->mode = 0;
	e->f_mode = 0;
	e->hook = hook;
	e->action = FW_ACTION_ALLOW;
	e->syscall = FW_SYS_UNKNOWN;
	e->path_kind = FW_PATH_AS_PASSED;
	e->flags = 0;
	e->name_len = 0;
	e->path_len = 0;
	e->path_orig_len = 0;
	e->host_len = 0;
	e->op = FW_OP_OPEN;
	e->aux_kind = FW_AUX_NONE;
	e->aux_len = 0;
	e->aux_name_len = 0;
	e->dirfd2 = 0;
	e->op_flags = 0;
	e->new_uid = 0;
	e->new_gid = 0;
	e->old_mode = 0;
	e->old_uid = 0;
	e->old_gid = 0;
	e->count = 0;
	e->length = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* The primary hook handled this thread's open: the syscall exit must not record it again. */
static __always_inline void fw_mark_open(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *m;

	if (!mark_opens)
		return;
	m = bpf_map_lookup_elem(&open_marks, &tid);
	if (m)
		*m = 1;
}

/* True for the collector's own threads, whose opens are never traced (they would feed back). */
static __always_inline bool fw_is_self(void)
{
	struct task_struct *task;

	if ((bpf_get_current_pid_tgid() >> 32) != self_tgid)
		return false;
	task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, group_leader, start_boottime) / FW_NSEC_PER_TICK == self_start;
}

/* Writes the record (fixed part + path + name as passed + host walk + second name and its name as
 * passed, padded to 8) and counts the outcome. */
static __always_inline void fw_submit(struct fw_file_event *e)
{
	__u64 size = (sizeof(*e) + e->path_len + e->name_len + e->host_len + e->aux_len + e->aux_name_len +
		      FW_RECORD_ALIGN - 1) & ~(__u64)(FW_RECORD_ALIGN - 1);

	if (size > FW_SCRATCH_SIZE)
		size = FW_SCRATCH_SIZE;
	e->hdr.size = size;
	/* No wakeup: the reader drains on its own short timer. A wakeup per event would cost the traced
	 * process more than the event itself. */
	if (bpf_ringbuf_output(&events, e, size, BPF_RB_NO_WAKEUP) == 0)
		fw_count(FW_CNT_EMITTED);
	else
		fw_count(FW_CNT_DROPPED);
}

#endif
