// SPDX-License-Identifier: BSD-3-Clause
// RSS: RETA construction, RETA indexing, queue -> lcore mapping and its rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "teaming/rss.h"

namespace flowteam::teaming {
namespace {

TEST(Reta, SlotUsesLowBits) {
    static_assert(reta_slot(0x12345u, 128) == 0x45u);
    static_assert(reta_slot(0xFFFF'FFFFu, 512) == 511u);
    static_assert(reta_slot(1000u, 192) == 1000u % 192);
    for (std::uint32_t h : {0u, 1u, 77u, 0xDEAD'BEEFu}) EXPECT_EQ(reta_slot(h, 64), h % 64);
}

TEST(Reta, EqualQueuesIsDpdkDefault) {
    const auto reta = build_reta(128, queue_range(4));
    ASSERT_EQ(reta.size(), 128u);
    for (std::uint32_t i = 0; i < 128; ++i) EXPECT_EQ(reta[i], i % 4);
    EXPECT_EQ(reta_queue(reta, 0x1007u), reta[7]);
}

TEST(Reta, ArbitraryQueueIdsAndWeights) {
    const std::vector<std::uint32_t> q = {4, 7};
    const auto reta = build_reta(64, q, {3, 1});
    std::map<std::uint16_t, int> n;
    for (auto x : reta) ++n[x];
    EXPECT_EQ(n[4], 48);
    EXPECT_EQ(n[7], 16);
    EXPECT_EQ(n.size(), 2u);
    // interleaved: 4 4 7 4 | 4 4 7 4 ... no run of two 7s
    for (std::size_t i = 1; i < reta.size(); ++i) EXPECT_FALSE(reta[i] == 7 && reta[i - 1] == 7);

    const auto r3 = build_reta(512, {0, 1, 2}, {5, 3, 2});
    std::map<std::uint16_t, int> m;
    for (auto x : r3) ++m[x];
    EXPECT_EQ(m[0], 256);
    EXPECT_EQ(m[1], 154); // 153.6
    EXPECT_EQ(m[2], 102); // 102.4
    // Random hashes land on queues by weight.
    std::mt19937 rng(6);
    int hits[3] = {};
    for (int i = 0; i < 200000; ++i) ++hits[reta_queue(r3, rng())];
    EXPECT_NEAR(hits[0] / 200000.0, 0.5, 0.01);
    EXPECT_NEAR(hits[1] / 200000.0, 0.3, 0.01);
    EXPECT_NEAR(hits[2] / 200000.0, 0.2, 0.01);
}

TEST(Reta, BadInputThrows) {
    EXPECT_THROW(build_reta(0, {0}), std::invalid_argument);
    EXPECT_THROW(build_reta(8192, {0}), std::invalid_argument);
    EXPECT_THROW(build_reta(64, {70000}), std::invalid_argument);
    EXPECT_THROW(build_reta(4, {0, 1, 2, 3, 4}), std::invalid_argument);
    EXPECT_EQ(build_reta(4, {9, 8}), (std::vector<std::uint16_t>{9, 8, 9, 8}));
    EXPECT_THROW(build_reta(64, {}), std::invalid_argument);
    EXPECT_THROW(build_reta(64, {1, 1}), std::invalid_argument);
    EXPECT_THROW(build_reta(64, {0, 1}, {1}), std::invalid_argument);
    EXPECT_THROW(build_reta(64, {0, 1}, {1, 0}), std::invalid_argument);
    EXPECT_THROW(build_reta(64, queue_range(65)), std::invalid_argument);
    EXPECT_NO_THROW(build_reta(192, {0, 1, 2}));
    try {
        build_reta(0, {0});
        ADD_FAILURE() << "no throw";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("reta_size"), std::string::npos);
    }
}

const std::vector<LcoreInfo> kTwoSockets = {{1, 0}, {2, 0}, {3, 1}, {4, 1}};

TEST(QueueMap, RoundRobinOnThePortsSocket) {
    auto r = map_queues_to_lcores(4, kTwoSockets, {1, 1});
    EXPECT_EQ(r.lcore_of_queue, (std::vector<std::uint32_t>{3, 4, 3, 4}));
    EXPECT_EQ(r.socket, 1);
    EXPECT_FALSE(r.cross_socket);
    EXPECT_TRUE(r.warning.empty());
    EXPECT_EQ(r.port_cross_socket, (std::vector<std::uint8_t>{0, 0}));

    r = map_queues_to_lcores(3, kTwoSockets, {0});
    EXPECT_EQ(r.lcore_of_queue, (std::vector<std::uint32_t>{1, 2, 1}));
    EXPECT_FALSE(r.cross_socket);
}

TEST(QueueMap, NoLcoreOnThePortsSocketIsFlagged) {
    const std::vector<LcoreInfo> only1 = {{5, 1}, {6, 1}};
    const auto r = map_queues_to_lcores(2, only1, {0});
    EXPECT_EQ(r.lcore_of_queue, (std::vector<std::uint32_t>{5, 6}));
    EXPECT_TRUE(r.cross_socket);
    EXPECT_EQ(r.port_cross_socket, (std::vector<std::uint8_t>{1}));
    EXPECT_NE(r.warning.find("port 0"), std::string::npos) << r.warning;
    EXPECT_NE(r.warning.find("lcore 5"), std::string::npos) << r.warning;
}

TEST(QueueMap, PortsOnTwoSocketsShareOneMappingAndTheMinorityIsFlagged) {
    const auto r = map_queues_to_lcores(4, kTwoSockets, {1, 0, 1});
    EXPECT_EQ(r.socket, 1); // two ports of three on socket 1
    EXPECT_EQ(r.lcore_of_queue, (std::vector<std::uint32_t>{3, 4, 3, 4}));
    EXPECT_EQ(r.port_cross_socket, (std::vector<std::uint8_t>{0, 1, 0}));
    EXPECT_TRUE(r.cross_socket);
    EXPECT_NE(r.warning.find("port 1"), std::string::npos);
    EXPECT_EQ(r.warning.find("port 0"), std::string::npos);
    // tie: the first port's socket
    EXPECT_EQ(map_queues_to_lcores(2, kTwoSockets, {0, 1}).socket, 0);
}

TEST(QueueMap, UnknownSocketsNeverWarn) {
    const std::vector<LcoreInfo> unknown = {{0, -1}, {1, -1}};
    const auto r = map_queues_to_lcores(4, unknown, {0, 1});
    EXPECT_EQ(r.lcore_of_queue, (std::vector<std::uint32_t>{0, 1, 0, 1}));
    EXPECT_FALSE(r.cross_socket);
    const auto r2 = map_queues_to_lcores(2, kTwoSockets, {-1});
    EXPECT_EQ(r2.lcore_of_queue, (std::vector<std::uint32_t>{1, 2}));
    EXPECT_FALSE(r2.cross_socket);
}

TEST(QueueMap, BadInputThrows) {
    EXPECT_THROW(map_queues_to_lcores(0, kTwoSockets, {0}), std::invalid_argument);
    EXPECT_THROW(map_queues_to_lcores(2, {}, {0}), std::invalid_argument);
    EXPECT_THROW(map_queues_to_lcores(2, kTwoSockets, {}), std::invalid_argument);
    EXPECT_THROW(map_queues_to_lcores(2, {{1, 0}, {1, 0}}, {0}), std::invalid_argument);
}

TEST(QueueMap, CheckRule) {
    std::string err;
    const auto shared = map_queues_to_lcores(4, kTwoSockets, {0, 0}).lcore_of_queue;
    EXPECT_TRUE(check_queue_mapping({shared, shared, shared}, &err)) << err;

    std::vector<std::vector<std::uint32_t>> bad = {{1, 2, 1, 2}, {1, 2, 2, 1}};
    EXPECT_FALSE(check_queue_mapping(bad, &err));
    EXPECT_NE(err.find("queue 2"), std::string::npos) << err;
    EXPECT_NE(err.find("port 1"), std::string::npos) << err;
    EXPECT_NE(err.find("lcore 2"), std::string::npos) << err;
    EXPECT_NE(err.find("lcore 1"), std::string::npos) << err;

    EXPECT_FALSE(check_queue_mapping({{1, 2}, {1, 2, 3}}, &err));
    EXPECT_NE(err.find("same number"), std::string::npos) << err;
    EXPECT_FALSE(check_queue_mapping({}, &err));
    EXPECT_FALSE(check_queue_mapping({{}}, &err));
    EXPECT_FALSE(check_queue_mapping(bad, nullptr)); // error text optional
    EXPECT_TRUE(check_queue_mapping({{7}}, nullptr));
}

TEST(QueueMap, SocketLocalityCheck) {
    std::string w;
    EXPECT_TRUE(check_socket_locality({1, 2}, kTwoSockets, 0, &w));
    EXPECT_FALSE(check_socket_locality({1, 3}, kTwoSockets, 0, &w));
    EXPECT_NE(w.find("queue 1 on lcore 3 (socket 1)"), std::string::npos) << w;
    EXPECT_TRUE(check_socket_locality({99}, kTwoSockets, 0, &w)); // unknown lcore: unknown socket
}

} // namespace
} // namespace flowteam::teaming
