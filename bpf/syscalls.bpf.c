// SPDX-License-Identifier: GPL-2.0
/* Syscall tracepoints for openat, openat2, open and creat: the arguments are stashed per thread at
 * entry and one event is emitted at exit, with the return value, the path resolved in the kernel
 * and the name as the caller passed it after it. A successful open's path is the walk of the file
 * behind the returned fd; a failed one's is the walk of its base directory (the dirfd's file or the
 * cwd) with the name joined lexically. The policy acts at entry on an absolute, normalised name (the
 * kill is sent before the syscall runs; it still runs) and otherwise at exit on the resolved path
 * (the syscall has run: the process dies on its way back to user space).
 * With failures_only set, these programs run next to another hook (lsm, fexit, kprobe) that records
 * the successes but never sees an open refused before the file is reached (EACCES, ENOENT): they
 * record only failed opens that the other hook did not handle (open_marks, maps.bpf.h), and enforce
 * nothing (the open already failed; the other hook carries the policy). */
#define __KERNEL_BPF__ 1
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "event.h"
#include "maps.bpf.h"
#include "filters.bpf.h"
#include "policy.bpf.h"
#include "path.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader when another hook is the primary one: only failed opens it did not handle. */
const volatile __u32 failures_only = 0;

#define FW_AT_FDCWD -100
#define FW_O_CREAT_WRONLY_TRUNC 01101 /* what creat(2) means: O_CREAT | O_WRONLY | O_TRUNC */

struct fw_args {
	const char *filename;
	__s32 dirfd;
	__u32 flags;
	__u32 mode;
	__u8 syscall;
	__u8 action; /* decided at entry by the policy */
	__u16 event_flags; /* FW_FLAG_DENY_AS_KILL, FW_FLAG_KILL_TARGET */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct fw_args);
} pending SEC(".maps");

/* Reads the name as passed into the record's path (entry-time judgement): path_len, path_orig_len and
 * the name flags. */
static __always_inline void read_name(struct fw_open_event *e, const char *filename)
{
	long n = bpf_probe_read_user_str(e->path, FW_PATH_MAX, filename);

	if (n <= 0) { /* path_len and path_orig_len stay 0 (fw_fill_task) */
		e->flags |= FW_FLAG_PATH_UNREADABLE;
		return;
	}
	e->path_len = n - 1;
	e->path_orig_len = n - 1;
	if (n == FW_PATH_MAX) {
		/* A full buffer is either a name of exactly FW_PATH_MAX - 1 bytes or a longer one. */
		char next = 0;
		if (bpf_probe_read_user(&next, 1, filename + FW_PATH_MAX - 1) == 0 && next != 0) {
			e->flags |= FW_FLAG_PATH_TRUNCATED;
			e->path_orig_len = 0;
		}
	}
}

/* failures_only: stash the arguments and open this thread's mark. Nothing is counted as seen here:
 * the open is counted by the primary hook when it reaches the file, and at exit when it fails
 * without it. A stash that cannot be made is counted as seen and lost (never a silent loss, never a
 * record of an open the primary hook may have recorded too). */
static __always_inline int stash_for_failure(__u32 tid, struct fw_args *a)
{
	__u32 unmarked = 0;

	if (fw_is_self() || fw_task_filtered())
		return 0;
	if (bpf_map_update_elem(&open_marks, &tid, &unmarked, BPF_ANY) != 0)
		goto lost;
	if (bpf_map_update_elem(&pending, &tid, a, BPF_ANY) != 0) {
		bpf_map_delete_elem(&open_marks, &tid);
		goto lost;
	}
	return 0;
lost:
	fw_count(FW_CNT_SEEN);
	fw_count(FW_CNT_ARGS_LOST);
	return 0;
}

static __always_inline int stash(__u8 syscall, __s32 dirfd, const char *filename, __u32 flags, __u32 mode)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u32 zero = 0;
	struct fw_args a = {
		.filename = filename, .dirfd = dirfd, .flags = flags, .mode = mode, .syscall = syscall,
	};
	struct fw_scratch *s;

	if (failures_only)
		return stash_for_failure(tid, &a);
	fw_count(FW_CNT_SEEN);
	if (fw_is_self() || fw_task_filtered()) {
		fw_count(FW_CNT_FILTERED);
		return 0;
	}
	/* With a policy armed, judge the name now, so a kill is pending before the open runs. Only an
	 * absolute, normalised name as passed can be judged here. */
	if (policy_armed && (s = bpf_map_lookup_elem(&scratch, &zero))) {
		struct fw_open_event *e = (struct fw_open_event *)s->buf;

		fw_fill_task(e, FW_HOOK_TRACEPOINT);
		if (policy_armed & (FW_ARMED_PATH | FW_ARMED_SCOPED))
			read_name(e, filename);
		a.action = fw_enforce(s, e, false, false, FW_ACTION_ALLOW);
		a.event_flags = e->flags & (FW_FLAG_DENY_AS_KILL | FW_FLAG_KILL_TARGET);
	}
	if (bpf_map_update_elem(&pending, &tid, &a, BPF_ANY) != 0)
		fw_count(FW_CNT_ARGS_LOST);
	return 0;
}

/* The file behind a fresh fd, read through the task's fd table. */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	struct file *f = NULL;

	if (fd < 0 || fd >= max)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) != 0)
		return NULL;
	return f;
}

/* Reads the name as passed into s->name at exit. Returns its length, or -1 when it is unreadable or
 * longer than the buffer (flagged: such a name is kept as passed, never joined). */
static __always_inline long read_exit_name(struct fw_scratch *s, struct fw_open_event *e, const char *filename)
{
	long n = bpf_probe_read_user_str(s->name, FW_PATH_MAX, filename);
	char next = 0;

	if (n <= 0) {
		e->flags |= FW_FLAG_PATH_UNREADABLE;
		return -1;
	}
	if (n == FW_PATH_MAX && bpf_probe_read_user(&next, 1, filename + FW_PATH_MAX - 1) == 0 && next != 0) {
		e->flags |= FW_FLAG_PATH_TRUNCATED;
		return -1;
	}
	return n - 1;
}

/* The record's path for a finished open. A successful open: the walk of the file behind the fd, the
 * name as passed appended after it. A failed one: the base directory's walk (the dirfd's file, or the
 * cwd; none for an absolute name) and the name joined lexically, flagged. Anything the kernel cannot
 * resolve keeps the name as passed (FW_PATH_AS_PASSED): user space's flagged last resort. */
static __always_inline void resolve_exit_path(struct fw_scratch *s, struct fw_open_event *e, struct fw_args *a, long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	long name_len = read_exit_name(s, e, a->filename);
	const struct path *base = NULL;
	struct file *f = NULL;
	__u32 base_len = 0;
	bool join = false;

	if (ret >= 0 && (f = fd_file(ret))) {
		base = &f->f_path;
	} else if (name_len > 0) {
		join = true;
		if (s->name[0] != '/') {
			if (a->dirfd == FW_AT_FDCWD) {
				struct fs_struct *fs = BPF_CORE_READ(task, fs);
				base = &fs->pwd;
			} else if ((f = fd_file(a->dirfd))) {
				base = &f->f_path;
			} else {
				join = false; /* a bad dirfd (EBADF): nothing to walk */
			}
		}
	}
	if (base) {
		fw_resolve_path(s, e, base);
		base_len = e->path_len;
		if (e->flags & FW_FLAG_PATH_TAIL) {
			if (join) { /* a base that lost its start cannot take a join: keep the name */
				e->flags &= ~(FW_FLAG_PATH_TRUNCATED | FW_FLAG_PATH_TAIL);
				join = false;
				goto as_passed;
			}
		}
	}
	if (join && !fw_join_lexical(s, e, base_len, name_len))
		goto as_passed;
	if (!base && !join)
		goto as_passed;
	if (name_len > 0) {
		__u32 at = e->path_len;

		if (at < FW_PATH_MAX) {
			bpf_probe_read_kernel(e->path + (at & (FW_PATH_MAX - 1)), name_len & (FW_PATH_MAX - 1), s->name);
			e->name_len = name_len & (FW_PATH_MAX - 1);
		}
	}
	return;
as_passed:
	e->path_kind = FW_PATH_AS_PASSED;
	e->path_len = 0;
	e->path_orig_len = 0;
	e->flags &= ~FW_FLAG_PATH_LEXICAL;
	if (name_len > 0) {
		bpf_probe_read_kernel(e->path, name_len & (FW_PATH_MAX - 1), s->name);
		e->path_len = name_len & (FW_PATH_MAX - 1);
		e->path_orig_len = e->path_len;
	} else if (name_len < 0 && (e->flags & FW_FLAG_PATH_TRUNCATED)) {
		bpf_probe_read_kernel(e->path, FW_PATH_MAX - 1, s->name);
		e->path_len = FW_PATH_MAX - 1;
	}
}

static __always_inline int emit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct fw_args *a = bpf_map_lookup_elem(&pending, &tid);
	struct fw_scratch *s;
	struct fw_open_event *e;
	struct file *f;
	bool whole;

	if (!a)
		return 0;
	if (failures_only) {
		__u32 *m = bpf_map_lookup_elem(&open_marks, &tid);
		bool handled = m && *m;

		bpf_map_delete_elem(&open_marks, &tid);
		/* Successes and the opens the primary hook saw (an lsm deny, a vfs_open that failed) are
		 * its records, not ours. */
		if (ctx->ret >= 0 || handled)
			goto out;
		fw_count(FW_CNT_SEEN);
	}
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		goto out;
	e = (struct fw_open_event *)s->buf;
	fw_fill_task(e, FW_HOOK_TRACEPOINT);
	e->syscall = a->syscall;
	e->dirfd = a->dirfd;
	e->open_flags = a->flags;
	e->mode = a->mode;
	e->ret = ctx->ret;

	resolve_exit_path(s, e, a, ctx->ret);
	whole = e->path_kind == FW_PATH_RESOLVED && !(e->flags & FW_FLAG_PATH_TAIL);
	if (a->action != FW_ACTION_ALLOW) {
		/* Judged at entry on the name as passed, and already carried out: never twice. */
		e->action = a->action;
		e->flags |= a->event_flags;
	} else if (policy_armed && !failures_only) {
		/* With a policy_fs armed, a task in another tree is also judged on the host walk. */
		f = NULL;
		if ((policy_armed & FW_ARMED_FS) && ctx->ret >= 0 && (f = fd_file(ctx->ret))) {
			fw_fill_file(e, f); /* the device and inode the policy_fs keys start with */
			fw_host_path(s, e, &f->f_path);
		}
		/* The resolved path decides now; a kill here comes after the syscall ran. */
		fw_enforce(s, e, whole, false, fw_file_policy(s, e, f));
	}
	/* An open the policy acted on is evidence: never filtered out. A tail-only path cannot be
	 * judged by prefix: it is kept and flagged for user space. */
	if (e->action == FW_ACTION_ALLOW) {
		if (e->path_kind == FW_PATH_RESOLVED && !whole) {
			if (filter_flags & FW_FILTERS_PATH)
				e->flags |= FW_FLAG_PATH_UNJUDGED;
		} else if (fw_path_filtered(s, e, whole)) {
			fw_count(FW_CNT_FILTERED);
			goto out;
		}
	}
	if (ctx->ret >= 0 && (f = fd_file(ctx->ret))) {
		fw_fill_file(e, f);
		fw_host_path(s, e, &f->f_path);
	} else if (fw_needs_host_path(e)) {
		/* A failed open reached no file to walk: only the task's view, flagged as such. */
		e->flags |= FW_FLAG_OTHER_TREE;
	}
	fw_submit(e);
out:
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return stash(FW_SYS_OPENAT, (__s32)ctx->args[0], (const char *)ctx->args[1], (__u32)ctx->args[2],
		     (__u32)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tp_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return stash(FW_SYS_OPENAT2, (__s32)ctx->args[0], (const char *)ctx->args[1], (__u32)how.flags,
		     (__u32)how.mode);
}

SEC("tracepoint/syscalls/sys_enter_open")
int tp_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return stash(FW_SYS_OPEN, FW_AT_FDCWD, (const char *)ctx->args[0], (__u32)ctx->args[1],
		     (__u32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int tp_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return stash(FW_SYS_CREAT, FW_AT_FDCWD, (const char *)ctx->args[0], FW_O_CREAT_WRONLY_TRUNC,
		     (__u32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tp_exit_openat(struct trace_event_raw_sys_exit *ctx) { return emit(ctx); }

SEC("tracepoint/syscalls/sys_exit_openat2")
int tp_exit_openat2(struct trace_event_raw_sys_exit *ctx) { return emit(ctx); }

SEC("tracepoint/syscalls/sys_exit_open")
int tp_exit_open(struct trace_event_raw_sys_exit *ctx) { return emit(ctx); }

SEC("tracepoint/syscalls/sys_exit_creat")
int tp_exit_creat(struct trace_event_raw_sys_exit *ctx) { return emit(ctx); }
