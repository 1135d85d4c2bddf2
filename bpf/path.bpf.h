/* SPDX-License-Identifier: GPL-2.0 */
/* Resolves a struct path to the absolute name the task sees (relative to its root, like d_path) by
 * walking dentries and crossing mounts, for hooks where bpf_d_path is not allowed (kprobes, and
 * fexit on vfs_open, which is not on the kernel's d_path allowlist). */
#ifndef FILEWARDEN_PATH_BPF_H
#define FILEWARDEN_PATH_BPF_H

/* A 4095-byte path has at most 2048 components. bpf_loop (5.17+) lets the walk go that deep while
 * the verifier checks the step once. */
#define FW_WALK_MAX_DEPTH (FW_PATH_MAX / 2)

struct fw_walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__s32 pos; /* the name assembled so far starts at walk[pos] and ends at walk[FW_PATH_MAX - 1] */
	bool out_of_room;
	bool done;
	bool sb_only; /* the host walk: d_parent up to the superblock's root, mounts and task root ignored */
};

static __always_inline struct mount *fw_real_mount(struct vfsmount *vfsmnt)
{
	return (struct mount *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

static long fw_walk_step(__u32 i, struct fw_walk_ctx *c)
{
	struct fw_walk_buf *s = fw_walk_buf();
	/* Locals, not c->...: inside BPF_CORE_READ a ctx field would get a CO-RE relocation too. */
	struct dentry *d = c->dentry, *parent;
	struct vfsmount *vfsmnt = c->vfsmnt;
	struct qstr name;
	__u32 len;

	if (!s)
		return 1;
	if (c->sb_only)
		goto parent;
	if (d == c->root_dentry && vfsmnt == c->root_mnt) {
		c->done = true;
		return 1;
	}
	if (d == BPF_CORE_READ(vfsmnt, mnt_root)) {
		struct mount *m = fw_real_mount(vfsmnt);
		struct mount *up = BPF_CORE_READ(m, mnt_parent);
		if (up == m) { /* the namespace's root mount */
			c->done = true;
			return 1;
		}
		c->dentry = BPF_CORE_READ(m, mnt_mountpoint);
		c->vfsmnt = (struct vfsmount *)((char *)up + bpf_core_field_offset(struct mount, mnt));
		return 0;
	}
parent:
	parent = BPF_CORE_READ(d, d_parent);
	if (parent == d) { /* the superblock's root (sb_only), or the root of a detached tree */
		c->done = true;
		return 1;
	}
	name = BPF_CORE_READ(d, d_name);
	len = name.len;
	if (len > 255 || c->pos < (__s32)len + 1) {
		c->out_of_room = true;
		return 1;
	}
	c->pos -= len;
	bpf_probe_read_kernel(&s->walk[c->pos & (FW_PATH_MAX - 1)], len & 255, name.name);
	c->pos -= 1;
	s->walk[c->pos & (FW_PATH_MAX - 1)] = '/';
	c->dentry = parent;
	return 0;
}

/* Writes the absolute name of `path` into e->path. A name longer than the record can hold keeps its
 * last bytes and is flagged (FW_FLAG_PATH_TRUNCATED | FW_FLAG_PATH_TAIL), never silently cut. */
static __always_inline void fw_resolve_at(struct fw_scratch *s, struct fw_file_event *e, struct vfsmount *mnt,
					  struct dentry *dentry)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fw_walk_ctx c = {
		.dentry = dentry,
		.vfsmnt = mnt,
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.pos = FW_PATH_MAX - 1,
	};
	struct fw_walk_buf *w = fw_walk_buf();
	__u32 len;

	if (!w)
		return;
	bpf_loop(FW_WALK_MAX_DEPTH, fw_walk_step, &c, 0);
	if (c.pos == FW_PATH_MAX - 1) { /* the root itself */
		c.pos -= 1;
		w->walk[c.pos & (FW_PATH_MAX - 1)] = '/';
	}
	len = FW_PATH_MAX - 1 - c.pos;
	bpf_probe_read_kernel(e->path, len & (FW_PATH_MAX - 1), &w->walk[c.pos & (FW_PATH_MAX - 1)]);
	e->path_len = len;
	e->path_orig_len = len;
	e->path_kind = FW_PATH_RESOLVED;
	if (c.out_of_room || !c.done) {
		e->flags |= FW_FLAG_PATH_TRUNCATED | FW_FLAG_PATH_TAIL;
		e->path_orig_len = 0;
	}
}

static __always_inline void fw_resolve_path(struct fw_scratch *s, struct fw_file_event *e, const struct path *path)
{
	fw_resolve_at(s, e, BPF_CORE_READ(path, mnt), BPF_CORE_READ(path, dentry));
}

/* True when the current task sees another tree than the collector: another mount namespace, or a
 * root directory other than the collector's (chroot, pivot_root). Host processes pay three reads. */
static __always_inline bool fw_needs_host_path(struct fw_file_event *e)
{
	struct task_struct *task;
	struct dentry *root;

	if (!host_mntns)
		return false;
	if (e->mntns_id != host_mntns)
		return true;
	task = (struct task_struct *)bpf_get_current_task();
	root = BPF_CORE_READ(task, fs, root.dentry);
	if (host_root_mnt_id) {
		struct mount *m = fw_real_mount(BPF_CORE_READ(task, fs, root.mnt));

		/* The same mount holds one superblock: the inode decides, and the device, whose stat()
		 * value differs from s_dev on a btrfs subvolume, is not compared. */
		return BPF_CORE_READ(m, mnt_id) != host_root_mnt_id || BPF_CORE_READ(root, d_inode, i_ino) != host_root_ino;
	}
	return BPF_CORE_READ(root, d_inode, i_ino) != host_root_ino ||
	       BPF_CORE_READ(root, d_sb, s_dev) != host_root_dev;
}

/* For a task that needs it (fw_needs_host_path), appends the opened file's path from its superblock's
 * root, mounts ignored, after the path and the name as passed (host_len bytes). The task's view stops
 * at its root and crosses its own namespace's mounts, which the host does not have; the superblock
 * path plus the file's dev is what user space can place on the host's mount table. */
/* Walks `d` up to its superblock's root (d_parent only: mounts and the task's root ignored) into
 * w->walk. Returns where the path starts there (it ends at FW_PATH_MAX - 1); *whole is false when
 * only its tail fit. */
static __always_inline __s32 fw_sb_walk(struct fw_walk_buf *w, struct dentry *d, bool *whole)
{
	struct fw_walk_ctx c = {
		.dentry = d,
		.pos = FW_PATH_MAX - 1,
		.sb_only = true,
	};

	bpf_loop(FW_WALK_MAX_DEPTH, fw_walk_step, &c, 0);
	if (c.pos == FW_PATH_MAX - 1) { /* the superblock's root itself */
		c.pos -= 1;
		w->walk[c.pos & (FW_PATH_MAX - 1)] = '/';
	}
	*whole = !c.out_of_room && c.done;
	return c.pos;
}

static __always_inline void fw_host_dentry(struct fw_scratch *s, struct fw_file_event *e, struct dentry *d)
{
	__u32 at = e->path_len + e->name_len, len;
	struct fw_walk_buf *w;
	bool whole;
	__s32 pos;

	if (e->host_len || !fw_needs_host_path(e)) /* walked already (before the policy) */
		return;
	e->flags |= FW_FLAG_OTHER_TREE;
	w = fw_walk_buf();
	if (!w)
		return;
	pos = fw_sb_walk(w, d, &whole);
	len = FW_PATH_MAX - 1 - pos;
	if (at >= 2 * FW_PATH_MAX || len >= FW_PATH_MAX)
		return;
	/* The bound check above lets clang drop the masks, and the verifier needs them. */
	barrier_var(at);
	barrier_var(len);
	bpf_probe_read_kernel(e->path + (at & (2 * FW_PATH_MAX - 1)), len & (FW_PATH_MAX - 1),
			      &w->walk[pos & (FW_PATH_MAX - 1)]);
	e->host_len = len;
	if (!whole)
		e->flags |= FW_FLAG_HOST_TAIL;
}

static __always_inline void fw_host_path(struct fw_scratch *s, struct fw_file_event *e, const struct path *path)
{
	fw_host_dentry(s, e, BPF_CORE_READ(path, dentry));
}

/* The policy's judgements that need the opened file itself (FW_ARMED_FS; e->dev and e->ino filled):
 * - its inode: an entry for one file holds for every name of it (hard links, bind mounts of it);
 * - for a host task, the path within the file's filesystem: a bind mount, or a second mount of a
 *   filesystem, is no way around a path entry, in either direction (a protected path that is itself
 *   a bind mount is translated to where its files are, and reaching them there is judged too). One
 *   more walk per open while a policy with path entries is set.
 * A task in another tree is judged on its host walk (fw_host_path) in fw_enforce. */
/* The same for a dentry (an lsm path hook's: e->dev filled, and e->ino when it has an inode). */
static __always_inline __u8 fw_dentry_policy(struct fw_scratch *s, struct fw_file_event *e, struct dentry *d)
{
	struct fw_walk_buf *w;
	__u8 act, fs_act;
	bool whole;
	__s32 pos;

	if (!(policy_armed & FW_ARMED_FS))
		return FW_ACTION_ALLOW;
	act = fw_policy_inode_action(s, e);
	if (e->flags & FW_FLAG_OTHER_TREE)
		return act;
	w = fw_walk_buf();
	if (!w)
		return act;
	pos = fw_sb_walk(w, d, &whole);
	if (!whole)
		return act;
	fs_act = fw_policy_fs_lookup(s, e, e->dev, &w->walk[pos & (FW_PATH_MAX - 1)], FW_PATH_MAX - 1 - pos);
	return fs_act > act ? fs_act : act;
}

static __always_inline __u8 fw_file_policy(struct fw_scratch *s, struct fw_file_event *e, struct file *f)
{
	return f ? fw_dentry_policy(s, e, BPF_CORE_READ(f, f_path.dentry)) : FW_ACTION_ALLOW;
}

/* One input byte of base + '/' + name. A component is copied as it is read and dropped at its end
 * when it is empty or "."; ".." pops back to where the previous one started. The output never runs
 * ahead of the input, so the base part is rewritten in place, byte for byte. The state lives in the
 * scratch map, not on the caller's stack: kernels before 6.7 verify a bpf_loop callback once, with
 * the caller's stack values as known constants, and drop the branches those constants rule out
 * (measured on Debian's 6.1: every join came out as "/"). Map memory is never a known constant. */
static long fw_join_step(__u32 i, void *unused)
{
	__u32 zero = 0;
	struct fw_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct fw_file_event *e;
	struct fw_join_state *c;
	__u32 out, clen, w;
	char ch;

	if (!s)
		return 1;
	c = &s->join;
	if (i > c->total)
		return 1;
	e = (struct fw_file_event *)s->buf;
	out = c->out;
	clen = c->clen;
	if (i == c->total || i == c->base_len)
		ch = '/';
	else if (i < c->base_len)
		ch = e->path[i & (FW_PATH_MAX - 1)];
	else
		ch = s->name[(i - c->base_len - 1) & (FW_PATH_MAX - 1)];
	if (ch != '/') {
		w = out + 1 + clen;
		if (w >= FW_PATH_MAX - 1) {
			c->out_of_room = 1;
			return 1;
		}
		/* The bound check above lets clang drop the masks, and the verifier needs them. */
		barrier_var(w);
		barrier_var(out);
		if (clen == 0)
			e->path[out & (FW_PATH_MAX - 1)] = '/';
		e->path[w & (FW_PATH_MAX - 1)] = ch;
		c->clen = clen + 1;
		return 0;
	}
	if (clen == 0)
		return 0;
	c->clen = 0;
	if (e->path[(out + 1) & (FW_PATH_MAX - 1)] == '.') {
		if (clen == 1)
			return 0;
		if (clen == 2 && e->path[(out + 2) & (FW_PATH_MAX - 1)] == '.') {
			/* ".." of the root is the root, as in the kernel's lookup. */
			if (c->depth == 0) {
				c->out = 0;
			} else {
				c->depth -= 1;
				c->out = s->join_stack[c->depth & (FW_PATH_MAX / 2 - 1)];
			}
			return 0;
		}
	}
	/* At most FW_PATH_MAX / 2 components fit in FW_PATH_MAX - 1 bytes. */
	s->join_stack[c->depth & (FW_PATH_MAX / 2 - 1)] = out;
	c->depth += 1;
	c->out = out + 1 + clen;
	return 0;
}

/* Joins the name as passed (s->name, name_len bytes) onto the base directory already walked into
 * e->path (base_len bytes, absolute and normalised; 0 for an absolute name) lexically: ".", ".."
 * and "//" folded, no symlink followed, as the open's own lookup would not have reached the last
 * component. False when the result does not fit: the caller keeps the name as passed. */
static __always_inline bool fw_join_lexical(struct fw_scratch *s, struct fw_file_event *e, __u32 base_len, __u32 name_len)
{
	struct fw_join_state *c = &s->join;
	__u32 out;

	if (base_len >= FW_PATH_MAX - 1 || name_len >= FW_PATH_MAX)
		return false;
	c->base_len = base_len;
	c->total = base_len + 1 + name_len;
	c->out = 0;
	c->clen = 0;
	c->depth = 0;
	c->out_of_room = 0;
	bpf_loop(2 * FW_PATH_MAX, fw_join_step, NULL, 0);
	if (c->out_of_room)
		return false;
	out = c->out;
	if (out == 0) {
		e->path[0] = '/';
		out = 1;
	}
	if (out >= FW_PATH_MAX)
		return false;
	e->path_len = out;
	e->path_orig_len = out;
	e->path_kind = FW_PATH_RESOLVED;
	e->flags |= FW_FLAG_PATH_LEXICAL;
	return true;
}

/* ino, dev and f_mode of an open file. */
static __always_inline void fw_fill_file(struct fw_file_event *e, struct file *f)
{
	e->ino = BPF_CORE_READ(f, f_inode, i_ino);
	e->dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	e->f_mode = BPF_CORE_READ(f, f_mode);
	e->flags |= FW_FLAG_HAS_FILE;
}

/* Finishes a record whose path was resolved in the kernel: path filters, file fields, submit. */
/* Applies the policy and the path filter to a kernel-resolved record and submits it. Returns the
 * policy's action (the LSM hook refuses the open unless it is FW_ACTION_ALLOW). */
static __always_inline __u8 fw_finish_resolved(struct fw_scratch *s, struct fw_file_event *e, struct file *f)
{
	/* A tail-only name has lost its start: no filter can judge it (nor the path policy). */
	bool whole = !(e->flags & FW_FLAG_PATH_TAIL);
	__u8 act;

	/* With a policy_fs armed, a task in another tree is judged on the host walk too: walk first. */
	if (f && (policy_armed & FW_ARMED_FS)) {
		fw_fill_file(e, f); /* the device and inode the policy_fs keys start with */
		fw_host_path(s, e, &f->f_path);
	}
	act = fw_enforce(s, e, true, e->hook == FW_HOOK_LSM, fw_file_policy(s, e, f));

	if (act == FW_ACTION_ALLOW && fw_path_filtered(s, e, whole)) {
		fw_count(FW_CNT_FILTERED);
		return act;
	}
	if (f) {
		fw_fill_file(e, f);
		fw_host_path(s, e, &f->f_path);
	}
	fw_submit(e);
	return act;
}

#endif
