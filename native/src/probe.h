// The libbpf lifecycle in plain C++ (no Napi): open, configure, load, attach, poll, read counters.
#pragma once
#include <array>
#include <set>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "event.h"
#include "ring.h"

struct bpf_object;
struct bpf_link;
struct bpf_program;

namespace filewarden {

enum class Hook { Tracepoint, Kprobe, Fexit, Lsm };

const char *HookName(Hook h);
// Parses "tracepoint", "kprobe", "fexit" or "lsm"; false for anything else.
bool ParseHook(const std::string &name, Hook *out);

// In-kernel filters. Each entry is (key, FW_FILTER_INCLUDE or FW_FILTER_EXCLUDE).
struct FilterSpec {
	std::vector<std::pair<std::string, uint8_t>> paths; // byte prefixes, 1..FW_PREFIX_MAX bytes
	std::vector<std::pair<std::string, uint8_t>> comms; // 1..FW_COMM_LEN-1 bytes
	std::vector<std::pair<uint32_t, uint8_t>> uids;
	std::vector<std::pair<uint64_t, uint8_t>> cgroups;
};

// One entry of the in-kernel enforcement policy: a path prefix, optionally scoped to a comm or an
// executable, and FW_ACTION_ALLOW (an exception), FW_ACTION_DENY or FW_ACTION_KILL.
struct PolicyEntry {
	std::string path;        // absolute byte prefix
	uint8_t action = FW_ACTION_DENY;
	uint8_t scope = 0;       // 0: any process; FW_SCOPE_COMM, FW_SCOPE_EXE, or FW_SCOPE_FS (policy_fs)
	std::string comm;        // FW_SCOPE_COMM: 1..FW_COMM_LEN-1 bytes
	uint32_t exe_dev = 0;    // FW_SCOPE_EXE: kernel dev_t (major << 20 | minor)
	uint64_t exe_ino = 0;    // FW_SCOPE_EXE
	uint32_t fs_dev = 0;     // FW_SCOPE_FS: kernel dev_t; `path` is within that filesystem, or NUL + inode
	uint32_t ops = (1u << FW_OP__COUNT) - 1; // the operations it acts on (bits of enum fw_op)
};

// The whole policy. Within the any-process entries, and within the scoped ones, the longest matching
// prefix decides; across the two the strongest action wins. Deny is carried out by the lsm hook; the
// others kill instead and flag the event (FW_FLAG_DENY_AS_KILL).
struct PolicySpec {
	std::vector<PolicyEntry> entries;
};

struct ProbeOptions {
	Hook hook = Hook::Tracepoint;
	uint32_t ringbuf_bytes = 1u << 22; // power of two, >= page size
	uint32_t self_tgid = 0;            // never traced
	bool attach = true;                // false: load only (the verifier runs), attach nothing
	// The operations to record, bits of enum fw_op (1 << FW_OP_OPEN for opens). Another hook than
	// tracepoint records opens itself; the syscall programs next to it record the rest.
	uint32_t ops = (1u << FW_OP__COUNT) - 1;
	FilterSpec filters;
	PolicySpec policy;
	// A bpffs directory to pin the capture in (pins.h), so it goes on while no collector runs; empty:
	// nothing is pinned, and the capture ends with the Probe.
	std::string pin_dir;
	// Take over the capture pinned in pin_dir instead of loading one: nothing is loaded or attached,
	// the ring buffer is read on from where the last reader released it, the counters carry on.
	// The options that decided the programs (hook, ops, filters, ring size) must be the pinned
	// capture's; the caller checks that. `attached` names its attach points (Attached()).
	bool adopt = false;
	std::vector<std::string> attached;
};

// The tree the collector sees: its mount namespace and its root directory. A traced task elsewhere
// gets the superblock-relative walk of its files, which user space maps onto this tree's mount table.
// Left 0 (no walk) when either cannot be read.
struct HostTree {
	uint32_t mntns = 0;
	uint32_t root_dev = 0; // kernel encoding: major << 20 | minor
	uint64_t root_ino = 0;
	uint32_t root_mnt_id = 0; // 0: unknown (statx without STATX_MNT_ID, before 5.8)
};

// A program to load and where to attach it (empty: its own section; else each syscall tracepoint).
struct Chosen {
	bpf_program *prog;
	std::vector<std::string> attach_to;
	uint32_t judges = 0; // the operations (bits of enum fw_op) it judges before the kernel acts
};

using RecordSink = std::function<void(const void *data, size_t size)>;

// Each operation (the --ops names) and the syscalls whose tracepoints record it, for doctor.
std::vector<std::pair<std::string, std::vector<std::string>>> OperationSyscalls();
// A kernel path check that judges an operation before the kernel acts, and whether this kernel has
// its lsm hook (bpf_lsm_<name>) and its call (security_<name>, for kprobe and fentry).
struct OperationCheck {
	std::string name;
	bool lsm;
	bool call;
};
// The checks of one operation (enum fw_op); the first judges all its syscalls.
std::vector<OperationCheck> OperationChecks(int op);

class Probe {
public:
	// Opens, loads and (unless opts.attach is false) attaches the hook's programs. On failure returns
	// null and fills err.
	static std::unique_ptr<Probe> Open(const ProbeOptions &opts, RecordSink sink, ProbeError *err);
	~Probe();
	Probe(const Probe &) = delete;
	Probe &operator=(const Probe &) = delete;

	// Waits up to timeout_ms for records (the kernel never wakes the reader: it sleeps when none wait).
	void Poll(int timeout_ms);
	// Hands every record already in the buffer to the sink without waiting. Their space stays taken
	// until Release(ReadPos()): a reader that dies before leaves them to the next one.
	int Drain();
	uint64_t ReadPos() const { return ring_.ReadPos(); }
	// Frees the buffer up to `pos` for the kernel (the records before it are safe in user space).
	void Release(uint64_t pos) { ring_.Release(pos); }
	// Stops new events (the programs are detached, their pins removed); records already in the
	// buffer stay readable.
	void Detach();
	// After Detach and the last Drain: removes the pins (the pinned capture is over).
	void Unpin();
	// Kernel counters summed over CPUs, indexed by enum fw_counter.
	std::array<uint64_t, FW_CNT__MAX> Counters() const;
	// What is attached, e.g. "tracepoint/syscalls/sys_exit_openat" or "kretprobe/vfs_open".
	const std::vector<std::string> &Attached() const { return attached_; }
	// Replaces the whole enforcement policy; on failure the old entries that were not replaced stay.
	// Returns 0 or -errno, with `what` naming the entry.
	int SetPolicy(const PolicySpec &policy, std::string *what);
	// Puts a process on the kill-target list: SIGKILL at its next traced open, if its start time (USER_HZ
	// ticks since boot, as /proc/<pid>/stat shows it) still matches. Returns 0 or -errno.
	int AddKillTarget(uint32_t tgid, uint64_t start_ticks);
	// Takes it off the list (0, or -ENOENT when it was not on it).
	int RemoveKillTarget(uint32_t tgid);
	// Programs that were loaded (passed the verifier).
	const std::vector<std::string> &Loaded() const { return loaded_; }
	// The operations (bits of enum fw_op) a program on the kernel's path check judges before the
	// kernel acts: refused with EPERM under lsm, killed under kprobe and fexit. The rest are judged
	// at the syscall exit.
	uint32_t JudgedOps() const { return judged_ops_; }
	Hook hook() const { return hook_; }

private:
	Probe() = default;
	// Takes over the maps pinned under pin_dir (main/ and, next to another hook, aux/) and maps each
	// object's .bss; reads back the installed policy keys and kill targets.
	bool Adopt(const ProbeOptions &opts, ProbeError *err);
	bool Pin(const std::string &dir, ProbeError *err);

	Hook hook_ = Hook::Tracepoint;
	bpf_object *obj_ = nullptr;
	std::function<void()> destroy_; // destroys the skeleton that owns obj_
	std::function<void()> destroy_failures_; // the syscall programs' skeleton (failed opens), if any
	std::vector<bpf_link *> links_;
	Ring ring_;
	std::string pin_dir_;             // where the capture is pinned; empty: not pinned
	std::vector<std::string> link_pins_; // an adopted capture's link pins (it holds no bpf_link)
	// Writes the reader's pid, start time and tree into each object's .bss (SetReader).
	std::vector<std::function<void(uint32_t, uint64_t, const HostTree &)>> set_reader_;
	RecordSink sink_;
	std::vector<std::string> attached_;
	std::vector<std::string> loaded_;
	int counters_fd_ = -1;
	int ncpus_ = 0;
	uint32_t *armed_ = nullptr; // policy_armed in the mmapped .bss
	uint32_t judged_ops_ = 0;            // the operations a check program judges (bits of enum fw_op)
	uint32_t *failures_armed_ = nullptr; // the syscall programs' own, next to another hook
	bpf_object *failures_obj_ = nullptr;
	void *bss_at_ = nullptr; // the open skeleton's .bss (mapped onto the pinned one's by Adopt)
	std::function<int()> load_;
	std::function<uint32_t *()> armed_of_;
	std::vector<std::vector<uint8_t>> policy_keys_[3]; // installed keys of policy_path, policy_scoped, policy_fs
	std::vector<uint32_t> targets_;
	void SetArmed(uint32_t bit, bool on);
	// Loads the syscall programs with failures_only set, sharing this object's ring buffer, counters,
	// filters, policy and open marks: they record the failed opens the primary hook never sees, and
	// every other operation. `chosen` gets the programs to attach after the primary hook's.
	bool LoadFailures(const ProbeOptions &opts, uint32_t filter_flags, std::vector<Chosen> *chosen, std::string *log,
			  ProbeError *err);
};

} // namespace filewarden
