// A capture pinned in bpffs outlives its collector: the links keep the programs attached and the
// maps keep the ring buffer, the counters and the policy, until the next collector takes them over.
// Layout of a pin directory: main/ (the hook's object's maps), aux/ (the syscall programs next to
// another hook), links/ (one pin per attach point, numbered in attach order).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct bpf_object;
struct bpf_link;

namespace filewarden {

// Pins every map of `obj` under `dir` (created). Returns 0 or -errno, with `what` naming the map.
int PinMaps(bpf_object *obj, const std::string &dir, std::string *what);
// Before load: gives every map of `obj` the fd of its pin under `dir`. Returns 0 or -errno.
int ReuseMaps(bpf_object *obj, const std::string &dir, std::string *what);
// Pins each link as links/<n> under `dir`. Returns 0 or -errno.
int PinLinks(const std::vector<bpf_link *> &links, const std::string &dir, std::string *what);
// The pinned links under `dir`, in attach order.
std::vector<std::string> LinkPins(const std::string &dir);
// Maps the kernel's .bss of a reused (not loaded) object over the open skeleton's copy at `at`, as
// the skeleton's load does. Returns 0 or -errno.
int MapBss(bpf_object *obj, void *at);
// Removes the pin directory and everything in it (a link whose pin goes and that nobody holds is
// detached; a map goes with its last reference).
void RemovePins(const std::string &dir);
// A process's start time in USER_HZ ticks since boot (/proc/<pid>/stat), 0 when unreadable.
uint64_t StartTicks(uint32_t pid);

} // namespace filewarden
