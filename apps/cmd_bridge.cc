// SPDX-License-Identifier: BSD-3-Clause
// `flowteam bridge`: the team as a bump in the wire between two net_tap
// kernel interfaces (dataplane/bridge.h). Frames the kernel sends out of
// --iface-a cross the sending team, the emulated member links and the
// receiving team, and come out of --iface-b; what comes back into --iface-b
// goes straight to --iface-a. Used by scripts/tcp_experiment.py, which moves
// the two interfaces into a client and a server network namespace.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/engine_options.h"
#include "dataplane/bridge.h"
#include "dataplane/eal.h"
#include "dataplane/engine.h"
#include "dataplane/signals.h"

namespace flowteam::apps {
namespace {

namespace dp = flowteam::dataplane;
using nlohmann::json;

constexpr const char* kSummary =
    "The team as a bump in the wire between two kernel interfaces (net_tap): frames sent out of --iface-a\n"
    "cross the sending team, the emulated member links and the receiving team and leave on --iface-b; the\n"
    "reverse direction (ACKs) goes from --iface-b straight to --iface-a. Move the interfaces into two network\n"
    "namespaces after --ready-file appears (scripts/tcp_experiment.py does it). Stops on SIGINT/SIGTERM or\n"
    "after --duration (default here: 60s; 0 = until stopped).";

std::string ip4(const std::array<std::uint8_t, 4>& a) {
    return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." + std::to_string(a[3]);
}

json reorder_json(const measure::ReorderStats& s) {
    return {{"received", s.received},
            {"unique", s.unique},
            {"reordered", s.reordered},
            {"reordered_ratio", s.reordered_ratio()},
            {"n_reordered_ge3", s.n_reordered_ge3},
            {"max_extent", s.extent.max},
            {"dup", s.dup},
            {"missing", s.dropped}};
}

json bridge_json(const dp::TapBridge& b, std::uint8_t members) {
    const dp::BridgeCounters c = b.counters();
    json j;
    j["iface_a"] = b.config().iface_a;
    j["iface_b"] = b.config().iface_b;
    j["reverse_path"] = "direct (tap B -> tap A, not through the team)";
    j["a_rx_frames"] = c.a_rx_frames;
    j["a_rx_bytes"] = c.a_rx_bytes;
    j["a_too_big"] = c.a_too_big;
    j["b_frames"] = c.b_frames;
    j["b_bytes"] = c.b_bytes;
    j["b_tx"] = c.b_tx;
    j["b_tx_full"] = c.b_tx_full;
    j["b_alloc_failed"] = c.b_alloc_failed;
    j["b_segmented"] = c.b_segmented;
    j["rev_frames"] = c.rev_frames;
    j["rev_bytes"] = c.rev_bytes;
    j["rev_tx_full"] = c.rev_tx_full;
    j["tcp4_frames"] = c.tcp4_frames;
    j["other_frames"] = c.other_frames;
    j["flows_untracked"] = c.flows_untracked;
    j["rx_member"] = std::vector<std::uint64_t>(c.rx_member.begin(), c.rx_member.begin() + members);
    j["reorder"] = reorder_json(b.reorder_total());
    json flows = json::array();
    for (const auto& f : b.flows()) {
        flows.push_back({{"src", ip4(f.src) + ":" + std::to_string(f.sport)},
                         {"dst", ip4(f.dst) + ":" + std::to_string(f.dport)},
                         {"frames", f.frames},
                         {"bytes", f.bytes},
                         {"rx_member", std::vector<std::uint64_t>(f.rx_member.begin(), f.rx_member.begin() + members)},
                         {"reorder", reorder_json(f.reorder)}});
    }
    j["flows"] = flows;
    return j;
}

void print_bridge(const json& j) {
    std::printf("\nbridge %s -> team -> %s (reverse: %s)\n", j["iface_a"].get<std::string>().c_str(),
                j["iface_b"].get<std::string>().c_str(), j["reverse_path"].get<std::string>().c_str());
    std::printf("  A rx %" PRIu64 " frames, too big %" PRIu64 " | to B %" PRIu64 " sent, %" PRIu64 " tap full, %" PRIu64
                " no mbuf, %" PRIu64 " segmented | reverse %" PRIu64 " frames, %" PRIu64 " tap full\n",
                j["a_rx_frames"].get<std::uint64_t>(), j["a_too_big"].get<std::uint64_t>(), j["b_tx"].get<std::uint64_t>(),
                j["b_tx_full"].get<std::uint64_t>(), j["b_alloc_failed"].get<std::uint64_t>(),
                j["b_segmented"].get<std::uint64_t>(), j["rev_frames"].get<std::uint64_t>(),
                j["rev_tx_full"].get<std::uint64_t>());
    const json& r = j["reorder"];
    std::printf("  TCP/IPv4 (IP-ID order): %" PRIu64 " frames in %zu flows, reordered %" PRIu64 " (%.4f%%), n>=3 %" PRIu64
                ", max extent %" PRIu64 "\n",
                j["tcp4_frames"].get<std::uint64_t>(), j["flows"].size(), r["reordered"].get<std::uint64_t>(),
                100 * r["reordered_ratio"].get<double>(), r["n_reordered_ge3"].get<std::uint64_t>(),
                r["max_extent"].get<std::uint64_t>());
}

} // namespace

int cmd_bridge(int argc, char** argv) {
    po::options_description opts("bridge");
    add_engine_options(opts, EngineRole::run);
    po::options_description b("Bridge");
    b.add_options()
        ("iface-a", po::value<std::string>()->default_value("ftA"), "tap interface the traffic enters by (client side)")
        ("iface-b", po::value<std::string>()->default_value("ftB"), "tap interface the traffic leaves by (server side)")
        ("bridge-flows", u32_value(16, 4096)->default_value(256), "TCP flows measured (power of two 16..4096)")
        ("ready-file", po::value<std::string>()->value_name("FILE"),
         "written once both tap interfaces exist and the ports are started: IFACE_A IFACE_B TELEMETRY_SOCKET");
    opts.add(b);
    po::variables_map vm;
    std::vector<std::string> eal_args;
    if (!parse_command_line("bridge", kSummary, argc, argv, opts, vm, &eal_args)) return 0;
    dp::EngineOptions o = engine_options_from(vm, EngineRole::run);
    if (vm["duration"].defaulted()) o.duration_ns = 60'000'000'000ull;
    o.traffic_kind = dp::TrafficKind::custom;
    o.max_rx_lcores = 1;   // one sink: it owns tap B and tap A's TX queue
    o.measure_reorder = false;   // kernel TCP frames carry no probe header: the bridge measures them itself
    std::string json_path;
    if (vm.count("json") != 0) json_path = vm["json"].as<std::string>();
    dp::BridgeConfig bc;
    bc.iface_a = vm["iface-a"].as<std::string>();
    bc.iface_b = vm["iface-b"].as<std::string>();
    bc.mtu = o.mtu;
    bc.track_flows = vm["bridge-flows"].as<std::uint32_t>();
    for (const auto& [oname, name] : {std::pair<const char*, const std::string&>{"--iface-a", bc.iface_a},
                                    std::pair<const char*, const std::string&>{"--iface-b", bc.iface_b}}) {
        const bool ok = !name.empty() && name.size() <= 15 &&
                        std::all_of(name.begin(), name.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_'; });
        if (!ok) throw UsageError(std::string(oname) + ": " + opt::quote(name) + " is not an interface name (allowed: 1..15 characters of [A-Za-z0-9_])");
    }
    if (bc.track_flows < 16 || bc.track_flows > 4096 || (bc.track_flows & (bc.track_flows - 1)) != 0)
        throw UsageError("--bridge-flows: " + std::to_string(bc.track_flows) + " not allowed; allowed: a power of two 16..4096");
    if (bc.iface_a == bc.iface_b) throw UsageError("--iface-b: same as --iface-a; give two interface names");
    if (o.mtu > 1500) throw UsageError("--mtu: " + std::to_string(o.mtu) + " not allowed for the bridge; allowed: 576..1500");
    std::string ready_path;
    if (vm.count("ready-file") != 0) {
        ready_path = vm["ready-file"].as<std::string>();
        check_output_file("--ready-file", ready_path);
    }

    dp::install_stop_signal_handlers();
    dp::EalOptions eo;
    eo.program = "flowteam-bridge";
    eo.user_args = eal_args;
    dp::Eal eal(eo);
    dp::TapBridge bridge(bc);
    // The ready file appears once the engine polls tap A (not before: setting up the
    // testbed takes a while on a loaded machine, and a client would time out).
    std::atomic<bool> run_over{false};
    std::thread announcer([&] {
        while (!run_over.load() && !bridge.forwarding()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (run_over.load()) return;
        if (!ready_path.empty()) {
            {
                std::ofstream rf(ready_path + ".tmp");
                rf << bc.iface_a << " " << bc.iface_b << " " << eal.info().telemetry_socket << "\n";
            }
            std::rename((ready_path + ".tmp").c_str(), ready_path.c_str());
        }
        std::fprintf(stderr, "bridge ready: %s -> team -> %s\n", bc.iface_a.c_str(), bc.iface_b.c_str());
    });
    struct Join {
        std::atomic<bool>& over;
        std::thread& t;
        const std::string& ready;
        ~Join() {
            over.store(true);
            if (t.joinable()) t.join();
            if (!ready.empty()) std::remove((ready + ".tmp").c_str());
        }
    } join{run_over, announcer, ready_path};
    o.source_factory = [&bridge](unsigned) { return bridge.make_source(); };
    o.sink_factory = [&bridge](unsigned) { return bridge.make_sink(); };
    const dp::EngineReport rep = dp::run_testbed(o);
    json j;
    j["parameters"] = parameters_json(vm, o);
    j["report"] = report_json(rep);
    j["bridge"] = bridge_json(bridge, static_cast<std::uint8_t>(o.links.size()));
    if (json_path != "-") {
        print_report(rep, o);
        print_bridge(j["bridge"]);
    }
    write_json(json_path, j);
    std::fflush(stdout);
    return 0;
}

} // namespace flowteam::apps
