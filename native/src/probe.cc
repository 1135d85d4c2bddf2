// libbpf lifecycle for every hook family (syscall tracepoints, kprobe/kretprobe, fexit, LSM); plain
// C++. Each family is its own skeleton; the chosen hook's programs are loaded, the rest are not. Next
// to lsm, fexit or kprobe, the syscall programs are loaded too (failures_only): they record the
// failed opens those hooks never see, into the same ring buffer and counters.
#include "probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pins.h"
#include "lsm.skel.h"
#include "syscalls.skel.h"
#include "vfs.skel.h"

namespace filewarden {

namespace {

// libbpf's messages (the verifier log among them) go to the Open() that caused them, so an error
// can quote them; outside Open() only warnings reach stderr.
thread_local std::string *capture = nullptr;

int PrintLibbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (capture) {
		// One message can be the whole verifier log: size it first.
		va_list copy;
		va_copy(copy, args);
		int n = vsnprintf(nullptr, 0, fmt, copy);
		va_end(copy);
		if (n > 0) {
			std::string msg(static_cast<size_t>(n) + 1, '\0');
			vsnprintf(msg.data(), msg.size(), fmt, args);
			msg.resize(static_cast<size_t>(n));
			capture->append(msg);
		}
		return 0;
	}
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

std::once_flag print_once;

// The last `lines` lines of a log, for an error message.
std::string Tail(const std::string &log, int lines)
{
	size_t pos = log.size();
	while (lines-- > 0 && pos > 0) {
		size_t nl = log.rfind('\n', pos - 1);
		if (nl == std::string::npos) {
			pos = 0;
			break;
		}
		pos = nl;
	}
	return log.substr(pos == 0 ? 0 : pos + 1);
}

bool TracepointExists(const std::string &name)
{
	for (const char *base : {"/sys/kernel/tracing/events/syscalls/", "/sys/kernel/debug/tracing/events/syscalls/"}) {
		std::string path = std::string(base) + name + "/id";
		if (access(path.c_str(), R_OK) == 0)
			return true;
	}
	return false;
}

std::string WhyFailed(Hook hook, int err, bool attaching)
{
	if (err == EPERM && (hook == Hook::Fexit || hook == Hook::Lsm))
		return "permission denied: kernel lockdown refuses BPF trampoline and LSM programs, or the "
		       "process lacks CAP_BPF+CAP_PERFMON (CAP_MAC_ADMIN for LSM)";
	if (err == EPERM)
		return "permission denied: needs root or CAP_BPF+CAP_PERFMON";
	if (attaching && hook == Hook::Kprobe && (err == ENOENT || err == EOPNOTSUPP || err == EINVAL))
		return "the kernel cannot attach kprobes (CONFIG_KPROBES is not set, or vfs_open is not probeable)";
	if (attaching && hook == Hook::Lsm && (err == ENOENT || err == EINVAL || err == EOPNOTSUPP))
		return "BPF LSM is not active: add bpf to the lsm= boot parameter";
	if (err == ENOENT || err == ESRCH)
		return "a kernel type or function the program needs is missing (BTF mismatch?)";
	if (err == EINVAL)
		return "the kernel rejected the program (verifier or an unsupported feature)";
	return std::strerror(err);
}

// Programs of each hook in attach order: a return probe before its entry, so an entry never stashes
// arguments that no exit will consume.
struct Want {
	std::string prog;
	std::vector<std::string> tracepoints; // all must exist, else the program is not loaded
	std::vector<std::string> attach_to;   // syscall tracepoints to attach to; empty: the program's own section
	std::string kfunc;                    // a kernel function the program needs (CONFIG_SECURITY_PATH, file_truncate 6.2+)
	uint32_t judges = 0;                  // the operations (bits of enum fw_op) this program judges before the kernel acts
};

// The syscalls of each operation other than open, and the families (bits of enum fw_op) each one
// can record: unlinkat is an unlink or an rmdir.
struct OpSyscall {
	const char *name;
	uint32_t families;
};

constexpr uint32_t Op(int op) { return 1u << op; }

const OpSyscall kOpSyscalls[] = {
	{"unlink", Op(FW_OP_UNLINK)},       {"unlinkat", Op(FW_OP_UNLINK) | Op(FW_OP_RMDIR)},
	{"rmdir", Op(FW_OP_RMDIR)},         {"rename", Op(FW_OP_RENAME)},
	{"renameat", Op(FW_OP_RENAME)},     {"renameat2", Op(FW_OP_RENAME)},
	{"chmod", Op(FW_OP_CHMOD)},         {"fchmod", Op(FW_OP_CHMOD)},
	{"fchmodat", Op(FW_OP_CHMOD)},      {"fchmodat2", Op(FW_OP_CHMOD)},
	{"chown", Op(FW_OP_CHOWN)},         {"lchown", Op(FW_OP_CHOWN)},
	{"fchown", Op(FW_OP_CHOWN)},        {"fchownat", Op(FW_OP_CHOWN)},
	{"setxattr", Op(FW_OP_SETXATTR)},   {"lsetxattr", Op(FW_OP_SETXATTR)},
	{"fsetxattr", Op(FW_OP_SETXATTR)},  {"setxattrat", Op(FW_OP_SETXATTR)},
	{"removexattr", Op(FW_OP_REMOVEXATTR)}, {"lremovexattr", Op(FW_OP_REMOVEXATTR)},
	{"fremovexattr", Op(FW_OP_REMOVEXATTR)}, {"removexattrat", Op(FW_OP_REMOVEXATTR)},
	{"link", Op(FW_OP_LINK)},           {"linkat", Op(FW_OP_LINK)},
	{"symlink", Op(FW_OP_SYMLINK)},     {"symlinkat", Op(FW_OP_SYMLINK)},
	{"mkdir", Op(FW_OP_MKDIR)},         {"mkdirat", Op(FW_OP_MKDIR)},
	{"mknod", Op(FW_OP_MKNOD)},         {"mknodat", Op(FW_OP_MKNOD)},
	{"truncate", Op(FW_OP_TRUNCATE)},   {"ftruncate", Op(FW_OP_TRUNCATE)},
};

// The kernel's own path checks, on which each operation other than open is judged before the kernel
// acts: the lsm path hooks (lsm.bpf.c, lsm_<check> on bpf_lsm_<check>), which refuse; under kprobe and
// fexit, a kprobe or an fentry program on security_<check> (vfs.bpf.c, kp_<check> and fe_<check>), which
// kill. `judges`: with this check the operation's every syscall is judged (file_truncate only adds
// ftruncate and the O_TRUNC open from 6.2 on, where they no longer pass path_truncate).
struct OpCheck {
	const char *name;
	int op;
	bool judges;
};

const OpCheck kOpChecks[] = {
	{"path_unlink", FW_OP_UNLINK, true},   {"path_rmdir", FW_OP_RMDIR, true},     {"path_rename", FW_OP_RENAME, true},
	{"path_link", FW_OP_LINK, true},       {"path_symlink", FW_OP_SYMLINK, true}, {"path_mkdir", FW_OP_MKDIR, true},
	{"path_mknod", FW_OP_MKNOD, true},     {"path_chmod", FW_OP_CHMOD, true},     {"path_chown", FW_OP_CHOWN, true},
	{"path_truncate", FW_OP_TRUNCATE, true}, {"file_truncate", FW_OP_TRUNCATE, false},
};

// The kernel function a hook's program on a check attaches to, and the program's name prefix.
std::string CheckFunction(Hook hook, const char *check)
{
	return std::string(hook == Hook::Lsm ? "bpf_lsm_" : "security_") + check;
}

const char *CheckPrefix(Hook hook)
{
	return hook == Hook::Lsm ? "lsm_" : hook == Hook::Kprobe ? "kp_" : "fe_";
}

// True when the kernel's BTF has the function `name`. The kernel's BTF is parsed once per process.
bool KernelFuncExists(const std::string &name)
{
	static std::once_flag once;
	static struct btf *vmlinux = nullptr;
	std::call_once(once, [] { vmlinux = btf__load_vmlinux_btf(); });
	if (!vmlinux || libbpf_get_error(vmlinux))
		return false;
	return btf__find_by_name_kind(vmlinux, name.c_str(), BTF_KIND_FUNC) > 0;
}

// The programs of `hook` on the checks of the selected operations. file_truncate only next to
// path_truncate: without it, truncate(2) is judged at the exit, and ftruncate must be too (judged
// here and again there otherwise).
std::vector<Want> CheckPrograms(Hook hook, uint32_t ops)
{
	std::vector<Want> w;
	bool path_truncate = KernelFuncExists(CheckFunction(hook, "path_truncate"));
	for (const OpCheck &c : kOpChecks)
		if ((ops & Op(c.op)) && (c.judges || path_truncate))
			w.push_back({CheckPrefix(hook) + std::string(c.name), {}, {}, CheckFunction(hook, c.name), c.judges ? Op(c.op) : 0});
	return w;
}

// The syscalls whose bytes count towards a write session (modify).
const char *const kWriteSyscalls[] = {"write", "pwrite64", "writev", "pwritev", "pwritev2", "sendfile64", "copy_file_range", "splice"};

// The syscall programs: opens (when selected), then the other operations' entries, each of which
// the kernel has, after the one exit program they share (attached to each of their sys_exit).
std::vector<Want> SyscallPrograms(uint32_t ops)
{
	std::vector<Want> w;
	if (ops & Op(FW_OP_MODIFY)) {
		// Before the opens that start sessions: the ends (so no session outlives an end this
		// tracker missed while attaching), then the writes' shared exit before their entries.
		w.push_back({"tp_process_exit", {}, {}});
		for (const char *sc : {"close", "dup2", "dup3", "close_range", "execve", "execveat"})
			w.push_back({std::string("tp_enter_") + sc, {std::string("sys_enter_") + sc}, {}});
		// The writes' shared exit before their two shared entries (the fd in argument 0, or 2).
		Want wexit{"tp_exit_write_op", {}, {}};
		Want fd0{"tp_enter_write_fd0", {}, {}}, fd2{"tp_enter_write_fd2", {}, {}};
		for (const char *sc : kWriteSyscalls) {
			std::string enter = std::string("sys_enter_") + sc, leave = std::string("sys_exit_") + sc;
			if (!TracepointExists(enter) || !TracepointExists(leave))
				continue;
			wexit.attach_to.push_back(leave);
			bool third = !std::strcmp(sc, "copy_file_range") || !std::strcmp(sc, "splice");
			(third ? fd2 : fd0).attach_to.push_back(enter);
		}
		if (!wexit.attach_to.empty()) {
			w.push_back(wexit);
			for (Want *e : {&fd0, &fd2})
				if (!e->attach_to.empty())
					w.push_back(*e);
		}
	}
	// Always: the policy judges opens whatever --ops records, and write sessions start at an open.
	// Opens left out of --ops are dropped in the kernel unless the policy acted on them.
	{
		// open(2) and creat(2) exist only on some architectures (not arm64): load what the kernel has.
		for (const char *sc : {"openat", "openat2", "open", "creat"}) {
			std::vector<std::string> tps = {std::string("sys_enter_") + sc, std::string("sys_exit_") + sc};
			w.push_back({std::string("tp_exit_") + sc, tps, {}});
			w.push_back({std::string("tp_enter_") + sc, tps, {}});
		}
	}
	Want exit{"tp_exit_op", {}, {}};
	std::vector<Want> entries;
	for (const OpSyscall &sc : kOpSyscalls) {
		std::string enter = std::string("sys_enter_") + sc.name, leave = std::string("sys_exit_") + sc.name;
		if (!(ops & sc.families) || !TracepointExists(enter) || !TracepointExists(leave))
			continue;
		exit.attach_to.push_back(leave);
		entries.push_back({std::string("tp_enter_") + sc.name, {enter, leave}, {}});
	}
	if (!entries.empty()) {
		w.push_back(exit);
		w.insert(w.end(), entries.begin(), entries.end());
	}
	return w;
}

std::vector<Want> ProgramsOf(Hook hook, uint32_t ops)
{
	switch (hook) {
	case Hook::Tracepoint:
		return SyscallPrograms(ops);
	case Hook::Kprobe:
	case Hook::Fexit:
	case Hook::Lsm: {
		// The open program(s), then the checks of the selected operations: each judges what the
		// policy acts on before the kernel acts (the syscall programs next to it record them).
		std::vector<Want> w;
		if (hook == Hook::Kprobe)
			w = {{"krp_vfs_open", {}}, {"kp_vfs_open", {}}};
		else
			w = {{hook == Hook::Fexit ? "fx_vfs_open" : "lsm_file_open", {}}};
		std::vector<Want> checks = CheckPrograms(hook, ops);
		w.insert(w.end(), checks.begin(), checks.end());
		return w;
	}
	}
	return {};
}

// Turns autoload off for every program of `obj`, then on for the hook's programs whose tracepoints
// (if any) all exist here; returns those.
std::vector<Chosen> ChoosePrograms(bpf_object *obj, Hook hook, uint32_t ops)
{
	std::vector<Chosen> chosen;
	bpf_program *prog;
	bpf_object__for_each_program(prog, obj) bpf_program__set_autoload(prog, false);
	for (const auto &w : ProgramsOf(hook, ops)) {
		bool present = w.kfunc.empty() || KernelFuncExists(w.kfunc);
		for (const auto &tp : w.tracepoints)
			present = present && TracepointExists(tp);
		prog = bpf_object__find_program_by_name(obj, w.prog.c_str());
		if (!present || !prog)
			continue;
		bpf_program__set_autoload(prog, true);
		chosen.push_back({prog, w.attach_to, w.judges});
	}
	return chosen;
}

// Attaches one chosen program (to each of its tracepoints, when it has a list); names what it
// attached in `attached`. Returns 0, or the errno of the attach that failed (`what` names it).
int AttachChosen(const Chosen &c, std::vector<bpf_link *> *links, std::vector<std::string> *attached, const std::string &note,
		 std::string *what)
{
	auto one = [&](bpf_link *link, const std::string &name) {
		if (!link) {
			*what = name;
			return errno ? errno : EINVAL;
		}
		links->push_back(link);
		attached->push_back(name + note);
		return 0;
	};
	if (c.attach_to.empty())
		return one(bpf_program__attach(c.prog), bpf_program__section_name(c.prog));
	for (const auto &tp : c.attach_to)
		if (int e = one(bpf_program__attach_tracepoint(c.prog, "syscalls", tp.c_str()), "tracepoint/syscalls/" + tp))
			return e;
	return 0;
}

HostTree ReadHostTree()
{
	HostTree t;
	struct stat ns, root;
	if (stat("/proc/self/ns/mnt", &ns) != 0 || stat("/", &root) != 0)
		return t;
	t.mntns = static_cast<uint32_t>(ns.st_ino);
	t.root_dev = (major(root.st_dev) << 20) | minor(root.st_dev);
	t.root_ino = root.st_ino;
	struct statx sx;
	if (statx(AT_FDCWD, "/", 0, STATX_MNT_ID, &sx) == 0 && (sx.stx_mask & STATX_MNT_ID))
		t.root_mnt_id = static_cast<uint32_t>(sx.stx_mnt_id);
	return t;
}

uint32_t FilterFlags(const FilterSpec &f)
{
	uint32_t flags = 0;
	auto mark = [&flags](bool any, bool include, uint32_t any_bit, uint32_t include_bit) {
		if (any)
			flags |= any_bit;
		if (include)
			flags |= include_bit;
	};
	auto has_include = [](const auto &v) {
		for (const auto &e : v)
			if (e.second == FW_FILTER_INCLUDE)
				return true;
		return false;
	};
	mark(!f.paths.empty(), has_include(f.paths), FW_FILTERS_PATH, FW_FILTERS_PATH_INCLUDE);
	mark(!f.comms.empty(), has_include(f.comms), FW_FILTERS_COMM, FW_FILTERS_COMM_INCLUDE);
	mark(!f.uids.empty(), has_include(f.uids), FW_FILTERS_UID, FW_FILTERS_UID_INCLUDE);
	mark(!f.cgroups.empty(), has_include(f.cgroups), FW_FILTERS_CGROUP, FW_FILTERS_CGROUP_INCLUDE);
	return flags;
}

int FillFilters(bpf_object *obj, const FilterSpec &f, std::string *what)
{
	auto put = [&](const char *map_name, const void *key, size_t key_size, uint8_t mode) {
		bpf_map *m = bpf_object__find_map_by_name(obj, map_name);
		if (!m)
			return -ENOENT;
		return bpf_map__update_elem(m, key, key_size, &mode, sizeof(mode), BPF_ANY);
	};
	for (const auto &[prefix, mode] : f.paths) {
		fw_prefix_key key{};
		key.prefixlen = static_cast<uint32_t>(prefix.size() * 8);
		std::memcpy(key.data, prefix.data(), prefix.size());
		if (int e = put("filter_path", &key, sizeof(key), mode))
			return *what = "path prefix " + prefix, e;
	}
	for (const auto &[comm, mode] : f.comms) {
		char key[FW_COMM_LEN] = {};
		std::memcpy(key, comm.data(), comm.size());
		if (int e = put("filter_comm", key, sizeof(key), mode))
			return *what = "comm " + comm, e;
	}
	for (const auto &[uid, mode] : f.uids)
		if (int e = put("filter_uid", &uid, sizeof(uid), mode))
			return *what = "uid " + std::to_string(uid), e;
	for (const auto &[cg, mode] : f.cgroups)
		if (int e = put("filter_cgroup", &cg, sizeof(cg), mode))
			return *what = "cgroup " + std::to_string(cg), e;
	return 0;
}

// The LPM key of one policy entry: the path alone, or the scope's qualifier then the path.
std::vector<uint8_t> PolicyKey(const PolicyEntry &e)
{
	fw_prefix_key key{};
	size_t at = 0;
	if (e.scope == FW_SCOPE_COMM) {
		key.data[0] = FW_SCOPE_COMM;
		std::memcpy(key.data + 1, e.comm.data(), std::min<size_t>(e.comm.size(), FW_SCOPE_LEN - 1));
		at = FW_SCOPE_LEN;
	} else if (e.scope == FW_SCOPE_EXE) {
		key.data[0] = FW_SCOPE_EXE;
		std::memcpy(key.data + 4, &e.exe_dev, sizeof(e.exe_dev));
		std::memcpy(key.data + 8, &e.exe_ino, sizeof(e.exe_ino));
		at = FW_SCOPE_LEN;
	} else if (e.scope == FW_SCOPE_FS) {
		std::memcpy(key.data, &e.fs_dev, FW_FS_KEY_DEV_LEN);
		at = FW_FS_KEY_DEV_LEN;
	}
	size_t n = std::min(e.path.size(), sizeof(key.data) - at);
	std::memcpy(key.data + at, e.path.data(), n);
	key.prefixlen = static_cast<uint32_t>((at + n) * 8);
	const uint8_t *b = reinterpret_cast<const uint8_t *>(&key);
	return std::vector<uint8_t>(b, b + sizeof(key));
}

// The load-time settings every object shares: the filters in force.
template <typename Skel> void SetShared(Skel *skel, uint32_t filter_flags)
{
	skel->rodata->filter_flags = filter_flags;
}

// Who reads the capture, written into an object's .bss after load or at a takeover: its pid and
// start time (never traced) and its tree (paths of tasks elsewhere). The tree's namespace goes last:
// while it is 0 no task gets a host walk, so none gets one judged against half of a tree.
template <typename Skel> std::function<void(uint32_t, uint64_t, const HostTree &)> SetReader(Skel *skel)
{
	return [skel](uint32_t tgid, uint64_t start, const HostTree &host) {
		auto *b = skel->bss;
		__atomic_store_n(&b->host_mntns, 0u, __ATOMIC_RELEASE);
		b->host_root_dev = host.root_dev;
		b->host_root_ino = host.root_ino;
		b->host_root_mnt_id = host.root_mnt_id;
		__atomic_store_n(&b->host_mntns, host.mntns, __ATOMIC_RELEASE);
		b->self_start = start;
		__atomic_store_n(&b->self_tgid, tgid, __ATOMIC_RELEASE);
	};
}

// Only the syscall programs record operations other than open.
template <typename Skel> void SetOpMask(Skel *, uint32_t) {}
template <> void SetOpMask(syscalls_bpf *skel, uint32_t ops) { skel->rodata->op_mask = ops; }

} // namespace

std::vector<std::pair<std::string, std::vector<std::string>>> OperationSyscalls()
{
	std::vector<std::pair<std::string, std::vector<std::string>>> out;
	const char *names[FW_OP__COUNT] = {};
	names[FW_OP_OPEN] = "open";
	names[FW_OP_UNLINK] = "unlink";
	names[FW_OP_RMDIR] = "rmdir";
	names[FW_OP_RENAME] = "rename";
	names[FW_OP_CHMOD] = "chmod";
	names[FW_OP_CHOWN] = "chown";
	names[FW_OP_SETXATTR] = "setxattr";
	names[FW_OP_REMOVEXATTR] = "removexattr";
	names[FW_OP_LINK] = "link";
	names[FW_OP_SYMLINK] = "symlink";
	names[FW_OP_MKDIR] = "mkdir";
	names[FW_OP_MKNOD] = "mknod";
	names[FW_OP_TRUNCATE] = "truncate";
	names[FW_OP_MODIFY] = "modify";
	for (int op = 0; op < FW_OP__COUNT; op++) {
		std::vector<std::string> scs;
		if (op == FW_OP_OPEN)
			scs = {"openat", "openat2", "open", "creat"};
		else if (op == FW_OP_MODIFY)
			scs.assign(std::begin(kWriteSyscalls), std::end(kWriteSyscalls));
		for (const OpSyscall &sc : kOpSyscalls)
			if (sc.families & Op(op))
				scs.push_back(sc.name);
		out.emplace_back(names[op], scs);
	}
	return out;
}

std::vector<OperationCheck> OperationChecks(int op)
{
	std::vector<OperationCheck> out;
	for (const OpCheck &c : kOpChecks)
		if (c.op == op)
			out.push_back({c.name, KernelFuncExists(CheckFunction(Hook::Lsm, c.name)),
				       KernelFuncExists(CheckFunction(Hook::Kprobe, c.name))});
	return out;
}

void Probe::SetArmed(uint32_t bit, bool on)
{
	for (uint32_t *armed : {armed_, failures_armed_}) {
		if (!armed)
			continue;
		uint32_t v = __atomic_load_n(armed, __ATOMIC_RELAXED);
		__atomic_store_n(armed, on ? (v | bit) : (v & ~bit), __ATOMIC_RELEASE);
	}
}

int Probe::SetPolicy(const PolicySpec &policy, std::string *what)
{
	const char *names[3] = {"policy_path", "policy_scoped", "policy_fs"};
	const uint32_t bits[3] = {FW_ARMED_PATH, FW_ARMED_SCOPED, FW_ARMED_FS};
	// Per trie: each key, and per operation the action of its entries (-1: none names it).
	struct Folded {
		std::vector<uint8_t> key;
		int act[FW_POLICY_OPS];
		bool whole_name; // generated for a directory above a protected prefix (never a user's key)
	};
	std::vector<Folded> next[3];
	auto add = [&](const PolicyEntry &e, bool whole_name) {
		int i = e.scope == 0 ? 0 : e.scope == FW_SCOPE_FS ? 2 : 1;
		std::vector<uint8_t> key = PolicyKey(e);
		auto same = std::find_if(next[i].begin(), next[i].end(), [&](const Folded &f) { return f.key == key; });
		if (same == next[i].end()) {
			Folded f{std::move(key), {}, whole_name};
			std::fill(std::begin(f.act), std::end(f.act), -1);
			next[i].push_back(std::move(f));
			same = next[i].end() - 1;
		}
		// Two entries with one key (two host names of one place, a directory above two protected
		// prefixes, a rule and its operations): per operation the stronger action holds.
		for (int op = 0; op < FW_OP__COUNT; op++)
			if (e.ops & (1u << op))
				same->act[op] = std::max(same->act[op], static_cast<int>(e.action));
	};
	// An entry on anything but creating names (mkdir, mknod, symlink) protects files that exist: it
	// also acts on renaming them (away, or another file over them) and on hard-linking them, else a
	// link or a move to an unprotected name would carry them out of its reach.
	const uint32_t creations = (1u << FW_OP_MKDIR) | (1u << FW_OP_MKNOD) | (1u << FW_OP_SYMLINK);
	const uint32_t carry = (1u << FW_OP_RENAME) | (1u << FW_OP_LINK);
	for (const auto &given : policy.entries) {
		PolicyEntry e = given;
		bool existing = e.action != FW_ACTION_ALLOW && (e.ops & ~creations) != 0;
		if (existing)
			e.ops |= carry;
		add(e, false);
		// A rename of any directory above such a prefix moves the protected files with it: each such
		// directory gets a whole-name key, its name and a NUL, which only a rename's lookup matches
		// (policy.bpf.h, fw_policy_action and fw_policy_fs_lookup). "/var/log/audit/" gives
		// "/var\0", "/var/log\0" and "/var/log/audit\0". For a filesystem entry too (its path
		// within the filesystem), so a rename in another mount namespace or through a bind mount is
		// judged alike; not for a file's inode entry (a NUL and the inode: no path).
		if (!existing || e.path.empty() || e.path[0] != '/')
			continue;
		for (size_t at = 1; at < e.path.size(); at++) {
			if (e.path[at] != '/')
				continue;
			PolicyEntry up = e;
			up.path = e.path.substr(0, at) + std::string(1, '\0');
			up.ops = 1u << FW_OP_RENAME;
			add(up, true);
		}
	}
	// The trie returns the longest matching key alone: each key takes, for the operations none of its
	// own entries names, the action of the longest shorter key (a prefix of it) that names them.
	// Whatever no key names is allow.
	std::vector<std::vector<uint8_t>> keys[3];
	std::vector<fw_policy_value> values[3];
	for (int i = 0; i < 3; i++) {
		for (const Folded &f : next[i]) {
			const auto *k = reinterpret_cast<const fw_prefix_key *>(f.key.data());
			fw_policy_value v{};
			for (int op = 0; op < FW_OP__COUNT; op++) {
				// A user key's own action stands over any shorter key's; a whole-name key's adds to
				// it (the stronger holds: "kill /var/" stays a kill for renaming /var/log).
				int act = f.act[op];
				bool found = false;
				uint32_t best = 0;
				for (const Folded &g : next[i]) {
					if (f.act[op] >= 0 && !f.whole_name)
						break;
					const auto *gk = reinterpret_cast<const fw_prefix_key *>(g.key.data());
					if (g.act[op] < 0 || gk->prefixlen >= k->prefixlen || (found && gk->prefixlen <= best) ||
					    std::memcmp(gk->data, k->data, gk->prefixlen / 8) != 0)
						continue;
					found = true;
					best = gk->prefixlen;
					act = f.whole_name ? std::max(f.act[op], g.act[op]) : g.act[op];
				}
				v.act[op] = static_cast<uint8_t>(std::max(act, 0));
			}
			keys[i].push_back(f.key);
			values[i].push_back(v);
		}
	}
	// All or nothing: a policy whose keys do not fit is refused before any of it is written.
	for (int i = 0; i < 3; i++)
		if (keys[i].size() > FW_FILTER_ENTRIES)
			return *what = std::to_string(keys[i].size()) + " keys of " + names[i] + " (the entries, and a whole-name key for each " +
				       "directory above a protected prefix: at most " + std::to_string(FW_FILTER_ENTRIES) + ")", -E2BIG;
	for (int i = 0; i < 3; i++) {
		bpf_map *m = bpf_object__find_map_by_name(obj_, names[i]);
		if (!m)
			return *what = std::string("the map ") + names[i], -ENOENT;
		// New entries first, then the armed bit, then the stale entries go: no moment without policy.
		for (size_t k = 0; k < keys[i].size(); k++)
			if (int err = bpf_map__update_elem(m, keys[i][k].data(), keys[i][k].size(), &values[i][k], sizeof(values[i][k]), BPF_ANY))
				return *what = std::string("entry ") + std::to_string(k + 1) + " of " + names[i] +
					       " (at most " + std::to_string(FW_FILTER_ENTRIES) + " entries)", err;
		if (!keys[i].empty())
			SetArmed(bits[i], true);
		std::set<std::vector<uint8_t>> keep(keys[i].begin(), keys[i].end());
		for (const auto &old : policy_keys_[i])
			if (!keep.count(old))
				bpf_map__delete_elem(m, old.data(), old.size(), 0);
		if (keys[i].empty())
			SetArmed(bits[i], false);
		policy_keys_[i] = std::move(keys[i]);
	}
	return 0;
}

int Probe::AddKillTarget(uint32_t tgid, uint64_t start_ticks)
{
	bpf_map *m = bpf_object__find_map_by_name(obj_, "kill_tgid");
	if (!m)
		return -ENOENT;
	if (int err = bpf_map__update_elem(m, &tgid, sizeof(tgid), &start_ticks, sizeof(start_ticks), BPF_ANY))
		return err;
	if (std::find(targets_.begin(), targets_.end(), tgid) == targets_.end())
		targets_.push_back(tgid);
	SetArmed(FW_ARMED_TARGETS, true);
	return 0;
}

int Probe::RemoveKillTarget(uint32_t tgid)
{
	auto it = std::find(targets_.begin(), targets_.end(), tgid);
	if (it == targets_.end())
		return -ENOENT;
	targets_.erase(it);
	if (targets_.empty())
		SetArmed(FW_ARMED_TARGETS, false);
	bpf_map *m = bpf_object__find_map_by_name(obj_, "kill_tgid");
	return m ? bpf_map__delete_elem(m, &tgid, sizeof(tgid), 0) : -ENOENT;
}


const char *HookName(Hook h)
{
	switch (h) {
	case Hook::Tracepoint: return "tracepoint";
	case Hook::Kprobe: return "kprobe";
	case Hook::Fexit: return "fexit";
	case Hook::Lsm: return "lsm";
	}
	return "?";
}

bool ParseHook(const std::string &name, Hook *out)
{
	for (Hook h : {Hook::Tracepoint, Hook::Kprobe, Hook::Fexit, Hook::Lsm}) {
		if (name == HookName(h)) {
			*out = h;
			return true;
		}
	}
	return false;
}

std::unique_ptr<Probe> Probe::Open(const ProbeOptions &opts, RecordSink sink, ProbeError *err)
{
	std::call_once(print_once, [] { libbpf_set_print(PrintLibbpf); });
	const std::string hook = HookName(opts.hook);
	std::unique_ptr<Probe> p(new Probe());
	p->hook_ = opts.hook;
	p->sink_ = std::move(sink);
	p->ncpus_ = libbpf_num_possible_cpus();
	if (p->ncpus_ <= 0) {
		*err = {"FW_ERR_BPF_OPEN", -p->ncpus_, hook, "cannot count possible CPUs"};
		return nullptr;
	}
	long page = sysconf(_SC_PAGESIZE);
	if (opts.ringbuf_bytes < page || (opts.ringbuf_bytes & (opts.ringbuf_bytes - 1)) != 0) {
		*err = {"FW_ERR_BPF_OPEN", EINVAL, hook, "ring buffer size " + std::to_string(opts.ringbuf_bytes) +
			" must be a power of two of at least the page size (" + std::to_string(page) + ")"};
		return nullptr;
	}

	std::string log;
	capture = &log;
	struct Uncapture {
		~Uncapture() { capture = nullptr; }
	} uncapture;

	// Each skeleton type has its own rodata struct; the generic lambda sets the shared settings.
	uint32_t filter_flags = FilterFlags(opts.filters);
	const HostTree host = ReadHostTree();
	auto adopt = [&](auto *skel, auto destroy) {
		if (!skel)
			return false;
		SetShared(skel, filter_flags);
		skel->rodata->mark_opens = opts.hook != Hook::Tracepoint;
		SetOpMask(skel, opts.ops);
		p->obj_ = skel->obj;
		p->set_reader_.push_back(SetReader(skel));
		p->bss_at_ = skel->bss;
		// The skeleton's load maps .bss onto the kernel's map (libbpf 1.1 does that in the skeleton
		// load, not in bpf_object__load), so the policy switch is written straight into the kernel.
		p->load_ = [skel] { return bpf_object__load_skeleton(skel->skeleton); };
		p->armed_of_ = [skel] { return &skel->bss->policy_armed; };
		p->destroy_ = [skel, destroy] { destroy(skel); };
		return true;
	};
	bool opened = false;
	switch (opts.hook) {
	case Hook::Tracepoint: opened = adopt(syscalls_bpf::open(), syscalls_bpf::destroy); break;
	case Hook::Kprobe:
	case Hook::Fexit: opened = adopt(vfs_bpf::open(), vfs_bpf::destroy); break;
	case Hook::Lsm: opened = adopt(lsm_bpf::open(), lsm_bpf::destroy); break;
	}
	if (!opened) {
		*err = {"FW_ERR_BPF_OPEN", errno, hook, std::string("cannot open the BPF object: ") + std::strerror(errno)};
		return nullptr;
	}
	if (int e = bpf_map__set_max_entries(bpf_object__find_map_by_name(p->obj_, "events"), opts.ringbuf_bytes)) {
		*err = {"FW_ERR_BPF_OPEN", -e, hook, "invalid ring buffer size"};
		return nullptr;
	}

	// Chosen for an adopted capture too: the same options on the same kernel chose its programs, and
	// what they judge is said (JudgedOps) whoever loaded them.
	std::vector<Chosen> chosen = ChoosePrograms(p->obj_, opts.hook, opts.ops), failures;
	if (chosen.empty()) {
		*err = {"FW_ERR_BPF_LOAD", ENOENT, hook, "none of the " + hook + " hook's attach points exist on this kernel"};
		return nullptr;
	}
	for (const Chosen &c : chosen)
		p->judged_ops_ |= c.judges;
	if (opts.adopt) {
		if (!p->Adopt(opts, err))
			return nullptr;
	} else {
		if (int e = p->load_()) {
			*err = {"FW_ERR_BPF_LOAD", -e, hook, "loading the " + hook + " programs failed: " + WhyFailed(opts.hook, -e, false),
				Tail(log, 12)};
			return nullptr;
		}
		for (const Chosen &c : chosen)
			p->loaded_.push_back(bpf_program__name(c.prog));
		if (opts.hook != Hook::Tracepoint && !p->LoadFailures(opts, filter_flags, &failures, &log, err))
			return nullptr;
		if (int e = FillFilters(p->obj_, opts.filters, &log)) {
			*err = {"FW_ERR_FILTER", -e, hook, "cannot set the filter for " + log};
			return nullptr;
		}
	}
	p->armed_ = p->armed_of_();
	if (opts.adopt)
		p->SetArmed(FW_ARMED_TARGETS, false);
	const uint64_t self_start = StartTicks(opts.self_tgid);
	for (const auto &set : p->set_reader_)
		set(opts.self_tgid, self_start, host);

	if (int e = p->SetPolicy(opts.policy, &log)) {
		*err = {"FW_ERR_POLICY", -e, hook, "cannot set " + log};
		return nullptr;
	}
	p->counters_fd_ = bpf_map__fd(bpf_object__find_map_by_name(p->obj_, "counters"));
	bpf_map *events = bpf_object__find_map_by_name(p->obj_, "events");
	if (int e = p->ring_.Map(bpf_map__fd(events), bpf_map__max_entries(events))) {
		*err = {"FW_ERR_RINGBUF", -e, hook, std::string("cannot map the ring buffer: ") + std::strerror(-e)};
		return nullptr;
	}
	if (opts.adopt) {
		// Its programs run on from their pinned links; Detach removes those pins.
		p->attached_ = opts.attached;
		p->link_pins_ = LinkPins(opts.pin_dir);
		p->pin_dir_ = opts.pin_dir;
		return p;
	}
	if (!opts.attach)
		return p;
	std::string what;
	for (const Chosen &c : chosen) {
		if (int e = AttachChosen(c, &p->links_, &p->attached_, "", &what)) {
			*err = {"FW_ERR_ATTACH", e, hook, "attaching " + what + " failed: " + WhyFailed(opts.hook, e, true), Tail(log, 4)};
			return nullptr;
		}
	}
	// After the primary hook: until it is attached nobody marks, and the exit would record its failures.
	for (const Chosen &c : failures) {
		if (int e = AttachChosen(c, &p->links_, &p->attached_, " (next to the " + hook + " hook)", &what)) {
			*err = {"FW_ERR_ATTACH", e, hook, "attaching " + what + " (failed opens and other operations, next to the " +
				hook + " hook) failed: " + WhyFailed(Hook::Tracepoint, e, true), Tail(log, 4)};
			return nullptr;
		}
	}
	if (!opts.pin_dir.empty() && !p->Pin(opts.pin_dir, err))
		return nullptr;
	return p;
}

bool Probe::Pin(const std::string &dir, ProbeError *err)
{
	std::string what;
	int e = PinMaps(obj_, dir + "/main", &what);
	if (!e && failures_obj_)
		e = PinMaps(failures_obj_, dir + "/aux", &what);
	if (!e)
		e = PinLinks(links_, dir, &what);
	if (e) {
		RemovePins(dir);
		*err = {"FW_ERR_PIN", -e, HookName(hook_), "cannot pin the capture at " + what + ": " + std::strerror(-e)};
		return false;
	}
	pin_dir_ = dir;
	return true;
}

bool Probe::Adopt(const ProbeOptions &opts, ProbeError *err)
{
	const std::string hook = HookName(hook_);
	std::string what;
	auto fail = [&](int e, const std::string &doing) {
		*err = {"FW_ERR_PIN", -e, hook, "cannot take over the pinned capture: " + doing + " " + what + ": " + std::strerror(-e)};
		return false;
	};
	if (int e = ReuseMaps(obj_, opts.pin_dir + "/main", &what))
		return fail(e, "reusing");
	if (int e = MapBss(obj_, bss_at_))
		return fail(e, "mapping the .bss of");
	if (hook_ != Hook::Tracepoint) {
		syscalls_bpf *skel = syscalls_bpf::open();
		if (!skel)
			return fail(-errno, "opening the syscall programs for");
		destroy_failures_ = [skel] { syscalls_bpf::destroy(skel); };
		failures_obj_ = skel->obj;
		if (int e = ReuseMaps(skel->obj, opts.pin_dir + "/aux", &what))
			return fail(e, "reusing");
		if (int e = MapBss(skel->obj, skel->bss))
			return fail(e, "mapping the .bss of");
		failures_armed_ = &skel->bss->policy_armed;
		set_reader_.push_back(SetReader(skel));
	}
	// What is installed, so SetPolicy and RemoveKillTarget remove what they replace.
	const char *names[3] = {"policy_path", "policy_scoped", "policy_fs"};
	for (int i = 0; i < 3; i++) {
		bpf_map *m = bpf_object__find_map_by_name(obj_, names[i]);
		std::vector<uint8_t> key(bpf_map__key_size(m)), next(key.size());
		for (const void *prev = nullptr; bpf_map__get_next_key(m, prev, next.data(), next.size()) == 0; prev = key.data()) {
			key = next;
			policy_keys_[i].push_back(key);
		}
	}
	// Kill targets are the last collector's commands in flight, which its enforcer timed: a takeover
	// starts without them, as any start does (policy_armed drops the bit once .bss is mapped).
	bpf_map *kills = bpf_object__find_map_by_name(obj_, "kill_tgid");
	uint32_t tgid = 0;
	while (bpf_map__get_next_key(kills, nullptr, &tgid, sizeof(tgid)) == 0)
		if (bpf_map__delete_elem(kills, &tgid, sizeof(tgid), 0) != 0)
			break;
	return true;
}

bool Probe::LoadFailures(const ProbeOptions &opts, uint32_t filter_flags, std::vector<Chosen> *chosen, std::string *log,
			 ProbeError *err)
{
	const std::string hook = HookName(hook_);
	syscalls_bpf *skel = syscalls_bpf::open();
	if (!skel) {
		*err = {"FW_ERR_BPF_OPEN", errno, hook, std::string("cannot open the syscall programs for failed opens: ") +
			std::strerror(errno)};
		return false;
	}
	destroy_failures_ = [skel] { syscalls_bpf::destroy(skel); };
	// The same filters as the primary hook's; its reader (and tree) is written with the primary's (SetReader).
	SetShared(skel, filter_flags);
	skel->rodata->failures_only = 1;
	skel->rodata->op_mask = opts.ops;
	// One ring buffer, one set of counters, filters and policy, and the marks the primary hook sets.
	// The other operations are recorded here whole, and judged by the same policy.
	skel->rodata->judged_ops = judged_ops_;
	for (const char *name : {"events", "counters", "open_marks", "op_verdicts", "op_resolved", "filter_path", "filter_comm", "filter_uid", "filter_cgroup",
				 "policy_path", "policy_scoped", "policy_fs", "kill_tgid"}) {
		bpf_map *mine = bpf_object__find_map_by_name(skel->obj, name);
		bpf_map *theirs = bpf_object__find_map_by_name(obj_, name);
		int e = mine && theirs ? bpf_map__reuse_fd(mine, bpf_map__fd(theirs)) : -ENOENT;
		if (e) {
			*err = {"FW_ERR_BPF_OPEN", -e, hook, std::string("cannot share the map ") + name + " with the syscall programs"};
			return false;
		}
	}
	*chosen = ChoosePrograms(skel->obj, Hook::Tracepoint, opts.ops | Op(FW_OP_OPEN));
	if (chosen->empty()) {
		*err = {"FW_ERR_BPF_LOAD", ENOENT, hook, "failed opens cannot be recorded next to the " + hook +
			" hook: none of the syscall tracepoints exist (is tracefs mounted?)"};
		return false;
	}
	if (int e = bpf_object__load_skeleton(skel->skeleton)) {
		*err = {"FW_ERR_BPF_LOAD", -e, hook, "loading the syscall programs for failed opens failed: " +
			WhyFailed(Hook::Tracepoint, -e, false), Tail(*log, 12)};
		return false;
	}
	failures_armed_ = &skel->bss->policy_armed;
	failures_obj_ = skel->obj;
	set_reader_.push_back(SetReader(skel));
	for (const Chosen &c : *chosen)
		loaded_.push_back(bpf_program__name(c.prog));
	return true;
}

// Closing the fds of pinned links and maps leaves them to their pins: the capture goes on.
Probe::~Probe()
{
	for (auto it = links_.rbegin(); it != links_.rend(); ++it)
		bpf_link__destroy(*it);
	links_.clear();
	if (destroy_failures_)
		destroy_failures_();
	if (destroy_)
		destroy_();
}

void Probe::Poll(int timeout_ms)
{
	// The kernel's poll says "readable" while any record is unreleased, and records wait for JS to
	// take them: polling would spin. The programs never wake the reader anyway (BPF_RB_NO_WAKEUP).
	if (!ring_.Pending())
		::poll(nullptr, 0, timeout_ms);
}

int Probe::Drain()
{
	return ring_.Read(sink_);
}

void Probe::Detach()
{
	// Reverse attach order: entries go first, so a call already past its entry still gets its exit.
	for (auto it = links_.rbegin(); it != links_.rend(); ++it) {
		if (!pin_dir_.empty())
			bpf_link__unpin(*it);
		bpf_link__destroy(*it);
	}
	links_.clear();
	for (auto it = link_pins_.rbegin(); it != link_pins_.rend(); ++it)
		unlink(it->c_str());
	link_pins_.clear();
}

void Probe::Unpin()
{
	if (pin_dir_.empty())
		return;
	RemovePins(pin_dir_);
	pin_dir_.clear();
}

std::array<uint64_t, FW_CNT__MAX> Probe::Counters() const
{
	std::array<uint64_t, FW_CNT__MAX> out{};
	std::vector<uint64_t> percpu(ncpus_);
	for (uint32_t k = 0; k < FW_CNT__MAX; k++) {
		if (bpf_map_lookup_elem(counters_fd_, &k, percpu.data()) != 0)
			continue;
		for (uint64_t v : percpu)
			out[k] += v;
	}
	return out;
}

} // namespace filewarden
