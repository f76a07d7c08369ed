// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the data-plane engine (public header: no rte_*.h, no rte_ types).
//
// Three stages, each a per-lcore object run in a run-to-completion loop:
//   TX    source -> parse -> flow hash -> Team::assign -> per-member tx_burst
//         (unsent packets kept and retried, bounded: the source is not asked
//         while a member's backlog is full — never a silent drop);
//   wire  (embedded testbed only) per member: the sending port's TX ring ->
//         emulation::EmulatedLink (rate, delay, queue, jitter, background) ->
//         "switch" (teaming::inbound_member) -> software RSS as the receiving
//         NIC would do it -> the receiving team's member port RX ring;
//   RX    polls queue q of every member (same lcore for the same q), software
//         RSS when the PMD has none, probe parsing, per-flow reordering after
//         all members and queues are merged, per-member counters.
// Layouts: one worker lcore runs TX+wire+RX; two run TX | wire+RX; three or
// more run TX | wire | RX... (extra lcores become RX lcores). The main lcore is
// the control thread (progress line, failure schedule, link polling,
// telemetry providers, stop).
//
// Entry points (EAL must be up — dataplane/eal.h):
//   run_testbed  one process: sending team, emulated member links, switch,
//                receiving team (net_ring ports)
//   run_tx       sending team only, over memif (client) or physical ports
//   run_rx       receiving team only, over memif (server) or physical ports
// Each returns when the run ends (duration, source finished, idle timeout,
// SIGINT/SIGTERM) with every counter in an EngineReport.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/engine_source.h"
#include "emulation/link.h"
#include "emulation/probe_header.h"
#include "emulation/traffic.h"
#include "measure/fct.h"
#include "measure/reorder.h"
#include "packet/flow_key.h"
#include "packet/hash.h"
#include "packet/toeplitz.h"
#include "teaming/team.h"

namespace flowteam::dataplane {

inline constexpr std::size_t kParseStatusCount = static_cast<std::size_t>(packet::ParseStatus::count_);
inline constexpr std::size_t kProbeStatusCount = static_cast<std::size_t>(emulation::ProbeStatus::count_);
inline constexpr std::uint16_t kMaxEngineQueues = 16;
inline constexpr std::size_t kMaxFailoverRecords = 64;
inline constexpr std::size_t kMaxDelaySamples = 36'000;   // one per 100 ms: an hour

// A scheduled member failure (embedded testbed): link `member` goes down at
// `at_ns` after the start of traffic and, if `up_ns` is set, comes back then.
struct FailureEvent {
    std::uint8_t member = 0;
    std::uint64_t at_ns = 0;
    std::optional<std::uint64_t> up_ns;
};

enum class TrafficKind : std::uint8_t { synthetic, pcap, custom };

struct EngineOptions {
    // ---- team
    teaming::TeamConfig team{};       // team.dynamic.delta is in TSC ticks: set flowlet_gap_ns instead
    std::uint64_t flowlet_gap_ns = 500'000; // dynamic: delta (converted to TSC ticks at start)
    // dynamic: when a flowlet ends — queue (its last packet left the member,
    // flowlet/drain.h; delta is the margin on top of the measured skew) or
    // sender (idle at the sender for delta: FLARE's classic rule).
    flowlet::Timing flowlet_timing = flowlet::Timing::queue;
    // dynamic: delta from the members' measured delays (run_testbed:
    // the receiving side measures them; run_tx: member pings); flowlet_gap_ns is then unused.
    bool flowlet_gap_auto = false;
    // dynamic, queue timing on real / memif ports (run_tx): ping each member
    // every millisecond and take half the round trip as its path delay (the
    // receiver must answer: run_rx does). Needed for flowlet_gap_auto there.
    bool member_ping = true;
    std::uint8_t receiver_primary = 0; // switch-independent: the receiving team's primary member
    packet::ToeplitzKey rss_key{};    // RSS key (and the toeplitz hash policy's key)

    // ---- members (one entry per member; the count is links.size(), 1..kMaxMembers)
    std::vector<emulation::LinkConfig> links; // run_testbed: the emulated member links; tx/rx: rate = capacity
    std::vector<FailureEvent> failures;       // run_testbed only

    // ---- ports
    std::uint32_t mtu = 1500;
    std::uint16_t rx_queues = 2;      // RX queues per member port (RSS spreads over them)
    std::uint16_t tx_ring = 512;      // testbed: descriptors of a sending member port's TX ring
    std::uint32_t rx_ring = 2048;     // testbed: RX ring of a receiving member port
    std::uint32_t mbufs = 0;          // mbufs in the pool, 0 = derived from the set-up
    std::vector<std::uint16_t> port_ids; // tx/rx: use these ethdev ports (physical) instead of memif
    std::string memif_dir;            // tx/rx: socket directory ("" = default_memif_dir())
    std::string memif_team = "team";  // tx/rx: socket file stem: <dir>/<team>-m<k>.sock, id k

    // ---- traffic
    TrafficKind traffic_kind = TrafficKind::synthetic;
    emulation::TrafficConfig traffic{};   // synthetic
    std::string pcap_file;                // pcap replay (looped)
    FrameSourceFactory source_factory;    // custom (e.g. the migration payload)
    FrameSinkFactory sink_factory;        // optional: RX frames also go to a sink

    // ---- run
    std::uint64_t duration_ns = 3'000'000'000ull; // traffic phase (0 = until stopped / source finished)
    std::uint64_t idle_timeout_ns = 0;            // rx: stop after this long without packets (0 = off)
    std::uint64_t linger_ns = 300'000'000ull;     // tx: keep the links up after the last packet
    std::uint64_t drain_timeout_ns = 500'000'000ull; // after the traffic phase: wait for in-flight packets
    std::uint32_t track_flows = 4096;             // RX per-flow state slots per RX lcore (power of two)
    measure::ReorderConfig reorder{};
    bool measure_reorder = true;                  // RX: per-flow reorder/latency/FCT (false: per-member packets/bytes only)
    // RX: a flow's first probe (seq 0, first flag) arriving again after later
    // ones closes that flow's measurement and starts a fresh one (a looped
    // replay of captured probes, a restarted sender). Off by default: a first
    // packet reordered behind later ones would be taken for a restart.
    bool restart_flows = false;
    bool progress = true;                         // one line per second on stderr
    bool telemetry = true;                        // /flowteam/... providers during the run
    std::uint16_t max_rx_lcores = 0;              // 0 = every lcore left after TX/wire
};

// ------------------------------------------------------------------ report

struct MemberReport {
    bool up = true;                 // at the end of the run
    std::uint64_t capacity_bps = 0;
    // TX (sending team)
    std::uint64_t tx_packets = 0;   // accepted by the member port (rte_eth_tx_burst)
    std::uint64_t tx_bytes = 0;
    std::uint64_t tx_short = 0;     // tx_burst calls that took less than offered (kept, retried)
    std::uint64_t tx_reassigned = 0;// backlog moved off this member when it went down
    std::vector<std::uint64_t> tx_queue_packets; // per TX queue (= TX lcore)
    std::uint64_t assigned_packets = 0;          // Team per-member counter
    // wire (testbed)
    std::uint64_t link_accepted = 0;     // taken by the emulated link
    std::uint64_t link_delivered = 0;
    std::array<std::uint64_t, emulation::kDropReasons> link_dropped{}; // by emulation::DropReason
    std::uint64_t link_lost = 0;         // held by the link (queued/in flight) when it went down
    std::uint64_t port_ring_lost = 0;    // in the member port's TX ring when the link went down
    std::uint64_t switch_no_member = 0;  // no receiving member up
    std::uint64_t switch_rx_full = 0;    // receiving port's RX ring full (NIC imissed)
    std::uint64_t link_max_queue = 0;    // high-water mark of the link queue, packets
    double link_utilisation = 0;         // busy time / traffic time
    std::uint64_t down_events = 0, up_events = 0;
    // RX (receiving team)
    std::uint64_t rx_packets = 0;
    std::uint64_t rx_bytes = 0;
    std::vector<std::uint64_t> rx_queue_packets; // per RX queue
    // measured by the receiving side over the last 100-200 ms (testbed; -1: not measured)
    double path_delay_min_us = -1, path_delay_max_us = -1; // departure -> arrival (the link's own delay)
    double latency_min_us = -1, latency_max_us = -1;       // probe TX timestamp -> arrival (all queueing)
    // dynamic, queue timing: departure -> earliest safe move off this member (skew + delta), -1: unknown
    double flowlet_gap_us = -1;
};

// One sample of the measured delays and the flowlet rule's inputs (every 100 ms).
struct DelaySample {
    double t_s = 0;                            // since the start of traffic
    std::vector<double> path_min_us, path_max_us, latency_min_us, latency_max_us; // per member, -1: unknown
    double skew_us = 0, delta_us = 0;          // dynamic: in use then
    std::uint64_t member_moves = 0, moves_held = 0;
};

struct FailoverRecord {
    std::uint8_t member = 0;
    bool up = false;                       // false: went down
    double at_s = 0;                       // since the start of traffic
    std::uint64_t detect_to_apply_ns = 0;  // detection (link event / poll) -> Team::set_member_up done
    std::uint32_t buckets_moved = 0;       // indirection buckets that changed member
    std::uint32_t buckets_moved_foreign = 0; // of those, not the failed/joining member's (must be 0)
    std::uint64_t lost = 0;                // packets the link and its port ring held
};

struct EngineReport {
    std::string role;                       // "run", "tx", "rx"
    std::vector<std::string> lcore_layout;  // "lcore 1: tx0+wire+rx0", ...
    std::uint64_t tsc_hz = 0;
    double traffic_s = 0;                   // traffic phase
    double drain_s = 0;
    bool stopped_by_signal = false;
    std::string stop_reason;
    std::string rss_mode;                   // "hardware ..." / "software ..."
    std::vector<std::uint16_t> reta;
    std::vector<std::uint32_t> lcore_of_queue;
    std::vector<std::string> notes;

    // TX
    std::uint64_t generated = 0;            // frames the source produced
    std::uint64_t tx_packets = 0, tx_bytes = 0;
    std::array<std::uint64_t, kParseStatusCount> malformed{}; // dropped at TX, by packet::ParseStatus
    std::uint64_t tx_no_member = 0;         // dropped: no member up
    std::uint64_t tx_unsent_at_stop = 0;    // backlog freed at the end (drain timeout)
    std::uint64_t mbuf_alloc_failed = 0;    // bursts the source could not be given buffers for
    std::uint64_t source_pushback = 0;      // iterations the source was not asked (backlog full)
    std::uint64_t source_too_small = 0;     // synthetic frames that did not fit an mbuf
    std::uint64_t return_path_rx = 0;       // frames received on the sending member ports (reverse direction)
    std::uint64_t return_path_fed = 0;      // ... of those, handed to FrameSource::on_feedback
    std::uint64_t pings_sent = 0, pings_not_sent = 0, pongs = 0;   // member pings (tx, queue timing)
    std::uint64_t pings_echoed = 0, pings_dropped = 0;             // member pings answered (rx)
    std::array<std::uint64_t, packet::kHashLayerCount> hash_layers{};
    teaming::TeamCounters team{};
    bool has_dynamic = false;
    flowlet::DynamicCounters dynamic{};
    std::string flowlet_timing;             // dynamic: "queue" / "sender"
    bool flowlet_gap_auto = false;
    double flowlet_delta_us = 0;            // dynamic: delta in use at the end (the margin with queue timing)
    double flowlet_skew_us = 0;             // dynamic: measured skew in use at the end
    std::vector<DelaySample> delay_series;  // testbed: every 100 ms
    emulation::TrafficCounters traffic{};
    std::vector<FailoverRecord> failovers;

    // wire
    std::uint64_t wire_lost = 0;            // link_lost + port_ring_lost, all members
    std::uint64_t wire_dropped = 0;         // link drops + switch drops, all members
    std::uint64_t in_flight_at_stop = 0;    // still in a ring/link when the drain timed out (freed)
    std::uint64_t reverse_forwarded = 0;    // reverse direction (receiver -> sender), carried without emulation
    std::uint64_t reverse_full = 0;         // ... dropped: the sending port's RX ring was full

    // RX
    std::uint64_t rx_packets = 0, rx_bytes = 0;
    std::array<std::uint64_t, kProbeStatusCount> probe_status{}; // by emulation::ProbeStatus (ok included)
    std::uint64_t rx_handoff = 0;           // software RSS: frames passed to another RX lcore
    std::uint64_t rx_handoff_full = 0;      // ... dropped because that lcore's ring was full
    std::uint64_t sink_idle_calls = 0;      // FrameSink::on_frames(n = 0) while nothing arrived
    std::uint64_t feedback_tx = 0;          // FrameSink::take_feedback frames sent on a receiving member port
    std::uint64_t feedback_tx_full = 0;     // ... not accepted by the port (freed)
    std::uint64_t feedback_alloc_failed = 0;// take_feedback not asked: no mbufs
    std::uint64_t flows_seen = 0;
    std::uint64_t flows_untracked = 0;      // probe packets whose flow slot belonged to a newer flow
    std::uint64_t flow_restarts = 0;        // --restart-flows: flows whose first probe came again
    std::uint64_t flows_split_links = 0;    // flows that crossed more than one member link
    std::uint64_t flows_split_rx = 0;       // flows received on more than one member
    std::uint64_t member_changes = 0;       // consecutive packets of a flow on different links
    std::uint64_t member_changes_below_gap = 0; // ... with a TX gap < flowlet gap
    std::uint64_t min_change_gap_ns = 0;    // smallest TX gap at a change (0 when none)
    measure::ReorderStats reorder{};
    measure::FctStats fct{};                // flow completion times (sized flows), in TSC ticks (tsc_hz)
    std::uint64_t latency_samples = 0;      // one-way TX tick -> RX poll tick
    double latency_mean_us = 0, latency_max_us = 0;

    std::vector<MemberReport> members;

    // Accounting (testbed): tx_packets == rx_packets + wire_lost + wire_dropped + in_flight_at_stop.
    std::uint64_t unaccounted() const {
        const std::uint64_t out = rx_packets + wire_lost + wire_dropped + in_flight_at_stop;
        return tx_packets > out ? tx_packets - out : out - tx_packets;
    }
};

// Throws std::invalid_argument (bad options, one line), PortError (set-up),
// std::runtime_error (EAL not up). Blocks until the run ends.
EngineReport run_testbed(const EngineOptions& opts);
EngineReport run_tx(const EngineOptions& opts);
EngineReport run_rx(const EngineOptions& opts);

} // namespace flowteam::dataplane
