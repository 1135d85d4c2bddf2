// SPDX-License-Identifier: GPL-2.0
/* BPF-LSM file_open: runs on every open after permission checks, before the file is handed to the
 * caller, so it can refuse it (the deny policy, policy.bpf.h). Here bpf_d_path is allowed and gives the full
 * path; the dentry walk is the fallback for names longer than the buffer. */
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

#define FW_EPERM 1

char LICENSE[] SEC("license") = "GPL";

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	__u32 zero = 0;
	struct fw_scratch *s;
	struct fw_file_event *e;
	long n;

	fw_count(FW_CNT_SEEN);
	if (fw_is_self() || fw_task_filtered()) {
		fw_count(FW_CNT_FILTERED);
		return 0;
	}
	fw_mark_open();
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	e = (struct fw_file_event *)s->buf;
	fw_fill_task(e, FW_HOOK_LSM);
	e->flags |= FW_FLAG_RET_UNKNOWN;
	e->open_flags = BPF_CORE_READ(file, f_flags);
	/* f_path is const since 6.x; the helper does not write it. */
	n = bpf_d_path((struct path *)&file->f_path, e->path, FW_PATH_MAX);
	if (n > 0) {
		e->path_len = n - 1;
		e->path_orig_len = n - 1;
		e->path_kind = FW_PATH_RESOLVED;
	} else {
		fw_resolve_path(s, e, &file->f_path);
	}
	/* DENY, and KILL too (the process is dying anyway): refuse the open itself. */
	return fw_finish_resolved(s, e, file) == FW_ACTION_ALLOW ? 0 : -FW_EPERM;
}

/* ---- Operations other than open. The lsm path hooks run after the kernel's own checks and before it
 * acts: they refuse with EPERM what the policy denies or kills, so a protected file stays as it was
 * (ops.bpf.h: what is judged, and how the syscall exit records it). */

static __always_inline int lsm_op(__u8 op, struct vfsmount *mnt, struct dentry *d, struct vfsmount *mnt2,
				  struct dentry *d2)
{
	return fw_judge_op(FW_HOOK_LSM, op, mnt, d, mnt2, d2) == FW_ACTION_ALLOW ? 0 : -FW_EPERM;
}

/* A hook on a name in a directory (the new name, for the creating ones). */
#define FW_LSM_DIR_HOOK(name, op)                                                                       \
	SEC("lsm/" #name)                                                                              \
	int BPF_PROG(lsm_##name, const struct path *dir, struct dentry *dentry)                         \
	{                                                                                              \
		return lsm_op(op, BPF_CORE_READ(dir, mnt), dentry, NULL, NULL);                          \
	}

/* A hook on the file a path names. */
#define FW_LSM_PATH_HOOK(name, op)                                                                      \
	SEC("lsm/" #name)                                                                              \
	int BPF_PROG(lsm_##name, const struct path *path)                                               \
	{                                                                                              \
		return lsm_op(op, BPF_CORE_READ(path, mnt), BPF_CORE_READ(path, dentry), NULL, NULL);    \
	}

FW_LSM_DIR_HOOK(path_unlink, FW_OP_UNLINK)
FW_LSM_DIR_HOOK(path_rmdir, FW_OP_RMDIR)
FW_LSM_DIR_HOOK(path_symlink, FW_OP_SYMLINK)
FW_LSM_DIR_HOOK(path_mkdir, FW_OP_MKDIR)
FW_LSM_DIR_HOOK(path_mknod, FW_OP_MKNOD)
FW_LSM_PATH_HOOK(path_chmod, FW_OP_CHMOD)
FW_LSM_PATH_HOOK(path_chown, FW_OP_CHOWN)
/* truncate(2); before 6.2 ftruncate(2) too. */
FW_LSM_PATH_HOOK(path_truncate, FW_OP_TRUNCATE)

/* Both names are on one mount (a rename across mounts fails with EXDEV before this hook). */
SEC("lsm/path_rename")
int BPF_PROG(lsm_path_rename, const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry)
{
	return lsm_op(FW_OP_RENAME, BPF_CORE_READ(old_dir, mnt), old_dentry, BPF_CORE_READ(new_dir, mnt), new_dentry);
}

/* The new name, and the file it links to, on the same mount (EXDEV otherwise). */
SEC("lsm/path_link")
int BPF_PROG(lsm_path_link, struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry)
{
	struct vfsmount *mnt = BPF_CORE_READ(new_dir, mnt);

	return lsm_op(FW_OP_LINK, mnt, new_dentry, mnt, old_dentry);
}

/* ftruncate(2) from 6.2 (the loader attaches it where the kernel has the hook). */
SEC("lsm/file_truncate")
int BPF_PROG(lsm_file_truncate, struct file *file)
{
	return lsm_op(FW_OP_TRUNCATE, BPF_CORE_READ(file, f_path.mnt), BPF_CORE_READ(file, f_path.dentry), NULL, NULL);
}
