// SPDX-License-Identifier: BSD-3-Clause
// flowteam — EAL initialisation (public header: no rte_*.h, no rte_ types).
//
// Two ways to start DPDK:
//  * no user EAL arguments → the embedded virtual testbed: no hugepages, no
//    PCI, a unique file prefix, a small lcore list that fits this machine;
//    virtual ports are created afterwards (dataplane/testbed.h);
//  * user EAL arguments (everything after `--` on the command line, e.g.
//    `-l 2-9 -a 0000:3b:00.0 -a 0000:3b:00.1`) → passed to rte_eal_init
//    untouched, for real servers.
//
// Why not --in-memory: DPDK 22.11 rejects `--no-huge --in-memory`
// ("Option --legacy-mem is not compatible with --in-memory": --no-huge
// implies legacy memory). The testbed therefore uses a unique
// `--file-prefix=flowteam-<pid>`; the runtime directory
// /var/run/dpdk/<prefix>/ (config, mp socket, telemetry socket) is removed
// at clean-up, and directories left by crashed testbed runs (pid gone) are
// swept at the next start.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowteam::dataplane {

// Thrown when EAL cannot start: what() is one line saying what failed and
// what to change.
class EalError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct EalOptions {
    std::string program = "flowteam";      // argv[0] handed to EAL
    // Everything after `--`; passed through untouched. Empty → testbed.
    std::vector<std::string> user_args;

    // ---- testbed defaults (ignored when user_args is not empty) ----
    std::string file_prefix;                // empty → "flowteam-<pid>"
    unsigned memory_mb = 1024;              // -m, malloc-backed (--no-huge)
    std::string lcores;                     // empty → first (up to) 2 CPUs we may run on
    std::string log_level = "warning";      // --log-level (EAL + PMDs); with "warning" also
                                            // --log-level=lib.telemetry:error (22.11 telemetry
                                            // warns "No legacy callbacks" on every start)
    std::vector<std::string> vdevs;         // extra "--vdev=<each>"
    bool telemetry = true;                  // false → --no-telemetry
};

struct EalInfo {
    bool testbed = false;                   // started with the testbed defaults
    std::vector<std::string> argv;          // what rte_eal_init was given (argv[0] first)
    std::string file_prefix;                // as given or generated ("" if EAL default "rte")
    std::string runtime_dir;                // /var/run/dpdk/<prefix>; telemetry socket lives here
    std::string telemetry_socket;           // runtime_dir + "/dpdk_telemetry.v2"
    unsigned main_lcore = 0;
    unsigned lcore_count = 0;               // enabled lcores, main included
    std::vector<unsigned> worker_lcores;    // enabled lcores except main
    std::uint64_t tsc_hz = 0;
    bool no_huge = false;                   // --no-huge in effect
};

// Splits a command line at the first `--`: before it the application's
// options, after it the EAL arguments (untouched). argv[0] goes to neither.
struct SplitArgs {
    std::vector<std::string> app;
    std::vector<std::string> eal;
    bool has_separator = false;
};
SplitArgs split_command_line(int argc, const char* const* argv);

// The exact argv (without argv[0]) that Eal would pass to rte_eal_init.
// Pure; testable without EAL. `pid` names the default file prefix.
std::vector<std::string> build_eal_args(const EalOptions& opts, long pid);

// The CPUs this process may run on (sched_getaffinity), ascending.
std::vector<unsigned> allowed_cpus();

// Hugepage availability as the kernel reports it (read before rte_eal_init).
struct HugepageStatus {
    std::uint64_t free_bytes = 0;           // sum over page sizes of free pages × size
    std::uint64_t total_bytes = 0;
    bool hugetlbfs_mounted = false;
};
HugepageStatus probe_hugepages(const std::string& sysfs_dir = "/sys/kernel/mm/hugepages",
                               const std::string& mounts_file = "/proc/mounts");

// Empty when EAL can be expected to find hugepages (or does not need them);
// otherwise the one-line explanation with the fix. Pure.
std::string hugepage_problem(const std::vector<std::string>& eal_args, const HugepageStatus& hp);

// Empty when every argument is an EAL option of DPDK 22.11 with its value
// where one is needed (getopt_long rules: "-l 0-3", "-l0-3", "--lcores=..",
// "--lcores ..", unique abbreviations of long options, "--" ends them);
// otherwise one line naming the first bad argument. Checked before
// rte_eal_init, which answers an unknown option with ~100 lines of usage.
// Pure.
std::string eal_args_problem(const std::vector<std::string>& eal_args);

// RAII guard: rte_eal_init in the constructor, rte_eal_cleanup in the
// destructor. One per process (EAL cannot be re-initialised); a second
// instance throws std::logic_error. Construct it before any port, pool or
// ring and let it die last.
class Eal {
public:
    explicit Eal(const EalOptions& opts);
    ~Eal();
    Eal(const Eal&) = delete;
    Eal& operator=(const Eal&) = delete;

    const EalInfo& info() const { return info_; }

    // True while an Eal instance is alive in this process.
    static bool initialised();

private:
    EalInfo info_;
    bool remove_runtime_dir_ = false;       // we generated the prefix
};

} // namespace flowteam::dataplane
