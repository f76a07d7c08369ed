// SPDX-License-Identifier: BSD-3-Clause
// `flowteam migrate`: live migrations of N VMs over the embedded testbed.
//   --mode M   one migration run in that mode: per-VM and total report, memory
//              verification (exit 1 on any mismatch), --json FILE.
//   no --mode  the main job: one child process per mode (EAL starts once per
//              process), then one comparison table.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/engine_options.h"
#include "apps/migrate_options.h"
#include "dataplane/eal.h"
#include "dataplane/engine.h"
#include "dataplane/migrate.h"
#include "dataplane/signals.h"
#include "common/sysmem.h"

namespace flowteam::apps {
namespace {

namespace dp = flowteam::dataplane;
namespace mig = flowteam::migration;
using nlohmann::json;

constexpr const char* kSummary =
    "Live migration of N VMs over the in-process testbed (sending team, emulated member links, switch,\n"
    "receiving team): pre-copy rounds with a dirtying guest, M simultaneous migrations of C channels each,\n"
    "optional deflate compression, every page verified at the end. Without --mode: the main job, one run per\n"
    "mode (hash, si-hash, vport, dynamic, roundrobin) and a comparison table. --compare-compression: the same\n"
    "migration without and with deflate, side by side (e.g. --rates 1G,1G vs --rates 10G,10G).";

// The main job's modes: name, --mode, --teaming.
struct JobMode {
    const char* name;
    const char* mode;
    const char* teaming;
};
constexpr JobMode kJobModes[] = {
    {"hash", "hash", "static"},
    {"si-hash", "hash", "switch-independent"},
    {"vport", "vport", "switch-independent"},
    {"dynamic", "dynamic", "switch-independent"},
    {"roundrobin", "roundrobin", "static"},
};

// Memory sizes: K M G mean KiB MiB GiB here (as the seeds write 9G VMs).
std::uint64_t parse_size(const std::string& option, const std::string& s) {
    return opt::parse_size(option, s, opt::SizeSpec{0, 1ull << 43, true, true});   // 2^31 pages at most
}

std::uint32_t ppm(const po::variables_map& vm, const char* name) {
    const double p = vm[name].as<double>();   // 0..100, finite (real_value)
    return static_cast<std::uint32_t>(p * 10'000.0 + 0.5);
}

bool on_off(const std::string& option, const std::string& v) {
    if (v == "on" || v == "yes" || v == "true" || v == "1") return true;
    if (v == "off" || v == "no" || v == "false" || v == "0") return false;
    throw UsageError(option + ": " + opt::quote(v) + " (allowed: on, off)");
}

dp::MigrateConfig migrate_config(const po::variables_map& vm, std::uint32_t mtu) {
    dp::MigrateConfig c;
    const auto n = vm["vms"].as<std::uint32_t>();
    const std::uint64_t mem = parse_size("--vm-mem", vm["vm-mem"].as<std::string>());
    if (mem == 0 || mem % mig::kPageSize != 0)
        throw UsageError("--vm-mem: " + opt::quote(vm["vm-mem"].as<std::string>()) +
                         " (allowed: a positive multiple of 4 KiB, e.g. 128MiB)");
    const std::uint64_t ws = parse_size("--working-set", vm["working-set"].as<std::string>());
    if (ws > mem) throw UsageError("--working-set: " + opt::quote(vm["working-set"].as<std::string>()) +
                                   " is larger than --vm-mem (allowed: 0..vm-mem)");
    const double zero = vm["zero-pages"].as<double>();
    if (zero + vm["compressible"].as<double>() > 1.0 + 1e-9)
        throw UsageError("--compressible: zero-pages + compressible is above 1 (allowed: a sum of 0..1)");
    {
        // Source and destination images hold every non-zero page (the rest is
        // never touched), plus ~64 bytes of state per page: refuse what could
        // only end in std::bad_alloc or the OOM killer.
        const double pages = static_cast<double>(mem / mig::kPageSize) * n;
        const double need = pages * (2.0 * mig::kPageSize * (1.0 - zero) + 64.0);
        const double have = static_cast<double>(opt::available_memory_bytes());
        if (need > have) {
            char b[200];
            std::snprintf(b, sizeof b, "%u VMs x %s need about %.1f GiB of memory, %.1f GiB are available", n,
                          vm["vm-mem"].as<std::string>().c_str(), need / 1073741824.0, have / 1073741824.0);
            throw UsageError("--vms/--vm-mem: " + std::string(b) + " (allowed: vms x vm-mem within the available memory)");
        }
    }
    mig::VmSpec spec;
    spec.mem_bytes = mem;
    spec.mix.zero = vm["zero-pages"].as<double>();
    spec.mix.compressible = vm["compressible"].as<double>();
    spec.workload.working_set_pages = static_cast<std::uint32_t>(ws / mig::kPageSize);
    spec.workload.dirty_rate = vm["dirty-rate"].as<double>();
    c.memory.vms.assign(n, spec);
    c.memory.seed = vm["seed"].as<std::uint64_t>();
    const auto m = vm["simultaneous"].as<std::uint32_t>();
    c.sched.max_concurrent = static_cast<std::uint16_t>(m);
    const auto ch = vm["channels"].as<std::uint32_t>();
    c.sched.precopy.channels = static_cast<std::uint16_t>(ch);
    c.sched.precopy.downtime_limit_ns = parse_duration_ns("--downtime-limit", vm["downtime-limit"].as<std::string>());
    c.sched.precopy.max_rounds = vm["max-rounds"].as<std::uint32_t>();
    c.sched.precopy.auto_converge = vm["auto-converge"].as<bool>();
    c.sender.mtu = mtu;
    if (!dp::parse_compress(vm["compress"].as<std::string>(), c.compress))
        throw UsageError("--compress: " + opt::quote(vm["compress"].as<std::string>()) + " (allowed: none, isal, zlib)");
    try {
        c.compress_huffman = dp::parse_huffman(vm["compress-huffman"].as<std::string>());
    } catch (const std::invalid_argument&) {
        throw UsageError("--compress-huffman: " + opt::quote(vm["compress-huffman"].as<std::string>()) +
                         " (allowed: dynamic, fixed, default)");
    }
    c.compress_level = static_cast<int>(vm["compress-level"].as<std::uint32_t>());
    c.sender.zero_copy = on_off("--zero-copy", vm["zero-copy"].as<std::string>());
    c.sender.compress_sample = on_off("--compress-sample", vm["compress-sample"].as<std::string>());
    c.faults.loss_ppm = ppm(vm, "loss");
    c.faults.corrupt_ppm = ppm(vm, "corrupt");
    c.faults.truncate_ppm = ppm(vm, "truncate");
    c.faults.seed = vm["seed"].as<std::uint64_t>();
    return c;
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

// ------------------------------------------------------------------ one mode

json run_report(dp::MigrationSession& s, const dp::EngineReport& rep, const dp::EngineOptions& o) {
    const auto& sched = s.scheduler();
    const auto& mem = s.memory();
    const double hz = static_cast<double>(s.tsc_hz());
    json j;
    std::uint64_t pages_total = 0, pages_ok = 0, mismatched = 0;
    const Tick end = s.last_tick();
    for (std::uint16_t v = 0; v < sched.vm_count(); ++v) {
        const mig::MigrationStats st = sched.migration(v).stats(end);
        const mig::VerifyResult vr = s.receiver().verify(v);
        const auto& rc = s.receiver().vm_counters(v);
        pages_total += vr.pages;
        pages_ok += vr.matched;
        mismatched += vr.pages - vr.matched;
        const double secs = static_cast<double>(st.total_time_ns) / 1e9;
        json jv;
        jv["name"] = "vm" + std::to_string(v);
        jv["status"] = mig::to_string(st.phase);
        jv["switchover"] = mig::to_string(st.switchover);
        jv["total-time_ms"] = st.total_time_ns / 1e6;
        jv["setup-time_ms"] = st.setup_time_ns / 1e6;
        jv["downtime_ms"] = st.downtime_ns / 1e6;
        jv["expected-downtime_ms"] = st.expected_downtime_ns / 1e6;
        jv["ram"] = {{"total", mem.bytes(v)},
                     {"transferred", st.transferred},
                     {"wire-bytes", st.wire_bytes},
                     {"duplicate", st.duplicate},
                     {"normal", st.normal},
                     {"compressed-pages", st.compressed_pages},
                     {"compressed-bytes", st.compressed_bytes},
                     {"dirty-sync-count", st.dirty_sync_count},
                     {"rounds", st.rounds},
                     {"dirty-pages-rate", st.dirty_pages_rate},
                     {"mbps", st.mbps},
                     {"pages-per-second", st.pages_per_second},
                     {"precopy-bytes", st.precopy_bytes},
                     {"downtime-bytes", st.downtime_bytes},
                     {"pages-sent", st.pages_sent},
                     {"resent-pages", st.resent_pages},
                     {"requested-pages", st.requested_pages},
                     {"rto-pages", st.rto_pages},
                     {"throttle", st.throttle}};
        jv["goodput_gbps"] = secs > 0 ? static_cast<double>(mem.bytes(v)) * 8 / secs / 1e9 : 0;
        jv["compression_ratio"] = ratio(static_cast<double>(st.compressed_pages) * mig::kPageSize,
                                        static_cast<double>(st.compressed_bytes));
        jv["receiver"] = {{"frames", rc.frames},       {"lost_frames", rc.lost_frames},
                          {"gaps", rc.gaps},           {"duplicate_frames", rc.duplicate_frames},
                          {"stale_frames", rc.stale_frames}, {"late_frames", rc.late_frames},
                          {"request_entries", rc.request_entries}, {"end_seen", rc.end_seen},
                          {"combined_frames", rc.combined_frames}};
        // back-channel entries the sender dropped or found matching nothing (forged, late, duplicated)
        jv["feedback_dropped"] = {{"bad_round_entries", st.feedback_bad_round},
                                  {"ack_pages_not_in_flight", st.ack_pages_not_in_flight},
                                  {"request_entries_unmatched", st.request_entries_unmatched}};
        jv["verify"] = {{"pages", vr.pages},
                        {"matched", vr.matched},
                        {"mismatched", vr.mismatched},
                        {"never_received", vr.never_received},
                        {"incomplete", vr.incomplete},
                        {"first_mismatches", vr.first_mismatches},
                        {"ok", vr.ok()}};
        j["vms"].push_back(jv);
    }
    const mig::SchedulerTotals t = sched.totals(end);
    const double secs = static_cast<double>(t.total_time_ns) / 1e9;
    std::uint64_t mem_total = 0;
    for (std::uint16_t v = 0; v < sched.vm_count(); ++v) mem_total += mem.bytes(v);
    const auto& sc = s.source_counters();
    const auto& kc = s.sink_counters();
    json jt;
    jt["vms"] = t.vms;
    jt["completed"] = t.completed;
    jt["all_completed"] = t.completed == t.vms && t.vms != 0; // a run that timed out did not migrate
    jt["max_active"] = t.max_active;
    jt["total-time_ms"] = t.total_time_ns / 1e6;
    jt["downtime_ms"] = t.max_downtime_ns / 1e6;
    jt["transferred"] = t.transferred;
    jt["wire-bytes"] = t.wire_bytes;
    jt["precopy-bytes"] = t.precopy_bytes;
    jt["downtime-bytes"] = t.downtime_bytes;
    jt["duplicate"] = t.duplicate;
    jt["normal"] = t.normal;
    jt["compressed-pages"] = t.compressed_pages;
    jt["compressed-bytes"] = t.compressed_bytes;
    jt["pages-sent"] = t.pages_sent;
    jt["resent-pages"] = t.resent_pages;
    jt["max-rounds"] = t.max_rounds;
    jt["goodput_gbps"] = secs > 0 ? static_cast<double>(mem_total) * 8 / secs / 1e9 : 0;
    jt["wire_gbps"] = secs > 0 ? static_cast<double>(t.wire_bytes) * 8 / secs / 1e9 : 0;
    jt["pages-per-second"] = secs > 0 ? static_cast<double>(t.pages_sent) / secs : 0;
    // compression ratio: bytes of the pages sent compressed / their compressed bytes
    jt["compression_ratio"] = ratio(static_cast<double>(t.compressed_pages) * mig::kPageSize,
                                    static_cast<double>(t.compressed_bytes));
    jt["stream_ratio"] = ratio(static_cast<double>(t.pages_sent) * mig::kPageSize, static_cast<double>(t.transferred));
    // CPU cycles per byte: TSC cycles inside the source / sink / codec, times
    // the share of a CPU that lcore got (thread CPU time / wall time): on a
    // shared machine the TSC also counts time the thread was not running.
    const double tx_share = dp::cpu_share(sc.thread_cpu_ns, sc.thread_wall_ns);
    const double rx_share = dp::cpu_share(kc.thread_cpu_ns, kc.thread_wall_ns);
    jt["tx_cpu_share"] = tx_share;
    jt["rx_cpu_share"] = rx_share;
    const double tx_tsc_b = ratio(static_cast<double>(sc.busy_cycles), static_cast<double>(sc.payload_bytes));
    const double rx_tsc_b = ratio(static_cast<double>(kc.busy_cycles), static_cast<double>(kc.payload_bytes));
    const double comp_tsc_b = ratio(static_cast<double>(s.compress_cycles()), static_cast<double>(s.compress_bytes_in()));
    const double dcmp_tsc_b =
        ratio(static_cast<double>(s.decompress_cycles()), static_cast<double>(s.decompress_bytes_out()));
    jt["tx_tsc_cycles_per_byte"] = tx_tsc_b;
    jt["rx_tsc_cycles_per_byte"] = rx_tsc_b;
    jt["compress_tsc_cycles_per_byte"] = comp_tsc_b;
    jt["decompress_tsc_cycles_per_byte"] = dcmp_tsc_b;
    jt["tx_cycles_per_byte"] = tx_tsc_b * tx_share;
    jt["rx_cycles_per_byte"] = rx_tsc_b * rx_share;
    jt["compress_cycles_per_byte"] = comp_tsc_b * tx_share;
    jt["decompress_cycles_per_byte"] = dcmp_tsc_b * rx_share;
    // the same over every page with a body (raw + compressed): what compression did to the stream
    const double body_bytes = static_cast<double>(t.compressed_bytes) +
                              static_cast<double>(t.normal - std::min(t.normal, t.compressed_pages)) * mig::kPageSize;
    jt["body_compression_ratio"] = ratio(static_cast<double>(t.normal) * mig::kPageSize, body_bytes);
    // CPU per byte of guest memory moved (page copies x 4 KiB): comparable with and without compression
    const double page_bytes = static_cast<double>(t.pages_sent) * mig::kPageSize;
    jt["tx_cycles_per_page_byte"] = ratio(static_cast<double>(sc.busy_cycles), page_bytes) * tx_share;
    jt["rx_cycles_per_page_byte"] = ratio(static_cast<double>(kc.busy_cycles), page_bytes) * rx_share;
    const auto& sn = s.sender().counters();
    jt["compress"] = {{"codec", dp::to_string(s.config().compress)},
                      {"sample", s.config().sender.compress_sample},
                      {"calls", sn.compress_calls},
                      {"rejects", sn.compress_rejects},
                      {"skipped_by_sample", sn.compress_skipped},
                      {"tsc_hz", s.tsc_hz()}};
    jt["pages_verified"] = pages_ok;
    jt["pages"] = pages_total;
    jt["pages_mismatched"] = mismatched;
    jt["verified"] = mismatched == 0 && pages_total != 0;
    (void)hz;
    j["total"] = jt;

    // wire: members, back channel, injected faults, drops by reason
    std::uint64_t tx_sum = 0;
    for (const auto& m : rep.members) tx_sum += m.tx_packets;
    for (std::size_t m = 0; m < rep.members.size(); ++m) {
        const auto& mr = rep.members[m];
        j["members"].push_back({{"member", m},
                                {"up", mr.up},
                                {"tx_packets", mr.tx_packets},
                                {"tx_share", ratio(static_cast<double>(mr.tx_packets), static_cast<double>(tx_sum))},
                                {"rx_packets", mr.rx_packets},
                                {"link_utilisation", mr.link_utilisation},
                                {"down_events", mr.down_events}});
    }
    measure::ReorderStats all{};
    for (const auto& cs : s.channel_stats()) {
        all.merge(cs.reorder);
        std::uint64_t rx = 0;
        for (auto v : cs.rx_member) rx += v;
        json shares = json::array();
        for (std::size_t m = 0; m < o.links.size(); ++m)
            shares.push_back(ratio(static_cast<double>(cs.rx_member[m]), static_cast<double>(rx)));
        j["channels"].push_back({{"vm", cs.vm},
                                 {"channel", cs.channel},
                                 {"udp_src_port", cs.udp_src_port},
                                 {"received", cs.reorder.received},
                                 {"reordered", cs.reorder.reordered},
                                 {"reordered_ratio", cs.reorder.reordered_ratio()},
                                 {"n_reordered_ge3", cs.reorder.n_reordered_ge3},
                                 {"seq_too_high", cs.reorder.seq_too_high},
                                 {"dropped", cs.reorder.dropped},
                                 {"rx_member_share", shares}});
    }
    j["reorder"] = {{"received", all.received},
                    {"reordered", all.reordered},
                    {"reordered_ratio", all.reordered_ratio()},
                    {"n_reordered_ge3", all.n_reordered_ge3},
                    {"dropped", all.dropped}};
    json drops;
    const auto& d = s.receiver().drops();
    for (std::size_t i = 0; i < d.size(); ++i)
        if (d[i] != 0) drops[mig::to_string(static_cast<mig::WireStatus>(i))] = d[i];
    j["receiver_drops"] = drops.is_null() ? json::object() : drops;
    j["sink"] = {{"frames", kc.frames},
                 {"not_migration", kc.not_migration},
                 {"oversize", kc.oversize},
                 {"accepted", kc.accepted},
                 {"rejected", kc.rejected},
                 {"injected_loss", kc.injected_loss},
                 {"injected_corrupt", kc.injected_corrupt},
                 {"injected_truncate", kc.injected_truncate},
                 {"feedback_frames", kc.feedback_frames},
                 {"feedback_buf_too_small", kc.feedback_buf_too_small}};
    j["source"] = {{"frames", sc.frames},
                   {"zero_copy_frames", sc.zero_copy_frames},
                   {"zero_copy_bytes", sc.zero_copy_bytes},
                   {"ext_copied_frames", sc.ext_copied_frames},
                   {"ext_segments_attached", sc.ext_segments_attached},
                   {"ext_segments_released", sc.ext_segments_released},
                   {"ext_pool_empty", sc.ext_pool_empty},
                   {"ext_engine_copied", sc.ext_engine_copied},
                   {"ext_engine_dropped", sc.ext_engine_dropped},
                   {"ext_engine_cycles", sc.ext_engine_cycles},
                   {"busy_cycles", sc.busy_cycles},
                   {"buf_too_small", sc.buf_too_small},
                   {"feedback_frames", sc.feedback_frames},
                   {"feedback_not_migration", sc.feedback_not_migration}};
    // The back channel on the wire: receiving member port TX -> reverse path -> sending member port RX.
    j["back_channel"] = {{"sink_feedback_tx", rep.feedback_tx},
                         {"sink_feedback_tx_full", rep.feedback_tx_full},
                         {"feedback_alloc_failed", rep.feedback_alloc_failed},
                         {"reverse_forwarded", rep.reverse_forwarded},
                         {"reverse_full", rep.reverse_full},
                         {"return_path_rx", rep.return_path_rx},
                         {"return_path_fed", rep.return_path_fed},
                         {"sink_idle_calls", rep.sink_idle_calls}};
    j["engine"] = report_json(rep);   // every engine counter, same shape as `flowteam run --json`
    return j;
}

void print_single(const json& j, const std::string& mode, const std::string& teaming) {
    std::printf("migrate  mode %s (%s)\n\n", mode.c_str(), teaming.c_str());
    std::printf("%-5s %-9s %9s %8s %9s %10s %10s %6s %10s %8s %9s %8s %7s %6s %s\n", "VM", "status", "total_ms",
                "setup_ms", "downtm_ms", "xfer_MiB", "wire_MiB", "rounds", "dirty_pg/s", "Gb/s", "pages/s", "zero",
                "resent", "ratio", "verified");
    for (const auto& v : j["vms"]) {
        const auto& r = v["ram"];
        std::printf("%-5s %-9s %9.1f %8.2f %9.1f %10.1f %10.1f %6u %10.0f %8.2f %9.0f %8" PRIu64 " %7" PRIu64
                    " %6.2f %s\n",
                    v["name"].get<std::string>().c_str(), v["status"].get<std::string>().c_str(),
                    v["total-time_ms"].get<double>(), v["setup-time_ms"].get<double>(), v["downtime_ms"].get<double>(),
                    r["transferred"].get<double>() / 1048576.0, r["wire-bytes"].get<double>() / 1048576.0,
                    r["dirty-sync-count"].get<unsigned>(), r["dirty-pages-rate"].get<double>(),
                    v["goodput_gbps"].get<double>(), r["pages-per-second"].get<double>(),
                    r["duplicate"].get<std::uint64_t>(), r["resent-pages"].get<std::uint64_t>(),
                    v["compression_ratio"].get<double>(), v["verify"]["ok"].get<bool>() ? "ok" : "MISMATCH");
    }
    const auto& t = j["total"];
    std::printf("\ntotal: %u VMs (max %u at once) in %.1f ms, blackout max %.1f ms, goodput %.2f Gb/s (wire %.2f Gb/s), "
                "%.0f pages/s\n",
                t["vms"].get<unsigned>(), t["max_active"].get<unsigned>(), t["total-time_ms"].get<double>(),
                t["downtime_ms"].get<double>(), t["goodput_gbps"].get<double>(), t["wire_gbps"].get<double>(),
                t["pages-per-second"].get<double>());
    std::printf("       transferred %.1f MiB, wire %.1f MiB, zero pages %" PRIu64 ", resent pages %" PRIu64
                ", compressed pages %" PRIu64 " (ratio %.2f)\n",
                t["transferred"].get<double>() / 1048576.0, t["wire-bytes"].get<double>() / 1048576.0,
                t["duplicate"].get<std::uint64_t>(), t["resent-pages"].get<std::uint64_t>(),
                t["compressed-pages"].get<std::uint64_t>(), t["compression_ratio"].get<double>());
    std::printf("       CPU cycles/byte: tx %.2f, rx %.2f (per payload byte), per page byte tx %.2f, rx %.2f, "
                "compress %.2f, decompress %.2f (lcore CPU share tx %.0f%%, rx %.0f%%)\n",
                t["tx_cycles_per_byte"].get<double>(), t["rx_cycles_per_byte"].get<double>(),
                t["tx_cycles_per_page_byte"].get<double>(), t["rx_cycles_per_page_byte"].get<double>(),
                t["compress_cycles_per_byte"].get<double>(), t["decompress_cycles_per_byte"].get<double>(),
                100 * t["tx_cpu_share"].get<double>(), 100 * t["rx_cpu_share"].get<double>());
    std::printf("       verified %" PRIu64 " / %" PRIu64 " pages%s%s\n\n", t["pages_verified"].get<std::uint64_t>(),
                t["pages"].get<std::uint64_t>(), t["verified"].get<bool>() ? "" : "  *** MISMATCH ***",
                t.value("all_completed", true) ? "" : "  *** NOT COMPLETED ***");
    std::printf("members:");
    for (const auto& m : j["members"])
        std::printf("  m%u tx %.1f%% (%" PRIu64 " pkts, util %.0f%%)%s", m["member"].get<unsigned>(),
                    100 * m["tx_share"].get<double>(), m["tx_packets"].get<std::uint64_t>(),
                    100 * m["link_utilisation"].get<double>(), m["up"].get<bool>() ? "" : " DOWN");
    std::printf("\n\n%-4s %-3s %6s %9s %9s %8s %5s  %s\n", "VM", "ch", "port", "received", "reordered", "ratio",
                "n>=3", "rx member shares");
    for (const auto& c : j["channels"]) {
        std::string sh;
        for (const auto& x : c["rx_member_share"]) {
            char b[16];
            std::snprintf(b, sizeof b, "%.0f%% ", 100 * x.get<double>());
            sh += b;
        }
        std::printf("%-4u %-3u %6u %9" PRIu64 " %9" PRIu64 " %8.4f %5" PRIu64 "  %s\n", c["vm"].get<unsigned>(),
                    c["channel"].get<unsigned>(), c["udp_src_port"].get<unsigned>(),
                    c["received"].get<std::uint64_t>(), c["reordered"].get<std::uint64_t>(),
                    c["reordered_ratio"].get<double>(), c["n_reordered_ge3"].get<std::uint64_t>(), sh.c_str());
    }
    const auto& k = j["sink"];
    std::printf("\nreceiver: accepted %" PRIu64 ", rejected %" PRIu64 ", injected loss %" PRIu64 " corrupt %" PRIu64
                " truncate %" PRIu64 ", back-channel frames %" PRIu64 "; drops by reason: %s\n",
                k["accepted"].get<std::uint64_t>(), k["rejected"].get<std::uint64_t>(),
                k["injected_loss"].get<std::uint64_t>(), k["injected_corrupt"].get<std::uint64_t>(),
                k["injected_truncate"].get<std::uint64_t>(), k["feedback_frames"].get<std::uint64_t>(),
                j["receiver_drops"].dump().c_str());
    const auto& bc = j["back_channel"];
    std::printf("back channel: sink tx %" PRIu64 " (port full %" PRIu64 "), reverse path %" PRIu64 " (full %" PRIu64
                "), sender port rx %" PRIu64 ", to Sender %" PRIu64 ", idle sink calls %" PRIu64 "\n",
                bc["sink_feedback_tx"].get<std::uint64_t>(), bc["sink_feedback_tx_full"].get<std::uint64_t>(),
                bc["reverse_forwarded"].get<std::uint64_t>(), bc["reverse_full"].get<std::uint64_t>(),
                bc["return_path_rx"].get<std::uint64_t>(), j["source"]["feedback_frames"].get<std::uint64_t>(),
                bc["sink_idle_calls"].get<std::uint64_t>());
    std::printf("engine: stop '%s', traffic %.2f s\n", j["engine"]["stop_reason"].get<std::string>().c_str(),
                j["engine"]["traffic_s"].get<double>());
}

// The testbed's EAL arguments with three lcores on two CPUs: control (sleeps)
// and TX on the first, wire + RX on the second — the sending and the
// receiving host each get a CPU. One CPU only: all three on it.
std::vector<std::string> split_lcores_eal_args() {
    std::vector<unsigned> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof(set), &set) == 0)
        for (unsigned c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(0);
    const std::string a = std::to_string(cpus[0]), b = std::to_string(cpus.size() > 1 ? cpus[1] : cpus[0]);
    return {"--no-huge", "--no-pci", "--file-prefix=flowteam-" + std::to_string(static_cast<long>(::getpid())),
            "-m", "1024", "--lcores", "0@" + a + ",1@" + a + ",2@" + b, "--log-level=warning",
            "--log-level=lib.telemetry:error"};
}

int run_one(const po::variables_map& vm, const std::vector<std::string>& eal_args) {
    dp::EngineOptions o = engine_options_from(vm, EngineRole::run);
    o.duration_ns = parse_duration_ns("--timeout", vm["timeout"].as<std::string>());
    o.traffic_kind = dp::TrafficKind::custom;
    o.max_rx_lcores = 1;
    std::string json_path;
    if (vm.count("json") != 0) json_path = vm["json"].as<std::string>();

    dp::install_stop_signal_handlers();
    dp::EalOptions eo;
    eo.program = "flowteam-migrate";
    eo.user_args = eal_args;
    struct RemoveDir {   // the testbed defaults clean up their runtime dir; so do we (after the Eal is gone)
        std::string d;
        ~RemoveDir() {
            std::error_code ec;
            if (!d.empty()) std::filesystem::remove_all(d, ec);
        }
    } split_runtime_dir;
    const bool split = vm["split-lcores"].as<bool>() && eal_args.empty();
    if (split) eo.user_args = split_lcores_eal_args();
    dp::Eal eal(eo);
    if (split) split_runtime_dir.d = eal.info().runtime_dir;
    dp::MigrationSession session(migrate_config(vm, o.mtu), eal.info().tsc_hz);
    o.source_factory = [&session](unsigned) { return session.make_source(); };
    o.sink_factory = [&session](unsigned) { return session.make_sink(); };
    const dp::EngineReport rep = dp::run_testbed(o);
    json j = run_report(session, rep, o);
    j["parameters"] = parameters_json(vm, o);
    j["mode"] = teaming::to_string(o.team.mode);
    j["teaming"] = teaming::to_string(o.team.teaming);
    if (json_path != "-") print_single(j, j["mode"], j["teaming"]);
    write_json(json_path, j);
    std::fflush(stdout);
    if (!j["total"]["all_completed"].get<bool>()) {
        // pages may all match (the last copies arrived, their acks did not): still not a migration
        std::string left;
        unsigned n_left = 0;
        for (const auto& v : j["vms"])
            if (v["status"].get<std::string>() != "completed") {
                if (++n_left <= 4) left += (left.empty() ? "" : ", ") + v["name"].get<std::string>() + " " +
                                           v["status"].get<std::string>();
            }
        std::fprintf(stderr, "migrate: failed: %u of %u VMs did not complete within --timeout %s (%s%s)\n", n_left,
                     j["total"]["vms"].get<unsigned>(), vm["timeout"].as<std::string>().c_str(), left.c_str(),
                     n_left > 4 ? ", ..." : "");
        return kExitFailure;
    }
    return j["total"]["verified"].get<bool>() ? 0 : kExitFailure;
}

// ------------------------------------------------------------------ main job

int run_child(const std::vector<std::string>& args) {
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        std::_Exit(127);
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

// One child run (`flowteam migrate --mode ... --json FILE`): its JSON report and exit code.
struct Row {
    std::string name;
    int rc = 0;
    json j;
};

// The user's arguments minus --json and the options in `drop` (with their value).
std::vector<std::string> forwarded_args(int argc, char** argv, const std::vector<std::string>& drop) {
    std::vector<std::string> fwd;
    bool eal = false;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") eal = true;
        if (!eal) {
            bool skip = false;
            for (const auto& d : drop) {
                if (a == d) {
                    skip = true;
                    if (d != "--compare-compression") ++i; // and its value
                } else if (a.rfind(d + "=", 0) == 0) {
                    skip = true;
                }
            }
            if (skip) continue;
        }
        fwd.push_back(a);
    }
    return fwd;
}

Row run_variant(const std::string& exe, const std::string& dir, const std::vector<std::string>& fwd,
                const std::string& name, std::vector<std::string> args) {
    const std::string jf = dir + "/" + name + ".json";
    args.insert(args.begin(), {exe, "migrate"});
    args.insert(args.end(), {"--json", jf, "--quiet"});
    // user arguments go before any `--` (EAL pass-through stays last)
    std::vector<std::string> tail;
    bool eal = false;
    for (const auto& a : fwd) {
        if (a == "--") eal = true;
        (eal ? tail : args).push_back(a);
    }
    args.insert(args.end(), tail.begin(), tail.end());
    std::ofstream(jf).close();
    Row r;
    r.name = name;
    // children print their own table to /dev/null: only the JSON is read
    const int saved = ::dup(1);
    std::FILE* devnull = std::fopen("/dev/null", "w");
    if (devnull != nullptr) ::dup2(::fileno(devnull), 1);
    r.rc = run_child(args);
    if (saved >= 0) {
        ::dup2(saved, 1);
        ::close(saved);
    }
    if (devnull != nullptr) std::fclose(devnull);
    std::ifstream in(jf);
    try {
        in >> r.j;
    } catch (const std::exception&) {
        r.j = json();
    }
    std::filesystem::remove(jf);
    return r;
}

std::string make_tmpdir() {
    char tmpl[] = "/tmp/flowteam-migrate-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    return tmpl;
}

int run_job(int argc, char** argv, const po::variables_map& vm) {
    const std::string exe = self_executable();
    const std::string dir = make_tmpdir();
    const std::vector<std::string> fwd = forwarded_args(argc, argv, {"--json"});
    const bool add_delays = vm["delays"].defaulted();
    json all;
    std::vector<Row> rows;
    for (const auto& m : kJobModes) {
        std::vector<std::string> args = {"--mode", m.mode, "--teaming", m.teaming};
        if (add_delays) args.insert(args.end(), {"--delays", "10us,60us"}); // 50 us skew
        std::fprintf(stderr, "flowteam migrate: mode %s ...\n", m.name);
        rows.push_back(run_variant(exe, dir, fwd, m.name, args));
    }
    std::filesystem::remove(dir);

    std::printf("flowteam migrate: the main job — same VMs, one run per mode\n");
    if (!rows.empty() && rows[0].j.is_object()) {
        const auto& p = rows[0].j["parameters"]["options"];
        std::printf("  %u VMs x %s, %u at once, %u channels each, MTU %u, compress %s, members %s, delays %s\n\n",
                    p.value("vms", 0u), p.value("vm-mem", std::string("?")).c_str(), p.value("simultaneous", 0u),
                    p.value("channels", 0u), p.value("mtu", 0u), p.value("compress", std::string("?")).c_str(),
                    p.value("rates", std::string("?")).c_str(), p.value("delays", std::string("?")).c_str());
    }
    std::printf("%-11s %9s %8s %-17s %9s %7s %9s %15s %s\n", "mode", "time_ms", "Gb/s", "member tx shares",
                "reordered", "n>=3", "blackout", "pages verified", "status");
    int rc = 0;
    for (const auto& r : rows) {
        if (!r.j.is_object() || !r.j.contains("total")) {
            std::printf("%-11s  run failed (exit %d)\n", r.name.c_str(), r.rc);
            rc = kExitFailure;
            continue;
        }
        const auto& t = r.j["total"];
        std::string sh;
        for (const auto& m : r.j["members"]) {
            char b[16];
            std::snprintf(b, sizeof b, "%s%.0f%%", sh.empty() ? "" : "/", 100 * m["tx_share"].get<double>());
            sh += b;
        }
        char ver[48];
        std::snprintf(ver, sizeof ver, "%" PRIu64 "/%" PRIu64, t["pages_verified"].get<std::uint64_t>(),
                      t["pages"].get<std::uint64_t>());
        std::printf("%-11s %9.1f %8.2f %-17s %9.5f %7" PRIu64 " %7.1fms %15s %s\n", r.name.c_str(),
                    t["total-time_ms"].get<double>(), t["goodput_gbps"].get<double>(), sh.c_str(),
                    r.j["reorder"]["reordered_ratio"].get<double>(), r.j["reorder"]["n_reordered_ge3"].get<std::uint64_t>(),
                    t["downtime_ms"].get<double>(), ver, r.rc == 0 ? "ok" : "FAILED");
        if (r.rc != 0) rc = kExitFailure;
        all[r.name] = r.j;
    }
    if (vm.count("json") != 0) write_json(vm["json"].as<std::string>(), all);
    std::fflush(stdout);
    return rc;
}

// --compare-compression: the same migration without and with deflate (isal),
// one process each, on the user's members and mode.
int run_compare(int argc, char** argv, const po::variables_map& vm) {
    const std::string exe = self_executable();
    const std::string dir = make_tmpdir();
    const std::vector<std::string> fwd = forwarded_args(argc, argv, {"--json", "--compare-compression", "--compress"});
    std::vector<std::string> base;
    if (vm.count("mode") == 0) base.insert(base.end(), {"--mode", "dynamic"});
    if (vm["delays"].defaulted()) base.insert(base.end(), {"--delays", "10us,60us"});
    if (!vm["split-lcores"].as<bool>()) base.push_back("--split-lcores");
    std::vector<Row> rows;
    for (const char* c : {"none", "isal"}) {
        std::vector<std::string> args = base;
        args.insert(args.end(), {"--compress", c});
        std::fprintf(stderr, "flowteam migrate: compress %s ...\n", c);
        rows.push_back(run_variant(exe, dir, fwd, c, args));
    }
    std::filesystem::remove(dir);

    std::printf("flowteam migrate: compression trade-off — same VMs, without and with deflate (compress_isal)\n");
    if (rows[0].j.is_object()) {
        const auto& p = rows[0].j["parameters"]["options"];
        std::string lc;
        for (const auto& l : rows[0].j["engine"]["lcores"]) lc += (lc.empty() ? "" : ", ") + l.get<std::string>();
        std::printf("  %s\n", lc.c_str());
        std::printf("  mode %s, members %s, delays %s, %u VMs x %s, %u at once, %u channels each, MTU %u, sample %s\n",
                    rows[0].j.value("mode", std::string("?")).c_str(), p.value("rates", std::string("?")).c_str(),
                    p.value("delays", std::string("?")).c_str(), p.value("vms", 0u),
                    p.value("vm-mem", std::string("?")).c_str(), p.value("simultaneous", 0u), p.value("channels", 0u),
                    p.value("mtu", 0u), p.value("compress-sample", std::string("?")).c_str());
    }
    std::printf("  ratio = bytes of the pages with a body / their bytes on the wire; cycles per byte of guest memory\n"
                "  moved (TSC cycles in the TX source / RX sink, per page copy x 4 KiB), and per input byte inside\n"
                "  the compressor; Gb/s/core = what one core compresses while inside compressdev\n\n");
    std::printf("%-8s %9s %8s %9s %9s %9s %6s %9s %9s %10s %10s %11s %15s %s\n", "compress", "time_ms", "Gb/s",
                "wire_Gb/s", "xfer_MiB", "wire_MiB", "ratio", "tx_cyc/B", "rx_cyc/B", "comp_cyc/B", "dcmp_cyc/B",
                "comp_Gb/s/c", "pages verified", "status");
    int rc = 0;
    json all;
    for (const auto& r : rows) {
        if (!r.j.is_object() || !r.j.contains("total")) {
            std::printf("%-8s  run failed (exit %d)\n", r.name.c_str(), r.rc);
            rc = kExitFailure;
            continue;
        }
        const auto& t = r.j["total"];
        const double cpb = t["compress_cycles_per_byte"].get<double>();
        const double hz = t["compress"]["tsc_hz"].get<double>();
        char ver[48];
        std::snprintf(ver, sizeof ver, "%" PRIu64 "/%" PRIu64, t["pages_verified"].get<std::uint64_t>(),
                      t["pages"].get<std::uint64_t>());
        std::printf("%-8s %9.1f %8.2f %9.2f %9.1f %9.1f %6.2f %9.2f %9.2f %10.2f %10.2f %11.2f %15s %s\n",
                    r.name.c_str(), t["total-time_ms"].get<double>(), t["goodput_gbps"].get<double>(),
                    t["wire_gbps"].get<double>(), t["transferred"].get<double>() / 1048576.0,
                    t["wire-bytes"].get<double>() / 1048576.0, t["body_compression_ratio"].get<double>(),
                    t["tx_cycles_per_page_byte"].get<double>(), t["rx_cycles_per_page_byte"].get<double>(), cpb,
                    t["decompress_cycles_per_byte"].get<double>(), cpb > 0 ? 8.0 * hz / cpb / 1e9 : 0.0, ver,
                    r.rc == 0 ? "ok" : "FAILED");
        if (r.rc != 0) rc = kExitFailure;
        all[r.name] = r.j;
    }
    if (rows.size() == 2 && rows[0].j.contains("total") && rows[1].j.contains("total")) {
        const double a = rows[0].j["total"]["total-time_ms"].get<double>();
        const double b = rows[1].j["total"]["total-time_ms"].get<double>();
        if (a > 0 && b > 0)
            std::printf("\nisal vs none: %.2fx the time (%s)\n", b / a,
                        b < a ? "compression pays on these members" : "compression costs more CPU than it saves wire");
    }
    if (vm.count("json") != 0) write_json(vm["json"].as<std::string>(), all);
    std::fflush(stdout);
    return rc;
}

// The engine's options with --mode made truthful for this command: no default
// (not given = the main job, every mode in turn).
void add_testbed_options(po::options_description& opts) {
    po::options_description eng;
    add_engine_options(eng, EngineRole::run);
    po::options_description t("Team, members and run (as in `flowteam run`)");
    for (const auto& od : eng.options()) {
        if (od->long_name() == "mode")
            t.add_options()("mode", po::value<std::string>()->value_name("MODE"),
                            "load balancing: hash, vport, dynamic, roundrobin, flowcell, active-backup; not given: "
                            "the main job (hash, si-hash, vport, dynamic, roundrobin in turn, one table)");
        else
            t.add(od);
    }
    opts.add(t);
}

} // namespace

void add_migrate_options(po::options_description& opts) {
    po::options_description m("Migration");
    m.add_options()
        ("vms", u32_value(1, 1024)->default_value(6), "VMs to migrate (1..1024; with --vm-mem within the machine's memory)")
        ("vm-mem", po::value<std::string>()->default_value("128MiB"), "memory per VM (multiple of 4 KiB; the seeds migrate 9 GB VMs, scaled down to fit 2 cores)")
        ("simultaneous", u32_value(1, 1024)->default_value(2), "M: migrations at once (the rest queue)")
        ("channels", u32_value(1, 64)->default_value(2), "C: channels (UDP flows) per migration")
        ("compress", po::value<std::string>()->default_value("none"), "none, isal (deflate, compress_isal), zlib")
        ("compress-huffman", po::value<std::string>()->default_value("fixed"),
         "deflate Huffman codes: fixed (ISA-L level 0: no tree, ~4-5 cycles/byte), dynamic (a tree per 4 KiB page, "
         "ISA-L level 1: ~3-4x the CPU for about the same ratio), default")
        ("compress-level", u32_value(1, 9)->default_value(1), "deflate level 1..9 (isal: 1, 2, 3)")
        ("compress-sample", po::value<std::string>()->default_value("on"),
         "on: pages whose 256-byte sample looks random are sent raw without a compress attempt; off: try every page")
        ("compare-compression", po::bool_switch(),
         "run the same migration without and with compression (none, isal; one process each) on the given --rates "
         "and --mode (default dynamic) and print time, goodput, ratio and CPU cycles per byte side by side")
        ("zero-copy", po::value<std::string>()->default_value("off"),
         "on: raw page bodies leave as a second mbuf segment attached to guest memory (no copy; JSON source."
         "ext_segments_attached; no free segment: copied, ext_engine_copied); off: copied into the frame")
        ("zero-pages", real_value(0, 1)->default_value(0.25, "0.25"), "fraction of zero pages (0..1)")
        ("compressible", real_value(0, 1)->default_value(0.60, "0.6"),
         "fraction of compressible pages (~3.5x each under deflate; zero-pages + compressible <= 1); the rest is random")
        ("working-set", po::value<std::string>()->default_value("8MiB"), "per VM: memory the guest keeps writing")
        ("dirty-rate", real_value(0, 1e9)->default_value(20000, "20000"), "per VM: page writes per second (0..1e9)")
        ("downtime-limit", po::value<std::string>()->default_value("300ms"), "switch to stop-and-copy below this")
        ("max-rounds", u32_value(0, 1'000'000)->default_value(30), "pre-copy passes before a forced switchover")
        ("auto-converge", po::bool_switch(), "throttle guests that dirty faster than we send")
        ("loss", real_value(0, 100)->default_value(0, "0"), "inject loss at the receiver, percent of frames (0..100)")
        ("corrupt", real_value(0, 100)->default_value(0, "0"), "inject one flipped header byte, percent of frames (0..100)")
        ("truncate", real_value(0, 100)->default_value(0, "0"), "inject truncated frames, percent of frames (0..100)")
        ("split-lcores", po::bool_switch(),
         "testbed: sender (TX) and receiver (wire + RX) on separate CPUs, like two hosts — 3 lcores, control and "
         "TX share the first CPU (default in --compare-compression); without it one worker lcore runs both ends")
        ("timeout", po::value<std::string>()->default_value("90s"), "stop the run after this long");
    opts.add(m);
}

void check_migrate_options(const po::variables_map& vm, std::uint32_t mtu) {
    (void)migrate_config(vm, mtu);
    (void)parse_duration_ns("--timeout", vm["timeout"].as<std::string>());
    (void)parse_duration_ns("--downtime-limit", vm["downtime-limit"].as<std::string>());
}

int cmd_migrate(int argc, char** argv) {
    po::options_description opts("migrate");
    add_testbed_options(opts);
    add_migrate_options(opts);
    po::variables_map vm;
    std::vector<std::string> eal_args;
    if (!parse_command_line("migrate", kSummary, argc, argv, opts, vm, &eal_args)) return 0;
    // Every value checked once, here, before EAL starts or any child runs.
    {
        po::variables_map check = vm;
        if (vm.count("mode") == 0) {   // the main job: the engine sees each mode in turn; check with one
            check.erase("mode");
            check.emplace("mode", po::variable_value(boost::any(std::string("hash")), false));
        }
        const dp::EngineOptions eo = engine_options_from(check, EngineRole::run);
        check_migrate_options(vm, eo.mtu);
    }
    if (vm["compare-compression"].as<bool>()) return run_compare(argc, argv, vm);
    if (vm.count("mode") == 0) return run_job(argc, argv, vm);
    return run_one(vm, eal_args);
}

} // namespace flowteam::apps
