// SPDX-License-Identifier: BSD-3-Clause
// `flowteam report`: a distribution report computed with the pure libraries
// only (no DPDK): how each mode spreads a set of flows over the members,
// what a member failure remaps, how RSS spreads the flows over queues.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "apps/commands.h"
#include "packet/flow_key.h"
#include "packet/hash.h"
#include "packet/toeplitz.h"
#include "teaming/rss.h"
#include "teaming/team.h"

namespace flowteam::apps {
namespace {

constexpr std::uint64_t kMaxPackets = 200'000'000;   // flows x packets: a few seconds of work

struct Flow {
    packet::FlowKey key{};
    std::uint32_t hash = 0;
    std::uint32_t vm = 0;
    std::uint64_t packets_left = 0;
    Tick next = 0;   // next send time (ns)
};

// Flows in the benchmarking range 198.18.0.0/15, UDP.
std::vector<Flow> make_flows(std::uint32_t n, std::uint32_t vms, std::uint64_t seed, packet::HashPolicy policy,
                             const packet::ToeplitzKey& rss_key) {
    std::mt19937_64 rng(seed);
    std::vector<Flow> flows(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        auto& k = flows[i].key;
        k.l3 = packet::L3::ipv4;
        k.ethertype = 0x0800;
        k.l4_proto = packet::kProtoUdp;
        k.has_l4 = true;
        const std::uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, static_cast<std::uint8_t>(i % vms)};
        const std::uint8_t dst_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x01};
        std::copy(std::begin(src_mac), std::end(src_mac), k.src_mac);
        std::copy(std::begin(dst_mac), std::end(dst_mac), k.dst_mac);
        const std::uint32_t host = static_cast<std::uint32_t>(rng() & 0xFFFF);
        k.src_ip[0] = 198; k.src_ip[1] = 18; k.src_ip[2] = static_cast<std::uint8_t>(host >> 8);
        k.src_ip[3] = static_cast<std::uint8_t>(host);
        k.dst_ip[0] = 198; k.dst_ip[1] = 19; k.dst_ip[2] = 0; k.dst_ip[3] = 1;
        k.src_port = static_cast<std::uint16_t>(49152 + (rng() % 16384));
        k.dst_port = 6000;
        flows[i].vm = i % vms;
        flows[i].hash = packet::flow_hash(k, policy, &rss_key);
    }
    return flows;
}

struct ModeResult {
    std::string mode;
    std::vector<double> share;      // bytes share per member
    double share_error = 0;         // max |share - capacity share|
    std::uint32_t flows_split = 0;  // flows seen on more than one member
    std::uint64_t member_changes = 0;
};

// Replay the same arrival process through one mode. Each flow sends `packets`
// frames of `frame` bytes; after every burst of `burst_pkts` packets it pauses
// for a random gap (exponential, mean `gap_ns`) — giving flowlets to switch on.
ModeResult run_mode(teaming::Mode mode, const std::vector<MemberInfo>& members, std::vector<Flow> flows,
                    std::uint64_t packets, std::uint32_t frame, std::uint64_t gap_ns, std::uint64_t delta_ns,
                    std::uint64_t seed) {
    teaming::TeamConfig cfg;
    cfg.mode = mode;
    cfg.dynamic.delta = delta_ns;
    cfg.dynamic.dre_period = std::max<std::uint64_t>(delta_ns / 4, 1000);
    teaming::Team team(cfg, members.data(), static_cast<std::uint8_t>(members.size()));

    std::mt19937_64 rng(seed);
    std::exponential_distribution<double> gap(1.0 / static_cast<double>(gap_ns));
    for (auto& f : flows) {
        f.packets_left = packets;
        f.next = static_cast<Tick>(gap(rng));
    }
    const std::uint64_t line_ns_per_pkt = std::max<std::uint64_t>(1, frame * 8ull * 1'000'000'000ull /
                                                                         (members[0].capacity_bps * members.size()));
    std::vector<std::uint8_t> first(flows.size(), kNoMember), last(flows.size(), kNoMember);
    std::vector<bool> split(flows.size(), false);
    std::vector<std::uint64_t> bytes(members.size(), 0);
    ModeResult r;
    r.mode = teaming::to_string(mode);

    std::uint32_t hashes[kBurstSize], lens[kBurstSize], vports[kBurstSize];
    std::uint32_t idx[kBurstSize];
    std::uint8_t out[kBurstSize];
    Tick now = 0;
    std::size_t live = flows.size();
    while (live > 0) {
        // Next burst: up to kBurstSize packets from flows whose send time has come,
        // one per flow per round; time advances at the team's line rate.
        std::uint16_t n = 0;
        Tick earliest = UINT64_MAX;
        for (std::uint32_t i = 0; i < flows.size() && n < kBurstSize; ++i) {
            auto& f = flows[(i + static_cast<std::uint32_t>(now)) % flows.size()];
            if (f.packets_left == 0) continue;
            if (f.next > now) { earliest = std::min(earliest, f.next); continue; }
            const auto fi = static_cast<std::uint32_t>(&f - flows.data());
            hashes[n] = f.hash; lens[n] = frame; vports[n] = f.vm; idx[n] = fi;
            ++n;
            if (--f.packets_left == 0) --live;
            else if (f.packets_left % 16 == 0) f.next = now + static_cast<Tick>(gap(rng));
        }
        if (n == 0) {
            if (earliest == UINT64_MAX) break;
            now = earliest;
            continue;
        }
        BurstView b{hashes, lens, vports, n, now};
        team.assign(b, out);
        for (std::uint16_t i = 0; i < n; ++i) {
            const auto m = out[i];
            if (m == kNoMember) continue;
            bytes[m] += lens[i];
            const auto fi = idx[i];
            if (first[fi] == kNoMember) first[fi] = m;
            else if (m != first[fi]) split[fi] = true;
            if (last[fi] != kNoMember && last[fi] != m) ++r.member_changes;
            last[fi] = m;
        }
        now += line_ns_per_pkt * n;
    }
    std::uint64_t total = 0, cap = 0;
    for (auto b : bytes) total += b;
    for (const auto& m : members) cap += m.capacity_bps;
    for (std::size_t m = 0; m < members.size(); ++m) {
        const double s = total ? static_cast<double>(bytes[m]) / static_cast<double>(total) : 0.0;
        const double target = static_cast<double>(members[m].capacity_bps) / static_cast<double>(cap);
        r.share.push_back(s);
        r.share_error = std::max(r.share_error, std::fabs(s - target));
    }
    r.flows_split = static_cast<std::uint32_t>(std::count(split.begin(), split.end(), true));
    return r;
}

int body(int argc, char** argv) {
    po::options_description opts("report");
    opts.add_options()
        ("rates", po::value<std::string>()->default_value("10G,10G"), "member link rates, one per member (e.g. 10G,1G)")
        ("flows", u32_value(1, 1'000'000)->default_value(16), "number of flows (1..1000000)")
        ("vms", u32_value(1, 1'000'000)->default_value(6), "virtual ports (VMs) the flows belong to (1..1000000)")
        ("packets", u64_value(1, kMaxPackets)->default_value(2000), "packets per flow (flows x packets <= 200000000)")
        ("frame", u32_value(64, 9018)->default_value(1514), "frame size in bytes (64..9018)")
        ("gap", po::value<std::string>()->default_value("200us"), "mean pause between 16-packet bursts of a flow")
        ("flowlet-gap", po::value<std::string>()->default_value("100us"), "dynamic mode: flowlet gap (delta)")
        ("hash", po::value<std::string>()->default_value("l34"), "hash policy: l2, l23, l3, l34, toeplitz")
        ("queues", u32_value(1, 512)->default_value(4), "RSS queues per member port (1..512)")
        ("seed", u64_value()->default_value(1), "random seed")
        ("json", po::value<std::string>()->value_name("FILE"), "also write the report as JSON to FILE ('-' = stdout)");
    po::variables_map vm;
    if (!parse_command_line("report",
                            "Distribution report from the pure team logic (no DPDK, no packets on a wire):\n"
                            "member shares per mode, flows split, remap on member failure, RSS queue spread.",
                            argc, argv, opts, vm))
        return 0;

    std::vector<MemberInfo> members;
    {
        std::string s = vm["rates"].as<std::string>();
        std::size_t pos = 0;
        while (pos <= s.size()) {
            auto c = s.find(',', pos);
            auto item = s.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
            MemberInfo mi;
            mi.capacity_bps = parse_rate_bps("--rates", item);
            members.push_back(mi);
            if (c == std::string::npos) break;
            pos = c + 1;
        }
        if (members.size() < 2 || members.size() > kMaxMembers || vm["rates"].as<std::string>().empty())
            throw UsageError("--rates: give 2.." + std::to_string(kMaxMembers) + " member rates");
    }
    const auto n_flows = vm["flows"].as<std::uint32_t>();
    const auto vms = vm["vms"].as<std::uint32_t>();
    const auto packets = vm["packets"].as<std::uint64_t>();
    if (packets > kMaxPackets / n_flows)   // no overflow: both are bounded, the product is not
        throw UsageError("--packets: " + std::to_string(packets) + " x " + std::to_string(n_flows) +
                         " flows is too much work (allowed: flows x packets <= " + std::to_string(kMaxPackets) + ")");
    const auto frame = vm["frame"].as<std::uint32_t>();
    const auto gap_ns = std::max<std::uint64_t>(1, parse_duration_ns("--gap", vm["gap"].as<std::string>(), false,
                                                                      10'000'000'000ull));
    const auto delta_ns = parse_duration_ns("--flowlet-gap", vm["flowlet-gap"].as<std::string>(), true);
    packet::HashPolicy policy;
    if (!packet::parse_hash_policy(vm["hash"].as<std::string>(), policy))
        throw UsageError("--hash: " + opt::quote(vm["hash"].as<std::string>()) + " (allowed: l2, l23, l3, l34, toeplitz)");
    const auto queues = vm["queues"].as<std::uint32_t>();
    const auto seed = vm["seed"].as<std::uint64_t>();

    const packet::ToeplitzKey rss_key = packet::ToeplitzKey::microsoft();
    const auto flows = make_flows(n_flows, vms, seed, policy, rss_key);

    nlohmann::json j;
    j["parameters"] = {{"rates", vm["rates"].as<std::string>()}, {"flows", n_flows},      {"vms", vms},
                       {"packets_per_flow", packets},             {"frame", frame},        {"gap_ns", gap_ns},
                       {"flowlet_gap_ns", delta_ns},              {"hash", to_string(policy)}, {"queues", queues},
                       {"seed", seed}};

    // 1. Member shares per mode.
    const teaming::Mode modes[] = {teaming::Mode::hash,       teaming::Mode::vport,    teaming::Mode::dynamic,
                                   teaming::Mode::roundrobin, teaming::Mode::flowcell, teaming::Mode::active_backup};
    std::printf("flowteam report: %u flows (%u VMs) x %llu packets of %u B over %zu members (%s), hash %s\n\n",
                n_flows, vms, static_cast<unsigned long long>(packets), frame, members.size(),
                vm["rates"].as<std::string>().c_str(), to_string(policy));
    std::printf("%-14s", "mode");
    for (std::size_t m = 0; m < members.size(); ++m) std::printf("  member%-2zu", m);
    std::printf("  share-err  flows-split  member-changes\n");
    for (auto mode : modes) {
        auto r = run_mode(mode, members, flows, packets, frame, gap_ns, delta_ns, seed);
        std::printf("%-14s", r.mode.c_str());
        for (double s : r.share) std::printf("  %7.1f%%", 100.0 * s);
        std::printf("  %8.1f%%  %11u  %14llu\n", 100.0 * r.share_error, r.flows_split,
                    static_cast<unsigned long long>(r.member_changes));
        j["modes"].push_back({{"mode", r.mode}, {"share", r.share}, {"share_error", r.share_error},
                              {"flows_split", r.flows_split}, {"member_changes", r.member_changes}});
    }

    // 2. Member failure: which flows change member when member 0 leaves.
    {
        teaming::TeamConfig cfg;
        cfg.mode = teaming::Mode::hash;
        teaming::Team team(cfg, members.data(), static_cast<std::uint8_t>(members.size()));
        std::vector<std::uint32_t> h(n_flows), len(n_flows, frame);
        for (std::uint32_t i = 0; i < n_flows; ++i) h[i] = flows[i].hash;
        auto assign_all = [&](std::vector<std::uint8_t>& out) {
            out.resize(n_flows);
            for (std::uint32_t i = 0; i < n_flows; i += kBurstSize) {
                const auto n = static_cast<std::uint16_t>(std::min<std::uint32_t>(kBurstSize, n_flows - i));
                BurstView b{h.data() + i, len.data() + i, nullptr, n, 0};
                team.assign(b, out.data() + i);
            }
        };
        std::vector<std::uint8_t> before, after;
        assign_all(before);
        team.set_member_up(0, false);
        assign_all(after);
        std::uint32_t moved = 0, moved_naive = 0, on_lost = 0;
        const auto n = static_cast<std::uint32_t>(members.size());
        for (std::uint32_t i = 0; i < n_flows; ++i) {
            moved += before[i] != after[i];
            on_lost += before[i] == 0;
            // net_bond / Linux bonding: hash % active members, active list shifts.
            const std::uint32_t naive_before = h[i] % n;
            const std::uint32_t naive_after = 1 + h[i] % (n - 1);
            moved_naive += naive_before != naive_after;
        }
        std::printf("\nmember 0 fails: flows remapped  flowteam indirection %u/%u (%.1f%%, flows that were on "
                    "member 0: %u)   hash %% active (net_bond): %u/%u (%.1f%%)\n",
                    moved, n_flows, 100.0 * moved / n_flows, on_lost, moved_naive, n_flows,
                    100.0 * moved_naive / n_flows);
        j["failover"] = {{"remapped", moved}, {"flows_on_failed_member", on_lost}, {"remapped_mod_active", moved_naive},
                         {"flows", n_flows}};
    }

    // 3. RSS: Toeplitz (Microsoft key) -> RETA (128) -> queue, per member port.
    {
        const auto reta = teaming::build_reta(128, teaming::queue_range(static_cast<std::uint16_t>(queues)));
        std::vector<std::uint32_t> per_queue(queues, 0);
        for (const auto& f : flows) {
            const std::uint32_t rss = packet::rss_hash(rss_key, f.key, true);
            per_queue[reta[teaming::reta_slot(rss, 128)]]++;
        }
        std::printf("\nRSS (Toeplitz, Microsoft key, RETA 128 over %u queues): flows per queue", queues);
        for (auto c : per_queue) std::printf(" %u", c);
        std::printf("\n");
        j["rss_flows_per_queue"] = per_queue;
    }

    if (vm.count("json") != 0) {
        const auto path = vm["json"].as<std::string>();
        if (path == "-") {
            std::cout << j.dump(2) << "\n";
        } else {
            std::ofstream out(path);
            if (!out) throw UsageError("--json: cannot write '" + path + "'");
            out << j.dump(2) << "\n";
        }
    }
    return 0;
}

} // namespace

int cmd_report(int argc, char** argv) { return body(argc, argv); }

} // namespace flowteam::apps
