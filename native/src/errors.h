// Coded errors shared by the libbpf layer and the binding: a code, the errno, the hook and why.
#pragma once
#include <string>

namespace filewarden {

struct ProbeError {
	std::string code;    // FW_ERR_BPF_OPEN, FW_ERR_BPF_LOAD, FW_ERR_ATTACH, FW_ERR_RINGBUF, FW_ERR_FILTER
	int err = 0;         // positive errno
	std::string hook;    // "tracepoint", "kprobe", "fexit", "lsm"
	std::string message; // what failed and the likely reason
	std::string log;     // the tail of libbpf's log (the verifier's verdict), when there is one
	bool ok() const { return code.empty(); }
};

} // namespace filewarden
