// Conversions between JS values and the probe's plain C++ types: options in, coded errors out.
#pragma once
#include <napi.h>

#include "errors.h"
#include "probe.h"

namespace filewarden {

// Reads { hook, ringbufBytes, selfPid, filters } from a JS object; throws a TypeError on bad input.
ProbeOptions ParseProbeOptions(const Napi::Object &o);

// Reads the entries of RingReader.setPolicy(); throws a TypeError on bad input.
PolicySpec ParsePolicyEntries(Napi::Value v);

// Reads a non-negative integer option, or dflt when it is undefined.
uint32_t OptU32(const Napi::Object &o, const char *key, uint32_t dflt);

// An Error with code, errno, hook and (when there is one) the libbpf log tail.
Napi::Error MakeError(Napi::Env env, const ProbeError &e);

} // namespace filewarden
