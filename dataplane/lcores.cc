// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/lcores.h"

#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_memory.h>

#include <stdexcept>
#include <string>

namespace flowteam::dataplane {
namespace {

int trampoline(void* arg) {
    auto* fn = static_cast<std::function<int()>*>(arg);
    try {
        return (*fn)();
    } catch (...) {
        return -1;
    }
}

} // namespace

int lcore_socket(unsigned lcore) {
    const unsigned s = rte_lcore_to_socket_id(lcore);
    return s == static_cast<unsigned>(SOCKET_ID_ANY) ? 0 : static_cast<int>(s);
}

LcoreGroup::~LcoreGroup() { wait(); }

void LcoreGroup::launch(unsigned lcore, std::function<int()> fn) {
    if (lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcore) || lcore == rte_get_main_lcore())
        throw std::runtime_error("lcore " + std::to_string(lcore) +
                                 " is not an enabled worker lcore; give more lcores with -l after `--`");
    fns_.push_back(std::move(fn));
    const int rc = rte_eal_remote_launch(trampoline, &fns_.back(), lcore);
    if (rc != 0) {
        fns_.pop_back();
        throw std::runtime_error("lcore " + std::to_string(lcore) + " is busy: rte_eal_remote_launch failed: " +
                                 rte_strerror(-rc));
    }
    lcores_.push_back(lcore);
}

int LcoreGroup::wait() {
    int first = 0;
    for (unsigned lc : lcores_) {
        const int rc = rte_eal_wait_lcore(lc);
        if (rc != 0 && first == 0) first = rc;
    }
    lcores_.clear();
    fns_.clear();
    return first;
}

} // namespace flowteam::dataplane
