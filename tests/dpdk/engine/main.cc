// SPDX-License-Identifier: BSD-3-Clause
// flowteam dpdk engine tests: EAL is initialised ONCE for the whole binary
// with the embedded-testbed defaults (--no-huge --no-pci, unique
// --file-prefix, 2 lcores: main = control, one worker runs TX+wire+RX).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "dataplane/eal.h"
#include "engine_env.h"

namespace {
std::unique_ptr<flowteam::dataplane::Eal> g_eal;
}

const flowteam::dataplane::EalInfo& engine_test_eal() { return g_eal->info(); }

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    try {
        flowteam::dataplane::EalOptions o;
        o.program = "dpdk_engine_tests";
        g_eal = std::make_unique<flowteam::dataplane::Eal>(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dpdk_engine_tests: %s\n", e.what());
        return 1;
    }
    const int rc = RUN_ALL_TESTS();
    g_eal.reset();
    return rc;
}
