// The BPF ring buffer's user-space half, as the kernel defines it (kernel/bpf/ringbuf.c): a consumer
// page user space writes, then a producer page and the data pages mapped twice in a row, so a record
// that wraps is contiguous. Each record starts with an 8-byte header whose length carries a busy bit
// (still being written) and a discard bit.
#include "ring.h"

#include <cerrno>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

namespace filewarden {

Ring::~Ring()
{
	if (consumer_)
		munmap(consumer_, consumer_len_);
	if (producer_)
		munmap(const_cast<uint8_t *>(producer_), producer_len_);
}

int Ring::Map(int fd, uint32_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	if (size == 0 || (size & (size - 1)) != 0)
		return -EINVAL;
	consumer_len_ = static_cast<size_t>(page);
	void *c = mmap(nullptr, consumer_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED)
		return -errno;
	consumer_ = static_cast<uint64_t *>(c);
	producer_len_ = static_cast<size_t>(page) + 2 * static_cast<size_t>(size);
	void *p = mmap(nullptr, producer_len_, PROT_READ, MAP_SHARED, fd, page);
	if (p == MAP_FAILED)
		return -errno;
	producer_ = static_cast<const uint8_t *>(p);
	data_ = producer_ + page;
	mask_ = size - 1;
	read_pos_ = __atomic_load_n(consumer_, __ATOMIC_ACQUIRE);
	return 0;
}

bool Ring::Pending() const
{
	return __atomic_load_n(reinterpret_cast<const uint64_t *>(producer_), __ATOMIC_ACQUIRE) > read_pos_;
}

int Ring::Read(const std::function<void(const void *, size_t)> &sink)
{
	const uint64_t *producer = reinterpret_cast<const uint64_t *>(producer_);
	uint64_t end = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
	int n = 0;
	while (read_pos_ < end) {
		const uint8_t *rec = data_ + (read_pos_ & mask_);
		uint32_t len = __atomic_load_n(reinterpret_cast<const uint32_t *>(rec), __ATOMIC_ACQUIRE);
		if (len & BPF_RINGBUF_BUSY_BIT)
			break; // reserved, not yet submitted: records after it wait for it
		uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		read_pos_ += (static_cast<uint64_t>(size) + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			sink(rec + BPF_RINGBUF_HDR_SZ, size);
			n++;
		}
		if (read_pos_ >= end)
			end = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
	}
	return n;
}

void Ring::Release(uint64_t pos)
{
	if (!consumer_)
		return;
	// Called from one thread at a time (the JS thread, or the drain thread once JS is gone).
	if (pos > __atomic_load_n(consumer_, __ATOMIC_RELAXED))
		__atomic_store_n(consumer_, pos, __ATOMIC_RELEASE);
}

} // namespace filewarden
