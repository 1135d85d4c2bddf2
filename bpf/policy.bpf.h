/* SPDX-License-Identifier: GPL-2.0 */
/* The in-kernel enforcement policy, changed at run time by user space:
 * - policy_path: path prefixes for any process; policy_scoped: a comm or an executable (dev, ino)
 *   plus a path prefix. In each trie the longest matching prefix decides; across the two the
 *   strongest action wins (kill > deny > allow).
 * - kill_tgid: processes to kill at their next traced open (remote kill commands).
 * FW_ACTION_KILL sends SIGKILL to the opening process from the hook; the syscall in flight still
 * completes, except under LSM where the open is refused too. FW_ACTION_DENY makes the LSM hook refuse
 * the open with EPERM; a hook that cannot refuse kills instead and flags the event. An open the
 * policy acts on is always recorded, whatever the path filters say: it is evidence. */
#ifndef FILEWARDEN_POLICY_BPF_H
#define FILEWARDEN_POLICY_BPF_H

#define FW_SIGKILL 9

/* enum fw_policy_armed bits; written by user space through the mmapped .bss after load. */
__u32 policy_armed = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fw_prefix_key);
	__type(value, struct fw_policy_value);
} policy_path SEC(".maps");

/* Key: FW_SCOPE_LEN bytes of qualifier (enum fw_scope_kind first), then the path prefix. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fw_prefix_key);
	__type(value, struct fw_policy_value);
} policy_scoped SEC(".maps");

/* Key: the device (u32, kernel encoding), then a path prefix within that filesystem (from its
 * superblock's root). User space translates each any-process path entry through the host's mount
 * table, so a task in another mount namespace or under chroot that reaches a protected file under
 * another name (a bind mount, a volume, a chroot) is judged on where the file is, by the host walk
 * (path.bpf.h, fw_host_path). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fw_prefix_key);
	__type(value, struct fw_policy_value);
} policy_fs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* start time in USER_HZ ticks as /proc/<pid>/stat shows it: pid reuse guard */
} kill_tgid SEC(".maps");

/* SIGKILL for a process on the kill-target list whose start time matches (a reused pid does not). */
static __always_inline bool fw_kill_targeted(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task;
	__u64 *start;

	if (!(policy_armed & FW_ARMED_TARGETS))
		return false;
	start = bpf_map_lookup_elem(&kill_tgid, &tgid);
	if (!start)
		return false;
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, group_leader, start_boottime) / FW_NSEC_PER_TICK != *start)
		return false;
	bpf_send_signal(FW_SIGKILL);
	return true;
}

#define FW_O_TRUNC 01000

/* The stronger of `a` and an entry's action for the record's operation. An open with O_TRUNC
 * truncates the file: it is judged as a truncate too (the tracepoint has the syscall's flags, and
 * file_open runs before the kernel drops O_TRUNC from the file's; vfs_open's exit comes after). */
static __always_inline __u8 fw_stronger(__u8 a, struct fw_policy_value *v, struct fw_file_event *e)
{
	__u8 b;

	if (!v)
		return a;
	b = v->act[e->op & (FW_POLICY_OPS - 1)];
	if (e->op == FW_OP_OPEN && (e->open_flags & FW_O_TRUNC) && v->act[FW_OP_TRUNCATE] > b)
		b = v->act[FW_OP_TRUNCATE];
	return b > a ? b : a;
}

/* The strongest action of the two tries for this record's path. A rename moves everything under its
 * names: each is also looked up as a whole name, its NUL included, which matches the entries user
 * space adds for every directory above a protected prefix ("/var/log\0" for "/var/log/audit/"; no
 * path holds a NUL, so no other lookup ever matches them). Moving a protected file's directory, or
 * one above it, is judged like moving the file. */
static __always_inline __u8 fw_policy_action(struct fw_scratch *s, struct fw_file_event *e)
{
	__u32 armed = policy_armed;
	__u8 act = FW_ACTION_ALLOW;
	__u32 n = e->path_len;
	bool whole_name = e->op == FW_OP_RENAME;

	if (armed & FW_ARMED_PATH) {
		if (!fw_load_prefix_key(s, e))
			return act;
		if (whole_name && n < FW_PREFIX_MAX) {
			/* The bound check above lets clang drop the mask, and older verifiers need it. */
			barrier_var(n);
			s->key.data[n & (FW_PREFIX_MAX - 1)] = 0;
			s->key.prefixlen += 8;
		}
		act = fw_stronger(act, bpf_map_lookup_elem(&policy_path, &s->key), e);
	}
	if (armed & FW_ARMED_SCOPED) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct file *exe = BPF_CORE_READ(task, mm, exe_file);
		__u32 dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
		__u64 ino = BPF_CORE_READ(exe, f_inode, i_ino);

		if (n > FW_PREFIX_MAX - FW_SCOPE_LEN)
			n = FW_PREFIX_MAX - FW_SCOPE_LEN;
		s->key.prefixlen = (FW_SCOPE_LEN + n) * 8;
		if (bpf_probe_read_kernel(s->key.data + FW_SCOPE_LEN, FW_PREFIX_MAX - FW_SCOPE_LEN, e->path) != 0)
			return act;
		if (whole_name && FW_SCOPE_LEN + n < FW_PREFIX_MAX) {
			barrier_var(n);
			s->key.data[(FW_SCOPE_LEN + n) & (FW_PREFIX_MAX - 1)] = 0;
			s->key.prefixlen += 8;
		}
		__builtin_memset(s->key.data, 0, FW_SCOPE_LEN);
		s->key.data[0] = FW_SCOPE_COMM;
		__builtin_memcpy(s->key.data + 1, e->comm, FW_SCOPE_LEN - 1);
		act = fw_stronger(act, bpf_map_lookup_elem(&policy_scoped, &s->key), e);
		if (ino) {
			__builtin_memset(s->key.data, 0, FW_SCOPE_LEN);
			s->key.data[0] = FW_SCOPE_EXE;
			__builtin_memcpy(s->key.data + 4, &dev, sizeof(dev));
			__builtin_memcpy(s->key.data + 8, &ino, sizeof(ino));
			act = fw_stronger(act, bpf_map_lookup_elem(&policy_scoped, &s->key), e);
		}
	}
	return act;
}

/* The policy_fs action for `n` bytes of a path within the filesystem of `dev`, read from `src`
 * (kernel memory with FW_PREFIX_MAX bytes readable). */
static __always_inline __u8 fw_policy_fs_lookup(struct fw_scratch *s, struct fw_file_event *e, __u32 dev, const void *src,
						 __u32 n)
{
	if (n > FW_PREFIX_MAX - FW_FS_KEY_DEV_LEN)
		n = FW_PREFIX_MAX - FW_FS_KEY_DEV_LEN;
	s->key.prefixlen = (FW_FS_KEY_DEV_LEN + n) * 8;
	__builtin_memcpy(s->key.data, &dev, FW_FS_KEY_DEV_LEN);
	if (bpf_probe_read_kernel(s->key.data + FW_FS_KEY_DEV_LEN, FW_PREFIX_MAX - FW_FS_KEY_DEV_LEN, src) != 0)
		return FW_ACTION_ALLOW;
	/* A rename's name as a whole name too (the directories above a protected prefix). */
	if (e->op == FW_OP_RENAME && FW_FS_KEY_DEV_LEN + n < FW_PREFIX_MAX) {
		barrier_var(n);
		s->key.data[(FW_FS_KEY_DEV_LEN + n) & (FW_PREFIX_MAX - 1)] = 0;
		s->key.prefixlen += 8;
	}
	return fw_stronger(FW_ACTION_ALLOW, bpf_map_lookup_elem(&policy_fs, &s->key), e);
}

/* The policy_fs action for a record that carries the host walk (a task in another tree). */
static __always_inline __u8 fw_policy_fs_action(struct fw_scratch *s, struct fw_file_event *e)
{
	__u32 at = e->path_len + e->name_len;

	if (!e->host_len || (e->flags & FW_FLAG_HOST_TAIL) || at >= 2 * FW_PATH_MAX)
		return FW_ACTION_ALLOW;
	barrier_var(at);
	return fw_policy_fs_lookup(s, e, e->dev, e->path + (at & (2 * FW_PATH_MAX - 1)), e->host_len);
}

/* The policy_fs action for the opened file's inode (e->dev, e->ino): an entry for one file, keyed by
 * its device, a NUL (no path starts with one) and its inode, holds for every name of that file. */
static __always_inline __u8 fw_policy_inode_action(struct fw_scratch *s, struct fw_file_event *e)
{
	if (!(e->flags & FW_FLAG_HAS_FILE) || !e->ino)
		return FW_ACTION_ALLOW;
	s->key.prefixlen = (FW_FS_KEY_DEV_LEN + 1 + sizeof(e->ino)) * 8;
	__builtin_memcpy(s->key.data, &e->dev, FW_FS_KEY_DEV_LEN);
	s->key.data[FW_FS_KEY_DEV_LEN] = 0;
	__builtin_memcpy(s->key.data + FW_FS_KEY_DEV_LEN + 1, &e->ino, sizeof(e->ino));
	return fw_stronger(FW_ACTION_ALLOW, bpf_map_lookup_elem(&policy_fs, &s->key), e);
}

/* The policy's action for this record: a kill target first, then the path policy. Records the action
 * (and how it was carried out) in the event and sends SIGKILL where the action is a kill, or a deny on
 * a hook that cannot refuse the open (`can_deny` false). A name the kernel cannot judge (relative,
 * unnormalised: tracepoint names as passed) is allowed by the path policy. */
static __always_inline __u8 fw_enforce(struct fw_scratch *s, struct fw_file_event *e, bool normalised, bool can_deny,
					__u8 file_act)
{
	bool fs = (policy_armed & FW_ARMED_FS) && e->host_len;
	__u8 act = file_act; /* what the opened file itself decided (path.bpf.h, fw_file_policy) */

	if (fw_kill_targeted()) {
		e->flags |= FW_FLAG_KILL_TARGET;
		e->action = FW_ACTION_KILL;
		return FW_ACTION_KILL;
	}
	/* A tail-only name has lost its start: the path policy cannot judge it. */
	if ((policy_armed & (FW_ARMED_PATH | FW_ARMED_SCOPED)) && !(e->flags & FW_FLAG_PATH_TAIL) &&
	    fw_judgeable(e, normalised)) {
		__u8 path_act = fw_policy_action(s, e);

		if (path_act > act)
			act = path_act;
	}
	/* A task in another tree: also where the file is on the host (the stronger action wins). */
	if (fs) {
		__u8 fs_act = fw_policy_fs_action(s, e);

		if (fs_act > act)
			act = fs_act;
	}
	if (act == FW_ACTION_ALLOW)
		return act;
	if (act == FW_ACTION_DENY && !can_deny) {
		act = FW_ACTION_KILL;
		e->flags |= FW_FLAG_DENY_AS_KILL;
	}
	if (act == FW_ACTION_KILL)
		bpf_send_signal(FW_SIGKILL);
	e->action = act;
	return act;
}

#endif
