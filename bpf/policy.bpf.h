/* SPDX-License-Identifier: GPL-2.0 */
/* The in-kernel enforcement policy: path prefixes in an LPM trie, the longest matching prefix
 * decides, each with an action. FW_ACTION_KILL sends SIGKILL to the opening process from the hook
 * (the syscall in flight still completes, except under LSM where the open is refused too);
 * FW_ACTION_DENY makes the LSM hook refuse the open with EPERM (only the lsm hook can). An open
 * the policy acts on is always recorded, whatever the path filters say: it is evidence. */
#ifndef FILEWARDEN_POLICY_BPF_H
#define FILEWARDEN_POLICY_BPF_H

#define FW_SIGKILL 9

/* Set before load when the policy map holds entries: no policy, no lookup. */
const volatile __u32 policy_enabled = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FW_FILTER_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fw_prefix_key);
	__type(value, __u8); /* enum fw_action */
} policy_path SEC(".maps");

/* The policy's action for this record's path; records it in the event and sends SIGKILL for KILL.
 * A name the kernel cannot judge (relative, unnormalised: tracepoint names as passed) is allowed. */
static __always_inline __u8 fw_enforce(struct fw_scratch *s, struct fw_open_event *e, bool normalised)
{
	__u8 *act;

	if (!policy_enabled || !fw_judgeable(e, normalised) || !fw_load_prefix_key(s, e))
		return FW_ACTION_ALLOW;
	act = bpf_map_lookup_elem(&policy_path, &s->key);
	if (!act || *act == FW_ACTION_ALLOW)
		return FW_ACTION_ALLOW;
	if (*act == FW_ACTION_KILL)
		bpf_send_signal(FW_SIGKILL);
	e->action = *act;
	return *act;
}

#endif
