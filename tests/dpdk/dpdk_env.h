// SPDX-License-Identifier: BSD-3-Clause
// flowteam dpdk test suite — shared environment.
//
// main.cc initialises EAL once (the testbed defaults) before RUN_ALL_TESTS;
// tests read it through eal(). Child processes (this same binary re-executed
// with `--ft-child <mode> ...`) run their own EAL with their own file prefix:
// used for the hugepage message, the second memif process and net_tap in a
// private network namespace.
#pragma once

#include "dataplane/eal.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace flowteam::dptest {

const dataplane::EalInfo& eal();

struct ChildResult {
    int exit_code = -1;        // exit status, or 128 + signal
    bool timed_out = false;    // killed after the deadline
    std::string output;        // stdout + stderr
};

// Runs this test binary as `<self> --ft-child <mode> args...`, bounded by
// timeout (SIGKILL after it).
ChildResult run_child(const std::string& mode, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout);

// Starts the child without waiting; finish with wait_child().
struct ChildHandle {
    int pid = -1;
    int out_fd = -1;
    std::string output;        // read so far
};
ChildHandle start_child(const std::string& mode, const std::vector<std::string>& args);
// Reads the child's output until it contains `marker` (true) or the timeout
// passed / the child closed its output (false).
bool read_child_until(ChildHandle& h, const std::string& marker, std::chrono::milliseconds timeout);
ChildResult wait_child(ChildHandle h, std::chrono::milliseconds timeout);

// Child entry points (children.cc); return the process exit code.
int child_main(const std::string& mode, const std::vector<std::string>& args);

// A unique scratch path under /tmp for this test process.
std::string scratch_path(const std::string& leaf);

} // namespace flowteam::dptest
