// Option parsing and coded errors for the binding. Every bad value is refused with a message that
// names the option, before anything is loaded into the kernel.
#include "js_options.h"

#include <algorithm>
#include <string>

namespace filewarden {

namespace {

Napi::TypeError Bad(Napi::Env env, const std::string &what)
{
	Napi::TypeError e = Napi::TypeError::New(env, what);
	e.Set("code", Napi::String::New(env, "FW_ERR_OPTIONS"));
	return e;
}

Napi::Array OptArray(const Napi::Object &o, const char *key)
{
	Napi::Value v = o.Get(key);
	if (v.IsUndefined())
		return Napi::Array::New(o.Env(), 0);
	if (!v.IsArray())
		throw Bad(o.Env(), std::string("filters.") + key + " must be an array");
	return v.As<Napi::Array>();
}

// A string (UTF-8) or a Buffer (raw bytes: names need not be valid UTF-8).
std::string Bytes(Napi::Env env, Napi::Value v, const std::string &what)
{
	if (v.IsBuffer()) {
		auto b = v.As<Napi::Buffer<char>>();
		return std::string(b.Data(), b.Length());
	}
	if (v.IsString())
		return v.As<Napi::String>().Utf8Value();
	throw Bad(env, what + " must be a string or a Buffer");
}

uint64_t Integer(Napi::Env env, Napi::Value v, const std::string &what, uint64_t max)
{
	if (v.IsBigInt()) {
		bool lossless = false;
		uint64_t n = v.As<Napi::BigInt>().Uint64Value(&lossless);
		if (lossless && n <= max)
			return n;
	} else if (v.IsNumber()) {
		double d = v.As<Napi::Number>().DoubleValue();
		if (d >= 0 && d <= static_cast<double>(max) && d == static_cast<double>(static_cast<uint64_t>(d)))
			return static_cast<uint64_t>(d);
	}
	throw Bad(env, what + " must be an integer from 0 to " + std::to_string(max));
}

void ParseFilters(const Napi::Object &f, FilterSpec *out)
{
	Napi::Env env = f.Env();
	for (auto [key, mode] : {std::pair{"includePaths", FW_FILTER_INCLUDE}, std::pair{"excludePaths", FW_FILTER_EXCLUDE}}) {
		Napi::Array a = OptArray(f, key);
		for (uint32_t i = 0; i < a.Length(); i++) {
			std::string p = Bytes(env, a.Get(i), std::string("filters.") + key + "[" + std::to_string(i) + "]");
			if (p.empty() || p.size() > FW_PREFIX_MAX)
				throw Bad(env, std::string("filters.") + key + "[" + std::to_string(i) + "] must be 1 to " +
					       std::to_string(FW_PREFIX_MAX) + " bytes long");
			out->paths.push_back({p, static_cast<uint8_t>(mode)});
		}
	}
	for (auto [key, mode] : {std::pair{"includeComms", FW_FILTER_INCLUDE}, std::pair{"excludeComms", FW_FILTER_EXCLUDE}}) {
		Napi::Array a = OptArray(f, key);
		for (uint32_t i = 0; i < a.Length(); i++) {
			std::string c = Bytes(env, a.Get(i), std::string("filters.") + key + "[" + std::to_string(i) + "]");
			if (c.empty() || c.size() >= FW_COMM_LEN)
				throw Bad(env, std::string("filters.") + key + "[" + std::to_string(i) + "] must be 1 to " +
					       std::to_string(FW_COMM_LEN - 1) + " bytes long (the kernel's comm length)");
			out->comms.push_back({c, static_cast<uint8_t>(mode)});
		}
	}
	for (auto [key, mode] : {std::pair{"includeUids", FW_FILTER_INCLUDE}, std::pair{"excludeUids", FW_FILTER_EXCLUDE}}) {
		Napi::Array a = OptArray(f, key);
		for (uint32_t i = 0; i < a.Length(); i++)
			out->uids.push_back({static_cast<uint32_t>(Integer(env, a.Get(i), std::string("filters.") + key + "[" +
					     std::to_string(i) + "]", UINT32_MAX)), static_cast<uint8_t>(mode)});
	}
	for (auto [key, mode] : {std::pair{"includeCgroups", FW_FILTER_INCLUDE}, std::pair{"excludeCgroups", FW_FILTER_EXCLUDE}}) {
		Napi::Array a = OptArray(f, key);
		for (uint32_t i = 0; i < a.Length(); i++)
			out->cgroups.push_back({Integer(env, a.Get(i), std::string("filters.") + key + "[" + std::to_string(i) + "]",
							UINT64_MAX), static_cast<uint8_t>(mode)});
	}
	size_t total = out->paths.size() + out->comms.size() + out->uids.size() + out->cgroups.size();
	if (out->paths.size() > FW_FILTER_ENTRIES || out->comms.size() > FW_FILTER_ENTRIES ||
	    out->uids.size() > FW_FILTER_ENTRIES || out->cgroups.size() > FW_FILTER_ENTRIES || total == SIZE_MAX)
		throw Bad(env, "at most " + std::to_string(FW_FILTER_ENTRIES) + " filter entries of each kind");
}

std::string PolicyPath(Napi::Env env, Napi::Value v, const std::string &what, size_t max)
{
	std::string p = Bytes(env, v, what);
	if (p.empty() || p.size() > max || p[0] != '/')
		throw Bad(env, what + " must be an absolute path prefix of 1 to " + std::to_string(max) + " bytes");
	return p;
}

// { path, action: 'allow' | 'deny' | 'kill', comm?, exe?: { dev, ino }, fs?: { dev, ino? } } (with fs.ino, no path)
PolicyEntry ParsePolicyEntry(Napi::Env env, Napi::Value v, const std::string &what)
{
	if (!v.IsObject())
		throw Bad(env, what + " must be an object { path, action, comm?, exe? }");
	Napi::Object o = v.As<Napi::Object>();
	PolicyEntry e;
	Napi::Value action = o.Get("action");
	std::string a = action.IsString() ? action.As<Napi::String>().Utf8Value() : "";
	if (a == "allow")
		e.action = FW_ACTION_ALLOW;
	else if (a == "deny")
		e.action = FW_ACTION_DENY;
	else if (a == "kill")
		e.action = FW_ACTION_KILL;
	else
		throw Bad(env, what + ".action must be allow, deny or kill");
	Napi::Value ops = o.Get("ops");
	if (!ops.IsUndefined()) {
		// The operations the entry acts on, by name (layout().operationSyscalls' keys); all without.
		const auto known = OperationSyscalls();
		std::string list;
		for (const auto &k : known)
			list += (list.empty() ? "" : ", ") + k.first;
		if (!ops.IsArray() || ops.As<Napi::Array>().Length() == 0)
			throw Bad(env, what + ".ops must be a non-empty array of operation names (" + list + ")");
		Napi::Array a = ops.As<Napi::Array>();
		e.ops = 0;
		for (uint32_t i = 0; i < a.Length(); i++) {
			std::string name = a.Get(i).IsString() ? a.Get(i).As<Napi::String>().Utf8Value() : "";
			auto at = std::find_if(known.begin(), known.end(), [&](const auto &k) { return k.first == name; });
			if (at == known.end())
				throw Bad(env, what + ".ops[" + std::to_string(i) + "] must be one of " + list + ", not " +
						       (a.Get(i).IsString() ? "\"" + name + "\"" : std::string("something not a string")));
			e.ops |= 1u << (at - known.begin());
		}
	}
	Napi::Value comm = o.Get("comm"), exe = o.Get("exe"), fs = o.Get("fs");
	if (!comm.IsUndefined() + !exe.IsUndefined() + !fs.IsUndefined() > 1)
		throw Bad(env, what + " may have one of comm, exe and fs");
	if (!fs.IsUndefined()) {
		if (!fs.IsObject())
			throw Bad(env, what + ".fs must be { dev } or { dev, ino }");
		e.scope = FW_SCOPE_FS;
		e.fs_dev = static_cast<uint32_t>(Integer(env, fs.As<Napi::Object>().Get("dev"), what + ".fs.dev", UINT32_MAX));
		Napi::Value ino = fs.As<Napi::Object>().Get("ino");
		if (!ino.IsUndefined()) {
			// One file by inode (every name of it: hard links, bind mounts): the key's path part is
			// a NUL, which no path has, then the inode (policy.bpf.h, fw_policy_inode_action).
			uint64_t n = Integer(env, ino, what + ".fs.ino", UINT64_MAX);
			if (n == 0)
				throw Bad(env, what + ".fs.ino must not be 0");
			e.path.assign(1, '\0');
			e.path.append(reinterpret_cast<const char *>(&n), sizeof(n));
			return e;
		}
		e.path = PolicyPath(env, o.Get("path"), what + ".path", FW_PREFIX_MAX - FW_FS_KEY_DEV_LEN);
		return e;
	}
	if (!comm.IsUndefined()) {
		e.scope = FW_SCOPE_COMM;
		e.comm = Bytes(env, comm, what + ".comm");
		if (e.comm.empty() || e.comm.size() >= FW_COMM_LEN)
			throw Bad(env, what + ".comm must be 1 to " + std::to_string(FW_COMM_LEN - 1) + " bytes long");
	} else if (!exe.IsUndefined()) {
		if (!exe.IsObject())
			throw Bad(env, what + ".exe must be { dev, ino }");
		e.scope = FW_SCOPE_EXE;
		e.exe_dev = static_cast<uint32_t>(Integer(env, exe.As<Napi::Object>().Get("dev"), what + ".exe.dev", UINT32_MAX));
		e.exe_ino = Integer(env, exe.As<Napi::Object>().Get("ino"), what + ".exe.ino", UINT64_MAX);
		if (e.exe_ino == 0)
			throw Bad(env, what + ".exe.ino must not be 0");
	}
	e.path = PolicyPath(env, o.Get("path"), what + ".path", e.scope ? FW_PREFIX_MAX - FW_SCOPE_LEN : FW_PREFIX_MAX);
	return e;
}

void CheckPolicySize(Napi::Env env, const PolicySpec &p)
{
	size_t scoped = 0, fs = 0;
	for (const auto &e : p.entries) {
		fs += e.scope == FW_SCOPE_FS ? 1 : 0;
		scoped += e.scope && e.scope != FW_SCOPE_FS ? 1 : 0;
	}
	if (scoped > FW_FILTER_ENTRIES || fs > FW_FILTER_ENTRIES || p.entries.size() - scoped - fs > FW_FILTER_ENTRIES)
		throw Bad(env, "at most " + std::to_string(FW_FILTER_ENTRIES) + " policy entries of each kind (any process, scoped, filesystem)");
}

void ParsePolicy(const Napi::Object &f, PolicySpec *out)
{
	Napi::Env env = f.Env();
	for (auto [key, action] : {std::pair{"denyPaths", FW_ACTION_DENY}, std::pair{"killPaths", FW_ACTION_KILL}}) {
		Napi::Array a = OptArray(f, key);
		for (uint32_t i = 0; i < a.Length(); i++) {
			PolicyEntry e;
			e.path = PolicyPath(env, a.Get(i), std::string("policy.") + key + "[" + std::to_string(i) + "]", FW_PREFIX_MAX);
			e.action = static_cast<uint8_t>(action);
			out->entries.push_back(e);
		}
	}
	Napi::Array a = OptArray(f, "entries");
	for (uint32_t i = 0; i < a.Length(); i++)
		out->entries.push_back(ParsePolicyEntry(env, a.Get(i), "policy.entries[" + std::to_string(i) + "]"));
	CheckPolicySize(env, *out);
}

} // namespace

uint32_t OptU32(const Napi::Object &o, const char *key, uint32_t dflt)
{
	Napi::Value v = o.Get(key);
	if (v.IsUndefined())
		return dflt;
	return static_cast<uint32_t>(Integer(o.Env(), v, key, UINT32_MAX));
}

ProbeOptions ParseProbeOptions(const Napi::Object &o)
{
	Napi::Env env = o.Env();
	ProbeOptions opts;
	Napi::Value hook = o.Get("hook");
	if (!hook.IsUndefined()) {
		if (!hook.IsString() || !ParseHook(hook.As<Napi::String>().Utf8Value(), &opts.hook))
			throw Bad(env, "hook must be one of tracepoint, kprobe, fexit, lsm");
	}
	opts.ringbuf_bytes = OptU32(o, "ringbufBytes", opts.ringbuf_bytes);
	opts.self_tgid = OptU32(o, "selfPid", 0);
	// Bits of enum fw_op (layout().enums.op); every operation by default.
	opts.ops = OptU32(o, "opMask", opts.ops);
	if (opts.ops == 0 || (opts.ops >> FW_OP__COUNT) != 0)
		throw Bad(env, "opMask must select at least one operation, and only known ones");
	Napi::Value f = o.Get("filters");
	if (!f.IsUndefined()) {
		if (!f.IsObject())
			throw Bad(env, "filters must be an object");
		ParseFilters(f.As<Napi::Object>(), &opts.filters);
	}
	Napi::Value pol = o.Get("policy");
	if (!pol.IsUndefined()) {
		if (!pol.IsObject())
			throw Bad(env, "policy must be an object");
		ParsePolicy(pol.As<Napi::Object>(), &opts.policy);
	}
	Napi::Value pin = o.Get("pinDir");
	if (!pin.IsUndefined()) {
		if (!pin.IsString() || pin.As<Napi::String>().Utf8Value().empty())
			throw Bad(env, "pinDir must be a non-empty string");
		opts.pin_dir = pin.As<Napi::String>().Utf8Value();
	}
	Napi::Value adopt = o.Get("adopt");
	if (!adopt.IsUndefined()) {
		if (!adopt.IsArray() || opts.pin_dir.empty())
			throw Bad(env, "adopt must be the pinned capture's attach points, with pinDir");
		Napi::Array a = adopt.As<Napi::Array>();
		opts.adopt = true;
		for (uint32_t i = 0; i < a.Length(); i++)
			opts.attached.push_back(a.Get(i).ToString().Utf8Value());
	}
	return opts;
}

PolicySpec ParsePolicyEntries(Napi::Value v)
{
	Napi::Env env = v.Env();
	if (!v.IsArray())
		throw Bad(env, "setPolicy(entries) expects an array");
	Napi::Array a = v.As<Napi::Array>();
	PolicySpec out;
	for (uint32_t i = 0; i < a.Length(); i++)
		out.entries.push_back(ParsePolicyEntry(env, a.Get(i), "entries[" + std::to_string(i) + "]"));
	CheckPolicySize(env, out);
	return out;
}

Napi::Error MakeError(Napi::Env env, const ProbeError &e)
{
	Napi::Error err = Napi::Error::New(env, e.message);
	err.Set("code", Napi::String::New(env, e.code));
	err.Set("errno", Napi::Number::New(env, e.err));
	err.Set("hook", Napi::String::New(env, e.hook));
	if (!e.log.empty())
		err.Set("log", Napi::String::New(env, e.log));
	return err;
}

} // namespace filewarden
