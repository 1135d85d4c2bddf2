// SIGKILL through a pidfd: the pidfd pins the process, then /proc/<pid>/stat's start time proves it
// is the one the command named (a pid reused since then has another start time).
#include "process_kill.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace filewarden {

namespace {

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); false when it is gone.
bool StartTicks(uint32_t pid, uint64_t *out)
{
	std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
	std::string line;
	if (!std::getline(f, line))
		return false;
	size_t close = line.rfind(')'); // the comm may hold spaces and parentheses
	if (close == std::string::npos)
		return false;
	std::istringstream rest(line.substr(close + 1));
	std::string field;
	for (int i = 3; i <= 22; i++)
		if (!(rest >> field))
			return false;
	*out = std::stoull(field);
	return true;
}

Napi::Error KillError(Napi::Env env, const std::string &msg, int err)
{
	Napi::Error e = Napi::Error::New(env, msg + ": " + std::strerror(err));
	e.Set("code", Napi::String::New(env, "FW_ERR_KILL"));
	e.Set("errno", Napi::Number::New(env, err));
	return e;
}

} // namespace

Napi::Value KillProcess(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
		throw Napi::TypeError::New(env, "killProcess(pid, startTicks) expects two numbers");
	uint32_t pid = info[0].As<Napi::Number>().Uint32Value();
	uint64_t want = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
	int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
	if (fd < 0) {
		if (errno == ESRCH)
			return Napi::String::New(env, "exited");
		throw KillError(env, "pidfd_open(" + std::to_string(pid) + ")", errno);
	}
	uint64_t start = 0;
	const char *outcome = "killed";
	if (!StartTicks(pid, &start))
		outcome = "exited";
	else if (start != want)
		outcome = "reused";
	else if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) != 0) {
		int err = errno;
		close(fd);
		if (err == ESRCH)
			return Napi::String::New(env, "exited");
		throw KillError(env, "pidfd_send_signal(" + std::to_string(pid) + ")", err);
	}
	close(fd);
	return Napi::String::New(env, outcome);
}

} // namespace filewarden
