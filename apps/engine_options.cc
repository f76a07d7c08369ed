// SPDX-License-Identifier: BSD-3-Clause
// flowteam — options and report output shared by `run`, `tx` and `rx`.
#include "apps/engine_options.h"

#include <unistd.h>

#include <climits>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "dataplane/eal.h"
#include "common/pcap_check.h"
#include "dataplane/signals.h"
#include "emulation/flowsize.h"
#include "flowlet/dynamic.h"
#include "teaming/indirection.h"

namespace flowteam::apps {
namespace {

namespace dp = flowteam::dataplane;
namespace fs = std::filesystem;

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto c = text.find(',', pos);
        out.push_back(text.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
        if (c == std::string::npos) break;
        pos = c + 1;
    }
    return out;
}

// One value per member, or one value for all.
template <class F>
auto per_member(const std::string& option, const std::string& text, std::size_t n, F parse) {
    const auto items = split(text);
    using T = decltype(parse(std::string()));
    std::vector<T> out;
    if (items.size() != 1 && items.size() != n)
        throw UsageError(option + ": " + std::to_string(items.size()) + " values for " + std::to_string(n) +
                         " members (give one value, or one per member)");
    for (std::size_t m = 0; m < n; ++m) {
        const std::string& it = items.size() == 1 ? items[0] : items[m];
        if (it.empty()) throw UsageError(option + ": empty value in '" + text + "'");
        out.push_back(parse(it));
    }
    return out;
}

// Counts and byte sizes: K M G T powers of 1000, KiB MiB GiB TiB powers of 1024.
std::uint64_t parse_count(const std::string& option, const std::string& text, std::uint64_t lo = 0,
                          std::uint64_t hi = UINT32_MAX, bool bytes = false) {
    return opt::parse_size(option, text, opt::SizeSpec{lo, hi, false, bytes});
}

constexpr std::uint64_t kMaxLinkDelayNs = 10'000'000'000ull;   // emulation/link.cc: delay and jitter 0..10 s
constexpr std::uint64_t kMaxSenderGapNs = 10'000'000'000ull;   // emulation/traffic.cc: gap 0..10 s
constexpr std::uint32_t kMaxFlows = 1u << 20;                   // emulation/traffic.cc
constexpr std::uint32_t kLinkMaxFrame = 9216;                   // emulation/link.h max_frame_bytes

bool power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string exe_dir() {
    try {
        return fs::path(self_executable()).parent_path().string();
    } catch (const std::runtime_error&) {
        return ".";
    }
}

// websearch | datamining | FILE.
emulation::FlowSizeDist load_sizes(const std::string& name) {
    if (name != "websearch" && name != "datamining") {
        if (!fs::exists(name))
            throw UsageError("--flow-sizes: " + opt::quote(name) + " does not exist (allowed: websearch, datamining or a .cdf file)");
        check_input_file("--flow-sizes", name, 16u << 20);
        try {
            return emulation::FlowSizeDist::load(name);
        } catch (const std::exception& e) {
            throw UsageError("--flow-sizes: " + opt::quote(name) + ": " + e.what());
        }
    }
    std::vector<fs::path> dirs;
    if (const char* d = std::getenv("FLOWTEAM_DATA_DIR"); d != nullptr && *d != '\0') dirs.emplace_back(d);
    dirs.emplace_back("data");
    const fs::path ed = exe_dir();
    dirs.push_back(ed / "../data");
    dirs.push_back(ed / "../../data");
    dirs.push_back(ed / "../../../data");
    dirs.emplace_back("/usr/share/flowteam");
    for (const auto& d : dirs) {
        const fs::path p = d / (name + ".cdf");
        if (fs::exists(p)) return emulation::FlowSizeDist::load(p.string());
    }
    throw UsageError("--flow-sizes: " + name + ".cdf not found (looked in $FLOWTEAM_DATA_DIR, ./data and next to the "
                     "binary); set FLOWTEAM_DATA_DIR to the repository's data/ folder");
}

// MEMBER@TIME[:UPTIME], e.g. 1@1s or 1@500ms:1500ms.
dp::FailureEvent parse_failure(const std::string& text) {
    const auto at = text.find('@');
    if (at == std::string::npos || at == 0)
        throw UsageError("--fail: " + opt::quote(text) + " is not MEMBER@TIME[:UPTIME] (allowed: e.g. 1@1s or 1@500ms:2s)");
    dp::FailureEvent f;
    const auto ids = parse_uint_list("--fail", text.substr(0, at));
    if (ids.size() != 1 || ids[0] >= kMaxMembers)
        throw UsageError("--fail: " + opt::quote(text) + " names a bad member (allowed: one member 0.." +
                         std::to_string(kMaxMembers - 1) + ")");
    f.member = static_cast<std::uint8_t>(ids[0]);
    const std::string rest = text.substr(at + 1);
    const auto colon = rest.find(':');
    f.at_ns = parse_duration_ns("--fail", rest.substr(0, colon));
    if (colon != std::string::npos) f.up_ns = parse_duration_ns("--fail", rest.substr(colon + 1));
    return f;
}

template <class T>
T get(const po::variables_map& vm, const char* name) {
    return vm[name].as<T>();
}

std::string str(const po::variables_map& vm, const char* name) { return vm[name].as<std::string>(); }

} // namespace

void add_engine_options(po::options_description& opts, EngineRole role) {
    po::options_description team("Team");
    team.add_options()
        ("mode", po::value<std::string>()->default_value("hash"),
         "load balancing: hash, vport, dynamic, roundrobin, flowcell, active-backup")
        ("teaming", po::value<std::string>()->default_value("switch-independent"),
         "switch-independent, static, lacp (drives where the switch delivers inbound traffic)")
        ("hash", po::value<std::string>()->default_value("l34"), "flow hash policy: l2, l23, l3, l34, toeplitz")
        ("flowlet-gap", po::value<std::string>()->default_value(role == EngineRole::run ? kFlowletGapDefault : kFlowletGapFixed),
         role == EngineRole::run
             ? "dynamic: flowlet gap delta: auto (from the members' delays, measured by the receiving side) or a "
               "duration (e.g. 100us); with queue timing a margin on top of the measured skew, with sender timing "
               "the idle time that ends a flowlet"
             : "dynamic: flowlet gap delta: a duration (e.g. 100us; with queue timing a margin on top of the skew the "
               "member pings measure, with sender timing the idle time that ends a flowlet) or auto (queue timing: "
               "from the pings)")
        ("member-ping", po::value<std::string>()->default_value("on"),
         "dynamic, queue timing, tx: ping each member every ms and take half the round trip as its path delay "
         "(the receiver must be `flowteam rx`): on or off")
        ("flowlet-timing", po::value<std::string>()->default_value("queue"),
         "dynamic: when a flowlet ends: queue (its last packet left the member long enough ago that nothing sent "
         "now can overtake it: never reorders) or sender (idle at the sender for the gap: FLARE's classic rule)")
        ("policy", po::value<std::string>()->default_value("least-loaded"),
         "dynamic: member for a new flowlet: least-loaded, tokens, random")
        ("flowlet-table", po::value<std::string>()->default_value("64K"),
         "dynamic: flowlet table entries (16 bytes each; rounded up to a power of two, 16..128M): size it to the active flows")
        ("buckets", u32_value(kMinBuckets, teaming::kMaxBuckets)->default_value(kDefaultBuckets),
         "indirection buckets (power of two, 256..1048576)")
        ("flowcell-bytes", po::value<std::string>()->default_value("64K"), "flowcell: cell size")
        ("primary", u32_value(0, kMaxMembers - 1)->default_value(0), "primary member (active-backup, switch-independent receive)")
        ("rss-key", po::value<std::string>()->value_name("HEX"),
         "RSS Toeplitz key in hex, or 'symmetric' (default: the Microsoft key)");
    opts.add(team);

    po::options_description members("Members");
    members.add_options()
        ("rates", po::value<std::string>()->default_value("10G,10G"),
         "member rates, one per member: 10G,10G or 10G,1G or 10G,10G,10G,10G (the member count)")
        ("rx-queues", u32_value(1, dp::kMaxEngineQueues)->default_value(2), "RX queues per member port (RSS; 1..16)");
    if (role == EngineRole::run) {
        members.add_options()
            ("delays", po::value<std::string>()->default_value("0"), "one-way delay per member (0,500us: 500 us skew)")
            ("jitter", po::value<std::string>()->default_value("0"), "extra uniform delay per packet, per member")
            ("queue", po::value<std::string>()->default_value("512"), "link queue limit in packets, per member")
            ("queue-bytes", po::value<std::string>()->default_value("0"), "link queue limit in bytes, per member (0: none)")
            ("queue-mode", po::value<std::string>()->default_value("backpressure"),
             "full queue: backpressure (pushes back on the sender like a NIC TX ring) or taildrop")
            ("background", po::value<std::string>()->default_value("0"),
             "share of each member's capacity taken by cross traffic, per member (0..0.95)")
            ("overhead", u32_value(0, 1024)->default_value(24), "wire bytes per frame besides the frame (preamble, IFG, FCS)")
            ("tx-ring", u32_value(32, 32768)->default_value(512), "sending member port TX ring (power of two, 32..32768)")
            ("rx-ring", u32_value(64, 32768)->default_value(2048), "receiving member port RX ring (power of two, 64..32768)")
            ("fail", po::value<std::vector<std::string>>()->composing(),
             "take a member down at a time and optionally back up: MEMBER@TIME[:UPTIME] (repeatable)");
    } else {
        members.add_options()
            ("ports", po::value<std::string>()->value_name("LIST"),
             "use these ethdev ports as the members (physical ports from -a after `--`), e.g. 0,1")
            ("socket-dir", po::value<std::string>()->value_name("DIR"),
             "memif socket directory (default: /run/flowteam, $XDG_RUNTIME_DIR/flowteam or /tmp/flowteam-UID)")
            ("team", po::value<std::string>()->default_value("team"), "memif socket name stem: DIR/TEAM-m<k>.sock");
    }
    opts.add(members);

    if (role != EngineRole::rx) {
        po::options_description traffic("Traffic");
        traffic.add_options()
            ("flows", u32_value(1, kMaxFlows)->default_value(16), "fixed arrivals: concurrent flows (1..1048576)")
            ("flow-bytes", po::value<std::string>()->default_value("0"), "fixed arrivals: payload per flow (0: unbounded)")
            ("load", real_value(1e-6, 4), "poisson arrivals: offered load, fraction of the team's capacity (0..4]")
            ("flow-sizes", po::value<std::string>(), "poisson arrivals: websearch, datamining or a .cdf FILE")
            ("arrivals", po::value<std::string>(), "fixed or poisson (default: poisson when --load/--flow-sizes is given)")
            ("max-flows", u32_value(1, kMaxFlows)->default_value(4096), "poisson: flows active at once (1..1048576)")
            ("pace", po::value<std::string>()->default_value("0"), "per-flow pacing rate (0: unpaced)")
            ("gap-every", po::value<std::string>()->default_value("0"), "sender-created flowlet gap every N payload bytes")
            ("sender-gap", po::value<std::string>()->default_value("0"), "... of this length (e.g. 1ms)")
            ("vports", u32_value(1, 65535)->default_value(1), "VMs (vports) the flows are spread over")
            ("pcap", po::value<std::string>()->value_name("FILE"), "replay a pcap file (looped) instead of synthetic traffic")
            ("seed", u64_value()->default_value(1), "random seed (0..18446744073709551615)");
        opts.add(traffic);
    }

    po::options_description run("Run");
    run.add_options()
        ("mtu", u32_value(576, 9000)->default_value(1500), "IP MTU: 1500 or 9000 (576..9000)")
        ("duration", po::value<std::string>()->default_value(role == EngineRole::rx ? "0" : "3s"),
         role == EngineRole::rx ? "stop after this long (0: until SIGINT or --idle-timeout)" : "traffic phase")
        ("track-flows", u32_value(1, kMaxFlows)->default_value(4096), "RX per-flow state slots (power of two, 1..1048576)")
        ("restart-flows", po::bool_switch(),
         "RX: a flow's first probe (seq 0) seen again after later ones starts a new run of that flow (looped pcap "
         "replay, restarted sender); off: it counts as reordered/duplicate")
        ("no-measure", po::bool_switch(), "RX: no per-flow measurement (reordering, latency, FCT): count packets/bytes per member only")
        ("mbufs", u32_value(0, 1u << 24)->default_value(0), "mbufs in the pool (0: derived; at most 16777216)")
        ("drain-timeout", po::value<std::string>()->default_value("500ms"), "wait for in-flight packets at the end")
        ("quiet", po::bool_switch(), "no progress line")
        ("json", po::value<std::string>()->value_name("FILE"), "write every parameter and counter as JSON ('-' = stdout)");
    if (role == EngineRole::rx)
        run.add_options()("idle-timeout", po::value<std::string>()->default_value("0"),
                          "stop this long after the last packet (0: off)");
    if (role == EngineRole::tx)
        run.add_options()("linger", po::value<std::string>()->default_value("300ms"),
                          "keep the links up this long after the last packet");
    opts.add(run);
}

dp::EngineOptions engine_options_from(const po::variables_map& vm, EngineRole role) {
    dp::EngineOptions o;
    // ---- team
    if (!teaming::parse_mode(str(vm, "mode"), o.team.mode))
        throw UsageError("--mode: " + opt::quote(str(vm, "mode")) + " (allowed: hash, vport, dynamic, roundrobin, flowcell, active-backup)");
    if (!teaming::parse_teaming_mode(str(vm, "teaming"), o.team.teaming))
        throw UsageError("--teaming: " + opt::quote(str(vm, "teaming")) + " (allowed: switch-independent, static, lacp)");
    if (!packet::parse_hash_policy(str(vm, "hash"), o.team.hash_policy))
        throw UsageError("--hash: " + opt::quote(str(vm, "hash")) + " (allowed: l2, l23, l3, l34, toeplitz)");
    if (str(vm, "flowlet-gap") == "auto") {
        o.flowlet_gap_auto = true;
    } else {
        o.flowlet_gap_ns = parse_duration_ns("--flowlet-gap", str(vm, "flowlet-gap"), true);
        if (o.flowlet_gap_ns == UINT64_MAX) o.flowlet_gap_ns = 3'600'000'000'000ull;
    }
    if (!flowlet::parse_timing(str(vm, "flowlet-timing"), o.flowlet_timing))
        throw UsageError("--flowlet-timing: " + opt::quote(str(vm, "flowlet-timing")) + " (allowed: queue, sender)");
    if (str(vm, "member-ping") != "on" && str(vm, "member-ping") != "off")
        throw UsageError("--member-ping: " + opt::quote(str(vm, "member-ping")) + " (allowed: on, off)");
    o.member_ping = str(vm, "member-ping") == "on";
    if (o.flowlet_gap_auto && role == EngineRole::tx && (o.flowlet_timing != flowlet::Timing::queue || !o.member_ping))
        throw UsageError("--flowlet-gap: auto on a sender alone needs queue timing with --member-ping on (the pings "
                         "measure the members); give a duration, e.g. --flowlet-gap 500us");
    if (!flowlet::parse_policy(str(vm, "policy"), o.team.dynamic.policy))
        throw UsageError("--policy: " + opt::quote(str(vm, "policy")) + " (allowed: least-loaded, tokens, random)");
    {
        const std::uint64_t n = parse_count("--flowlet-table", str(vm, "flowlet-table"), 16, flowlet::kMaxFlowletEntries);
        o.team.dynamic.table_entries = static_cast<std::uint32_t>(n);
    }
    o.team.buckets = get<std::uint32_t>(vm, "buckets");
    if (!power_of_two(o.team.buckets))
        throw UsageError("--buckets: " + std::to_string(o.team.buckets) + " is not a power of two (allowed: 256, 512, ... 1048576)");
    o.team.flowcell_bytes =
        static_cast<std::uint32_t>(parse_count("--flowcell-bytes", str(vm, "flowcell-bytes"), 1, UINT32_MAX, true));
    const auto primary = get<std::uint32_t>(vm, "primary");
    if (primary >= kMaxMembers) throw UsageError("--primary: member " + std::to_string(primary) + " does not exist");
    o.team.primary = static_cast<std::uint8_t>(primary);
    o.receiver_primary = o.team.primary;
    if (vm.count("rss-key") != 0) {
        const std::string k = str(vm, "rss-key");
        o.rss_key = parse_rss_key("--rss-key", k);
    }

    // ---- members
    const auto rates = split(str(vm, "rates"));
    if (rates.empty() || rates.size() > kMaxMembers || str(vm, "rates").empty())
        throw UsageError("--rates: give 1.." + std::to_string(kMaxMembers) + " member rates");
    const std::size_t n = rates.size();
    o.links.resize(n);
    for (std::size_t m = 0; m < n; ++m) o.links[m].rate_bps = parse_rate_bps("--rates", rates[m]);
    if (primary >= n) throw UsageError("--primary: member " + std::to_string(primary) + " does not exist");
    const auto rxq = get<std::uint32_t>(vm, "rx-queues");
    o.rx_queues = static_cast<std::uint16_t>(rxq);
    if (role == EngineRole::run) {
        const auto dur = [](const char* name) {
            return [name](const std::string& s) { return parse_duration_ns(name, s, false, kMaxLinkDelayNs); };
        };
        const auto delays = per_member("--delays", str(vm, "delays"), n, dur("--delays"));
        const auto jitter = per_member("--jitter", str(vm, "jitter"), n, dur("--jitter"));
        const auto queue = per_member("--queue", str(vm, "queue"), n,
                                      [](const std::string& s) { return parse_count("--queue", s); });
        // A byte limit holds at least the largest frame (emulation/link.cc).
        const auto qbytes = per_member("--queue-bytes", str(vm, "queue-bytes"), n,
                                       [](const std::string& s) {
                                           const auto v = parse_count("--queue-bytes", s, 0, 1ull << 40, true);
                                           if (v != 0 && v < kLinkMaxFrame)
                                               throw UsageError("--queue-bytes: " + opt::quote(s) +
                                                                " cannot hold a largest frame (allowed: 0 (no byte "
                                                                "limit) or " + std::to_string(kLinkMaxFrame) + "..1TiB)");
                                           return v;
                                       });
        const auto bg = per_member("--background", str(vm, "background"), n,
                                   [](const std::string& s) { return opt::parse_real("--background", s, 0, 0.95); });
        emulation::QueueMode qm;
        if (!emulation::parse_queue_mode(str(vm, "queue-mode"), qm))
            throw UsageError("--queue-mode: " + opt::quote(str(vm, "queue-mode")) + " (allowed: backpressure, taildrop)");
        for (std::size_t m = 0; m < n; ++m) {
            auto& l = o.links[m];
            l.delay_ns = delays[m];
            l.jitter_ns = jitter[m];
            l.queue_packets = static_cast<std::uint32_t>(queue[m]);
            l.queue_bytes = qbytes[m];
            if (l.queue_packets == 0 && l.queue_bytes == 0)
                throw UsageError("--queue/--queue-bytes: member " + std::to_string(m) + " has no queue limit at all");
            l.mode = qm;
            l.background_load = bg[m];
            l.overhead_bytes = get<std::uint32_t>(vm, "overhead");
            l.seed = get<std::uint64_t>(vm, "seed") * 1000 + m;   // wraps for huge seeds: still a seed
        }
        const auto txr = get<std::uint32_t>(vm, "tx-ring");
        if (!power_of_two(txr)) throw UsageError("--tx-ring: " + std::to_string(txr) + " is not a power of two (allowed: 32, 64, ... 32768)");
        o.tx_ring = static_cast<std::uint16_t>(txr);
        o.rx_ring = get<std::uint32_t>(vm, "rx-ring");
        if (!power_of_two(o.rx_ring))
            throw UsageError("--rx-ring: " + std::to_string(o.rx_ring) + " is not a power of two (allowed: 64, 128, ... 32768)");
        if (vm.count("fail") != 0)
            for (const auto& s : vm["fail"].as<std::vector<std::string>>())
                for (const auto& item : split(s)) {
                    const auto f = parse_failure(item);
                    if (f.member >= n)
                        throw UsageError("--fail: " + opt::quote(item) + " names member " + std::to_string(f.member) +
                                         " (allowed: members 0.." + std::to_string(n - 1) + ")");
                    if (f.up_ns && *f.up_ns <= f.at_ns)
                        throw UsageError("--fail: " + opt::quote(item) + " comes back before it fails (allowed: UPTIME > TIME)");
                    o.failures.push_back(f);
                }
    } else {
        if (vm.count("ports") != 0) {
            for (auto p : parse_uint_list("--ports", str(vm, "ports"), 1023)) {
                if (p >= 1024) throw UsageError("--ports: port " + std::to_string(p) + " does not exist (allowed: 0..1023)");
                o.port_ids.push_back(static_cast<std::uint16_t>(p));
            }
            if (o.port_ids.size() != n)
                throw UsageError("--ports: " + std::to_string(o.port_ids.size()) + " ports for " + std::to_string(n) +
                                 " --rates; give one rate per port");
        }
        if (vm.count("socket-dir") != 0) o.memif_dir = str(vm, "socket-dir");
        o.memif_team = str(vm, "team");
        if (o.memif_team.empty() || o.memif_team.find('/') != std::string::npos ||
            o.memif_team.find(',') != std::string::npos)
            throw UsageError("--team: " + opt::quote(o.memif_team) + " (allowed: a plain name, no '/' or ',')");
        if (o.memif_team.size() > 32) throw UsageError("--team: " + opt::quote(o.memif_team) + " is too long (allowed: 1..32 characters)");
        if (!o.memif_dir.empty()) {
            std::error_code ec;
            if (fs::exists(o.memif_dir, ec) && !fs::is_directory(o.memif_dir, ec))
                throw UsageError("--socket-dir: " + opt::quote(o.memif_dir) + " is not a directory");
            // sockaddr_un holds 107 characters: DIR/TEAM-m<k>.sock
            if (o.memif_dir.size() + o.memif_team.size() + 12 > 107)
                throw UsageError("--socket-dir: " + opt::quote(o.memif_dir) + " is too long for a socket path (allowed: " +
                                 "DIR/TEAM-m15.sock within 107 characters)");
        }
    }

    // ---- traffic
    if (role != EngineRole::rx) {
        auto& t = o.traffic;
        t.seed = get<std::uint64_t>(vm, "seed");
        t.n_flows = get<std::uint32_t>(vm, "flows");
        t.flow_bytes = parse_count("--flow-bytes", str(vm, "flow-bytes"), 0, 1ull << 50, true);
        const bool poisson_hint = vm.count("load") != 0 || vm.count("flow-sizes") != 0;
        std::string arrivals = vm.count("arrivals") != 0 ? str(vm, "arrivals") : (poisson_hint ? "poisson" : "fixed");
        if (!emulation::parse_arrival_mode(arrivals, t.mode))
            throw UsageError("--arrivals: " + opt::quote(arrivals) + " (allowed: fixed, poisson)");
        if (t.mode == emulation::ArrivalMode::poisson) {
            t.load = vm.count("load") != 0 ? get<double>(vm, "load") : 0.5;
            t.sizes = load_sizes(vm.count("flow-sizes") != 0 ? str(vm, "flow-sizes") : "websearch");
        }
        t.max_active_flows = get<std::uint32_t>(vm, "max-flows");
        t.pace_bps = str(vm, "pace") == "0" ? 0 : parse_rate_bps("--pace", str(vm, "pace"));
        t.gap_every_bytes = parse_count("--gap-every", str(vm, "gap-every"), 0, 1ull << 50, true);
        t.gap_ns = parse_duration_ns("--sender-gap", str(vm, "sender-gap"), false, kMaxSenderGapNs);
        if ((t.gap_every_bytes == 0) != (t.gap_ns == 0))
            throw UsageError(std::string(t.gap_ns == 0 ? "--sender-gap" : "--gap-every") +
                             ": --gap-every and --sender-gap go together (allowed: both 0, or both > 0)");
        const auto vp = get<std::uint32_t>(vm, "vports");
        t.n_vports = static_cast<std::uint16_t>(vp);
        if (vm.count("pcap") != 0) {
            o.traffic_kind = dp::TrafficKind::pcap;
            o.pcap_file = str(vm, "pcap");
            opt::check_pcap_file("--pcap", o.pcap_file);   // before EAL: net_pcap would send nothing
        }
    }

    // ---- run
    o.mtu = get<std::uint32_t>(vm, "mtu");
    o.duration_ns = parse_duration_ns("--duration", str(vm, "duration"), true);
    if (o.duration_ns == UINT64_MAX) o.duration_ns = 0;
    o.track_flows = get<std::uint32_t>(vm, "track-flows");
    if (!power_of_two(o.track_flows))
        throw UsageError("--track-flows: " + std::to_string(o.track_flows) + " is not a power of two (allowed: 1, 2, 4, ... 1048576)");
    o.measure_reorder = !get<bool>(vm, "no-measure");
    o.restart_flows = get<bool>(vm, "restart-flows");
    o.mbufs = get<std::uint32_t>(vm, "mbufs");
    o.drain_timeout_ns = parse_duration_ns("--drain-timeout", str(vm, "drain-timeout"));
    o.progress = !get<bool>(vm, "quiet");
    if (role == EngineRole::rx) o.idle_timeout_ns = parse_duration_ns("--idle-timeout", str(vm, "idle-timeout"));
    if (role == EngineRole::tx) o.linger_ns = parse_duration_ns("--linger", str(vm, "linger"));
    return o;
}

void write_json(const std::string& path, const nlohmann::json& j) {
    if (path.empty()) return;
    if (path == "-") {
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::ofstream out(path);
    if (!out) throw UsageError("--json: cannot write '" + path + "'");
    out << j.dump(2) << "\n";
    if (!out.flush()) throw UsageError("--json: cannot write '" + path + "'");
}

nlohmann::json parameters_json(const po::variables_map& vm, const dp::EngineOptions& o) {
    nlohmann::json j;
    for (const auto& [name, v] : vm) {
        if (name == "help" || name == "config") continue;
        const auto& val = v.value();
        if (const auto* s = boost::any_cast<std::string>(&val)) j["options"][name] = *s;
        else if (const auto* u = boost::any_cast<std::uint32_t>(&val)) j["options"][name] = *u;
        else if (const auto* u64 = boost::any_cast<std::uint64_t>(&val)) j["options"][name] = *u64;
        else if (const auto* d = boost::any_cast<double>(&val)) j["options"][name] = *d;
        else if (const auto* b = boost::any_cast<bool>(&val)) j["options"][name] = *b;
        else if (const auto* vs = boost::any_cast<std::vector<std::string>>(&val)) j["options"][name] = *vs;
    }
    j["mode"] = teaming::to_string(o.team.mode);
    j["teaming"] = teaming::to_string(o.team.teaming);
    j["hash"] = packet::to_string(o.team.hash_policy);
    if (o.flowlet_gap_auto)
        j["flowlet_gap_ns"] = "auto";
    else
        j["flowlet_gap_ns"] = o.flowlet_gap_ns;
    j["flowlet_timing"] = flowlet::to_string(o.flowlet_timing);
    j["policy"] = flowlet::to_string(o.team.dynamic.policy);
    j["flowlet_table_entries"] = o.team.dynamic.table_entries;
    j["buckets"] = o.team.buckets;
    j["flowcell_bytes"] = o.team.flowcell_bytes;
    j["primary"] = o.team.primary;
    j["rss_key"] = o.rss_key.to_hex();
    j["mtu"] = o.mtu;
    j["rx_queues"] = o.rx_queues;
    j["duration_ns"] = o.duration_ns;
    j["measure_reorder"] = o.measure_reorder;
    j["restart_flows"] = o.restart_flows;
    for (const auto& l : o.links) {
        j["members"].push_back({{"rate_bps", l.rate_bps},
                                {"delay_ns", l.delay_ns},
                                {"jitter_ns", l.jitter_ns},
                                {"queue_packets", l.queue_packets},
                                {"queue_bytes", l.queue_bytes},
                                {"queue_mode", emulation::to_string(l.mode)},
                                {"background_load", l.background_load},
                                {"overhead_bytes", l.overhead_bytes}});
    }
    for (const auto& f : o.failures) {
        nlohmann::json fj = {{"member", f.member}, {"at_ns", f.at_ns}};
        if (f.up_ns) fj["up_ns"] = *f.up_ns;
        j["failures"].push_back(fj);
    }
    const auto& t = o.traffic;
    j["traffic"] = {{"kind", o.traffic_kind == dp::TrafficKind::pcap ? "pcap" : "synthetic"},
                    {"arrivals", emulation::to_string(t.mode)},
                    {"flows", t.n_flows},
                    {"flow_bytes", t.flow_bytes},
                    {"load", t.load},
                    {"flow_sizes", t.sizes ? t.sizes->name() : ""},
                    {"pace_bps", t.pace_bps},
                    {"gap_every_bytes", t.gap_every_bytes},
                    {"gap_ns", t.gap_ns},
                    {"vports", t.n_vports},
                    {"seed", t.seed},
                    {"pcap", o.pcap_file}};
    return j;
}

namespace {

double ticks_us(double ticks, std::uint64_t hz) { return hz == 0 ? 0.0 : ticks * 1e6 / static_cast<double>(hz); }

nlohmann::json fct_hist_json(const measure::FctHistogram& h, std::uint64_t hz) {
    return {{"completed", h.count},
            {"mean_us", ticks_us(h.mean(), hz)},
            {"p50_us", ticks_us(static_cast<double>(h.percentile(0.5)), hz)},
            {"p99_us", ticks_us(static_cast<double>(h.percentile(0.99)), hz)},
            {"max_us", ticks_us(static_cast<double>(h.max), hz)}};
}

} // namespace

// Flow completion times by size bucket (flows with a size that completed
// within the run; incomplete ones are counted per bucket, never averaged).
nlohmann::json fct_json(const dp::EngineReport& r) {
    const auto& f = r.fct;
    nlohmann::json j;
    j["definition"] = "first packet's send tick -> arrival of the flow's last byte; sized flows that completed within the run";
    j["completed"] = f.completed();
    j["incomplete"] = f.incomplete_total();
    j["unbounded"] = f.unbounded;
    for (std::size_t b = 0; b < measure::kFctBuckets; ++b) {
        nlohmann::json bj = fct_hist_json(f.done[b], r.tsc_hz);
        bj["bucket"] = measure::fct_bucket_name(b);
        bj["incomplete"] = f.incomplete[b];
        j["buckets"][measure::fct_bucket_key(b)] = bj;
    }
    nlohmann::json all = fct_hist_json(f.all(), r.tsc_hz);
    all["bucket"] = "all";
    all["incomplete"] = f.incomplete_total();
    j["buckets"]["all"] = all;
    return j;
}

nlohmann::json report_json(const dp::EngineReport& r) {
    nlohmann::json j;
    j["role"] = r.role;
    j["lcores"] = r.lcore_layout;
    j["tsc_hz"] = r.tsc_hz;
    j["traffic_s"] = r.traffic_s;
    j["drain_s"] = r.drain_s;
    j["stop_reason"] = r.stop_reason;
    j["stopped_by_signal"] = r.stopped_by_signal;
    j["rss"] = {{"mode", r.rss_mode}, {"reta", r.reta}, {"lcore_of_queue", r.lcore_of_queue}};
    j["notes"] = r.notes;
    nlohmann::json tx;
    tx["generated"] = r.generated;
    tx["packets"] = r.tx_packets;
    tx["bytes"] = r.tx_bytes;
    for (std::size_t i = 1; i < dp::kParseStatusCount; ++i)
        tx["malformed"][packet::to_string(static_cast<packet::ParseStatus>(i))] = r.malformed[i];
    tx["no_member"] = r.tx_no_member;
    tx["unsent_at_stop"] = r.tx_unsent_at_stop;
    tx["mbuf_alloc_failed"] = r.mbuf_alloc_failed;
    tx["source_pushback"] = r.source_pushback;
    tx["source_too_small"] = r.source_too_small;
    tx["return_path_rx"] = r.return_path_rx;
    tx["return_path_fed"] = r.return_path_fed;
    tx["member_pings"] = {{"sent", r.pings_sent}, {"not_sent", r.pings_not_sent}, {"answered", r.pongs}};
    for (std::size_t i = 0; i < packet::kHashLayerCount; ++i)
        tx["hash_layers"][packet::to_string(static_cast<packet::HashLayer>(i))] = r.hash_layers[i];
    tx["team"] = {{"packets", r.team.packets},         {"bytes", r.team.bytes},
                  {"no_member", r.team.no_member},     {"bucket_moves", r.team.bucket_moves},
                  {"vport_moves", r.team.vport_moves}, {"vport_overflow", r.team.vport_overflow},
                  {"failovers", r.team.failovers}};
    if (r.has_dynamic) {
        const auto& d = r.dynamic;
        tx["dynamic"] = {{"packets", d.packets},
                         {"new_flows", d.new_flows},
                         {"flowlet_starts", d.flowlet_starts},
                         {"member_moves", d.member_moves},
                         {"rebalance_moves", d.rebalance_moves},
                         {"member_lost_moves", d.member_lost_moves},
                         {"collisions", d.collisions},
                         {"no_member", d.no_member},
                         {"moves_held", d.moves_held},
                         {"timing", r.flowlet_timing},
                         {"gap_auto", r.flowlet_gap_auto},
                         {"delta_us", r.flowlet_delta_us},
                         {"skew_us", r.flowlet_skew_us}};
    }
    for (const auto& ds : r.delay_series)
        j["delay_series"].push_back({{"t_s", ds.t_s},
                                     {"path_min_us", ds.path_min_us},
                                     {"path_max_us", ds.path_max_us},
                                     {"latency_min_us", ds.latency_min_us},
                                     {"latency_max_us", ds.latency_max_us},
                                     {"skew_us", ds.skew_us},
                                     {"delta_us", ds.delta_us},
                                     {"member_moves", ds.member_moves},
                                     {"moves_held", ds.moves_held}});
    tx["traffic"] = {{"packets", r.traffic.packets},
                     {"payload_bytes", r.traffic.payload_bytes},
                     {"frame_bytes", r.traffic.frame_bytes},
                     {"flows_started", r.traffic.flows_started},
                     {"flows_completed", r.traffic.flows_completed},
                     {"flows_delayed", r.traffic.flows_delayed},
                     {"gaps", r.traffic.gaps}};
    for (const auto& f : r.failovers)
        tx["failovers"].push_back({{"member", f.member},
                                   {"up", f.up},
                                   {"at_s", f.at_s},
                                   {"detect_to_apply_ns", f.detect_to_apply_ns},
                                   {"buckets_moved", f.buckets_moved},
                                   {"buckets_moved_foreign", f.buckets_moved_foreign},
                                   {"lost", f.lost}});
    j["tx"] = tx;
    j["wire"] = {{"lost", r.wire_lost}, {"dropped", r.wire_dropped}, {"in_flight_at_stop", r.in_flight_at_stop}};
    nlohmann::json rx;
    rx["packets"] = r.rx_packets;
    rx["bytes"] = r.rx_bytes;
    for (std::size_t i = 0; i < dp::kProbeStatusCount; ++i)
        rx["probe"][emulation::to_string(static_cast<emulation::ProbeStatus>(i))] = r.probe_status[i];
    rx["member_pings"] = {{"echoed", r.pings_echoed}, {"dropped", r.pings_dropped}};
    rx["handoff"] = r.rx_handoff;
    rx["handoff_full"] = r.rx_handoff_full;
    rx["flows_seen"] = r.flows_seen;
    rx["flows_untracked"] = r.flows_untracked;
    rx["flow_restarts"] = r.flow_restarts;
    rx["flows_split_links"] = r.flows_split_links;
    rx["flows_split_rx"] = r.flows_split_rx;
    rx["member_changes"] = r.member_changes;
    rx["member_changes_below_gap"] = r.member_changes_below_gap;
    rx["min_change_gap_ns"] = r.min_change_gap_ns;
    rx["latency"] = {{"samples", r.latency_samples}, {"mean_us", r.latency_mean_us}, {"max_us", r.latency_max_us}};
    const auto& s = r.reorder;
    rx["reorder"] = {{"received", s.received},
                     {"unique", s.unique},
                     {"in_order", s.in_order},
                     {"seq_too_high", s.seq_too_high},
                     {"seq_too_low", s.seq_too_low},
                     {"dup", s.dup},
                     {"out_of_order", s.out_of_order},
                     {"stale", s.stale},
                     {"dropped", s.dropped},
                     {"reordered", s.reordered},
                     {"reordered_ratio", s.reordered_ratio()},
                     {"loss_ratio", s.loss_ratio()},
                     {"extent_max", s.extent.max},
                     {"extent_mean", s.extent.mean()},
                     {"extent_truncated", s.extent_truncated},
                     {"n_reordering", s.n_reordering},
                     {"n_reordered_ge3", s.n_reordered_ge3},
                     {"free_runs", s.free_runs},
                     {"free_run_max", s.free_run_max},
                     {"mean_free_run", s.mean_free_run()},
                     {"rd_freq", s.rd_freq},
                     {"rbd_freq", s.rbd_freq},
                     {"rd_skipped", s.rd_skipped},
                     {"rbd_lost", s.rbd_lost}};
    rx["fct"] = fct_json(r);
    j["rx"] = rx;
    for (std::size_t m = 0; m < r.members.size(); ++m) {
        const auto& mr = r.members[m];
        nlohmann::json mj = {{"member", m},
                             {"up", mr.up},
                             {"capacity_bps", mr.capacity_bps},
                             {"tx_packets", mr.tx_packets},
                             {"tx_bytes", mr.tx_bytes},
                             {"tx_short", mr.tx_short},
                             {"tx_reassigned", mr.tx_reassigned},
                             {"tx_queue_packets", mr.tx_queue_packets},
                             {"assigned_packets", mr.assigned_packets},
                             {"link_accepted", mr.link_accepted},
                             {"link_delivered", mr.link_delivered},
                             {"link_lost", mr.link_lost},
                             {"port_ring_lost", mr.port_ring_lost},
                             {"switch_no_member", mr.switch_no_member},
                             {"switch_rx_full", mr.switch_rx_full},
                             {"link_max_queue", mr.link_max_queue},
                             {"link_utilisation", mr.link_utilisation},
                             {"down_events", mr.down_events},
                             {"up_events", mr.up_events},
                             {"rx_packets", mr.rx_packets},
                             {"rx_bytes", mr.rx_bytes},
                             {"rx_queue_packets", mr.rx_queue_packets},
                             {"path_delay_min_us", mr.path_delay_min_us},
                             {"path_delay_max_us", mr.path_delay_max_us},
                             {"latency_min_us", mr.latency_min_us},
                             {"latency_max_us", mr.latency_max_us},
                             {"flowlet_gap_us", mr.flowlet_gap_us}};
        for (std::size_t d = 0; d < emulation::kDropReasons; ++d)
            mj["link_dropped"][emulation::to_string(static_cast<emulation::DropReason>(d))] = mr.link_dropped[d];
        j["members"].push_back(mj);
    }
    j["accounting"] = {{"sent", r.tx_packets},
                       {"received", r.rx_packets},
                       {"lost", r.wire_lost},
                       {"dropped", r.wire_dropped},
                       {"in_flight_at_stop", r.in_flight_at_stop},
                       {"unaccounted", r.role == "run" ? r.unaccounted() : 0}};
    return j;
}

namespace {

std::string rate(double bps) {
    char b[32];
    if (bps >= 1e9) std::snprintf(b, sizeof b, "%.2fG", bps / 1e9);
    else if (bps >= 1e6) std::snprintf(b, sizeof b, "%.1fM", bps / 1e6);
    else std::snprintf(b, sizeof b, "%.0fK", bps / 1e3);
    return b;
}

double pct(std::uint64_t a, std::uint64_t b) { return b == 0 ? 0.0 : 100.0 * static_cast<double>(a) / static_cast<double>(b); }

} // namespace

void print_report(const dp::EngineReport& r, const dp::EngineOptions& o) {
    const double t = r.traffic_s > 0 ? r.traffic_s : 1e-9;
    std::printf("flowteam %s: mode %s, teaming %s, hash %s", r.role.c_str(), teaming::to_string(o.team.mode),
                teaming::to_string(o.team.teaming), packet::to_string(o.team.hash_policy));
    if (o.team.mode == teaming::Mode::dynamic) {
        if (o.flowlet_gap_auto)
            std::printf(", flowlet gap auto (%.1f us at the end)", r.flowlet_delta_us);
        else
            std::printf(", flowlet gap %.0f us", static_cast<double>(o.flowlet_gap_ns) / 1e3);
        std::printf(", %s timing", flowlet::to_string(o.flowlet_timing));
        if (o.flowlet_timing == flowlet::Timing::queue) std::printf(" (measured skew %.1f us)", r.flowlet_skew_us);
        std::printf(", policy %s", flowlet::to_string(o.team.dynamic.policy));
    }
    std::printf("\n  %.3f s traffic + %.3f s drain, stopped by %s; lcores:", r.traffic_s, r.drain_s,
                r.stop_reason.c_str());
    for (const auto& l : r.lcore_layout) std::printf(" [%s]", l.c_str());
    std::printf("\n  RSS: %s\n", r.rss_mode.c_str());
    for (const auto& n : r.notes) std::printf("  note: %s\n", n.c_str());

    const bool wire = r.role == "run";
    const bool show_tx = r.role != "rx", show_rx = r.role != "tx";
    std::printf("\n%-6s %8s %9s %4s", "member", "rate", "delay", "up");
    if (show_tx) std::printf(" %12s %8s %7s", "tx_pkts", "tx_Gb/s", "share");
    if (wire) std::printf(" %9s %9s %8s %8s %6s %5s", "link_drop", "lost", "sw_drop", "max_q", "util", "down");
    if (show_rx) std::printf(" %12s %8s %7s  %s", "rx_pkts", "rx_Gb/s", "rx_shr", "rx per queue");
    std::printf("\n");
    for (std::size_t m = 0; m < r.members.size(); ++m) {
        const auto& mr = r.members[m];
        std::uint64_t ld = 0;
        for (auto v : mr.link_dropped) ld += v;
        std::printf("m%-5zu %8s %7.0fus %4s", m, rate(static_cast<double>(mr.capacity_bps)).c_str(),
                    m < o.links.size() ? static_cast<double>(o.links[m].delay_ns) / 1e3 : 0.0, mr.up ? "up" : "DOWN");
        if (show_tx)
            std::printf(" %12llu %8.3f %6.1f%%", static_cast<unsigned long long>(mr.tx_packets),
                        static_cast<double>(mr.tx_bytes) * 8 / t / 1e9, pct(mr.tx_packets, r.tx_packets));
        if (wire)
            std::printf(" %9llu %9llu %8llu %8llu %5.1f%% %5llu", static_cast<unsigned long long>(ld),
                        static_cast<unsigned long long>(mr.link_lost + mr.port_ring_lost),
                        static_cast<unsigned long long>(mr.switch_no_member + mr.switch_rx_full),
                        static_cast<unsigned long long>(mr.link_max_queue), 100 * mr.link_utilisation,
                        static_cast<unsigned long long>(mr.down_events));
        if (show_rx) {
            std::printf(" %12llu %8.3f %6.1f%% ", static_cast<unsigned long long>(mr.rx_packets),
                        static_cast<double>(mr.rx_bytes) * 8 / t / 1e9, pct(mr.rx_packets, r.rx_packets));
            for (auto q : mr.rx_queue_packets) std::printf(" %llu", static_cast<unsigned long long>(q));
        }
        std::printf("\n");
    }
    std::printf("%-6s %8s %9s %4s", "total", "", "", "");
    if (show_tx)
        std::printf(" %12llu %8.3f", static_cast<unsigned long long>(r.tx_packets),
                    static_cast<double>(r.tx_bytes) * 8 / t / 1e9);
    if (show_rx) {
        if (show_tx) std::printf(" %7s", "");
        if (wire) std::printf(" %9s %9s %8s %8s %6s %5s", "", "", "", "", "", "");
        std::printf(" %12llu %8.3f", static_cast<unsigned long long>(r.rx_packets),
                    static_cast<double>(r.rx_bytes) * 8 / t / 1e9);
    }
    std::printf("\n");
    if (wire && std::any_of(r.members.begin(), r.members.end(), [](const auto& x) { return x.path_delay_min_us >= 0; })) {
        std::printf("delays measured (last 100-200 ms): path = departure -> arrival, latency = TX timestamp -> arrival\n");
        for (std::size_t m = 0; m < r.members.size(); ++m) {
            const auto& mr = r.members[m];
            if (mr.path_delay_min_us < 0) {
                std::printf("  m%zu not measured (carried nothing)\n", m);
                continue;
            }
            std::printf("  m%zu path %.1f-%.1f us", m, mr.path_delay_min_us, mr.path_delay_max_us);
            if (mr.latency_min_us >= 0) std::printf(", latency %.1f-%.1f us", mr.latency_min_us, mr.latency_max_us);
            if (mr.flowlet_gap_us >= 0) std::printf(", safe to leave %.1f us after departure", mr.flowlet_gap_us);
            std::printf("\n");
        }
    }

    if (r.role != "rx") {
        std::printf("\nTX: generated %llu, sent %llu (%.3f Mpps), no member %llu, unsent at stop %llu, source pushback "
                    "%llu, mbuf alloc failed %llu",
                    static_cast<unsigned long long>(r.generated), static_cast<unsigned long long>(r.tx_packets),
                    static_cast<double>(r.tx_packets) / t / 1e6, static_cast<unsigned long long>(r.tx_no_member),
                    static_cast<unsigned long long>(r.tx_unsent_at_stop),
                    static_cast<unsigned long long>(r.source_pushback),
                    static_cast<unsigned long long>(r.mbuf_alloc_failed));
        std::uint64_t bad = 0;
        for (std::size_t i = 1; i < dp::kParseStatusCount; ++i) bad += r.malformed[i];
        std::printf("\n    malformed %llu", static_cast<unsigned long long>(bad));
        for (std::size_t i = 1; i < dp::kParseStatusCount; ++i)
            if (r.malformed[i] != 0)
                std::printf(" %s=%llu", packet::to_string(static_cast<packet::ParseStatus>(i)),
                            static_cast<unsigned long long>(r.malformed[i]));
        std::printf("\n    team: bucket moves %llu, vport moves %llu, failovers %llu",
                    static_cast<unsigned long long>(r.team.bucket_moves),
                    static_cast<unsigned long long>(r.team.vport_moves),
                    static_cast<unsigned long long>(r.team.failovers));
        if (r.has_dynamic)
            std::printf("; flowlet starts %llu, member moves %llu, moves held %llu, lost-member moves %llu, collisions %llu",
                        static_cast<unsigned long long>(r.dynamic.flowlet_starts),
                        static_cast<unsigned long long>(r.dynamic.member_moves),
                        static_cast<unsigned long long>(r.dynamic.moves_held),
                        static_cast<unsigned long long>(r.dynamic.member_lost_moves),
                        static_cast<unsigned long long>(r.dynamic.collisions));
        std::printf("\n");
        if (r.pings_sent != 0) {
            std::printf("    member pings: sent %llu (not sent %llu), answered %llu; path delay (half round trip):",
                        static_cast<unsigned long long>(r.pings_sent), static_cast<unsigned long long>(r.pings_not_sent),
                        static_cast<unsigned long long>(r.pongs));
            for (std::size_t m = 0; m < r.members.size(); ++m) {
                const auto& mr = r.members[m];
                if (mr.path_delay_min_us < 0)
                    std::printf(" m%zu none", m);
                else
                    std::printf(" m%zu %.1f-%.1f us", m, mr.path_delay_min_us, mr.path_delay_max_us);
            }
            std::printf("\n");
        }
        for (const auto& f : r.failovers)
            std::printf("    member %u %s at %.3f s: applied %.1f us after detection, buckets moved %u (foreign %u), "
                        "lost %llu\n",
                        f.member, f.up ? "up" : "down", f.at_s, static_cast<double>(f.detect_to_apply_ns) / 1e3,
                        f.buckets_moved, f.buckets_moved_foreign, static_cast<unsigned long long>(f.lost));
    }
    if (r.role != "tx") {
        const auto& s = r.reorder;
        std::printf("\nRX: received %llu (%.3f Mpps, %.3f Gb/s), probe ok %llu", static_cast<unsigned long long>(r.rx_packets),
                    static_cast<double>(r.rx_packets) / t / 1e6, static_cast<double>(r.rx_bytes) * 8 / t / 1e9,
                    static_cast<unsigned long long>(r.probe_status[0]));
        for (std::size_t i = 1; i < dp::kProbeStatusCount; ++i)
            if (r.probe_status[i] != 0)
                std::printf(", %s %llu", emulation::to_string(static_cast<emulation::ProbeStatus>(i)),
                            static_cast<unsigned long long>(r.probe_status[i]));
        if (!o.measure_reorder) {
            std::printf("\n    per-flow measurement off (--no-measure): no reordering, latency or FCT\n");
        } else {
            std::printf("\n    flows %llu (split over links %llu, over RX members %llu), member changes %llu (below gap %llu)",
                        static_cast<unsigned long long>(r.flows_seen), static_cast<unsigned long long>(r.flows_split_links),
                        static_cast<unsigned long long>(r.flows_split_rx), static_cast<unsigned long long>(r.member_changes),
                        static_cast<unsigned long long>(r.member_changes_below_gap));
            if (o.restart_flows)
                std::printf(", flow restarts %llu (--restart-flows)", static_cast<unsigned long long>(r.flow_restarts));
            std::printf("\n    latency mean %.1f us, max %.1f us\n", r.latency_mean_us, r.latency_max_us);
            std::printf("    reorder: reordered %llu of %llu (%.4f%%), max extent %llu, n>=3 %llu, dup %llu; loss: %llu missing "
                        "(%.4f%%)\n",
                        static_cast<unsigned long long>(s.reordered), static_cast<unsigned long long>(s.unique),
                        100 * s.reordered_ratio(), static_cast<unsigned long long>(s.extent.max),
                        static_cast<unsigned long long>(s.n_reordered_ge3), static_cast<unsigned long long>(s.dup),
                        static_cast<unsigned long long>(s.dropped), 100 * s.loss_ratio());
            const auto& f = r.fct;
            if (f.completed() + f.incomplete_total() != 0) {
                std::printf("    FCT (first packet sent -> last byte arrived; flows that completed within the run):\n");
                std::printf("      %-11s %9s %10s %10s %10s %10s %10s\n", "size", "completed", "incomplete", "mean",
                            "p50", "p99", "max");
                auto us = [&](double ticks) {
                    char b[24];
                    const double v = ticks_us(ticks, r.tsc_hz);
                    if (v >= 1e6) std::snprintf(b, sizeof b, "%.2fs", v / 1e6);
                    else if (v >= 1e3) std::snprintf(b, sizeof b, "%.2fms", v / 1e3);
                    else std::snprintf(b, sizeof b, "%.1fus", v);
                    return std::string(b);
                };
                auto row = [&](const char* name, const measure::FctHistogram& h, std::uint64_t inc) {
                    std::printf("      %-11s %9llu %10llu %10s %10s %10s %10s\n", name,
                                static_cast<unsigned long long>(h.count), static_cast<unsigned long long>(inc),
                                h.count ? us(h.mean()).c_str() : "-",
                                h.count ? us(static_cast<double>(h.percentile(0.5))).c_str() : "-",
                                h.count ? us(static_cast<double>(h.percentile(0.99))).c_str() : "-",
                                h.count ? us(static_cast<double>(h.max)).c_str() : "-");
                };
                for (std::size_t b = 0; b < measure::kFctBuckets; ++b)
                    row(measure::fct_bucket_name(b), f.done[b], f.incomplete[b]);
                row("all", f.all(), f.incomplete_total());
            }
        }
    }
    if (wire)
        std::printf("\naccounting: sent %llu = received %llu + lost %llu + dropped %llu + in flight at stop %llu "
                    "(unaccounted %llu)\n",
                    static_cast<unsigned long long>(r.tx_packets), static_cast<unsigned long long>(r.rx_packets),
                    static_cast<unsigned long long>(r.wire_lost), static_cast<unsigned long long>(r.wire_dropped),
                    static_cast<unsigned long long>(r.in_flight_at_stop),
                    static_cast<unsigned long long>(r.unaccounted()));
}

int run_engine_command(const std::string& cmd, EngineRole role, int argc, char** argv) {
    po::options_description opts(cmd);
    add_engine_options(opts, role);
    po::variables_map vm;
    std::vector<std::string> eal_args;
    const char* summary =
        role == EngineRole::run
            ? "In-process testbed: a sending team, emulated member links (rate, delay, queue, jitter, background),\n"
              "a switch applying the teaming mode's receive side, and a receiving team measuring reordering.\n"
              "EAL arguments after `--` pass through (default: --no-huge, 2 lcores, virtual ports)."
        : role == EngineRole::tx
            ? "Sending team over memif (client; start `flowteam rx` first) or physical ports (--ports with -a after --)."
            : "Receiving team over memif (server) or physical ports (--ports with -a after --); prints its counters\n"
              "when it stops (SIGINT, --duration or --idle-timeout).";
    if (!parse_command_line(cmd, summary, argc, argv, opts, vm, &eal_args)) return 0;
    const dp::EngineOptions o = engine_options_from(vm, role);
    std::string json_path;
    if (vm.count("json") != 0) json_path = str(vm, "json");

    dp::install_stop_signal_handlers();
    dp::EalOptions eo;
    eo.program = "flowteam-" + cmd;
    eo.user_args = eal_args;
    dp::Eal eal(eo);
    dp::EngineReport rep;
    if (role == EngineRole::run) rep = dp::run_testbed(o);
    else if (role == EngineRole::tx) rep = dp::run_tx(o);
    else rep = dp::run_rx(o);
    if (json_path != "-") print_report(rep, o);
    if (!json_path.empty()) {
        nlohmann::json j;
        j["parameters"] = parameters_json(vm, o);
        j["report"] = report_json(rep);
        write_json(json_path, j);
    }
    std::fflush(stdout);
    return 0;
}

} // namespace flowteam::apps
