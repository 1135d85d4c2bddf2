// The libbpf lifecycle in plain C++ (no Napi): open, configure, load, attach, poll, read counters.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"
#include "event.h"

struct syscalls_bpf;
struct ring_buffer;

namespace filewarden {

struct ProbeOptions {
	uint32_t ringbuf_bytes = 1u << 22; // power of two, >= page size
	uint32_t self_tgid = 0;            // never traced
};

using RecordSink = std::function<void(const void *data, size_t size)>;

class Probe {
public:
	// Opens, loads and attaches the tracepoint programs. On failure returns null and fills err.
	static std::unique_ptr<Probe> Open(const ProbeOptions &opts, RecordSink sink, ProbeError *err);
	~Probe();
	Probe(const Probe &) = delete;
	Probe &operator=(const Probe &) = delete;

	// Waits up to timeout_ms and hands every available record to the sink. Returns records or -errno.
	int Poll(int timeout_ms);
	// Hands every record already in the buffer to the sink without waiting.
	int Drain();
	// Stops new events (the programs are detached); records already in the buffer stay readable.
	void Detach();
	// Kernel counters summed over CPUs, indexed by enum fw_counter.
	std::array<uint64_t, FW_CNT__MAX> Counters() const;
	// Tracepoints attached, e.g. "sys_exit_openat".
	const std::vector<std::string> &Attached() const { return attached_; }

private:
	Probe() = default;
	static int OnRecord(void *ctx, void *data, size_t size);

	syscalls_bpf *skel_ = nullptr;
	ring_buffer *rb_ = nullptr;
	RecordSink sink_;
	std::vector<std::string> attached_;
	int ncpus_ = 0;
};

} // namespace filewarden
