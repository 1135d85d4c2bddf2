// checkHook(options): loads one hook's programs (the verifier runs), optionally attaches them, and
// unloads them again. `filewarden doctor` and `--hooks auto` use it to learn what this kernel allows.
#pragma once
#include <napi.h>

namespace filewarden {

Napi::Value CheckHook(const Napi::CallbackInfo &info);

} // namespace filewarden
