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

/* The operations to record (bits of enum fw_op), set by the loader. unlinkat is an unlink or an
 * rmdir: its program is loaded for either, and this mask keeps only the selected one. */
const volatile __u32 op_mask = ~0U;

/* The operations (bits of enum fw_op) that a hook on the kernel's own path check judges, next to these
 * programs (the lsm path hooks; the kprobe or fentry programs on security_path_*: ops.bpf.h): the
 * exit records that hook's verdict (op_verdicts) and judges nothing itself. */
const volatile __u32 judged_ops = 0;

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
static __always_inline void read_name(struct fw_file_event *e, const char *filename)
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
		struct fw_file_event *e = (struct fw_file_event *)s->buf;

		fw_fill_task(e, FW_HOOK_TRACEPOINT);
		e->open_flags = flags; /* O_TRUNC: judged as a truncate too */
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
static __always_inline long read_exit_name(struct fw_scratch *s, struct fw_file_event *e, const char *filename)
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

/* Resolves a name (already in s->name: name_len bytes; 0 none; -1 unreadable or too long, flagged)
 * into the record's path at syscall exit. With `file` (a successful open's fd, an
 * fd-based operation's fd): the walk of that file, the name as passed appended after it. Without: the
 * base directory's walk (the dirfd's file, or the cwd; none for an absolute name) and the name joined
 * lexically, flagged. Anything the kernel cannot resolve keeps the name as passed (FW_PATH_AS_PASSED):
 * user space's flagged last resort. */
static __always_inline void resolve_name(struct fw_scratch *s, struct fw_file_event *e, long name_len, __s32 dirfd,
					 struct file *file)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct path *base = NULL;
	struct file *f = NULL;
	__u32 base_len = 0;
	bool join = false;

	if (file) {
		base = &file->f_path;
	} else if (name_len > 0) {
		join = true;
		if (s->name[0] != '/') {
			if (dirfd == FW_AT_FDCWD) {
				struct fs_struct *fs = BPF_CORE_READ(task, fs);
				base = &fs->pwd;
			} else if ((f = fd_file(dirfd))) {
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

/* The record's path for a finished open: the file behind a successful open's fd, else the join. */
static __always_inline void resolve_exit_path(struct fw_scratch *s, struct fw_file_event *e, struct fw_args *a, long ret)
{
	resolve_name(s, e, read_exit_name(s, e, a->filename), a->dirfd, ret >= 0 ? fd_file(ret) : NULL);
}

static __always_inline void mod_start(long fd);

static __always_inline int emit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct fw_args *a = bpf_map_lookup_elem(&pending, &tid);
	struct fw_scratch *s;
	struct fw_file_event *e;
	struct file *f;
	bool whole;

	if (!a)
		return 0;
	mod_start(ctx->ret);
	/* Opens left out of --ops (loaded for the write sessions): only one the policy acts on is kept,
	 * as evidence; the rest count as filtered. */
	if (!failures_only && !(op_mask & (1U << FW_OP_OPEN)) && !policy_armed && a->action == FW_ACTION_ALLOW) {
		fw_count(FW_CNT_FILTERED);
		goto out;
	}
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
	e = (struct fw_file_event *)s->buf;
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
	if (!failures_only && !(op_mask & (1U << FW_OP_OPEN)) && e->action == FW_ACTION_ALLOW) {
		fw_count(FW_CNT_FILTERED);
		goto out;
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

/* ---- Every other file operation: delete, rename, mode, owner, extended attributes, links,
 * directories, device nodes, truncate. Arguments are stashed at entry (and, for an operation on an
 * fd, the file's mode and owner before it runs); one program, attached to every operation's
 * sys_exit, records the outcome with both names resolved as for a failed open: the base directory's
 * walk and the name joined lexically (the last component is never followed; an fd's file is walked
 * exactly). The policy judges both names of a rename or link; a kill comes after the syscall ran. ---- */

#define FW_AT_REMOVEDIR 0x200
#define FW_AT_EMPTY_PATH 0x1000

struct fw_op_args {
	const char *name;  /* the name the operation acts on (NULL: `fd` names the file) */
	const char *name2; /* rename, link: the other path; symlink: the target; xattr: the attribute */
	__s64 length;
	__s32 dirfd;
	__s32 dirfd2;
	__s32 fd;          /* an fd-based operation's fd, else -1 */
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 flags;
	__u32 old_mode;
	__u32 old_uid;
	__u32 old_gid;
	__u8 syscall;
	__u8 op;
	__u8 aux_kind;
	__u8 has_old;
	__u8 empty_path;   /* AT_EMPTY_PATH on the first name: an empty name means dirfd's file */
	__u8 empty_path2;  /* AT_EMPTY_PATH on the second (linkat) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct fw_op_args);
} op_pending SEC(".maps");

/* The names as the operation got them, copied at its entry: read at the exit, user memory could
 * have been rewritten by another thread meanwhile, and the record would name another file than the
 * one the kernel acted on. Allocated per operation in flight (not preallocated: 8 KiB each). */
struct fw_op_names {
	char name[FW_PATH_MAX];
	char name2[FW_PATH_MAX];
	__s32 len;  /* bytes of name; -1 unreadable; FW_PATH_MAX: longer than the buffer (first bytes kept) */
	__s32 len2;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* tid */
	__type(value, struct fw_op_names);
} op_names SEC(".maps");

/* Copies a user name into `dst`; returns its length, -1 when unreadable, FW_PATH_MAX when longer. */
static __always_inline __s32 copy_user_name(char *dst, const char *src)
{
	long n = bpf_probe_read_user_str(dst, FW_PATH_MAX, src);
	char next = 0;

	if (n <= 0)
		return -1;
	if (n == FW_PATH_MAX && bpf_probe_read_user(&next, 1, src + FW_PATH_MAX - 1) == 0 && next != 0)
		return FW_PATH_MAX;
	return n - 1;
}

/* Puts a copied name into s->name for resolve_name; returns what read_exit_name would. */
static __always_inline long take_name(struct fw_scratch *s, struct fw_file_event *e, const char *copy, __s32 len)
{
	if (len < 0) {
		e->flags |= FW_FLAG_PATH_UNREADABLE;
		return -1;
	}
	if (len >= FW_PATH_MAX) {
		bpf_probe_read_kernel(s->name, FW_PATH_MAX - 1, copy);
		e->flags |= FW_FLAG_PATH_TRUNCATED;
		return -1;
	}
	/* The bound check above lets clang drop the mask, and the verifier needs it. */
	barrier_var(len);
	bpf_probe_read_kernel(s->name, len & (FW_PATH_MAX - 1), copy);
	return len;
}

static __always_inline int stash_op(struct fw_op_args *a)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file *f;

	if (!(op_mask & (1U << a->op)))
		return 0;
	fw_count(FW_CNT_SEEN);
	if (fw_is_self() || fw_task_filtered()) {
		fw_count(FW_CNT_FILTERED);
		return 0;
	}
	/* An fd names the file: its mode and owner before the operation changes them. */
	if (a->fd >= 0 && (f = fd_file(a->fd))) {
		struct inode *ino = BPF_CORE_READ(f, f_inode);

		a->old_mode = BPF_CORE_READ(ino, i_mode);
		a->old_uid = BPF_CORE_READ(ino, i_uid.val);
		a->old_gid = BPF_CORE_READ(ino, i_gid.val);
		a->has_old = 1;
	}
	{
		struct fw_walk_buf *w = fw_walk_buf(); /* any 8 KiB to create the entry from */
		struct fw_op_names *n;

		if (!w || bpf_map_update_elem(&op_names, &tid, w, BPF_ANY) != 0 || !(n = bpf_map_lookup_elem(&op_names, &tid)))
			goto lost;
		n->len = a->name ? copy_user_name(n->name, a->name) : 0;
		n->len2 = a->name2 ? copy_user_name(n->name2, a->name2) : 0;
	}
	if (judged_ops & (1U << a->op)) {
		struct fw_op_verdict none = {};

		/* Names only this syscall's check may fill: none left by one whose exit never ran. */
		fw_forget_names(tid);
		if (bpf_map_update_elem(&op_verdicts, &tid, &none, BPF_ANY) != 0) {
			bpf_map_delete_elem(&op_names, &tid);
			goto lost;
		}
	}
	if (bpf_map_update_elem(&op_pending, &tid, a, BPF_ANY) != 0) {
		bpf_map_delete_elem(&op_names, &tid);
		bpf_map_delete_elem(&op_verdicts, &tid);
		goto lost;
	}
	return 0;
lost:
	fw_count(FW_CNT_ARGS_LOST);
	return 0;
}

/* With AT_EMPTY_PATH, an empty name means the file dirfd refers to. */
static __always_inline struct file *empty_path_file(__s32 len, __s32 dirfd)
{
	return len == 0 ? fd_file(dirfd) : NULL;
}

/* Moves the second name, resolved into e->path, to s->aux (and its name as passed to s->aux_name),
 * turning its path flags into the aux flags. */
static __always_inline void set_aux_aside(struct fw_walk_buf *s, struct fw_file_event *e)
{
	__u32 n = e->path_len & (FW_PATH_MAX - 1);
	__u32 m = e->name_len & (FW_PATH_MAX - 1);

	bpf_probe_read_kernel(s->aux, n, e->path);
	e->aux_len = n;
	if (m) {
		bpf_probe_read_kernel(s->aux_name, m, e->path + n);
		e->aux_name_len = m;
	}
	e->aux_kind = e->path_kind == FW_PATH_RESOLVED ? FW_AUX_RESOLVED : FW_AUX_PATH_AS_PASSED;
	if (e->flags & FW_FLAG_PATH_LEXICAL)
		e->flags |= FW_FLAG_AUX_LEXICAL;
	if (e->flags & (FW_FLAG_PATH_TRUNCATED | FW_FLAG_PATH_TAIL))
		e->flags |= FW_FLAG_AUX_TRUNCATED;
	if (e->flags & FW_FLAG_PATH_UNREADABLE)
		e->flags |= FW_FLAG_AUX_UNREADABLE;
	e->flags &= ~(FW_FLAG_PATH_LEXICAL | FW_FLAG_PATH_TRUNCATED | FW_FLAG_PATH_TAIL | FW_FLAG_PATH_UNREADABLE |
		      FW_FLAG_PATH_UNJUDGED);
	e->path_len = 0;
	e->path_orig_len = 0;
	e->name_len = 0;
	e->path_kind = FW_PATH_AS_PASSED;
}

/* A second name that is no path (a symlink's target, an attribute's name), as passed. */
static __always_inline void read_aux_as_passed(struct fw_walk_buf *s, struct fw_file_event *e, const char *copy, __s32 len)
{
	e->aux_kind = FW_AUX_AS_PASSED;
	if (len < 0) {
		e->flags |= FW_FLAG_AUX_UNREADABLE;
		return;
	}
	if (len >= FW_PATH_MAX) {
		e->flags |= FW_FLAG_AUX_TRUNCATED;
		len = FW_PATH_MAX - 1;
	}
	barrier_var(len);
	bpf_probe_read_kernel(s->aux, len & (FW_PATH_MAX - 1), copy);
	e->aux_len = len & (FW_PATH_MAX - 1);
}

/* Appends the second name (and its name as passed) after the host walk. */
static __always_inline void append_aux(struct fw_walk_buf *s, struct fw_file_event *e)
{
	__u32 at = e->path_len + e->name_len + e->host_len;
	__u32 n = e->aux_len, m = e->aux_name_len, at2;

	if (at >= 3 * FW_PATH_MAX || n >= FW_PATH_MAX) {
		e->aux_len = 0;
		e->aux_name_len = 0;
		e->flags |= FW_FLAG_AUX_TRUNCATED;
		return;
	}
	barrier_var(at);
	barrier_var(n);
	bpf_probe_read_kernel(e->path + (at & (4 * FW_PATH_MAX - 1)), n & (FW_PATH_MAX - 1), s->aux);
	at2 = at + n;
	if (!m)
		return;
	if (at2 >= 4 * FW_PATH_MAX || m >= FW_PATH_MAX) {
		e->aux_name_len = 0; /* the resolved name is kept; only its spelling as passed is lost */
		return;
	}
	barrier_var(at2);
	barrier_var(m);
	bpf_probe_read_kernel(e->path + (at2 & (4 * FW_PATH_MAX - 1)), m & (FW_PATH_MAX - 1), s->aux_name);
}

/* The name the operation's path check resolved for `slot` (ops.bpf.h: the dentry the kernel reached)
 * into e->path, and the name as passed (`copy`, `len` bytes) after it. False when there is none (the
 * check did not run: the operation failed before it, or no hook judges it): the caller joins the name
 * itself. */
static __always_inline bool take_resolved(struct fw_file_event *e, __u32 tid, __u32 slot, const char *copy, __s32 len)
{
	__u64 key = fw_resolved_key(tid, slot);
	struct fw_op_resolved *r;
	__u32 n;

	if (!(judged_ops & (1U << e->op)) || !(r = bpf_map_lookup_elem(&op_resolved, &key)))
		return false;
	n = r->len;
	if (n >= FW_PATH_MAX)
		return false;
	barrier_var(n);
	bpf_probe_read_kernel(e->path, n & (FW_PATH_MAX - 1), r->path);
	e->path_len = n;
	e->path_orig_len = (r->flags & FW_FLAG_PATH_TAIL) ? 0 : n;
	e->path_kind = FW_PATH_RESOLVED;
	e->flags |= r->flags;
	if (len > 0 && len < FW_PATH_MAX) {
		barrier_var(len);
		bpf_probe_read_kernel(e->path + (n & (FW_PATH_MAX - 1)), len & (FW_PATH_MAX - 1), copy);
		e->name_len = len & (FW_PATH_MAX - 1);
	}
	return true;
}

/* One program for every operation's exit (attached to each sys_exit tracepoint by the loader). */
SEC("tracepoint/syscalls/sys_exit_unlinkat")
int tp_exit_op(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct fw_op_args *a = bpf_map_lookup_elem(&op_pending, &tid);
	struct fw_op_names *n = bpf_map_lookup_elem(&op_names, &tid);
	struct fw_scratch *s;
	struct fw_walk_buf *w;
	struct fw_file_event *e;
	struct file *f = NULL;
	bool whole, aux_kept = false, judge = policy_armed;

	if (!a)
		goto out;
	s = bpf_map_lookup_elem(&scratch, &zero);
	w = fw_walk_buf();
	if (!s || !w || !n)
		goto out;
	e = (struct fw_file_event *)s->buf;
	fw_fill_task(e, FW_HOOK_TRACEPOINT);
	e->op = a->op;
	e->syscall = a->syscall;
	e->dirfd = a->fd >= 0 ? a->fd : a->dirfd;
	e->dirfd2 = a->dirfd2;
	e->op_flags = a->flags;
	e->mode = a->mode;
	e->new_uid = a->uid;
	e->new_gid = a->gid;
	e->length = a->length;
	e->ret = ctx->ret;
	if (a->has_old) {
		e->old_mode = a->old_mode;
		e->old_uid = a->old_uid;
		e->old_gid = a->old_gid;
		e->flags |= FW_FLAG_HAS_OLD;
	}
	/* A hook on the kernel's path check judged this operation before the kernel acted (lsm: refused
	 * it or let it run; the others: killed or not): nothing is judged here. One it never reached
	 * failed before any file was touched, unless it succeeded: then the check was skipped (a kprobe
	 * or fentry program does not run while another BPF program holds its CPU), and the operation is
	 * judged here, as on tracepoint, rather than not at all. */
	if (judged_ops & (1U << a->op)) {
		struct fw_op_verdict *v = bpf_map_lookup_elem(&op_verdicts, &tid);

		if (v && v->judged) {
			judge = false;
			if (v->action != FW_ACTION_ALLOW) {
				e->hook = v->hook;
				e->action = v->action;
				e->flags |= v->flags;
			}
		} else if (ctx->ret < 0) {
			judge = false;
		}
	}

	/* The second name first: resolved (and judged) in e->path, then set aside. */
	if (a->aux_kind == FW_AUX_RESOLVED) {
		struct file *f2 = a->empty_path2 ? empty_path_file(n->len2, a->dirfd2) : NULL;

		if (f2 || !take_resolved(e, tid, 1, n->name2, n->len2))
			resolve_name(s, e, f2 ? 0 : take_name(s, e, n->name2, n->len2), a->dirfd2, f2);
		whole = e->path_kind == FW_PATH_RESOLVED && !(e->flags & FW_FLAG_PATH_TAIL);
		if (judge)
			fw_enforce(s, e, whole, false, FW_ACTION_ALLOW);
		aux_kept = !whole || !fw_path_filtered(s, e, whole);
		set_aux_aside(w, e);
	} else if (a->aux_kind == FW_AUX_AS_PASSED) {
		read_aux_as_passed(w, e, n->name2, n->len2);
	}

	if (a->fd >= 0)
		f = fd_file(a->fd);
	else if (a->empty_path)
		f = empty_path_file(n->len, a->dirfd);
	if (f || a->fd >= 0 || !take_resolved(e, tid, 0, n->name, n->len))
		resolve_name(s, e, f || a->fd >= 0 ? 0 : take_name(s, e, n->name, n->len), a->dirfd, f);
	whole = e->path_kind == FW_PATH_RESOLVED && !(e->flags & FW_FLAG_PATH_TAIL);
	if (judge) {
		if ((policy_armed & FW_ARMED_FS) && f) {
			fw_fill_file(e, f); /* the device and inode the policy_fs keys start with */
			fw_host_path(s, e, &f->f_path);
		}
		fw_enforce(s, e, whole, false, fw_file_policy(s, e, f));
	}
	/* An operation the policy acted on is evidence: never filtered out. Nor is one whose other
	 * name the filters keep. */
	if (e->action == FW_ACTION_ALLOW && !aux_kept) {
		if (e->path_kind == FW_PATH_RESOLVED && !whole) {
			if (filter_flags & FW_FILTERS_PATH)
				e->flags |= FW_FLAG_PATH_UNJUDGED;
		} else if (fw_path_filtered(s, e, whole)) {
			fw_count(FW_CNT_FILTERED);
			goto out;
		}
	}
	if (f) {
		fw_fill_file(e, f);
		fw_host_path(s, e, &f->f_path);
	} else if (fw_needs_host_path(e)) {
		e->flags |= FW_FLAG_OTHER_TREE; /* no file to walk: only the task's view */
	}
	if (e->aux_kind != FW_AUX_NONE)
		append_aux(w, e);
	fw_submit(e);
out:
	bpf_map_delete_elem(&op_pending, &tid);
	bpf_map_delete_elem(&op_names, &tid);
	if (judged_ops) {
		bpf_map_delete_elem(&op_verdicts, &tid);
		fw_forget_names(tid);
	}
	return 0;
}

/* Each entry overrides the defaults FW_OP_ARGS sets (dirfds AT_FDCWD, no fd): a designated
 * initializer given twice takes the last value, as C specifies. */
#pragma clang diagnostic ignored "-Winitializer-overrides"
#define FW_OP_ARGS(sc, o) .syscall = (sc), .op = (o), .fd = -1, .dirfd = FW_AT_FDCWD, .dirfd2 = FW_AT_FDCWD

SEC("tracepoint/syscalls/sys_enter_unlink")
int tp_enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_UNLINK, FW_OP_UNLINK), .name = (const char *)ctx->args[0]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int tp_enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 flags = (__u32)ctx->args[2];
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_UNLINKAT, (flags & FW_AT_REMOVEDIR) ? FW_OP_RMDIR : FW_OP_UNLINK),
			       .dirfd = (__s32)ctx->args[0], .name = (const char *)ctx->args[1], .flags = flags};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_rmdir")
int tp_enter_rmdir(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_RMDIR, FW_OP_RMDIR), .name = (const char *)ctx->args[0]};
	return stash_op(&a);
}

/* A rename's record names the new path (file.path) and carries the old one as its second name. */
SEC("tracepoint/syscalls/sys_enter_rename")
int tp_enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_RENAME, FW_OP_RENAME), .name2 = (const char *)ctx->args[0],
			       .name = (const char *)ctx->args[1], .aux_kind = FW_AUX_RESOLVED};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int tp_enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_RENAMEAT, FW_OP_RENAME), .dirfd2 = (__s32)ctx->args[0],
			       .name2 = (const char *)ctx->args[1], .dirfd = (__s32)ctx->args[2],
			       .name = (const char *)ctx->args[3], .aux_kind = FW_AUX_RESOLVED};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int tp_enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_RENAMEAT2, FW_OP_RENAME), .dirfd2 = (__s32)ctx->args[0],
			       .name2 = (const char *)ctx->args[1], .dirfd = (__s32)ctx->args[2],
			       .name = (const char *)ctx->args[3], .flags = (__u32)ctx->args[4], .aux_kind = FW_AUX_RESOLVED};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_chmod")
int tp_enter_chmod(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_CHMOD, FW_OP_CHMOD), .name = (const char *)ctx->args[0],
			       .mode = (__u32)ctx->args[1]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_fchmod")
int tp_enter_fchmod(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_FCHMOD, FW_OP_CHMOD), .fd = (__s32)ctx->args[0], .mode = (__u32)ctx->args[1]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat")
int tp_enter_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_FCHMODAT, FW_OP_CHMOD), .dirfd = (__s32)ctx->args[0],
			       .name = (const char *)ctx->args[1], .mode = (__u32)ctx->args[2]};
	return stash_op(&a);
}

/* 6.6+. */
SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int tp_enter_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
	__u32 flags = (__u32)ctx->args[3];
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_FCHMODAT2, FW_OP_CHMOD), .dirfd = (__s32)ctx->args[0],
			       .name = (const char *)ctx->args[1], .mode = (__u32)ctx->args[2], .flags = flags,
			       .empty_path = (flags & FW_AT_EMPTY_PATH) != 0};
	return stash_op(&a);
}

static __always_inline int enter_chown(struct trace_event_raw_sys_enter *ctx, __u8 sc)
{
	struct fw_op_args a = {FW_OP_ARGS(sc, FW_OP_CHOWN), .name = (const char *)ctx->args[0],
			       .uid = (__u32)ctx->args[1], .gid = (__u32)ctx->args[2]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_chown")
int tp_enter_chown(struct trace_event_raw_sys_enter *ctx) { return enter_chown(ctx, FW_SYS_CHOWN); }

SEC("tracepoint/syscalls/sys_enter_lchown")
int tp_enter_lchown(struct trace_event_raw_sys_enter *ctx) { return enter_chown(ctx, FW_SYS_LCHOWN); }

SEC("tracepoint/syscalls/sys_enter_fchown")
int tp_enter_fchown(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_FCHOWN, FW_OP_CHOWN), .fd = (__s32)ctx->args[0],
			       .uid = (__u32)ctx->args[1], .gid = (__u32)ctx->args[2]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_fchownat")
int tp_enter_fchownat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 flags = (__u32)ctx->args[4];
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_FCHOWNAT, FW_OP_CHOWN), .dirfd = (__s32)ctx->args[0],
			       .name = (const char *)ctx->args[1], .uid = (__u32)ctx->args[2], .gid = (__u32)ctx->args[3],
			       .flags = flags, .empty_path = (flags & FW_AT_EMPTY_PATH) != 0};
	return stash_op(&a);
}

static __always_inline int enter_setxattr(struct trace_event_raw_sys_enter *ctx, __u8 sc)
{
	struct fw_op_args a = {FW_OP_ARGS(sc, FW_OP_SETXATTR), .name = (const char *)ctx->args[0],
			       .name2 = (const char *)ctx->args[1], .flags = (__u32)ctx->args[4], .aux_kind = FW_AUX_AS_PASSED};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_setxattr")
int tp_enter_setxattr(struct trace_event_raw_sys_enter *ctx) { return enter_setxattr(ctx, FW_SYS_SETXATTR); }

SEC("tracepoint/syscalls/sys_enter_lsetxattr")
int tp_enter_lsetxattr(struct trace_event_raw_sys_enter *ctx) { return enter_setxattr(ctx, FW_SYS_LSETXATTR); }

SEC("tracepoint/syscalls/sys_enter_fsetxattr")
int tp_enter_fsetxattr(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_FSETXATTR, FW_OP_SETXATTR), .fd = (__s32)ctx->args[0],
			       .name2 = (const char *)ctx->args[1], .flags = (__u32)ctx->args[4], .aux_kind = FW_AUX_AS_PASSED};
	return stash_op(&a);
}

/* 6.13+: setxattrat(dfd, path, at_flags, name, struct xattr_args *, size); the XATTR_* flags are the
 * struct's last u32 (after the value pointer and the size). */
SEC("tracepoint/syscalls/sys_enter_setxattrat")
int tp_enter_setxattrat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 at_flags = (__u32)ctx->args[2], xflags = 0;
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_SETXATTRAT, FW_OP_SETXATTR), .dirfd = (__s32)ctx->args[0],
			       .name = (const char *)ctx->args[1], .name2 = (const char *)ctx->args[3],
			       .aux_kind = FW_AUX_AS_PASSED, .empty_path = (at_flags & FW_AT_EMPTY_PATH) != 0};

	bpf_probe_read_user(&xflags, sizeof(xflags), (const char *)ctx->args[4] + 12);
	a.flags = xflags;
	return stash_op(&a);
}

static __always_inline int enter_removexattr(struct trace_event_raw_sys_enter *ctx, __u8 sc)
{
	struct fw_op_args a = {FW_OP_ARGS(sc, FW_OP_REMOVEXATTR), .name = (const char *)ctx->args[0],
			       .name2 = (const char *)ctx->args[1], .aux_kind = FW_AUX_AS_PASSED};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_removexattr")
int tp_enter_removexattr(struct trace_event_raw_sys_enter *ctx) { return enter_removexattr(ctx, FW_SYS_REMOVEXATTR); }

SEC("tracepoint/syscalls/sys_enter_lremovexattr")
int tp_enter_lremovexattr(struct trace_event_raw_sys_enter *ctx) { return enter_removexattr(ctx, FW_SYS_LREMOVEXATTR); }

SEC("tracepoint/syscalls/sys_enter_fremovexattr")
int tp_enter_fremovexattr(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_FREMOVEXATTR, FW_OP_REMOVEXATTR), .fd = (__s32)ctx->args[0],
			       .name2 = (const char *)ctx->args[1], .aux_kind = FW_AUX_AS_PASSED};
	return stash_op(&a);
}

/* 6.13+: removexattrat(dfd, path, at_flags, name). */
SEC("tracepoint/syscalls/sys_enter_removexattrat")
int tp_enter_removexattrat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 at_flags = (__u32)ctx->args[2];
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_REMOVEXATTRAT, FW_OP_REMOVEXATTR), .dirfd = (__s32)ctx->args[0],
			       .name = (const char *)ctx->args[1], .name2 = (const char *)ctx->args[3],
			       .aux_kind = FW_AUX_AS_PASSED, .empty_path = (at_flags & FW_AT_EMPTY_PATH) != 0};
	return stash_op(&a);
}

/* A link's record names the new link (file.path) and carries the existing file as its second name. */
SEC("tracepoint/syscalls/sys_enter_link")
int tp_enter_link(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_LINK, FW_OP_LINK), .name2 = (const char *)ctx->args[0],
			       .name = (const char *)ctx->args[1], .aux_kind = FW_AUX_RESOLVED};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_linkat")
int tp_enter_linkat(struct trace_event_raw_sys_enter *ctx)
{
	__u32 flags = (__u32)ctx->args[4];
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_LINKAT, FW_OP_LINK), .dirfd2 = (__s32)ctx->args[0],
			       .name2 = (const char *)ctx->args[1], .dirfd = (__s32)ctx->args[2],
			       .name = (const char *)ctx->args[3], .flags = flags, .aux_kind = FW_AUX_RESOLVED,
			       .empty_path2 = (flags & FW_AT_EMPTY_PATH) != 0};
	return stash_op(&a);
}

/* A symlink's record names the link (file.path) and carries its target, as stored, never resolved. */
SEC("tracepoint/syscalls/sys_enter_symlink")
int tp_enter_symlink(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_SYMLINK, FW_OP_SYMLINK), .name2 = (const char *)ctx->args[0],
			       .name = (const char *)ctx->args[1], .aux_kind = FW_AUX_AS_PASSED};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_symlinkat")
int tp_enter_symlinkat(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_SYMLINKAT, FW_OP_SYMLINK), .name2 = (const char *)ctx->args[0],
			       .dirfd = (__s32)ctx->args[1], .name = (const char *)ctx->args[2], .aux_kind = FW_AUX_AS_PASSED};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_mkdir")
int tp_enter_mkdir(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_MKDIR, FW_OP_MKDIR), .name = (const char *)ctx->args[0],
			       .mode = (__u32)ctx->args[1]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_mkdirat")
int tp_enter_mkdirat(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_MKDIRAT, FW_OP_MKDIR), .dirfd = (__s32)ctx->args[0],
			       .name = (const char *)ctx->args[1], .mode = (__u32)ctx->args[2]};
	return stash_op(&a);
}

/* mknod: the device number (new_encode_dev, as passed) goes in `length`. */
SEC("tracepoint/syscalls/sys_enter_mknod")
int tp_enter_mknod(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_MKNOD, FW_OP_MKNOD), .name = (const char *)ctx->args[0],
			       .mode = (__u32)ctx->args[1], .length = (__u32)ctx->args[2]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_mknodat")
int tp_enter_mknodat(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_MKNODAT, FW_OP_MKNOD), .dirfd = (__s32)ctx->args[0],
			       .name = (const char *)ctx->args[1], .mode = (__u32)ctx->args[2], .length = (__u32)ctx->args[3]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_truncate")
int tp_enter_truncate(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_TRUNCATE, FW_OP_TRUNCATE), .name = (const char *)ctx->args[0],
			       .length = (__s64)ctx->args[1]};
	return stash_op(&a);
}

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int tp_enter_ftruncate(struct trace_event_raw_sys_enter *ctx)
{
	struct fw_op_args a = {FW_OP_ARGS(FW_SYS_FTRUNCATE, FW_OP_TRUNCATE), .fd = (__s32)ctx->args[0],
			       .length = (__s64)ctx->args[1]};
	return stash_op(&a);
}

/* ---- Modification: one record per write session. A successful open for writing starts a session,
 * keyed by its struct file (shared by dup'd and inherited fds, as the kernel shares it); the write
 * syscalls' exits add the bytes they wrote; the close that drops the file's last reference, or the
 * exit of its last holder, ends it with one record if anything was written. The table is bounded:
 * a session it has no room for is counted (FW_CNT_SEEN and FW_CNT_ARGS_LOST), never silently lost. ---- */

#define FW_FMODE_WRITE 0x2
#define FW_MOD_SESSIONS 65536
#define FW_EXIT_FDS_MAX 65536

struct fw_mod_session {
	__u64 bytes;
	__u64 writes;
	__u64 inode; /* the struct inode * the file had: a reused struct file has another, or none */
};

#define FW_S_IFMT 0170000
#define FW_S_IFREG 0100000

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FW_MOD_SESSIONS);
	__type(key, __u64); /* struct file * */
	__type(value, struct fw_mod_session);
} mod_sessions SEC(".maps");

/* Per thread that wrote to a tracked file: the file of its write syscall in flight (0: none). Kept
 * for the thread's life and rewritten in place (deleted at its exit, tp_process_exit): a hash update
 * and delete per write cost more than the rest of the tracker. Allocated once per thread, so room
 * for many threads costs nothing until they write. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* struct file * */
} write_pending SEC(".maps");

/* Sessions open now, so that a process exit walks its fd table only while there are any. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} mod_open SEC(".maps");

/* Before 6.13 a file's references were f_count; since, f_ref (file_ref_t, 0 meaning one). */
struct file___f_count {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline long fw_file_refs(struct file *f)
{
	if (bpf_core_field_exists(struct file___f_count, f_count))
		return BPF_CORE_READ((struct file___f_count *)f, f_count.counter);
	return BPF_CORE_READ(f, f_ref.refcnt.counter) + 1;
}

static __always_inline void mod_open_add(__s64 n)
{
	__u32 zero = 0;
	__s64 *v = bpf_map_lookup_elem(&mod_open, &zero);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* A successful open: a file opened for writing starts a session (a reused struct file starts anew). */
static __always_inline void mod_start(long fd)
{
	struct fw_mod_session fresh = {};
	struct file *f;
	__u64 key;

	if (!(op_mask & (1U << FW_OP_MODIFY)) || fd < 0 || !(f = fd_file(fd)))
		return;
	/* Regular files only: a write to a tty, a FIFO or /dev/null modifies no file. */
	if (!(BPF_CORE_READ(f, f_mode) & FW_FMODE_WRITE) || (BPF_CORE_READ(f, f_inode, i_mode) & FW_S_IFMT) != FW_S_IFREG)
		return;
	key = (__u64)f;
	fresh.inode = (__u64)BPF_CORE_READ(f, f_inode);
	if (bpf_map_update_elem(&mod_sessions, &key, &fresh, BPF_NOEXIST) == 0) {
		mod_open_add(1);
		return;
	}
	if (bpf_map_lookup_elem(&mod_sessions, &key)) {
		/* The struct file was freed and reused without its session ending (an end this tracker
		 * did not see): that session's record is lost, and counted so. */
		fw_count(FW_CNT_SEEN);
		fw_count(FW_CNT_ARGS_LOST);
		bpf_map_update_elem(&mod_sessions, &key, &fresh, BPF_EXIST);
		return;
	}
	fw_count(FW_CNT_SEEN);
	fw_count(FW_CNT_ARGS_LOST); /* the table is full */
}

/* The file's session, if it is this file's (a reused struct file is another file: that session is
 * dropped and counted lost). */
static __always_inline struct fw_mod_session *mod_session(struct file *f)
{
	__u64 key = (__u64)f;
	struct fw_mod_session *m = bpf_map_lookup_elem(&mod_sessions, &key);

	if (!m || m->inode == (__u64)BPF_CORE_READ(f, f_inode))
		return m;
	if (bpf_map_delete_elem(&mod_sessions, &key) == 0) {
		mod_open_add(-1);
		fw_count(FW_CNT_SEEN);
		fw_count(FW_CNT_ARGS_LOST);
	}
	return NULL;
}

/* Ends a session with one record when it wrote anything. `f` still holds its last reference. */
static __always_inline void mod_end(struct file *f, __u8 syscall)
{
	__u64 key = (__u64)f;
	struct fw_mod_session *m = mod_session(f);
	__u32 zero = 0;
	struct fw_scratch *s;
	struct fw_file_event *e;
	__u64 bytes, writes;
	bool whole;

	if (!m)
		return;
	bytes = m->bytes;
	writes = m->writes;
	/* Two ends can race (two threads closing one fd, a close and an exit walk): one record, by
	 * whichever deletes the session. */
	if (bpf_map_delete_elem(&mod_sessions, &key) != 0)
		return;
	mod_open_add(-1);
	if (bytes == 0)
		return; /* opened for writing, never written: not a modification */
	fw_count(FW_CNT_SEEN);
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	e = (struct fw_file_event *)s->buf;
	fw_fill_task(e, FW_HOOK_TRACEPOINT);
	e->op = FW_OP_MODIFY;
	e->syscall = syscall;
	e->length = bytes;
	e->count = writes > 0xffffffff ? 0xffffffff : writes;
	fw_resolve_path(s, e, &f->f_path);
	fw_fill_file(e, f);
	whole = !(e->flags & FW_FLAG_PATH_TAIL);
	if (!whole) {
		if (filter_flags & FW_FILTERS_PATH)
			e->flags |= FW_FLAG_PATH_UNJUDGED;
	} else if (fw_path_filtered(s, e, true)) {
		fw_count(FW_CNT_FILTERED);
		return;
	}
	fw_host_path(s, e, &f->f_path);
	fw_submit(e);
}

static __always_inline int write_enter(long fd)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file *f = fd_file(fd);
	__u64 key = (__u64)f, *p;

	if (!f || !mod_session(f))
		return 0;
	p = bpf_map_lookup_elem(&write_pending, &tid);
	if (p) {
		*p = key;
		return 0;
	}
	/* No room: the session would miss this write's bytes. A short count is a wrong record, so the
	 * session is dropped instead, and counted lost. */
	if (bpf_map_update_elem(&write_pending, &tid, &key, BPF_NOEXIST) != 0 && bpf_map_delete_elem(&mod_sessions, &key) == 0) {
		mod_open_add(-1);
		fw_count(FW_CNT_SEEN);
		fw_count(FW_CNT_ARGS_LOST);
	}
	return 0;
}

/* One program for every write syscall's exit: the bytes it wrote go to the file's session. */
SEC("tracepoint/syscalls/sys_exit_write")
int tp_exit_write_op(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *key = bpf_map_lookup_elem(&write_pending, &tid);
	struct fw_mod_session *m;
	__u64 k;

	if (!key || !*key)
		return 0;
	k = *key;
	*key = 0;
	if (ctx->ret <= 0 || !(m = bpf_map_lookup_elem(&mod_sessions, &k)))
		return 0;
	__sync_fetch_and_add(&m->bytes, ctx->ret);
	__sync_fetch_and_add(&m->writes, 1);
	return 0;
}

/* The write syscalls' entries, two programs attached to many tracepoints (like tp_exit_write_op):
 * write, pwrite64, writev, pwritev, pwritev2 and sendfile (out_fd) name the file in their first
 * argument; copy_file_range and splice (fd_out) in their third. cp(1) copies with copy_file_range. */
SEC("tracepoint/syscalls/sys_enter_write")
int tp_enter_write_fd0(struct trace_event_raw_sys_enter *ctx) { return write_enter((long)ctx->args[0]); }

SEC("tracepoint/syscalls/sys_enter_copy_file_range")
int tp_enter_write_fd2(struct trace_event_raw_sys_enter *ctx) { return write_enter((long)ctx->args[2]); }

/* A close that drops the last reference ends the session; one with other holders leaves it to them. */
SEC("tracepoint/syscalls/sys_enter_close")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct file *f = fd_file((long)ctx->args[0]);

	if (!f || !mod_session(f) || fw_file_refs(f) > 1)
		return 0;
	mod_end(f, FW_SYS_CLOSE);
	return 0;
}

struct fw_fd_walk {
	struct file **fds;
	unsigned long *cloexec; /* set: only the fds marked close-on-exec */
	__u32 first;
	__u32 max;
	__u8 syscall;
};

static long fd_walk_step(__u32 i, struct fw_fd_walk *c)
{
	struct file *f = NULL;
	unsigned long word = 0;
	__u32 fd = c->first + i;
	__u64 key;

	if (fd >= c->max)
		return 1;
	if (c->cloexec && (bpf_probe_read_kernel(&word, sizeof(word), &c->cloexec[fd / 64]) != 0 || !(word & (1UL << (fd % 64)))))
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &c->fds[fd]) != 0 || !f)
		return 0;
	key = (__u64)f;
	if (bpf_map_lookup_elem(&mod_sessions, &key) && fw_file_refs(f) <= 1)
		mod_end(f, c->syscall);
	return 0;
}

/* Ends the sessions of the current task's fds first..last (or its close-on-exec ones) that hold the
 * last reference: the kernel is about to close them without a close(2). */
static __always_inline void end_fds(__u32 first, __u32 last, bool cloexec_only, __u8 syscall, bool sole_holder)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fw_fd_walk c = {.first = first, .syscall = syscall};
	__u32 zero = 0;
	__s64 *open = bpf_map_lookup_elem(&mod_open, &zero);
	struct fdtable *fdt;

	if (!open || *open <= 0 || !files)
		return;
	/* The last holder of the table, or the thread that ends its thread group (exit_group: every
	 * thread exits at once, and each may still see the others' references to the table). */
	if (sole_holder && BPF_CORE_READ(files, count.counter) != 1 && BPF_CORE_READ(task, signal, live.counter) != 0)
		return;
	fdt = BPF_CORE_READ(files, fdt);
	c.fds = BPF_CORE_READ(fdt, fd);
	c.max = BPF_CORE_READ(fdt, max_fds);
	if (cloexec_only)
		c.cloexec = BPF_CORE_READ(fdt, close_on_exec);
	if (last < c.max)
		c.max = last + 1;
	if (c.max > FW_EXIT_FDS_MAX)
		c.max = FW_EXIT_FDS_MAX;
	if (first >= c.max)
		return;
	bpf_loop(FW_EXIT_FDS_MAX, fd_walk_step, &c, 0);
}

/* A process that exits with files open closes them without a close(2): when it holds the last
 * reference to its fd table, its tracked files' sessions end here (before the kernel closes them). */
SEC("tracepoint/sched/sched_process_exit")
int tp_process_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&write_pending, &tid); /* runs for every exiting thread */
	end_fds(0, FW_EXIT_FDS_MAX, false, FW_SYS_EXIT, true);
	return 0;
}

/* dup2/dup3 onto an open fd close it first (the shell's "> file" is a dup2 back to stdout). */
static __always_inline int dup_enter(long oldfd, long newfd)
{
	if (oldfd != newfd && newfd >= 0)
		end_fds(newfd, newfd, false, FW_SYS_CLOSE, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int tp_enter_dup2(struct trace_event_raw_sys_enter *ctx) { return dup_enter((long)ctx->args[0], (long)ctx->args[1]); }

SEC("tracepoint/syscalls/sys_enter_dup3")
int tp_enter_dup3(struct trace_event_raw_sys_enter *ctx) { return dup_enter((long)ctx->args[0], (long)ctx->args[1]); }

#define FW_CLOSE_RANGE_CLOEXEC 4

/* close_range(first, last, flags): closes the range unless it only marks it close-on-exec. */
SEC("tracepoint/syscalls/sys_enter_close_range")
int tp_enter_close_range(struct trace_event_raw_sys_enter *ctx)
{
	__u64 first = ctx->args[0], last = ctx->args[1];

	if ((ctx->args[2] & FW_CLOSE_RANGE_CLOEXEC) || first > last || first >= FW_EXIT_FDS_MAX)
		return 0;
	end_fds(first, last > FW_EXIT_FDS_MAX ? FW_EXIT_FDS_MAX : last, false, FW_SYS_CLOSE, false);
	return 0;
}

/* An exec closes the close-on-exec fds. Ended here, before it runs: an exec that then fails leaves
 * those files open, and their later writes uncounted (docs/capture.md). */
SEC("tracepoint/syscalls/sys_enter_execve")
int tp_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	end_fds(0, FW_EXIT_FDS_MAX, true, FW_SYS_CLOSE, false);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tp_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	end_fds(0, FW_EXIT_FDS_MAX, true, FW_SYS_CLOSE, false);
	return 0;
}
