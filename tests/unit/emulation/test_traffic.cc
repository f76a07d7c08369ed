// SPDX-License-Identifier: BSD-3-Clause
// Unit tests: synthetic traffic generator. Time is simulated in ns.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "emulation/traffic.h"

using namespace flowteam;
using namespace flowteam::emulation;

namespace {

constexpr std::uint64_t kHz = 1'000'000'000ull;
const std::string kData = FLOWTEAM_DATA_DIR;

using Tuple = std::tuple<std::uint32_t, std::uint32_t, std::uint16_t, std::uint16_t, std::uint8_t>;
Tuple tuple_of(const PacketDesc& d) { return {d.src_ip, d.dst_ip, d.src_port, d.dst_port, d.proto}; }

// Per-flow bookkeeping shared by the tests: consecutive sequences, one tuple per flow.
struct FlowCheck {
    std::map<std::uint32_t, std::uint32_t> next_seq;
    std::map<std::uint32_t, Tuple> tuple;
    std::map<std::uint32_t, std::uint64_t> payload;
    std::set<Tuple> seen;

    void add(const PacketDesc& d) {
        auto [it, fresh] = next_seq.try_emplace(d.flow_id, 0);
        ASSERT_EQ(d.seq, it->second) << "flow " << d.flow_id;
        ++it->second;
        ASSERT_EQ((d.flags & kProbeFirst) != 0, d.seq == 0);
        if (fresh) {
            tuple[d.flow_id] = tuple_of(d);
            ASSERT_TRUE(seen.insert(tuple_of(d)).second) << "tuple reused by flow " << d.flow_id;
            ASSERT_TRUE(in_bench_range(d.src_ip));
            ASSERT_TRUE(in_bench_range(d.dst_ip));
        } else {
            ASSERT_EQ(tuple[d.flow_id], tuple_of(d));
        }
        ASSERT_GE(d.bytes, kMinProbeFrameBytes);
        payload[d.flow_id] += d.payload_bytes();
    }
};

} // namespace

TEST(Traffic, FixedFlowsRoundRobinWithUniqueTuples) {
    TrafficConfig c;
    c.n_flows = 8;
    c.n_vports = 3;
    TrafficGenerator g(c, kHz);
    PacketDesc out[32];
    FlowCheck fc;
    std::map<std::uint32_t, int> per_flow;
    for (int call = 0; call < 100; ++call) {
        const std::uint16_t k = g.generate(1000ull * call, out, 32);
        ASSERT_EQ(k, 32); // unpaced elephants fill whatever room the caller has
        for (std::uint16_t i = 0; i < k; ++i) {
            fc.add(out[i]);
            ASSERT_EQ(out[i].bytes, 1514u); // MTU 1500 -> 1472 B payload
            ASSERT_EQ(out[i].tx_time, 1000ull * call);
            ASSERT_EQ(out[i].vport, out[i].flow_id % 3);
            ASSERT_EQ(out[i].flow_bytes, 0u);
            per_flow[out[i].flow_id] += 1;
        }
    }
    ASSERT_EQ(per_flow.size(), 8u);
    for (const auto& [id, n] : per_flow) {
        EXPECT_EQ(n, 400) << "flow " << id; // round-robin: 3200 packets / 8 flows
    }
    // Hand-checked tuple of flow 0 and flow 64513.
    PacketDesc d;
    TrafficGenerator::flow_tuple(0, 3, 4000, d);
    EXPECT_EQ(d.src_ip, 0xC6120001u); // 198.18.0.1
    EXPECT_EQ(d.src_port, 1024u);
    EXPECT_EQ(d.dst_ip, 0xC6130001u); // 198.19.0.1
    TrafficGenerator::flow_tuple(64'513, 3, 4000, d);
    EXPECT_EQ(d.src_ip, 0xC6120002u);
    EXPECT_EQ(d.src_port, 1025u);
    EXPECT_EQ(d.vport, 64'513u % 3);
    EXPECT_EQ(d.dst_ip, 0xC6130001u + 64'513u % 3);
}

TEST(Traffic, FiniteFlowsAreCutIntoPacketsExactly) {
    for (std::uint64_t size : {10'000ull, 1'480ull, 1'472ull, 20ull, 1'000'000ull}) {
        TrafficConfig c;
        c.n_flows = 3;
        c.flow_bytes = size;
        TrafficGenerator g(c, kHz);
        PacketDesc out[64];
        FlowCheck fc;
        std::map<std::uint32_t, int> lasts;
        for (int call = 0; call < 1000 && (call == 0 || g.active_flows() > 0); ++call) {
            const std::uint16_t k = g.generate(static_cast<Tick>(call), out, 64);
            for (std::uint16_t i = 0; i < k; ++i) {
                fc.add(out[i]);
                ASSERT_LE(out[i].payload_bytes(), 1472u);
                ASSERT_GE(out[i].payload_bytes(), kProbeHeaderBytes);
                if ((out[i].flags & kProbeLast) != 0) {
                    lasts[out[i].flow_id] += 1;
                }
            }
        }
        EXPECT_EQ(g.active_flows(), 0u);
        EXPECT_EQ(g.counters().flows_completed, 3u);
        EXPECT_EQ(g.next_event(), TrafficGenerator::kNoTick);
        const std::uint64_t expect = std::max<std::uint64_t>(size, kProbeHeaderBytes);
        for (std::uint32_t f = 0; f < 3; ++f) {
            EXPECT_EQ(fc.payload[f], expect) << "size " << size;
            EXPECT_EQ(lasts[f], 1);
        }
    }
    // 10000 B: six full packets (8832) + 1168. 1480 B: 1448 + 32 (never a sub-32 tail).
    TrafficConfig c;
    c.flow_bytes = 1480;
    TrafficGenerator g(c, kHz);
    PacketDesc out[4];
    ASSERT_EQ(g.generate(0, out, 4), 2);
    EXPECT_EQ(out[0].payload_bytes(), 1448u);
    EXPECT_EQ(out[1].payload_bytes(), 32u);
    EXPECT_EQ(out[1].flags, kProbeLast);
    EXPECT_EQ(out[0].flow_bytes, 1480u);
}

TEST(Traffic, JumboMtu) {
    TrafficConfig c;
    c.mtu = 9000;
    c.flow_bytes = 20'000;
    TrafficGenerator g(c, kHz);
    PacketDesc out[8];
    ASSERT_EQ(g.generate(0, out, 8), 3);
    EXPECT_EQ(out[0].bytes, 9014u);
    EXPECT_EQ(out[1].bytes, 9014u);
    EXPECT_EQ(out[2].payload_bytes(), 20'000u - 2u * 8972u);
}

TEST(Traffic, PacingHoldsTheRate) {
    TrafficConfig c;
    c.n_flows = 2;
    c.pace_bps = 1'000'000'000ull; // per flow: 1514 B every 12112 ns
    TrafficGenerator g(c, kHz);
    PacketDesc out[32];
    std::uint64_t frames = 0;
    std::map<std::uint32_t, Tick> last_tx;
    for (Tick t = 0; t < 10'000'000; t += 100) {
        const std::uint16_t k = g.generate(t, out, 32);
        for (std::uint16_t i = 0; i < k; ++i) {
            frames += out[i].bytes;
            auto it = last_tx.find(out[i].flow_id);
            if (it != last_tx.end()) {
                ASSERT_GE(out[i].tx_time - it->second, 12'000u);
            }
            last_tx[out[i].flow_id] = out[i].tx_time;
        }
    }
    // 2 flows × 1 Gb/s × 10 ms = 2.5 MB of frames (826 packets per flow, ±1).
    EXPECT_NEAR(static_cast<double>(frames) * 8.0 / 0.010, 2e9, 2.0 * 1514 * 8 / 0.010);
}

TEST(Traffic, SenderCreatedGaps) {
    TrafficConfig c;
    c.gap_every_bytes = 65'536;
    c.gap_ns = 500'000;
    TrafficGenerator g(c, kHz);
    PacketDesc out[4];
    std::uint64_t sent = 0, next_gap = 65'536;
    Tick prev = 0;
    bool have_prev = false;
    int gaps_seen = 0;
    for (Tick t = 0; t < 20'000'000; t += 1000) {
        const std::uint16_t k = g.generate(t, out, 4);
        for (std::uint16_t i = 0; i < k; ++i) {
            if (have_prev) {
                const Tick idle = out[i].tx_time - prev;
                if (sent >= next_gap) { // the previous packet crossed a 64 KB boundary
                    ASSERT_GE(idle, 500'000u);
                    ASSERT_LT(idle, 502'000u);
                    while (next_gap <= sent) {
                        next_gap += 65'536;
                    }
                    ++gaps_seen;
                } else {
                    ASSERT_LE(idle, 1000u); // otherwise back to back at the caller's pace
                }
            }
            sent += out[i].payload_bytes();
            prev = out[i].tx_time;
            have_prev = true;
        }
    }
    EXPECT_GT(gaps_seen, 30);
    EXPECT_EQ(static_cast<std::uint64_t>(gaps_seen), g.counters().gaps - (sent >= next_gap ? 1 : 0));
}

namespace {

// Drive a Poisson generator for `seconds` with generate() every `step` ns and
// return the payload load as a fraction of the capacity.
double measured_load(TrafficGenerator& g, double seconds, Tick step, FlowCheck* fc) {
    PacketDesc out[1024];
    const Tick end = static_cast<Tick>(seconds * 1e9);
    for (Tick t = 0; t < end; t += step) {
        std::uint16_t k;
        do {
            k = g.generate(t, out, 1024);
            if (fc != nullptr) {
                for (std::uint16_t i = 0; i < k; ++i) {
                    fc->add(out[i]);
                }
            }
        } while (k == 1024);
    }
    return static_cast<double>(g.counters().payload_bytes) * 8.0 / seconds /
           static_cast<double>(g.config().capacity_bps);
}

} // namespace

TEST(Traffic, PoissonArrivalsMeetTheLoadConstantSize) {
    TrafficConfig c;
    c.mode = ArrivalMode::poisson;
    c.capacity_bps = 10'000'000'000ull;
    c.load = 0.4;
    c.sizes = FlowSizeDist::parse("1000000 1\n", "1MB");
    c.mtu = 9000;
    TrafficGenerator g(c, kHz);
    FlowCheck fc;
    // 0.4 × 10 Gb/s / 8 Mb = 500 flows/s: 10 s -> 5000 flows (Poisson sd 1.4 %).
    const double load = measured_load(g, 10.0, 20'000, &fc);
    EXPECT_NEAR(load, 0.4, 0.4 * 0.05);
    EXPECT_NEAR(static_cast<double>(g.counters().flows_started), 5000.0, 5000.0 * 0.05);
    EXPECT_GE(g.counters().flows_completed + g.active_flows(), g.counters().flows_started);
    EXPECT_EQ(fc.next_seq.size(), g.counters().flows_started);
    for (const auto& [id, bytes] : fc.payload) {
        if (fc.next_seq[id] == 112) { // complete: 1 MB at 8972 B per packet = 111.5 -> 112 packets
            EXPECT_EQ(bytes, 1'000'000u);
        }
    }
}

TEST(Traffic, PoissonArrivalsMeetTheLoadWebSearch) {
    TrafficConfig c;
    c.mode = ArrivalMode::poisson;
    c.capacity_bps = 10'000'000'000ull;
    c.load = 0.6;
    c.sizes = FlowSizeDist::load(kData + "/websearch.cdf");
    c.mtu = 9000;
    c.seed = 77;
    TrafficGenerator g(c, kHz);
    // 438 flows/s; 60 s -> ~26000 flows, standard error of the byte total ~1.6 %.
    const double load = measured_load(g, 60.0, 50'000, nullptr);
    EXPECT_NEAR(load, 0.6, 0.6 * 0.05);
    EXPECT_EQ(g.counters().flows_delayed, 0u);
}

TEST(Traffic, FullFlowTableDelaysArrivalsButKeepsTheLoad) {
    TrafficConfig c;
    c.mode = ArrivalMode::poisson;
    c.capacity_bps = 1'000'000'000ull;
    c.load = 0.5;
    c.sizes = FlowSizeDist::parse("100000 1\n", "100KB");
    c.max_active_flows = 2;
    c.pace_bps = 200'000'000ull; // each flow needs 4 ms, arrivals every 1.6 ms on average
    TrafficGenerator g(c, kHz);
    FlowCheck fc;
    const double load = measured_load(g, 5.0, 10'000, &fc);
    EXPECT_GT(g.counters().flows_delayed, 100u);
    EXPECT_LE(g.active_flows(), 2u);
    // Capped by 2 flows × 200 Mb/s of paced frames: 100000 B of payload per
    // 67 × 1514·8/200e6 s (+ one 10 µs call until the slot is reused) = 0.39.
    EXPECT_NEAR(load, 0.39, 0.02);
}

TEST(Traffic, ConfigErrorsNameTheField) {
    auto msg = [](TrafficConfig c) -> std::string {
        try {
            TrafficGenerator g(std::move(c), kHz);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    TrafficConfig c;
    c.mtu = 100;
    EXPECT_NE(msg(c).find("mtu"), std::string::npos);
    c = TrafficConfig{};
    c.mode = ArrivalMode::poisson;
    c.capacity_bps = 1'000'000'000;
    EXPECT_NE(msg(c).find("sizes"), std::string::npos);
    c.sizes = FlowSizeDist::parse("1000 1\n", "x");
    c.load = 0;
    EXPECT_NE(msg(c).find("load"), std::string::npos);
    c = TrafficConfig{};
    c.gap_every_bytes = 1000;
    EXPECT_NE(msg(c).find("gap_every_bytes"), std::string::npos);
    c = TrafficConfig{};
    c.n_flows = 0;
    EXPECT_NE(msg(c).find("n_flows"), std::string::npos);
    EXPECT_EQ(msg(TrafficConfig{}), "");
}
