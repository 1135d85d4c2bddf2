// SPDX-License-Identifier: GPL-2.0
/* vfs_open, the function every path-based open goes through: a kprobe + kretprobe pair (the classic
 * path, for kernels without BTF trampolines) and an fexit program. The name is the opened file's
 * full path, resolved by a dentry walk (bpf_d_path is not allowed here). The other operations are
 * judged where the lsm path hooks would run, on the kernel's security_path_* calls (a kprobe, or an
 * fentry program, per operation: ops.bpf.h), which cannot refuse: a deny is a kill. */
#define __KERNEL_BPF__ 1
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "event.h"
#include "maps.bpf.h"
#include "filters.bpf.h"
#include "policy.bpf.h"
#include "path.bpf.h"
#include "ops.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* vfs_open nests (overlayfs opens the backing file from inside the outer open), so the kprobe
 * keeps a small stack of frames per thread and the kretprobe pops the innermost. */
#define FW_VFS_FRAMES 4

struct fw_vfs_frames {
	__u32 depth;
	__u32 _pad;
	const struct path *path[FW_VFS_FRAMES];
	struct file *file[FW_VFS_FRAMES];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct fw_vfs_frames);
} pending SEC(".maps");

static __always_inline bool skip(void)
{
	fw_count(FW_CNT_SEEN);
	if (fw_is_self() || fw_task_filtered()) {
		fw_count(FW_CNT_FILTERED);
		return true;
	}
	return false;
}

static __always_inline void emit(const struct path *path, struct file *file, long ret, __u8 hook)
{
	__u32 zero = 0;
	struct fw_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct fw_file_event *e;

	fw_mark_open();
	if (!s)
		return;
	e = (struct fw_file_event *)s->buf;
	fw_fill_task(e, hook);
	e->ret = ret;
	e->open_flags = BPF_CORE_READ(file, f_flags);
	fw_resolve_path(s, e, path);
	fw_finish_resolved(s, e, ret == 0 ? file : NULL);
}

SEC("kprobe/vfs_open")
int BPF_KPROBE(kp_vfs_open, const struct path *path, struct file *file)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fw_vfs_frames init = {}, *fr;

	if (skip())
		return 0;
	fr = bpf_map_lookup_elem(&pending, &tid);
	if (!fr) {
		if (bpf_map_update_elem(&pending, &tid, &init, BPF_NOEXIST) != 0 ||
		    !(fr = bpf_map_lookup_elem(&pending, &tid))) {
			fw_count(FW_CNT_ARGS_LOST);
			return 0;
		}
	}
	if (fr->depth >= FW_VFS_FRAMES) {
		fw_count(FW_CNT_ARGS_LOST);
		fr->depth++; /* still counted, so the matching return pops nothing real */
		return 0;
	}
	fr->path[fr->depth & (FW_VFS_FRAMES - 1)] = path;
	fr->file[fr->depth & (FW_VFS_FRAMES - 1)] = file;
	fr->depth++;
	return 0;
}

SEC("kretprobe/vfs_open")
int BPF_KRETPROBE(krp_vfs_open, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fw_vfs_frames *fr = bpf_map_lookup_elem(&pending, &tid);
	__u32 d;

	if (!fr || fr->depth == 0)
		return 0;
	d = --fr->depth;
	if (d < FW_VFS_FRAMES)
		emit(fr->path[d & (FW_VFS_FRAMES - 1)], fr->file[d & (FW_VFS_FRAMES - 1)], ret, FW_HOOK_KPROBE);
	if (fr->depth == 0)
		bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("fexit/vfs_open")
int BPF_PROG(fx_vfs_open, const struct path *path, struct file *file, int ret)
{
	if (skip())
		return 0;
	emit(path, file, ret, FW_HOOK_FEXIT);
	return 0;
}

/* ---- Operations other than open, judged on the dentry the kernel reached, just before it acts (the
 * process is killed; the operation still runs). Each program exists as a kprobe and as an fentry
 * program; the loader takes the pair of the chosen hook, for the operations selected (CONFIG_SECURITY_PATH
 * provides these calls). */

#define FW_UNPAREN(...) __VA_ARGS__

/* One check as a kprobe and as an fentry program: `args` the call's leading parameters, in
 * parentheses; `judge` the parenthesised fw_judge_op call, which names the program's `hook`. */
#define FW_SEC_HOOK(name, args, judge)                                                                 \
	SEC("kprobe/security_" #name)                                                                  \
	int BPF_KPROBE(kp_##name, FW_UNPAREN args)                                                     \
	{                                                                                              \
		const __u8 hook = FW_HOOK_KPROBE;                                                      \
		judge;                                                                                 \
		return 0;                                                                              \
	}                                                                                              \
	SEC("fentry/security_" #name)                                                                  \
	int BPF_PROG(fe_##name, FW_UNPAREN args)                                                       \
	{                                                                                              \
		const __u8 hook = FW_HOOK_FEXIT;                                                       \
		judge;                                                                                 \
		return 0;                                                                              \
	}

/* A call on a name in a directory (the new name, for the creating ones). */
#define FW_SEC_DIR_HOOK(name, op)                                                                       \
	FW_SEC_HOOK(name, (const struct path *dir, struct dentry *dentry),                              \
		    (fw_judge_op(hook, op, BPF_CORE_READ(dir, mnt), dentry, NULL, NULL)))

/* A call on the file a path names. */
#define FW_SEC_PATH_HOOK(name, op)                                                                      \
	FW_SEC_HOOK(name, (const struct path *path),                                                    \
		    (fw_judge_op(hook, op, BPF_CORE_READ(path, mnt), BPF_CORE_READ(path, dentry), NULL, NULL)))

FW_SEC_DIR_HOOK(path_unlink, FW_OP_UNLINK)
FW_SEC_DIR_HOOK(path_rmdir, FW_OP_RMDIR)
FW_SEC_DIR_HOOK(path_symlink, FW_OP_SYMLINK)
FW_SEC_DIR_HOOK(path_mkdir, FW_OP_MKDIR)
FW_SEC_DIR_HOOK(path_mknod, FW_OP_MKNOD)
FW_SEC_PATH_HOOK(path_chmod, FW_OP_CHMOD)
FW_SEC_PATH_HOOK(path_chown, FW_OP_CHOWN)
/* truncate(2), an O_TRUNC open; before 6.2 ftruncate(2) too. */
FW_SEC_PATH_HOOK(path_truncate, FW_OP_TRUNCATE)

/* Both names are on one mount (a rename across mounts fails with EXDEV before this call). */
FW_SEC_HOOK(path_rename,
	    (const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry),
	    (fw_judge_op(hook, FW_OP_RENAME, BPF_CORE_READ(old_dir, mnt), old_dentry, BPF_CORE_READ(new_dir, mnt), new_dentry)))

/* The new name, and the file it links to, on the same mount (EXDEV otherwise). */
FW_SEC_HOOK(path_link, (struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry),
	    (fw_judge_op(hook, FW_OP_LINK, BPF_CORE_READ(new_dir, mnt), new_dentry, BPF_CORE_READ(new_dir, mnt), old_dentry)))

/* ftruncate(2), and an O_TRUNC open, from 6.2 (the loader attaches it where the kernel has the call). */
FW_SEC_HOOK(file_truncate, (struct file *file),
	    (fw_judge_op(hook, FW_OP_TRUNCATE, BPF_CORE_READ(file, f_path.mnt), BPF_CORE_READ(file, f_path.dentry), NULL, NULL)))
