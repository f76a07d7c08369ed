// SPDX-License-Identifier: BSD-3-Clause
// flowteam — how much memory this process may still take: the kernel's
// MemAvailable (/proc/meminfo), lowered by a cgroup v2 limit when one is set.
// Used to refuse, before any work, runs that could only end in
// std::bad_alloc or the OOM killer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace flowteam::opt {

// MemAvailable in bytes from a meminfo file; nullopt when absent/unreadable.
std::optional<std::uint64_t> meminfo_available(const std::string& path = "/proc/meminfo");

// Bytes still allowed by the cgroup limit of this process (v2 memory.max -
// memory.current, v1 memory.limit_in_bytes - usage); nullopt without a limit.
std::optional<std::uint64_t> cgroup_available(const std::string& cgroup_root = "/sys/fs/cgroup",
                                              const std::string& self_cgroup = "/proc/self/cgroup");

// The smaller of the two; falls back to sysconf(_SC_AVPHYS_PAGES) x page size.
std::uint64_t available_memory_bytes();

} // namespace flowteam::opt
