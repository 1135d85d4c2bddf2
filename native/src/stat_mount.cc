// statx(AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_MNT_ID) for the host-path check (collector/src/resolve/
// host-path.ts): the mount id says which mount the path ended in, which st_dev cannot (btrfs
// subvolumes report another device than their superblock's, and a covering mount may share it).
#include "stat_mount.h"

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>

namespace filewarden {

Napi::Value StatMount(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsBuffer())
		throw Napi::TypeError::New(env, "statMount(path: Buffer)");
	Napi::Buffer<char> b = info[0].As<Napi::Buffer<char>>();
	std::string path(b.Data(), b.Length()); // NUL-terminated copy; a name holds no NUL
	struct statx sx;
	Napi::Object o = Napi::Object::New(env);
	if (path.find('\0') != std::string::npos) {
		o.Set("errno", Napi::Number::New(env, EINVAL));
		return o;
	}
	if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_INO | STATX_MNT_ID, &sx) != 0) {
		o.Set("errno", Napi::Number::New(env, errno));
		return o;
	}
	o.Set("ino", Napi::BigInt::New(env, static_cast<uint64_t>(sx.stx_ino)));
	o.Set("mntId", Napi::Number::New(env, (sx.stx_mask & STATX_MNT_ID) ? static_cast<double>(sx.stx_mnt_id) : 0));
	return o;
}

} // namespace filewarden
