// SPDX-License-Identifier: BSD-3-Clause
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "common/sysmem.h"

using namespace flowteam::opt;

TEST(Sysmem, MeminfoAvailable) {
    const std::string p = ::testing::TempDir() + "/meminfo";
    std::ofstream(p) << "MemTotal:       16000000 kB\nMemFree:         100 kB\nMemAvailable:    2048 kB\n";
    EXPECT_EQ(meminfo_available(p), 2048u * 1024);
    std::ofstream(p) << "MemTotal: 1 kB\n";
    EXPECT_FALSE(meminfo_available(p).has_value());
    EXPECT_FALSE(meminfo_available(p + ".missing").has_value());
    std::remove(p.c_str());
}

TEST(Sysmem, Machine) { EXPECT_GT(available_memory_bytes(), 0u); }
