/* SPDX-License-Identifier: GPL-2.0 */
/* In-kernel filters shared by every hook family: comm, uid and cgroup sets, and path prefixes in an
 * LPM trie where the longest matching prefix decides. Which maps hold entries is fixed at load
 * (`filter_flags`), so a hook with no filters pays for no lookup. */
#ifndef FILEWARDEN_FILTERS_BPF_H
#define FILEWARDEN_FILTERS_BPF_H

const volatile __u32 filter_flags = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fw_prefix_key);
	__type(value, __u8);
} filter_path SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__type(key, char[FW_COMM_LEN]);
	__type(value, __u8);
} filter_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__type(key, __u32);
	__type(value, __u8);
} filter_uid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__type(key, __u64);
	__type(value, __u8);
} filter_cgroup SEC(".maps");

/* A set filter: an exclude match drops; with includes present, anything but an include match drops. */
static __always_inline bool fw_set_drops(__u8 *mode, bool has_include)
{
	if (mode && *mode == FW_FILTER_EXCLUDE)
		return true;
	return has_include && !(mode && *mode == FW_FILTER_INCLUDE);
}

/* True when the current task is filtered out by comm, uid or cgroup. Counted by the caller. */
static __always_inline bool fw_task_filtered(void)
{
	if (filter_flags & FW_FILTERS_UID) {
		__u32 uid = (__u32)bpf_get_current_uid_gid();
		if (fw_set_drops(bpf_map_lookup_elem(&filter_uid, &uid), filter_flags & FW_FILTERS_UID_INCLUDE))
			return true;
	}
	if (filter_flags & FW_FILTERS_CGROUP) {
		__u64 cg = bpf_get_current_cgroup_id();
		if (fw_set_drops(bpf_map_lookup_elem(&filter_cgroup, &cg), filter_flags & FW_FILTERS_CGROUP_INCLUDE))
			return true;
	}
	if (filter_flags & FW_FILTERS_COMM) {
		char comm[FW_COMM_LEN] = {};
		bpf_get_current_comm(comm, sizeof(comm));
		if (fw_set_drops(bpf_map_lookup_elem(&filter_comm, comm), filter_flags & FW_FILTERS_COMM_INCLUDE))
			return true;
	}
	return false;
}

struct fw_judge_ctx {
	__u32 len;
	bool unjudgeable;
};

/* Flags "//" and "/." (which covers "/./" and "/../"): byte prefixes cannot judge such a name. */
static long fw_judge_step(__u32 i, struct fw_judge_ctx *c)
{
	__u32 zero = 0;
	struct fw_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct fw_file_event *e;
	char a, b;

	if (!s || i + 1 >= c->len)
		return 1;
	e = (struct fw_file_event *)s->buf;
	a = e->path[i & (FW_PATH_MAX - 1)];
	b = e->path[(i + 1) & (FW_PATH_MAX - 1)];
	if (a == '/' && (b == '/' || b == '.')) {
		c->unjudgeable = true;
		return 1;
	}
	return 0;
}

/* True when the record's name can be judged by byte prefix: absolute and normalised. Relative or
 * unnormalised names (/tmp/../etc/shadow must neither escape "/etc/" nor pass as "/tmp/") cannot. */
static __always_inline bool fw_judgeable(struct fw_file_event *e, bool normalised)
{
	struct fw_judge_ctx c = {.len = e->path_len};

	if (normalised)
		return true;
	if (e->path_len == 0 || e->path[0] != '/')
		return false;
	bpf_loop(FW_PATH_MAX, fw_judge_step, &c, 0);
	return !c.unjudgeable;
}

/* Loads the record's name into the scratch LPM key; false when it cannot be read. */
static __always_inline bool fw_load_prefix_key(struct fw_scratch *s, struct fw_file_event *e)
{
	__u32 n = e->path_len;

	if (n > FW_PREFIX_MAX)
		n = FW_PREFIX_MAX;
	s->key.prefixlen = n * 8;
	/* A constant size (the trie compares only prefixlen bits; bytes past the name do not matter),
	 * which also spares the verifier a variable length. */
	return bpf_probe_read_kernel(s->key.data, FW_PREFIX_MAX, e->path) == 0;
}

/* Decides on the record's path. Returns true to drop it. A name the kernel cannot judge is kept
 * and flagged for user space, which resolves it and applies the same rules. */
static __always_inline bool fw_path_filtered(struct fw_scratch *s, struct fw_file_event *e, bool normalised)
{
	__u8 *mode;

	if (!(filter_flags & FW_FILTERS_PATH))
		return false;
	if (!fw_judgeable(e, normalised)) {
		e->flags |= FW_FLAG_PATH_UNJUDGED;
		return false;
	}
	if (!fw_load_prefix_key(s, e))
		return false;
	mode = bpf_map_lookup_elem(&filter_path, &s->key);
	return fw_set_drops(mode, filter_flags & FW_FILTERS_PATH_INCLUDE);
}

#endif
