// SPDX-License-Identifier: BSD-3-Clause
// flowteam — running loops on EAL worker lcores (public header: no rte_*.h).
#pragma once

#include <deque>
#include <functional>
#include <vector>

namespace flowteam::dataplane {

// NUMA socket of an lcore (0 when unknown).
int lcore_socket(unsigned lcore);

// Launches functions on worker lcores (rte_eal_remote_launch) and waits for
// them (rte_eal_wait_lcore). The destructor waits for whatever still runs:
// set the stop flag (dataplane/signals.h) first. A function that throws
// returns -1.
class LcoreGroup {
public:
    LcoreGroup() = default;
    ~LcoreGroup();
    LcoreGroup(const LcoreGroup&) = delete;
    LcoreGroup& operator=(const LcoreGroup&) = delete;

    // lcore must be an enabled, idle worker (not the main lcore). Throws
    // std::runtime_error otherwise.
    void launch(unsigned lcore, std::function<int()> fn);
    // Waits for every launched function; returns the first non-zero result (0 if none).
    int wait();
    std::size_t running() const { return lcores_.size(); }

private:
    std::deque<std::function<int()>> fns_;   // stable addresses while running
    std::vector<unsigned> lcores_;
};

} // namespace flowteam::dataplane
