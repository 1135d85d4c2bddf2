// Kills one process by pid without racing pid reuse: through a pidfd, after checking its start time.
#pragma once
#include <napi.h>

namespace filewarden {

// killProcess(pid, startTicks) -> 'killed' | 'exited' | 'reused'. Throws FW_ERR_KILL on other errors.
Napi::Value KillProcess(const Napi::CallbackInfo &info);

} // namespace filewarden
