// SPDX-License-Identifier: BSD-3-Clause
// dpdk-migrate tests: EAL is initialised ONCE for the binary with the
// embedded-testbed defaults (--no-huge, --no-pci, unique --file-prefix).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "dataplane/eal.h"

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    std::unique_ptr<flowteam::dataplane::Eal> eal;
    try {
        flowteam::dataplane::EalOptions opts;
        opts.program = "dpdk_migrate_tests";
        eal = std::make_unique<flowteam::dataplane::Eal>(opts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dpdk_migrate_tests: %s\n", e.what());
        return 1;
    }
    const int rc = RUN_ALL_TESTS();
    eal.reset();
    return rc;
}
