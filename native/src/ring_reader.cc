// Drain thread: polls the ring buffer, groups records into batches (N records or T ms), and hands
// each batch to JS through a bounded thread-safe function. When JS falls behind, the blocking
// call waits, the ring buffer fills, and the kernel counts drops: back-pressure, never silent loss.
#include "ring_reader.h"

#include <algorithm>

#include "errors.h"
#include "js_options.h"

namespace filewarden {

Napi::Function RingReader::Define(Napi::Env env)
{
	return DefineClass(env, "RingReader",
			   {InstanceMethod<&RingReader::Stats>("stats"),
			    InstanceMethod<&RingReader::Close>("close"),
			    InstanceMethod<&RingReader::Attached>("attached"),
			    InstanceMethod<&RingReader::HookName>("hook"),
			    InstanceMethod<&RingReader::SetPolicy>("setPolicy"),
			    InstanceMethod<&RingReader::AddKillTarget>("addKillTarget"),
			    InstanceMethod<&RingReader::RemoveKillTarget>("removeKillTarget"),
			    InstanceMethod<&RingReader::Release>("release"),
			    InstanceMethod<&RingReader::JudgedOps>("judgedOps")});
}

// new RingReader({ hook, ringbufBytes, selfPid, filters, batchRecords, batchDelayMs, queueBatches }, onBatch)
RingReader::RingReader(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingReader>(info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
		throw Napi::TypeError::New(env, "RingReader(options, onBatch) expects an object and a function");
	Napi::Object o = info[0].As<Napi::Object>();
	ProbeOptions opts = ParseProbeOptions(o);
	max_records_ = std::max<uint32_t>(1, OptU32(o, "batchRecords", max_records_));
	max_delay_ = std::chrono::milliseconds(std::max<uint32_t>(1, OptU32(o, "batchDelayMs", 50)));
	uint32_t queue = std::max<uint32_t>(1, OptU32(o, "queueBatches", 8));

	ProbeError perr;
	probe_ = Probe::Open(opts, [this](const void *d, size_t n) { Append(d, n); }, &perr);
	if (!probe_)
		throw MakeError(env, perr);

	batch_ = std::make_unique<Batch>();
	tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "filewarden-ring-reader", queue, 1,
					      [this](Napi::Env) {
						      // All batches are delivered and the thread has released: join it.
						      if (thread_.joinable())
							      thread_.join();
						      // Only now, with every record numbered, may a pinned capture go: a
						      // collector killed during its close leaves the rest to the next one.
						      if (graceful_.load())
							      probe_->Unpin();
						      closed_ = true;
						      if (closing_) {
							      closing_->Resolve(closing_->Env().Undefined());
							      delete closing_;
							      closing_ = nullptr;
						      }
						      Unref();
					      });
	Ref(); // kept alive while the thread runs, whatever JS does with the object
	thread_ = std::thread([this] { Run(); });
}

// Normally close() has already joined the thread (in the TSFN finalizer). If the environment is
// torn down first, abort the TSFN so a blocked BlockingCall returns, then join.
RingReader::~RingReader()
{
	stop_ = true;
	if (thread_.joinable()) {
		tsfn_.Abort();
		thread_.join();
	}
}

void RingReader::Append(const void *data, size_t size)
{
	if (batch_->records == 0)
		batch_started_ = std::chrono::steady_clock::now();
	const uint8_t *p = static_cast<const uint8_t *>(data);
	batch_->data.insert(batch_->data.end(), p, p + size);
	batch_->records++;
	batch_->end = probe_->ReadPos();
	records_read_.fetch_add(1, std::memory_order_relaxed);
	if (batch_->records >= max_records_)
		Flush();
}

void RingReader::Flush()
{
	if (batch_->records == 0)
		return;
	Batch *b = batch_.release();
	batch_ = std::make_unique<Batch>();
	batch_->data.reserve(b->data.size());
	Probe *probe = probe_.get();
	napi_status st = tsfn_.BlockingCall(b, [probe](Napi::Env env, Napi::Function fn, Batch *batch) {
		if (env == nullptr) { // aborted while queued
			delete batch;
			return;
		}
		uint32_t records = batch->records;
		uint64_t end = batch->end;
		auto buf = Napi::Buffer<uint8_t>::New(env, batch->data.data(), batch->data.size(),
						      [](Napi::Env, uint8_t *, Batch *hint) { delete hint; }, batch);
		// The callback frees the batch's ring space with release(end) once it has numbered the
		// events (the collector reserves sequence numbers on disk first): from then a crash is a
		// reported gap, not a record read twice. A callback that returns has taken them: freed
		// here if it did not. One that throws leaves them to the next reader.
		fn.Call({buf, Napi::Number::New(env, records), Napi::BigInt::New(env, end)});
		probe->Release(end);
	});
	if (st == napi_ok) {
		batches_sent_.fetch_add(1, std::memory_order_relaxed);
	} else {
		batches_lost_.fetch_add(1, std::memory_order_relaxed);
		delete b;
	}
}

void RingReader::Run()
{
	// The kernel never wakes this thread (BPF_RB_NO_WAKEUP), so it drains on a 10 ms timer: at
	// 400k events/s that is about 800 KB per round, well inside the default 4 MiB buffer.
	const int poll_ms = static_cast<int>(std::min<long>(max_delay_.count(), 10));
	while (!stop_.load()) {
		probe_->Poll(poll_ms);
		probe_->Drain();
		if (batch_->records > 0 && std::chrono::steady_clock::now() - batch_started_ >= max_delay_)
			Flush();
	}
	// Graceful close: stop producing, deliver everything already in the ring buffer, end the pins.
	// Torn down without close(): a pinned capture runs on for the next collector.
	if (graceful_.load()) {
		probe_->Detach();
		probe_->Drain();
		Flush();
	}
	tsfn_.Release();
}

Napi::Value RingReader::Stats(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	auto c = probe_->Counters();
	Napi::Object o = Napi::Object::New(env);
	o.Set("seen", Napi::Number::New(env, static_cast<double>(c[FW_CNT_SEEN])));
	o.Set("filtered", Napi::Number::New(env, static_cast<double>(c[FW_CNT_FILTERED])));
	o.Set("emitted", Napi::Number::New(env, static_cast<double>(c[FW_CNT_EMITTED])));
	o.Set("dropped", Napi::Number::New(env, static_cast<double>(c[FW_CNT_DROPPED])));
	o.Set("argsLost", Napi::Number::New(env, static_cast<double>(c[FW_CNT_ARGS_LOST])));
	o.Set("recordsRead", Napi::Number::New(env, static_cast<double>(records_read_.load())));
	o.Set("batchesSent", Napi::Number::New(env, static_cast<double>(batches_sent_.load())));
	o.Set("batchesLost", Napi::Number::New(env, static_cast<double>(batches_lost_.load())));
	return o;
}

Napi::Value RingReader::HookName(const Napi::CallbackInfo &info)
{
	return Napi::String::New(info.Env(), filewarden::HookName(probe_->hook()));
}

Napi::Value RingReader::Attached(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	const auto &names = probe_->Attached();
	Napi::Array a = Napi::Array::New(env, names.size());
	for (size_t i = 0; i < names.size(); i++)
		a.Set(i, Napi::String::New(env, names[i]));
	return a;
}

// setPolicy(entries): replaces the in-kernel enforcement policy.
Napi::Value RingReader::SetPolicy(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	PolicySpec spec = ParsePolicyEntries(info.Length() > 0 ? info[0] : env.Undefined());
	std::string what;
	if (int e = probe_->SetPolicy(spec, &what))
		throw MakeError(env, {"FW_ERR_POLICY", -e, filewarden::HookName(probe_->hook()), "cannot set " + what});
	return env.Undefined();
}

// addKillTarget(pid, startTicks): SIGKILL at the process's next traced open, if its start time matches.
Napi::Value RingReader::AddKillTarget(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 2 || !info[0].IsNumber() || !(info[1].IsNumber() || info[1].IsBigInt()))
		throw Napi::TypeError::New(env, "addKillTarget(pid, startTicks) expects two numbers");
	uint32_t pid = info[0].As<Napi::Number>().Uint32Value();
	bool lossless = true;
	uint64_t start = info[1].IsBigInt() ? info[1].As<Napi::BigInt>().Uint64Value(&lossless)
					    : static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
	if (int e = probe_->AddKillTarget(pid, start))
		throw MakeError(env, {"FW_ERR_POLICY", -e, filewarden::HookName(probe_->hook()),
				      "cannot add kill target " + std::to_string(pid) + " (at most " + std::to_string(FW_FILTER_ENTRIES) + ")"});
	return env.Undefined();
}

// removeKillTarget(pid) -> whether it was on the list.
Napi::Value RingReader::RemoveKillTarget(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsNumber())
		throw Napi::TypeError::New(env, "removeKillTarget(pid) expects a number");
	return Napi::Boolean::New(env, probe_->RemoveKillTarget(info[0].As<Napi::Number>().Uint32Value()) == 0);
}

// judgedOps() -> the bits of enum fw_op judged on the kernel's path checks (Probe::JudgedOps).
Napi::Value RingReader::JudgedOps(const Napi::CallbackInfo &info)
{
	return Napi::Number::New(info.Env(), probe_->JudgedOps());
}

// release(end): frees the ring buffer up to a batch's end (the third argument of onBatch).
Napi::Value RingReader::Release(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsBigInt())
		throw Napi::TypeError::New(env, "release(end) expects the bigint a batch came with");
	bool lossless = true;
	uint64_t end = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
	probe_->Release(end);
	return env.Undefined();
}

// close(): resolves once the thread has delivered every record still in the ring buffer.
Napi::Value RingReader::Close(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	auto deferred = Napi::Promise::Deferred::New(env);
	if (closed_) {
		deferred.Resolve(env.Undefined());
		return deferred.Promise();
	}
	if (closing_) // a second close() shares the first one's outcome
		return closing_->Promise();
	closing_ = new Napi::Promise::Deferred(deferred);
	graceful_ = true;
	stop_ = true;
	return deferred.Promise();
}

} // namespace filewarden
