// Pinning a capture in bpffs and taking one over: plain libbpf and the filesystem, no Napi.
#include "pins.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace filewarden {

namespace {

// bpffs refuses names with a dot, and internal maps are named "<obj>.bss" and the like.
std::string PinName(const bpf_map *map)
{
	std::string n = bpf_map__name(map);
	std::replace(n.begin(), n.end(), '.', '_');
	return n;
}

int MakeDir(const std::string &dir)
{
	if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

} // namespace

int PinMaps(bpf_object *obj, const std::string &dir, std::string *what)
{
	if (int e = MakeDir(dir))
		return *what = dir, e;
	bpf_map *map;
	bpf_object__for_each_map(map, obj)
	{
		std::string path = dir + "/" + PinName(map);
		if (bpf_obj_pin(bpf_map__fd(map), path.c_str()) != 0)
			return *what = path, -errno;
	}
	return 0;
}

int ReuseMaps(bpf_object *obj, const std::string &dir, std::string *what)
{
	bpf_map *map;
	bpf_object__for_each_map(map, obj)
	{
		std::string path = dir + "/" + PinName(map);
		int fd = bpf_obj_get(path.c_str());
		if (fd < 0)
			return *what = path, -errno;
		int e = bpf_map__reuse_fd(map, fd); // dups the fd
		close(fd);
		if (e)
			return *what = path, e;
	}
	return 0;
}

int PinLinks(const std::vector<bpf_link *> &links, const std::string &dir, std::string *what)
{
	std::string at = dir + "/links";
	if (int e = MakeDir(at))
		return *what = at, e;
	for (size_t i = 0; i < links.size(); i++) {
		char name[24];
		snprintf(name, sizeof(name), "%04zu", i);
		std::string path = at + "/" + name;
		if (int e = bpf_link__pin(links[i], path.c_str()))
			return *what = path, e;
	}
	return 0;
}

std::vector<std::string> LinkPins(const std::string &dir)
{
	std::vector<std::string> out;
	std::string at = dir + "/links";
	if (DIR *d = opendir(at.c_str())) {
		while (dirent *e = readdir(d))
			if (e->d_name[0] != '.')
				out.push_back(at + "/" + e->d_name);
		closedir(d);
	}
	std::sort(out.begin(), out.end());
	return out;
}

int MapBss(bpf_object *obj, void *at)
{
	bpf_map *map;
	bpf_object__for_each_map(map, obj)
	{
		const char *name = bpf_map__name(map);
		size_t n = strlen(name);
		if (n < 4 || strcmp(name + n - 4, ".bss") != 0)
			continue;
		long page = sysconf(_SC_PAGESIZE);
		size_t len = ((static_cast<size_t>(bpf_map__value_size(map)) + 7) & ~size_t{7});
		len = (len + page - 1) / page * page;
		void *m = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, bpf_map__fd(map), 0);
		return m == MAP_FAILED ? -errno : 0;
	}
	return -ENOENT;
}

void RemovePins(const std::string &dir)
{
	for (const char *sub : {"links", "aux", "main"}) {
		std::string at = dir + "/" + sub;
		if (DIR *d = opendir(at.c_str())) {
			while (dirent *e = readdir(d))
				if (e->d_name[0] != '.')
					unlink((at + "/" + e->d_name).c_str());
			closedir(d);
		}
		rmdir(at.c_str());
	}
	rmdir(dir.c_str());
}

uint64_t StartTicks(uint32_t pid)
{
	std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
	std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	// The command name is in parentheses and may hold anything: fields count from the last ')'.
	size_t close = s.rfind(')');
	if (close == std::string::npos)
		return 0;
	std::istringstream rest(s.substr(close + 2));
	std::string field;
	// Field 3 (state) is the first after the name; starttime is field 22.
	for (int i = 3; i < 22 && (rest >> field); i++) {
	}
	uint64_t ticks = 0;
	rest >> ticks;
	return ticks;
}

} // namespace filewarden
