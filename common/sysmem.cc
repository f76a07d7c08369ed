// SPDX-License-Identifier: BSD-3-Clause
#include "common/sysmem.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace flowteam::opt {
namespace {

std::optional<std::uint64_t> read_u64(const std::string& path) {
    std::ifstream in(path);
    std::string s;
    if (!(in >> s) || s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    try {
        return std::stoull(s);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

} // namespace

std::optional<std::uint64_t> meminfo_available(const std::string& path) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("MemAvailable:", 0) != 0) continue;
        std::istringstream ls(line.substr(13));
        std::uint64_t kb = 0;
        std::string unit;
        if (!(ls >> kb)) return std::nullopt;
        ls >> unit;
        return kb * (unit == "kB" || unit.empty() ? 1024 : 1);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> cgroup_available(const std::string& cgroup_root, const std::string& self_cgroup) {
    std::ifstream in(self_cgroup);
    std::optional<std::uint64_t> out;
    auto take = [&](std::optional<std::uint64_t> max, std::optional<std::uint64_t> cur) {
        if (!max || *max >= (1ull << 60)) return;   // "max" / no limit
        const std::uint64_t left = *max > cur.value_or(0) ? *max - cur.value_or(0) : 0;
        out = out ? std::min(*out, left) : left;
    };
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("0::", 0) == 0) {   // cgroup v2 unified hierarchy
            const std::string dir = cgroup_root + line.substr(3);
            take(read_u64(dir + "/memory.max"), read_u64(dir + "/memory.current"));
        } else if (const auto at = line.find(":memory:"); at != std::string::npos) {   // cgroup v1
            const std::string dir = cgroup_root + "/memory" + line.substr(at + 8);
            take(read_u64(dir + "/memory.limit_in_bytes"), read_u64(dir + "/memory.usage_in_bytes"));
        }
    }
    return out;
}

std::uint64_t available_memory_bytes() {
    std::optional<std::uint64_t> a = meminfo_available();
    if (!a) {
        const long pages = ::sysconf(_SC_AVPHYS_PAGES), size = ::sysconf(_SC_PAGESIZE);
        if (pages > 0 && size > 0) a = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(size);
    }
    if (const auto c = cgroup_available()) a = a ? std::min(*a, *c) : *c;
    return a.value_or(UINT64_MAX);
}

} // namespace flowteam::opt
