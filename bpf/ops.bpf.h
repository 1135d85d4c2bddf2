/* SPDX-License-Identifier: GPL-2.0 */
/* Judging an operation other than open on the dentry the kernel reached: shared by the lsm path hooks
 * (lsm.bpf.c), which refuse it, and the kprobe and fentry programs on the kernel's security_path_*
 * calls (vfs.bpf.c), which run at the same point on kernels without BPF-LSM and can only kill. Either
 * way the name judged is the kernel's, not the one spelled in the syscall: a symlinked directory, a
 * bind mount, `..` or a relative name after chdir are no way around. The syscall programs loaded next
 * to them record each operation at its exit, with both names, and take the verdict from op_verdicts
 * instead of judging (and killing) a second time; an operation no syscall exit will see (io_uring, a
 * socket bind) is recorded here when the policy acts on it. An open in flight (open_marks) is the
 * open hook's to judge, apart from its truncation. */
#ifndef FW_OPS_BPF_H
#define FW_OPS_BPF_H

/* Keeps the name just resolved into e->path for the syscall exit (op_resolved, `key`). Where it cannot
 * (no room), the exit joins the name itself, flagged lexical as on tracepoint. */
static __always_inline void fw_keep_name(struct fw_file_event *e, __u64 key)
{
	struct fw_walk_buf *w = fw_walk_buf(); /* any buffer as large as the value, to create it from */
	struct fw_op_resolved *r;
	__u32 n = e->path_len;

	if (!w || e->path_kind != FW_PATH_RESOLVED || n >= FW_PATH_MAX)
		return;
	if (bpf_map_update_elem(&op_resolved, &key, w, BPF_ANY) != 0 || !(r = bpf_map_lookup_elem(&op_resolved, &key)))
		return;
	r->len = n;
	r->flags = e->flags & (FW_FLAG_PATH_TRUNCATED | FW_FLAG_PATH_TAIL);
	barrier_var(n);
	bpf_probe_read_kernel(r->path, n & (FW_PATH_MAX - 1), e->path);
}

/* Judges one name, (mnt, d), into the record: the name the task sees (the dentry walk), and with a
 * filesystem policy armed the inode and the place on its filesystem (fw_dentry_policy), so neither a
 * bind mount nor another mount namespace is a way around. With `keep` the name is kept for the
 * syscall exit to record (op_resolved, `key`). Returns the action; sends SIGKILL for a kill, and for
 * a deny where the hook cannot refuse. */
static __always_inline __u8 fw_judge_name(struct fw_scratch *s, struct fw_file_event *e, __u8 hook, __u8 op,
					  struct vfsmount *mnt, struct dentry *d, bool keep, __u64 key)
{
	__u8 file_act = FW_ACTION_ALLOW;

	fw_fill_task(e, hook);
	e->op = op; /* a rename's names are judged as whole names too (fw_policy_action) */
	fw_resolve_at(s, e, mnt, d);
	if (keep)
		fw_keep_name(e, key);
	if (!policy_armed)
		return FW_ACTION_ALLOW;
	if (policy_armed & FW_ARMED_FS) {
		struct inode *inode = BPF_CORE_READ(d, d_inode);

		e->dev = BPF_CORE_READ(d, d_sb, s_dev);
		if (inode) { /* a name being created has none yet */
			e->ino = BPF_CORE_READ(inode, i_ino);
			e->flags |= FW_FLAG_HAS_FILE;
		}
		fw_host_dentry(s, e, d);
		file_act = fw_dentry_policy(s, e, d);
	}
	return fw_enforce(s, e, true, hook == FW_HOOK_LSM, file_act);
}

/* The verdict of `hook` on an operation on (mnt, d) and, for a rename or link, (mnt2, d2): the
 * stronger action of the two names. Only the lsm hook can refuse (its caller returns EPERM unless
 * this is allow); on the others a deny is a kill, and the operation still runs. For an operation
 * syscall in flight (an op_verdicts entry) the names are resolved and kept for its exit to record
 * even when no policy is armed. */
static __always_inline __u8 fw_judge_op(__u8 hook, __u8 op, struct vfsmount *mnt, struct dentry *d, struct vfsmount *mnt2,
					struct dentry *d2)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct fw_op_verdict *v;
	struct fw_scratch *s;
	struct fw_file_event *e;
	__u16 flags;
	__u8 act;

	if (fw_is_self() || fw_task_filtered())
		return FW_ACTION_ALLOW;
	/* An open's O_CREAT (path_mknod) is the open hook's to judge. Its O_TRUNC is judged here as the
	 * truncate it is (under lsm, file_open also sees the flag: the same entries, so this refuses
	 * only what file_open let through if the policy changed in between, and records that itself). */
	if (op != FW_OP_TRUNCATE && bpf_map_lookup_elem(&open_marks, &tid))
		return FW_ACTION_ALLOW;
	v = bpf_map_lookup_elem(&op_verdicts, &tid);
	if (!policy_armed && !v)
		return FW_ACTION_ALLOW;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return FW_ACTION_ALLOW;
	e = (struct fw_file_event *)s->buf;
	/* The slots the exit reads: a rename's first name here is its old one, the record's second. */
	act = fw_judge_name(s, e, hook, op, mnt, d, v, fw_resolved_key(tid, op == FW_OP_RENAME));
	flags = e->flags & (FW_FLAG_KILL_TARGET | FW_FLAG_DENY_AS_KILL);
	if (d2) {
		__u8 act2 = fw_judge_name(s, e, hook, op, mnt2, d2, v, fw_resolved_key(tid, op != FW_OP_RENAME));

		flags |= e->flags & (FW_FLAG_KILL_TARGET | FW_FLAG_DENY_AS_KILL);
		if (act2 > act)
			act = act2;
		else if (act != FW_ACTION_ALLOW)
			fw_judge_name(s, e, hook, op, mnt, d, false, 0); /* the record names the name that decided */
	}
	if (v) {
		v->judged = 1;
		v->hook = hook;
		if (act > v->action)
			v->action = act;
		v->flags |= flags;
	} else if (act != FW_ACTION_ALLOW) {
		/* No syscall exit will record this one (an open's truncation, io_uring, a socket bind):
		 * recorded here, with the name that decided and no syscall result. */
		fw_count(FW_CNT_SEEN);
		e->flags |= FW_FLAG_RET_UNKNOWN;
		fw_submit(e);
	}
	return act;
}

#endif
