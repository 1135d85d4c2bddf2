// The ring buffer read by hand: records are read ahead of the kernel's consumer position, and that
// position moves only when user space says the records are safe (numbered by the collector). So a
// collector that dies leaves every record it had not numbered in the buffer, for the next one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace filewarden {

class Ring {
public:
	Ring() = default;
	~Ring();
	Ring(const Ring &) = delete;
	Ring &operator=(const Ring &) = delete;

	// Maps the ring buffer map `fd` of `size` data bytes; reading starts at its consumer position.
	// Returns 0 or -errno.
	int Map(int fd, uint32_t size);
	// Hands every complete record after the read position to `sink` (discarded ones are skipped) and
	// moves the read position past it; the kernel's consumer position stays. Returns records.
	int Read(const std::function<void(const void *, size_t)> &sink);
	// True when the kernel has written past the read position.
	bool Pending() const;
	// The read position: the byte offset after the last record Read handed over.
	uint64_t ReadPos() const { return read_pos_; }
	// Frees the ring up to `pos` (a ReadPos value) for the kernel. Positions only move forward.
	void Release(uint64_t pos);
	uint64_t Size() const { return mask_ + 1; }

private:
	uint64_t *consumer_ = nullptr;       // the kernel's consumer page (read-write)
	const uint8_t *producer_ = nullptr;  // the producer page, then the data mapped twice
	size_t consumer_len_ = 0, producer_len_ = 0;
	const uint8_t *data_ = nullptr;
	uint64_t mask_ = 0;
	uint64_t read_pos_ = 0;
};

} // namespace filewarden
