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
