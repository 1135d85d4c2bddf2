// Loads, optionally attaches, and unloads one hook's programs; reports what passed or why not.
#include "hook_check.h"

#include "js_options.h"
#include "probe.h"

#include <unistd.h>

namespace filewarden {

// checkHook({ hook, attach = true, ...probe options }) -> { hook, loaded: string[], attached: string[] }
// Throws the coded error (FW_ERR_BPF_LOAD, FW_ERR_ATTACH, ...) when the kernel refuses.
Napi::Value CheckHook(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsObject())
		throw Napi::TypeError::New(env, "checkHook(options) expects an object");
	Napi::Object o = info[0].As<Napi::Object>();
	ProbeOptions opts = ParseProbeOptions(o);
	Napi::Value attach = o.Get("attach");
	opts.attach = attach.IsUndefined() || attach.ToBoolean().Value();
	// A small ring buffer: nothing is read from it.
	opts.ringbuf_bytes = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));

	ProbeError err;
	auto probe = Probe::Open(opts, [](const void *, size_t) {}, &err);
	if (!probe)
		throw MakeError(env, err);
	auto list = [&](const std::vector<std::string> &names) {
		Napi::Array a = Napi::Array::New(env, names.size());
		for (size_t i = 0; i < names.size(); i++)
			a.Set(i, Napi::String::New(env, names[i]));
		return a;
	};
	Napi::Object out = Napi::Object::New(env);
	out.Set("hook", Napi::String::New(env, HookName(probe->hook())));
	out.Set("loaded", list(probe->Loaded()));
	out.Set("attached", list(probe->Attached()));
	return out;
}

} // namespace filewarden
