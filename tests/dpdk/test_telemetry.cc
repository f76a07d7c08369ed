// SPDX-License-Identifier: BSD-3-Clause
// /flowteam/... telemetry commands, queried through the real
// dpdk_telemetry.v2 socket of this process (what dpdk-telemetry.py does).
#include "dataplane/telemetry.h"
#include "dpdk_env.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;
using json = nlohmann::json;

json query(const std::string& cmd) {
    const std::string reply = dp::telemetry_query(eal().telemetry_socket, cmd, 5000);
    return json::parse(reply);
}

class Telemetry : public ::testing::Test {
protected:
    void SetUp() override { dp::register_telemetry_commands(); }
};

TEST_F(Telemetry, CommandsAreListed) {
    const json j = query("/");
    const auto& cmds = j.at("/");
    for (auto c : {dp::TelemetryCommand::Members, dp::TelemetryCommand::Flowlets, dp::TelemetryCommand::Reorder,
                   dp::TelemetryCommand::Config}) {
        const std::string path(dp::telemetry_path(c));
        EXPECT_NE(std::find(cmds.begin(), cmds.end(), path), cmds.end()) << path;
    }
    const json h = query("/help,/flowteam/members");
    EXPECT_NE(h.dump().find("per member"), std::string::npos) << h.dump();
}

TEST_F(Telemetry, MembersAnswerFromTheProvider) {
    dp::TelemetryRegistration reg(dp::TelemetryCommand::Members, [](std::string_view params) {
        dp::TelemetryObject o;
        o.add("n_members", std::uint64_t{2})
            .add("mode", std::string("dynamic"))
            .add("share", 0.25)
            .add("offset", std::int64_t{-3})
            .add("big", std::uint64_t{1} << 40)
            .add("rx bytes", std::uint64_t{5})   // cleaned to rx_bytes
            .add("params", std::string(params));
        o.add_array("tx_packets", std::vector<std::uint64_t>{10, 20});
        o.add_array("state", std::vector<std::string>{"up", "down"});
        dp::TelemetryObject m0;
        m0.add("rate_bps", std::uint64_t{10'000'000'000});
        m0.add_array("queue_packets", std::vector<std::uint64_t>{1, 2, 3});
        o.add_object("m0", m0);
        return o;
    });
    const json j = query("/flowteam/members");
    const json& m = j.at("/flowteam/members");
    EXPECT_EQ(m.at("n_members"), 2);
    EXPECT_EQ(m.at("mode"), "dynamic");
    EXPECT_EQ(m.at("share"), "0.25");
    EXPECT_EQ(m.at("offset"), -3);
    EXPECT_EQ(m.at("big"), std::uint64_t{1} << 40);
    EXPECT_EQ(m.at("rx_bytes"), 5);
    EXPECT_EQ(m.at("params"), "");
    EXPECT_EQ(m.at("tx_packets"), json::array({10, 20}));
    EXPECT_EQ(m.at("state"), json::array({"up", "down"}));
    EXPECT_EQ(m.at("m0").at("rate_bps"), 10'000'000'000ull);
    EXPECT_EQ(m.at("m0").at("queue_packets"), json::array({1, 2, 3}));

    const json p = query("/flowteam/members,1");
    EXPECT_EQ(p.at("/flowteam/members").at("params"), "1");
}

TEST_F(Telemetry, NoProviderSaysUnavailable) {
    const json j = query("/flowteam/flowlets");
    EXPECT_EQ(j.at("/flowteam/flowlets").at("available"), 0);
    {
        dp::TelemetryRegistration reg(dp::TelemetryCommand::Flowlets, [](std::string_view) {
            dp::TelemetryObject o;
            o.add("flowlet_starts", std::uint64_t{7});
            return o;
        });
        EXPECT_EQ(query("/flowteam/flowlets").at("/flowteam/flowlets").at("flowlet_starts"), 7);
    }
    EXPECT_EQ(query("/flowteam/flowlets").at("/flowteam/flowlets").at("available"), 0) << "cleared on destruction";
}

TEST_F(Telemetry, ProviderErrorsAreReportedNotFatal) {
    dp::TelemetryRegistration reg(dp::TelemetryCommand::Reorder, [](std::string_view) -> dp::TelemetryObject {
        throw std::runtime_error("engine not running");
    });
    EXPECT_EQ(query("/flowteam/reorder").at("/flowteam/reorder").at("error"), "engine not running");
}

TEST_F(Telemetry, LargeObjectsAreTruncatedVisibly) {
    dp::TelemetryRegistration reg(dp::TelemetryCommand::Config, [](std::string_view) {
        dp::TelemetryObject o;
        for (int i = 0; i < 300; ++i) o.add(std::string("k").append(std::to_string(i)), std::uint64_t(i));   // not "k" + ...: GCC 12 -Wrestrict false positive at -O3
        return o;
    });
    const json c = query("/flowteam/config").at("/flowteam/config");
    EXPECT_EQ(c.at("_truncated"), 1);
    EXPECT_EQ(c.size(), 256u);
    EXPECT_EQ(c.at("k254"), 254);
    EXPECT_FALSE(c.contains("k255"));
}

TEST(TelemetryClient, ConnectFailureIsClear) {
    try {
        dp::telemetry_query("/nonexistent/dpdk_telemetry.v2", "/", 100);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace flowteam::dptest
