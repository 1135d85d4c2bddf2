// Registration only: the RingReader class, checkHook, killProcess, statMount, and the record layout the TypeScript decoder checks.
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <ctime>

#include "event.h"
#include "hook_check.h"
#include "process_kill.h"
#include "ring_reader.h"
#include "stat_mount.h"

namespace {

static_assert(sizeof(struct fw_file_event) % FW_RECORD_ALIGN == 0, "the fixed part keeps records 8-aligned");
#define FW_FIELD(obj, name) obj.Set(#name, Napi::Number::New(env, offsetof(struct fw_file_event, name)))

Napi::Value Layout(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Object o = Napi::Object::New(env);
	o.Set("headerSize", Napi::Number::New(env, sizeof(struct fw_event_header)));
	o.Set("recordFixedSize", Napi::Number::New(env, sizeof(struct fw_file_event)));
	o.Set("recordAlign", Napi::Number::New(env, FW_RECORD_ALIGN));
	o.Set("pathMax", Napi::Number::New(env, FW_PATH_MAX));
	o.Set("commLen", Napi::Number::New(env, FW_COMM_LEN));
	o.Set("prefixMax", Napi::Number::New(env, FW_PREFIX_MAX));
	o.Set("fsKeyDevLen", Napi::Number::New(env, FW_FS_KEY_DEV_LEN));
	o.Set("filterEntries", Napi::Number::New(env, FW_FILTER_ENTRIES));

	Napi::Object h = Napi::Object::New(env);
	h.Set("type", Napi::Number::New(env, offsetof(struct fw_event_header, type)));
	h.Set("size", Napi::Number::New(env, offsetof(struct fw_event_header, size)));
	h.Set("cpu", Napi::Number::New(env, offsetof(struct fw_event_header, cpu)));
	h.Set("ts_ns", Napi::Number::New(env, offsetof(struct fw_event_header, ts_ns)));
	o.Set("header", h);

	Napi::Object f = Napi::Object::New(env);
	FW_FIELD(f, pid);
	FW_FIELD(f, tid);
	FW_FIELD(f, ppid);
	FW_FIELD(f, uid);
	FW_FIELD(f, gid);
	FW_FIELD(f, euid);
	FW_FIELD(f, cgroup_id);
	FW_FIELD(f, mntns_id);
	FW_FIELD(f, dirfd);
	FW_FIELD(f, ret);
	FW_FIELD(f, ino);
	FW_FIELD(f, dev);
	FW_FIELD(f, open_flags);
	FW_FIELD(f, mode);
	FW_FIELD(f, f_mode);
	FW_FIELD(f, hook);
	FW_FIELD(f, action);
	FW_FIELD(f, syscall);
	FW_FIELD(f, path_kind);
	FW_FIELD(f, flags);
	FW_FIELD(f, name_len);
	FW_FIELD(f, path_len);
	FW_FIELD(f, path_orig_len);
	FW_FIELD(f, host_len);
	FW_FIELD(f, op);
	FW_FIELD(f, aux_kind);
	FW_FIELD(f, aux_len);
	FW_FIELD(f, aux_name_len);
	FW_FIELD(f, dirfd2);
	FW_FIELD(f, op_flags);
	FW_FIELD(f, new_uid);
	FW_FIELD(f, new_gid);
	FW_FIELD(f, old_mode);
	FW_FIELD(f, old_uid);
	FW_FIELD(f, old_gid);
	FW_FIELD(f, count);
	FW_FIELD(f, length);
	FW_FIELD(f, comm);
	FW_FIELD(f, path);
	o.Set("record", f);

	Napi::Object e = Napi::Object::New(env);
	auto set = [&](const char *group, std::initializer_list<std::pair<const char *, int>> kv) {
		Napi::Object g = Napi::Object::New(env);
		for (auto &[k, v] : kv)
			g.Set(k, Napi::Number::New(env, v));
		e.Set(group, g);
	};
	set("eventType", {{"open", FW_EVENT_OPEN}});
	set("hook", {{"tracepoint", FW_HOOK_TRACEPOINT}, {"kprobe", FW_HOOK_KPROBE}, {"fexit", FW_HOOK_FEXIT}, {"lsm", FW_HOOK_LSM}});
	set("syscall", {{"unknown", FW_SYS_UNKNOWN}, {"openat", FW_SYS_OPENAT}, {"openat2", FW_SYS_OPENAT2}, {"open", FW_SYS_OPEN},
			{"creat", FW_SYS_CREAT}, {"unlink", FW_SYS_UNLINK}, {"unlinkat", FW_SYS_UNLINKAT}, {"rmdir", FW_SYS_RMDIR},
			{"rename", FW_SYS_RENAME}, {"renameat", FW_SYS_RENAMEAT}, {"renameat2", FW_SYS_RENAMEAT2},
			{"chmod", FW_SYS_CHMOD}, {"fchmod", FW_SYS_FCHMOD}, {"fchmodat", FW_SYS_FCHMODAT},
			{"fchmodat2", FW_SYS_FCHMODAT2}, {"chown", FW_SYS_CHOWN}, {"lchown", FW_SYS_LCHOWN},
			{"fchown", FW_SYS_FCHOWN}, {"fchownat", FW_SYS_FCHOWNAT}, {"setxattr", FW_SYS_SETXATTR},
			{"lsetxattr", FW_SYS_LSETXATTR}, {"fsetxattr", FW_SYS_FSETXATTR}, {"setxattrat", FW_SYS_SETXATTRAT},
			{"removexattr", FW_SYS_REMOVEXATTR}, {"lremovexattr", FW_SYS_LREMOVEXATTR},
			{"fremovexattr", FW_SYS_FREMOVEXATTR}, {"removexattrat", FW_SYS_REMOVEXATTRAT}, {"link", FW_SYS_LINK},
			{"linkat", FW_SYS_LINKAT}, {"symlink", FW_SYS_SYMLINK}, {"symlinkat", FW_SYS_SYMLINKAT},
			{"mkdir", FW_SYS_MKDIR}, {"mkdirat", FW_SYS_MKDIRAT}, {"mknod", FW_SYS_MKNOD}, {"mknodat", FW_SYS_MKNODAT},
			{"truncate", FW_SYS_TRUNCATE}, {"ftruncate", FW_SYS_FTRUNCATE}, {"close", FW_SYS_CLOSE}, {"exit", FW_SYS_EXIT}});
	set("op", {{"open", FW_OP_OPEN}, {"unlink", FW_OP_UNLINK}, {"rmdir", FW_OP_RMDIR}, {"rename", FW_OP_RENAME},
		   {"chmod", FW_OP_CHMOD}, {"chown", FW_OP_CHOWN}, {"setxattr", FW_OP_SETXATTR}, {"removexattr", FW_OP_REMOVEXATTR},
		   {"link", FW_OP_LINK}, {"symlink", FW_OP_SYMLINK}, {"mkdir", FW_OP_MKDIR}, {"mknod", FW_OP_MKNOD},
		   {"truncate", FW_OP_TRUNCATE}, {"modify", FW_OP_MODIFY}});
	set("auxKind", {{"none", FW_AUX_NONE}, {"resolved", FW_AUX_RESOLVED}, {"asPassed", FW_AUX_AS_PASSED},
			{"pathAsPassed", FW_AUX_PATH_AS_PASSED}});
	set("action", {{"allow", FW_ACTION_ALLOW}, {"deny", FW_ACTION_DENY}, {"kill", FW_ACTION_KILL}});
	set("pathKind", {{"asPassed", FW_PATH_AS_PASSED}, {"resolved", FW_PATH_RESOLVED}});
	set("flag", {{"pathTruncated", FW_FLAG_PATH_TRUNCATED}, {"pathUnreadable", FW_FLAG_PATH_UNREADABLE}, {"hasFile", FW_FLAG_HAS_FILE},
		     {"pathTail", FW_FLAG_PATH_TAIL}, {"retUnknown", FW_FLAG_RET_UNKNOWN}, {"pathUnjudged", FW_FLAG_PATH_UNJUDGED},
		     {"denyAsKill", FW_FLAG_DENY_AS_KILL}, {"killTarget", FW_FLAG_KILL_TARGET}, {"pathLexical", FW_FLAG_PATH_LEXICAL},
		     {"hostTail", FW_FLAG_HOST_TAIL}, {"otherTree", FW_FLAG_OTHER_TREE}, {"hasOld", FW_FLAG_HAS_OLD},
		     {"auxLexical", FW_FLAG_AUX_LEXICAL}, {"auxTruncated", FW_FLAG_AUX_TRUNCATED}, {"auxUnreadable", FW_FLAG_AUX_UNREADABLE}});
	set("counter", {{"seen", FW_CNT_SEEN}, {"filtered", FW_CNT_FILTERED}, {"emitted", FW_CNT_EMITTED}, {"dropped", FW_CNT_DROPPED},
			{"argsLost", FW_CNT_ARGS_LOST}, {"count", FW_CNT__MAX}});
	o.Set("enums", e);
	Napi::Object ops = Napi::Object::New(env);
	for (const auto &[op, scs] : filewarden::OperationSyscalls()) {
		Napi::Array a = Napi::Array::New(env, scs.size());
		for (size_t i = 0; i < scs.size(); i++)
			a.Set(i, Napi::String::New(env, scs[i]));
		ops.Set(op, a);
	}
	o.Set("operationSyscalls", ops);
	return o;
}

// { op: [{ check, lsm, call }] }: the kernel path checks that judge each operation before the kernel
// acts, and whether this kernel has each as an lsm hook and as a call kprobe and fentry can attach to.
Napi::Value OperationChecks(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Object o = Napi::Object::New(env);
	int op = 0;
	for (const auto &entry : filewarden::OperationSyscalls()) {
		auto checks = filewarden::OperationChecks(op++);
		Napi::Array a = Napi::Array::New(env, checks.size());
		for (size_t i = 0; i < checks.size(); i++) {
			Napi::Object c = Napi::Object::New(env);
			c.Set("check", Napi::String::New(env, checks[i].name));
			c.Set("lsm", Napi::Boolean::New(env, checks[i].lsm));
			c.Set("call", Napi::Boolean::New(env, checks[i].call));
			a.Set(i, c);
		}
		o.Set(entry.first, a);
	}
	return o;
}

// The boot-time clock (the events' timestamps) and the wall clock, read back to back, so user space
// can place events on the wall clock with nanosecond precision.
Napi::Value Clocks(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct timespec boot, real;
	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	auto ns = [](const struct timespec &t) { return static_cast<uint64_t>(static_cast<uint64_t>(t.tv_sec) * 1000000000ull + t.tv_nsec); };
	Napi::Object o = Napi::Object::New(env);
	o.Set("bootNs", Napi::BigInt::New(env, ns(boot)));
	o.Set("realNs", Napi::BigInt::New(env, ns(real)));
	return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("RingReader", filewarden::RingReader::Define(env));
	exports.Set("layout", Napi::Function::New(env, Layout));
	exports.Set("clocks", Napi::Function::New(env, Clocks));
	exports.Set("operationChecks", Napi::Function::New(env, OperationChecks));
	exports.Set("checkHook", Napi::Function::New(env, filewarden::CheckHook));
	exports.Set("killProcess", Napi::Function::New(env, filewarden::KillProcess));
	exports.Set("statMount", Napi::Function::New(env, filewarden::StatMount));
	return exports;
}

} // namespace

NODE_API_MODULE(filewarden_native, Init)
