// The inode and the mount of a path, in one statx: how the collector checks that a host path reaches
// the file a process in another mount namespace opened, through the mount it names.
#pragma once
#include <napi.h>

namespace filewarden {

// statMount(path: Buffer) -> { ino: bigint, mntId: number } (mntId 0: the kernel does not report it,
// before 5.8) | { errno: number }. The last component is not followed.
Napi::Value StatMount(const Napi::CallbackInfo &info);

} // namespace filewarden
