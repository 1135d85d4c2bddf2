// The drain thread and its bounded thread-safe function: records reach JS as one Buffer per batch.
#pragma once
#include <napi.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "probe.h"

namespace filewarden {

class RingReader : public Napi::ObjectWrap<RingReader> {
public:
	static Napi::Function Define(Napi::Env env);
	explicit RingReader(const Napi::CallbackInfo &info);
	~RingReader() override;

private:
	struct Batch {
		std::vector<uint8_t> data;
		uint32_t records = 0;
		uint64_t end = 0; // the ring position after its last record: released once JS has it
	};

	Napi::Value Stats(const Napi::CallbackInfo &info);
	Napi::Value Close(const Napi::CallbackInfo &info);
	Napi::Value Attached(const Napi::CallbackInfo &info);
	Napi::Value HookName(const Napi::CallbackInfo &info);
	Napi::Value SetPolicy(const Napi::CallbackInfo &info);
	Napi::Value AddKillTarget(const Napi::CallbackInfo &info);
	Napi::Value RemoveKillTarget(const Napi::CallbackInfo &info);
	Napi::Value Release(const Napi::CallbackInfo &info);
	Napi::Value JudgedOps(const Napi::CallbackInfo &info);

	void Run();
	void Append(const void *data, size_t size);
	void Flush();

	std::unique_ptr<Probe> probe_;
	Napi::ThreadSafeFunction tsfn_;
	Napi::Promise::Deferred *closing_ = nullptr;
	std::thread thread_;
	std::atomic<bool> stop_{false};
	// close() was called: detach, drain, deliver, unpin. Otherwise (the environment is going away)
	// a pinned capture is left as it is, for the next collector.
	std::atomic<bool> graceful_{false};
	bool closed_ = false;

	// Batch limits (set at construction).
	uint32_t max_records_ = 4096;
	std::chrono::milliseconds max_delay_{50};

	// Owned by the drain thread.
	std::unique_ptr<Batch> batch_;
	std::chrono::steady_clock::time_point batch_started_;

	// User-space counters, read from the JS thread.
	std::atomic<uint64_t> records_read_{0};
	std::atomic<uint64_t> batches_sent_{0};
	std::atomic<uint64_t> batches_lost_{0}; // only when close() aborts with batches queued
};

} // namespace filewarden
