// libbpf lifecycle for the syscall tracepoint programs; everything here is plain C++.
#include "probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <tuple>
#include <unistd.h>

#include "syscalls.skel.h"

namespace filewarden {

namespace {

bool TracepointExists(const char *name)
{
	for (const char *base : {"/sys/kernel/tracing/events/syscalls/", "/sys/kernel/debug/tracing/events/syscalls/"}) {
		std::string path = std::string(base) + name + "/id";
		if (access(path.c_str(), R_OK) == 0)
			return true;
	}
	return false;
}

std::string WhyLoadFailed(int err)
{
	if (err == EPERM)
		return "permission denied: needs root or CAP_BPF+CAP_PERFMON, and kernel lockdown may refuse this program type";
	if (err == ENOENT || err == ESRCH)
		return "a kernel type or function the program needs is missing (BTF mismatch?)";
	if (err == EINVAL)
		return "the kernel rejected the program (verifier or an unsupported feature)";
	return std::strerror(err);
}

} // namespace

std::unique_ptr<Probe> Probe::Open(const ProbeOptions &opts, RecordSink sink, ProbeError *err)
{
	std::unique_ptr<Probe> p(new Probe());
	p->sink_ = std::move(sink);
	p->ncpus_ = libbpf_num_possible_cpus();
	if (p->ncpus_ <= 0) {
		*err = {"FW_ERR_BPF_OPEN", -p->ncpus_, "", "cannot count possible CPUs"};
		return nullptr;
	}
	long page = sysconf(_SC_PAGESIZE);
	if (opts.ringbuf_bytes < page || (opts.ringbuf_bytes & (opts.ringbuf_bytes - 1)) != 0) {
		*err = {"FW_ERR_BPF_OPEN", EINVAL, "", "ring buffer size " + std::to_string(opts.ringbuf_bytes) +
			" must be a power of two of at least the page size (" + std::to_string(page) + ")"};
		return nullptr;
	}
	p->skel_ = syscalls_bpf__open();
	if (!p->skel_) {
		*err = {"FW_ERR_BPF_OPEN", errno, "tracepoint", std::string("cannot open the BPF object: ") + std::strerror(errno)};
		return nullptr;
	}
	p->skel_->rodata->self_tgid = opts.self_tgid;
	if (int e = bpf_map__set_max_entries(p->skel_->maps.events, opts.ringbuf_bytes)) {
		*err = {"FW_ERR_BPF_OPEN", -e, "", "invalid ring buffer size (must be a power of two and a multiple of the page size)"};
		return nullptr;
	}
	// open(2) and creat(2) exist only on some architectures (not arm64): load what the kernel has.
	auto &sk = *p->skel_;
	struct {
		const char *enter, *exit;
		bpf_program *penter, *pexit;
		bpf_link **lenter, **lexit; // the skeleton owns these and destroys them with the object
	} pairs[] = {
		{"sys_enter_openat", "sys_exit_openat", sk.progs.tp_enter_openat, sk.progs.tp_exit_openat,
		 &sk.links.tp_enter_openat, &sk.links.tp_exit_openat},
		{"sys_enter_openat2", "sys_exit_openat2", sk.progs.tp_enter_openat2, sk.progs.tp_exit_openat2,
		 &sk.links.tp_enter_openat2, &sk.links.tp_exit_openat2},
		{"sys_enter_open", "sys_exit_open", sk.progs.tp_enter_open, sk.progs.tp_exit_open,
		 &sk.links.tp_enter_open, &sk.links.tp_exit_open},
		{"sys_enter_creat", "sys_exit_creat", sk.progs.tp_enter_creat, sk.progs.tp_exit_creat,
		 &sk.links.tp_enter_creat, &sk.links.tp_exit_creat},
	};
	for (auto &pr : pairs) {
		bool present = TracepointExists(pr.enter) && TracepointExists(pr.exit);
		bpf_program__set_autoload(pr.penter, present);
		bpf_program__set_autoload(pr.pexit, present);
	}
	if (int e = syscalls_bpf__load(p->skel_)) {
		*err = {"FW_ERR_BPF_LOAD", -e, "tracepoint", "loading the tracepoint programs failed: " + WhyLoadFailed(-e)};
		return nullptr;
	}
	for (auto &pr : pairs) {
		if (!bpf_program__autoload(pr.penter))
			continue;
		// Exit first: an entry without its exit would only fill the pending map.
		for (auto [prog, slot, name] : {std::tuple{pr.pexit, pr.lexit, pr.exit}, std::tuple{pr.penter, pr.lenter, pr.enter}}) {
			*slot = bpf_program__attach(prog);
			if (!*slot) {
				int e = errno;
				*err = {"FW_ERR_ATTACH", e, "tracepoint", std::string("attaching ") + name + " failed: " + WhyLoadFailed(e)};
				return nullptr;
			}
			p->attached_.push_back(name);
		}
	}
	p->rb_ = ring_buffer__new(bpf_map__fd(p->skel_->maps.events), &Probe::OnRecord, p.get(), nullptr);
	if (!p->rb_) {
		*err = {"FW_ERR_RINGBUF", errno, "", std::string("cannot open the ring buffer: ") + std::strerror(errno)};
		return nullptr;
	}
	return p;
}

Probe::~Probe()
{
	if (rb_)
		ring_buffer__free(rb_);
	if (skel_)
		syscalls_bpf__destroy(skel_);
}

int Probe::OnRecord(void *ctx, void *data, size_t size)
{
	static_cast<Probe *>(ctx)->sink_(data, size);
	return 0;
}

int Probe::Poll(int timeout_ms)
{
	int n = ring_buffer__poll(rb_, timeout_ms);
	return n == -EINTR ? 0 : n;
}

int Probe::Drain()
{
	return ring_buffer__consume(rb_);
}

void Probe::Detach()
{
	syscalls_bpf__detach(skel_);
}

std::array<uint64_t, FW_CNT__MAX> Probe::Counters() const
{
	std::array<uint64_t, FW_CNT__MAX> out{};
	std::vector<uint64_t> percpu(ncpus_);
	int fd = bpf_map__fd(skel_->maps.counters);
	for (uint32_t k = 0; k < FW_CNT__MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, percpu.data()) != 0)
			continue;
		for (uint64_t v : percpu)
			out[k] += v;
	}
	return out;
}

} // namespace filewarden
