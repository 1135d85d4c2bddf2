// Coded errors shared by the libbpf layer and the binding: a code, the errno, the hook and why.
#pragma once
#include <string>

namespace filewarden {

struct ProbeError {
	std::string code;    // FW_ERR_BPF_OPEN, FW_ERR_BPF_LOAD, FW_ERR_ATTACH, FW_ERR_RINGBUF, ...
	int err = 0;         // positive errno
	std::string hook;    // "tracepoint", "kprobe", "fexit", "lsm", or "" when not hook-specific
	std::string message; // what failed and the likely reason
	bool ok() const { return code.empty(); }
};

} // namespace filewarden
