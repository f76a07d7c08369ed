// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/port.h"
#include "dataplane/testbed.h"

#include <gtest/gtest.h>

#include <numeric>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;

std::vector<std::uint8_t> key_of(std::size_t n) {
    std::vector<std::uint8_t> k(n);
    for (std::size_t i = 0; i < n; ++i) k[i] = static_cast<std::uint8_t>(0x6d + 13 * i);
    return k;
}

std::vector<std::uint16_t> reta_of(std::size_t n, std::uint16_t queues) {
    std::vector<std::uint16_t> r(n);
    for (std::size_t i = 0; i < n; ++i) r[i] = static_cast<std::uint16_t>((i * 7 + i / 3) % queues);
    return r;
}

dp::PortConfig queues(std::uint16_t n) {
    dp::PortConfig c;
    c.rx_queues = c.tx_queues = n;
    c.rx_desc = c.tx_desc = 256;
    return c;
}

TEST(Rss, PmdWithoutRssReportsSoftware) {
    dp::MbufPools pools({2047, 64});
    dp::RingPair pair({"norss", 4, 64, -1});
    dp::Port p(pair.port_a(), queues(4), pools);
    EXPECT_FALSE(p.info().rss_capable);
    EXPECT_EQ(p.info().reta_size, 0);
    EXPECT_FALSE(p.setup().hw_rss);
    const auto r = p.program_rss(key_of(40), reta_of(128, 4));
    EXPECT_EQ(r.mode, dp::RssMode::Software);
    EXPECT_NE(r.reason.find("software RSS"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("net_ring"), std::string::npos) << r.reason;
    EXPECT_TRUE(p.query_reta().empty());
}

// net_null keeps what it is given (no real hashing): the hardware path is
// exercised end to end, including RETA groups of 64 entries.
TEST(Rss, HardwarePathProgramsKeyAndReta) {
    dp::MbufPools pools({2047, 64});
    auto null = dp::make_null_port();
    dp::Port p(null.port_id(), queues(4), pools);
    ASSERT_TRUE(p.info().rss_capable);
    ASSERT_GT(p.info().reta_size, 64) << "spans more than one RETA group";
    EXPECT_TRUE(p.setup().hw_rss);
    EXPECT_NE(p.setup().rss_hash_types, 0u);
    const auto reta = reta_of(p.info().reta_size, 4);
    const auto r = p.program_rss(key_of(40), reta);
    EXPECT_EQ(r.mode, dp::RssMode::Hardware) << r.reason;
    EXPECT_EQ(p.query_reta(), reta);
    // Reprogramming (e.g. after a member change) replaces the table.
    auto reta2 = reta;
    std::reverse(reta2.begin(), reta2.end());
    EXPECT_EQ(p.program_rss(key_of(40), reta2).mode, dp::RssMode::Hardware);
    EXPECT_EQ(p.query_reta(), reta2);
}

TEST(Rss, OneQueueMeansSoftware) {
    dp::MbufPools pools({1023, 32});
    auto null = dp::make_null_port();
    dp::Port p(null.port_id(), queues(1), pools);
    EXPECT_FALSE(p.setup().hw_rss);
    const auto r = p.program_rss(key_of(40), reta_of(p.info().reta_size, 1));
    EXPECT_EQ(r.mode, dp::RssMode::Software);
    EXPECT_NE(r.reason.find("without RSS"), std::string::npos) << r.reason;
}

TEST(Rss, PlanMismatchesAreRefusedWithTheField) {
    dp::MbufPools pools({2047, 64});
    auto null = dp::make_null_port();
    dp::Port p(null.port_id(), queues(4), pools);
    const std::size_t n = p.info().reta_size;
    auto expect_invalid = [&](std::span<const std::uint8_t> k, std::span<const std::uint16_t> r, const char* field) {
        try {
            p.program_rss(k, r);
            ADD_FAILURE() << "accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()).rfind(field, 0), 0u) << e.what();
        }
    };
    expect_invalid(key_of(52), reta_of(n, 4), "rss key: 52 bytes");
    expect_invalid(key_of(40), reta_of(n / 2, 4), "reta: ");
    auto bad = reta_of(n, 4);
    bad[n - 1] = 4;
    expect_invalid(key_of(40), bad, "reta[");
}

} // namespace
} // namespace flowteam::dptest
