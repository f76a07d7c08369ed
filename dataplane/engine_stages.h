// SPDX-License-Identifier: BSD-3-Clause
// flowteam — engine stages (INTERNAL to dataplane/: includes rte_*.h).
//
// Each stage is a per-lcore object with poll(now): one iteration over at most
// a few bursts, TSC read once by the loop and passed down. Counters are plain
// uint64_t owned by the stage; publish() copies them into relaxed atomics
// about once per millisecond for the control thread (progress line,
// telemetry). After the lcores are joined the control thread reads the plain
// counters directly.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "common/types.h"
#include "dataplane/engine.h"
#include "dataplane/engine_source.h"
#include "emulation/link.h"
#include "flowlet/drain.h"
#include "measure/delay.h"
#include "measure/reorder.h"
#include "packet/toeplitz.h"
#include "teaming/members.h"
#include "teaming/team.h"

namespace flowteam::dataplane::engine_detail {

// ------------------------------------------------------------ publishing

// Copy of a struct of uint64_t counters readable from another thread.
template <class T>
class Published {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % sizeof(std::uint64_t) == 0);
    static constexpr std::size_t kWords = sizeof(T) / sizeof(std::uint64_t);

public:
    void store(const T& v) noexcept {
        std::uint64_t w[kWords];
        std::memcpy(w, &v, sizeof(T));
        for (std::size_t i = 0; i < kWords; ++i) words_[i].store(w[i], std::memory_order_relaxed);
    }
    T load() const noexcept {
        std::uint64_t w[kWords];
        for (std::size_t i = 0; i < kWords; ++i) w[i] = words_[i].load(std::memory_order_relaxed);
        T v;
        std::memcpy(&v, w, sizeof(T));
        return v;
    }

private:
    std::atomic<std::uint64_t> words_[kWords] = {};
};

// ------------------------------------------------------------ mbuf metadata

// Rides in an mbuf dynamic field from TX to RX in one process.
struct WireMeta {
    Tick arrival;            // wire: when the emulated link delivered it (0: no wire)
    std::uint32_t flow_hash; // TX: the team's flow hash (the switch hashes it again)
    std::uint32_t flight;    // wire: arrival - departure (ticks, saturated): the link's path delay,
                             // as a NIC's TX and RX hardware timestamps would give it
    std::uint8_t link;       // wire: member link it crossed (kNoMember: no wire)
    std::uint8_t rx_member;  // RX software-RSS hand-off: the receiving member it was polled from
    std::uint8_t rx_queue;   // ... and the RSS queue it belongs to
    std::uint8_t pad[5];
};
static_assert(sizeof(WireMeta) == 24);

// Registers the dynamic field once; returns its offset. Throws on failure.
int register_wire_meta();
extern int g_wire_meta_offset;
inline WireMeta& meta(rte_mbuf* m) noexcept { return *RTE_MBUF_DYNFIELD(m, g_wire_meta_offset, WireMeta*); }

// ------------------------------------------------------------ shared state

enum Phase : int { kRun = 0, kDrain = 1, kAbort = 2 };

struct Shared {
    std::atomic<int> phase{kRun};
    // Member links up (bit m). Written by the wire (emulated link events) or
    // by the control thread (link-status polling); read by TX once per loop.
    std::atomic<std::uint32_t> link_up{0};
    std::array<std::atomic<std::uint64_t>, kMaxMembers> link_change_tsc{}; // detection tick of the last change
    // Control -> wire: desired state of the emulated links (bit m = up).
    std::atomic<std::uint32_t> desired_up{0};
    // Drain hand-shake.
    std::atomic<bool> tx_done{false};
    std::atomic<bool> wire_done{false};
    std::atomic<unsigned> rx_done{0};  // RX lcores done
    std::atomic<bool> source_finished{false};
    Tick start_tsc = 0;
    // Wire -> TX (queue-aware flowlet timing): by tick `at`, the first
    // `resolved` packets the TX stage handed to member m had left the emulated
    // link's queue or were dropped. The wire stores `at` before `resolved`
    // (release); a reader that loads `resolved` (acquire) and then `at` gets
    // an `at` no earlier than the one that count was true for.
    struct Departures {
        std::atomic<std::uint64_t> resolved{0};
        std::atomic<Tick> at{0};
    };
    std::array<Departures, kMaxMembers> departures{};
    bool wire_departures = false;   // set before the lcores start: the wire publishes departures
};

// Per-member link delays measured by an RX stage (ticks; lo = UINT64_MAX:
// not measured yet). path: arrival - departure (WireMeta::flight), what the
// queue-aware rule needs; latency: arrival - the probe's TX timestamp, the
// one-way delay including every queue on the way.
struct LinkDelays {
    std::uint64_t path_lo[kMaxMembers];
    std::uint64_t path_hi[kMaxMembers];
    std::uint64_t lat_lo[kMaxMembers];
    std::uint64_t lat_hi[kMaxMembers];
    std::uint64_t path_samples[kMaxMembers];
    std::uint64_t lat_samples[kMaxMembers];
};
// Several RX stages' bounds as one: min of the lows, max of the highs.
LinkDelays merge_link_delays(const std::vector<const Published<LinkDelays>*>& sources) noexcept;

// ------------------------------------------------------------------- TX

struct TxCounters {
    std::uint64_t generated = 0;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::uint64_t malformed[kParseStatusCount] = {};
    std::uint64_t no_member = 0;
    std::uint64_t no_member_bytes = 0;
    std::uint64_t unsent_at_stop = 0;
    std::uint64_t mbuf_alloc_failed = 0;
    std::uint64_t pushback = 0;
    std::uint64_t hash_layers[packet::kHashLayerCount] = {};
    std::uint64_t m_packets[kMaxMembers] = {};
    std::uint64_t m_bytes[kMaxMembers] = {};
    std::uint64_t m_short[kMaxMembers] = {};
    std::uint64_t m_reassigned[kMaxMembers] = {};
    std::uint64_t m_assigned[kMaxMembers] = {};
    std::uint64_t m_assigned_bytes[kMaxMembers] = {};
    std::uint64_t flowlet_starts = 0;
    std::uint64_t member_moves = 0;
    std::uint64_t moves_held = 0;       // queue timing: flowlet starts refused, the flow's packets had not left
    std::uint64_t flowlet_delta = 0;    // ticks: the flowlet gap (margin) in use
    std::uint64_t flowlet_skew = 0;     // ticks: queue timing, max(0, max hi - min lo) over the members
    std::uint64_t m_gap[kMaxMembers] = {};      // ticks: queue timing, departure -> earliest safe move (skew + delta)
    std::uint64_t m_handed[kMaxMembers] = {};   // queue timing: positions handed out
    std::uint64_t m_drained[kMaxMembers] = {};  // ... of those, safe to leave as of the last burst
    std::uint64_t pings_sent = 0;       // member pings (queue timing on real / memif ports)
    std::uint64_t pings_not_sent = 0;   // ... no mbuf or the port refused it
    std::uint64_t pongs = 0;            // ... answered
    std::uint64_t m_pongs[kMaxMembers] = {};
    std::uint64_t m_ping_lo[kMaxMembers] = {};  // ticks: half round trip, min / max over the window
    std::uint64_t m_ping_hi[kMaxMembers] = {};  //   (UINT64_MAX / 0: none yet)
    std::uint64_t team_bucket_moves = 0;
    std::uint64_t failovers = 0;
    std::uint64_t return_path_rx = 0; // frames received on the member ports by a sender (freed)
    std::uint64_t return_path_fed = 0; // ... handed to FrameSource::on_feedback first
};

// Where a burst comes from: one virtual call per burst.
class MbufSource {
public:
    virtual ~MbufSource() = default;
    virtual std::uint16_t next(Tick now, rte_mbuf** out, std::uint16_t max, TxCounters& c) = 0;
    virtual bool finished() const { return false; }
    virtual std::uint64_t too_small() const { return 0; }
    virtual const FrameSource* frame_source() const { return nullptr; }
    // Where return-path frames go (asked once at construction; nullptr: freed only).
    virtual FrameSource* feedback_target() { return nullptr; }
};

// FrameSource on mbufs of a pool (bulk allocation per burst).
std::unique_ptr<MbufSource> make_frame_mbuf_source(std::unique_ptr<FrameSource> src, rte_mempool* mp);
// Frames read from an ethdev RX queue (pcap replay).
std::unique_ptr<MbufSource> make_port_mbuf_source(std::uint16_t port, std::uint16_t queue);

struct TxPort {
    std::uint16_t port = 0;
    std::uint16_t queue = 0;
};

// How the dynamic mode times flowlets (TxStage::set_flowlet_timing).
struct FlowletTimingSetup {
    flowlet::Timing timing = flowlet::Timing::queue;
    bool auto_gap = false;        // delta from the measured delays
    Tick delta = 0;               // ticks (the margin with queue timing; unused with auto_gap)
    Tick auto_floor = 0;          // ticks added to the measured spread / 8 (auto_gap)
    bool wire_departures = false; // the testbed wire reports departures (Shared::departures); else a line-rate model
    std::uint32_t overhead_bytes = 24;  // model: wire bytes per frame besides the frame
    std::vector<std::uint64_t> rates;   // model: member rates, bits/s
    // Real ports: TX descriptors per member port (0: unknown). Where the PMD
    // reports descriptor status, what the NIC has not finished corrects the
    // line-rate model (the smaller departure count wins).
    std::vector<std::uint16_t> tx_desc;
    // RX stages measuring the members' delays (testbed); none: path delays
    // are taken as 0 and delta must cover the members' skew.
    std::vector<const Published<LinkDelays>*> delays;
    // Real / memif ports: ping each member (emulation/member_ping.h) from
    // this pool every ping_period and take half the round trip as its path
    // delay (needs a receiver that answers: `flowteam rx`).
    rte_mempool* ping_pool = nullptr;
    Tick ping_period = 0;
    Tick delay_window = 0;   // ping delay bounds: sliding window (two of them)
};

class TxStage {
public:
    static constexpr std::uint16_t kBacklog = 8 * kBurstSize; // per member; the source waits when full

    TxStage(unsigned index, teaming::Team team, std::unique_ptr<MbufSource> source, std::vector<TxPort> ports,
            Shared& shared, const packet::ToeplitzKey& rss_key, std::uint64_t tsc_hz);
    ~TxStage();

    void poll(Tick now) noexcept;
    // Nothing held (backlog empty).
    bool idle() const noexcept;
    // Free what is still held (end of run), counted as unsent_at_stop.
    void release() noexcept;
    void publish(Tick now) noexcept;

    unsigned index() const { return index_; }
    const TxCounters& counters() const { return c_; }
    const Published<TxCounters>& published() const { return pub_; }
    const teaming::Team& team() const { return team_; }
    // Sender-only processes poll the member ports' RX as well (memif: the
    // client reclaims its TX slots on its RX path); what arrives is freed
    // and counted in return_path_rx.
    void set_poll_return_path(bool on) { poll_return_ = on; }
    // The testbed wire reads WireMeta (flow hash for the switch); real, memif
    // and null ports do not, so the TX stage writes it only when told to
    // (it lives in the mbuf's second cache line: one more line per packet).
    void set_stamp_wire_meta(bool on) { stamp_meta_ = on; }
    const MbufSource& source() const { return *source_; }
    // Dynamic mode: queue-aware or sender timing, auto delta (call before the lcore starts).
    void set_flowlet_timing(FlowletTimingSetup setup);
    bool queue_timing() const { return drain_ != nullptr; }
    // Queue timing on real ports: member m's NIC reports TX descriptor status.
    bool reports_descriptors(std::uint8_t m) const;
    // Failover records (read after the lcore stopped).
    const std::vector<FailoverRecord>& failovers() const { return failovers_; }
    std::uint64_t failover_count() const { return n_failovers_.load(std::memory_order_relaxed); }

private:
    // Per member: mbuf pointers only, plus the byte total of what it holds
    // (the per-packet hash/bytes/vport are recomputed in the rare case a
    // backlog is re-run through the team after its member went down).
    struct Backlog {
        rte_mbuf* pkts[kBacklog];
        std::uint64_t bytes = 0;   // sum of pkt_len over pkts[0..n)
        std::uint16_t n = 0;
    };
    // One classified burst (parsed, hashed) waiting for the team's decision.
    struct Burst {
        rte_mbuf* pkts[kBurstSize];
        std::uint32_t hash[kBurstSize];
        std::uint32_t bytes[kBurstSize];
        std::uint32_t vport[kBurstSize];
        std::uint16_t n = 0;
        Tick at = 0;   // when the source gave it: the team decides as of then (flowlet gaps are TX gaps)
    };
    // Sender-only runs poll the return path once every this many loops when
    // no source consumes it (it only frees what arrives there).
    static constexpr std::uint32_t kReturnPollEvery = 16;
    // Real ports with TX descriptor status: read it every this many loops
    // (a binary search, ~log2(ring) descriptor reads per member).
    static constexpr std::uint32_t kDescriptorPollEvery = 4;

    void on_membership(std::uint32_t mask, Tick now) noexcept;
    // Parse + hash pkts[0..n) into out (bad frames counted and freed).
    void classify(rte_mbuf* const* pkts, std::uint16_t n, Burst& out) noexcept;
    void classify_hashed(rte_mbuf* const* pkts, std::uint16_t n, Burst& out) noexcept;
    void dispatch(const Burst& b, const std::uint32_t* next_hash, std::uint16_t next_n) noexcept;
    // tx_burst pk[0..k) (`bytes` in all) on member m; what the port refuses
    // becomes m's backlog (pk may be that backlog). Counts what was sent.
    void send(std::uint8_t m, rte_mbuf** pk, std::uint16_t k, std::uint64_t bytes) noexcept;
    void flush(std::uint8_t m) noexcept;
    bool room_for_burst() const noexcept;
    void poll_return_path(Tick now) noexcept;
    // Measured delays -> the drain clock's path delays / the sender timing's auto delta.
    void update_delays() noexcept;
    // Real ports with TX descriptor status: what each NIC still holds -> departures.
    void observe_descriptors(Tick now) noexcept;
    // Member pings: one per member per period while its queue is empty.
    void send_pings(Tick now) noexcept;

    unsigned index_;
    teaming::Team team_;
    std::unique_ptr<MbufSource> source_;
    std::vector<TxPort> ports_;
    Shared& shared_;
    const packet::ToeplitzKey& rss_key_;
    packet::HashPolicy policy_;
    bool vport_mode_;
    std::uint8_t n_members_;
    std::uint32_t known_mask_;
    std::vector<Backlog> backlog_;
    Backlog reassign_;
    // The mode reads no flow hash (roundrobin, active-backup).
    bool hash_free_;
    // dynamic: classify prefetches each packet's flowlet entry as soon as it
    // has the hash, so it arrives while the rest of the burst is hashed.
    flowlet::EntryLocator flowlet_;
    // bursts_[pending_]: the burst being decided; the other one serves the
    // reassign path. (Deciding a burst only once the next one is hashed, to
    // pass its hashes to Team::assign's look-ahead overload, was tried: on the
    // testbed it let a dynamic-mode flow reorder, see the perf notes.)
    Burst bursts_[2];
    unsigned pending_ = 0;
    std::vector<std::uint8_t> buckets_before_;
    std::vector<FailoverRecord> failovers_;    // capacity kMaxFailoverRecords, never grows on the hot path
    std::atomic<std::uint64_t> n_failovers_{0};
    TxCounters c_;
    Published<TxCounters> pub_;
    Tick next_publish_ = 0;
    Tick publish_period_;
    std::uint64_t tsc_hz_;
    bool poll_return_ = false;
    bool stamp_meta_ = false;
    std::uint32_t return_countdown_ = 1;
    FrameSource* fb_target_ = nullptr;   // source_->feedback_target()
    // Dynamic mode, queue timing: where each member's packets stand.
    std::unique_ptr<flowlet::DrainClock> drain_;
    FlowletTimingSetup timing_;
    Tick now_ = 0;   // this loop's tick (for the line-rate model in send)
    std::vector<std::uint16_t> desc_ring_;   // per member: descriptors when the port reports their status, else 0
    std::array<measure::DelayWindow, kMaxMembers> ping_delay_{};
    std::array<std::uint32_t, kMaxMembers> ping_seq_{};
    Tick next_ping_ = 0;
    std::uint32_t ping_due_ = 0;   // members still to ping in this period (bit m)
    bool any_desc_ = false;
    std::uint32_t desc_countdown_ = 1;
};

// ------------------------------------------------------------------ wire

struct WireCounters {
    std::uint64_t accepted[kMaxMembers] = {};
    std::uint64_t delivered[kMaxMembers] = {};
    std::uint64_t dropped[kMaxMembers][emulation::kDropReasons] = {};
    std::uint64_t link_lost[kMaxMembers] = {};
    std::uint64_t ring_lost[kMaxMembers] = {};
    std::uint64_t switch_no_member[kMaxMembers] = {};
    std::uint64_t switch_rx_full[kMaxMembers] = {};
    std::uint64_t down_events[kMaxMembers] = {};
    std::uint64_t up_events[kMaxMembers] = {};
    std::uint64_t in_flight_at_stop = 0;
    std::uint64_t reverse[kMaxMembers] = {};      // reverse direction forwarded (no emulation)
    std::uint64_t reverse_full[kMaxMembers] = {}; // ... dropped: sending port's RX ring full
};

struct WireMemberPorts {
    std::vector<rte_ring*> tx_rings;  // what the sending member port transmitted, per TX queue
    std::vector<rte_ring*> rx_rings;  // the receiving member port's RX rings, per RX queue
    // Reverse direction (optional): what the receiving member port transmitted
    // (its TX queue 0) is moved as is, without link emulation, to the sending
    // member port's RX queue 0 (the way back is assumed uncongested: it only
    // carries the receiver's small acks/requests).
    rte_ring* rev_in = nullptr;
    rte_ring* rev_out = nullptr;
};

class WireStage {
public:
    static constexpr std::uint16_t kDeliverBudget = 8 * kBurstSize; // packets per iteration, all members

    WireStage(const std::vector<emulation::LinkConfig>& links, std::vector<WireMemberPorts> ports,
              teaming::TeamingMode teaming, teaming::Mode mode, std::uint8_t receiver_primary,
              const std::vector<std::uint16_t>& reta, const packet::ToeplitzKey& rss_key, Shared& shared,
              std::uint64_t tsc_hz);
    ~WireStage();

    void poll(Tick now) noexcept;
    // Apply pending link up/down commands (the loop calls it before the TX
    // stage so a failure reaches the team in the same iteration).
    void poll_commands(Tick now) noexcept {
        const std::uint32_t desired = shared_.desired_up.load(std::memory_order_acquire);
        if (desired != current_up_) [[unlikely]]
            apply_commands(desired, now);
    }
    bool idle() const noexcept;      // nothing staged, queued or in flight
    void release(Tick now) noexcept; // free what is left, counted in_flight_at_stop
    void publish() noexcept;

    const WireCounters& counters() const { return c_; }
    const Published<WireCounters>& published() const { return pub_; }
    const emulation::EmulatedLink<rte_mbuf*>& link(std::uint8_t m) const { return *links_[m]; }
    std::uint8_t members() const { return n_; }
    std::uint64_t lost_at(std::uint8_t m) const { return c_.link_lost[m] + c_.ring_lost[m]; }

private:
    void apply_commands(std::uint32_t desired, Tick now) noexcept;
    void publish_departures(Tick now) noexcept;
    void ingress(std::uint8_t m, Tick now) noexcept;
    void route(rte_mbuf* pkt, std::uint8_t link) noexcept;
    void flush_targets() noexcept;

    std::uint8_t n_;
    std::uint16_t rx_queues_;
    std::vector<std::unique_ptr<emulation::EmulatedLink<rte_mbuf*>>> links_;
    std::vector<WireMemberPorts> ports_;
    teaming::TeamingMode teaming_;
    teaming::Mode mode_;
    std::uint8_t primary_;
    std::vector<std::uint16_t> reta_;
    const packet::ToeplitzKey& rss_key_;
    Shared& shared_;
    teaming::MemberSet receivers_;
    std::uint32_t current_up_;
    struct Stage {
        rte_mbuf* pkts[kBurstSize];
        std::uint32_t bytes[kBurstSize];
        std::uint16_t n = 0;
        std::uint16_t next_ring = 0;
    };
    std::vector<Stage> stage_;
    std::vector<rte_mbuf*> lost_;            // link ring capacity, for set_down
    std::vector<rte_mbuf*> targets_;         // [member * rx_queues + q][kDeliverBudget]
    std::vector<std::uint16_t> target_n_;
    WireCounters c_;
    Published<WireCounters> pub_;
};

// -------------------------------------------------------------------- RX

struct RxCounters {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::uint64_t m_packets[kMaxMembers] = {};
    std::uint64_t m_bytes[kMaxMembers] = {};
    std::uint64_t q_packets[kMaxMembers][kMaxEngineQueues] = {};
    std::uint64_t probe[kProbeStatusCount] = {};
    std::uint64_t reordered = 0;     // RFC 4737 reordered arrivals so far (progress line)
    std::uint64_t handoff = 0;
    std::uint64_t handoff_full = 0;
    std::uint64_t untracked = 0;
    std::uint64_t flow_restarts = 0;   // set_restart_flows: a flow's first probe came again
    std::uint64_t member_changes = 0;
    std::uint64_t member_changes_below_gap = 0;
    std::uint64_t min_change_gap = 0; // ticks, UINT64_MAX until the first change
    std::uint64_t latency_samples = 0;
    std::uint64_t latency_sum = 0;    // ticks
    std::uint64_t latency_max = 0;
    std::uint64_t last_rx_tsc = 0;
    std::uint64_t sink_idle_calls = 0;       // on_frames(n = 0): nothing arrived for kSinkIdleNs
    std::uint64_t feedback_tx = 0;           // take_feedback frames accepted by the member port
    std::uint64_t feedback_tx_full = 0;      // ... refused by the port (freed)
    std::uint64_t feedback_alloc_failed = 0; // take_feedback not asked: no mbufs
    std::uint64_t pings_echoed = 0;          // member pings sent back as pongs (not counted as received)
    std::uint64_t pings_dropped = 0;         // ... not sent back: no port to answer on, or its TX ring full
};

struct RxQueueRef {
    std::uint16_t port = 0;
    std::uint16_t queue = 0;
    std::uint8_t member = 0;
};

enum class RxRss : std::uint8_t {
    trusted,   // the queue a packet was polled from is its RSS queue (hardware RSS, or the testbed wire did it)
    software,  // compute Toeplitz -> RETA -> queue here; hand off to the owning lcore
};

class RxStage {
public:
    static constexpr std::uint16_t kBudget = 16 * kBurstSize; // packets per iteration
    static constexpr std::uint32_t kHandoffRing = 4096;

    RxStage(unsigned index, std::vector<RxQueueRef> queues, RxRss rss, const std::vector<std::uint16_t>& reta,
            const std::vector<unsigned>& rx_index_of_queue, const packet::ToeplitzKey& rss_key,
            std::uint32_t track_flows, const measure::ReorderConfig& reorder, Tick flowlet_gap, bool wire_stamps,
            std::unique_ptr<FrameSink> sink, Shared& shared);
    ~RxStage();

    // Handoff rings (software RSS with several RX lcores): ring i feeds RX lcore i.
    void set_handoff(std::vector<rte_ring*> rings) { handoff_ = std::move(rings); }
    // Sink timers: on_frames(now, _, 0) when nothing arrived for `idle` ticks.
    void set_sink_idle(Tick idle) { sink_idle_ = idle; }
    // Per-flow measurement (probe parsing, reordering, latency, FCT); off: per-member packets/bytes only.
    void set_measure(bool on) { measure_ = on; }
    void set_restart_flows(bool on) { restart_flows_ = on; }
    // Answer member pings (emulation/member_ping.h) on the member they came
    // in on (needs set_feedback's ports); they are not counted as received.
    void set_echo_pings(bool on) { echo_pings_ = on; }
    // Per-member link delays (path: WireMeta::flight; latency: probe TX
    // timestamp -> arrival), published every millisecond over `window`-tick
    // windows. Needs the testbed wire's stamps.
    void set_measure_delays(bool on, Tick window) {
        delays_on_ = on && stamps_;
        delay_window_ = window;
    }
    bool measures_delays() const { return delays_on_; }
    const Published<LinkDelays>& published_delays() const { return delays_pub_; }
    LinkDelays delays() const;
    // Back channel: after on_frames, ask the sink for frames (mbufs of `mp`)
    // and transmit them on ports[member] (TX queue `queue` of the receiving
    // member port). The member is the one the most recent frame arrived on
    // (the receiver answers on the link it hears the sender on); member 0
    // until something arrived. Give it to ONE RX lcore only (TX queue owner).
    void set_feedback(std::vector<TxPort> ports, rte_mempool* mp) {
        fb_ports_ = std::move(ports);
        fb_pool_ = mp;
    }

    void poll(Tick now) noexcept;
    bool last_poll_empty() const noexcept { return last_empty_; }
    void publish(Tick now) noexcept;
    // Close every flow's measurement and fold it into the totals (end of run).
    void finish() noexcept;

    const RxCounters& counters() const { return c_; }
    const Published<RxCounters>& published() const { return pub_; }
    const measure::ReorderStats& reorder() const { return totals_; }
    const measure::FctStats& fct() const { return fct_; }
    std::uint64_t flows_seen() const { return flows_seen_; }
    std::uint64_t flows_split_links() const { return split_links_; }
    std::uint64_t flows_split_rx() const { return split_rx_; }

private:
    struct Item {
        Tick key;
        rte_mbuf* m;
        std::uint32_t order;
        std::uint8_t member;
        std::uint16_t queue;
    };
    struct FlowSlot {
        measure::FlowReorder reo;
        measure::FlowFct fct;
        std::uint32_t owner = UINT32_MAX;
        std::uint32_t high_seq = 0;
        Tick high_tx = 0;
        std::uint32_t link_mask = 0;
        std::uint32_t rx_mask = 0;
        std::uint8_t high_link = kNoMember;
        bool used = false;
        explicit FlowSlot(const measure::ReorderConfig& cfg) : reo(cfg) {}
    };
    void retire(FlowSlot& s) noexcept;
    void account(Item& it, Tick now) noexcept;
    void prefetch_flow(const rte_mbuf* mb) const noexcept;
    void sink_tick(Tick now, bool called) noexcept;
    // Member pings among items_[0..n) are answered and removed; returns the new n.
    std::uint32_t echo_pings(std::uint32_t n) noexcept;

    unsigned index_;
    std::vector<RxQueueRef> queues_;
    RxRss rss_;
    std::vector<std::uint16_t> reta_;
    std::vector<unsigned> rx_index_of_queue_;
    const packet::ToeplitzKey& rss_key_;
    std::vector<FlowSlot> flows_;
    std::uint32_t flow_mask_;
    Tick gap_;
    bool stamps_;
    std::unique_ptr<FrameSink> sink_;
    Shared& shared_;
    std::vector<rte_ring*> handoff_;
    std::vector<Item> items_;
    std::vector<RxFrame> frames_;
    std::vector<std::uint8_t> linear_;   // scratch for chained frames
    bool last_empty_ = true;
    bool measure_ = true;
    bool restart_flows_ = false;
    bool rss_noop_ = false;   // software RSS: every RETA entry is one queue of this lcore
    Tick sink_idle_ = 0;
    Tick last_sink_ = 0;
    std::vector<TxPort> fb_ports_;
    rte_mempool* fb_pool_ = nullptr;
    std::uint8_t fb_member_ = 0;
    measure::ReorderStats totals_;
    measure::FctStats fct_;
    bool delays_on_ = false;
    bool echo_pings_ = false;
    Tick delay_window_ = 0;
    std::array<measure::DelayWindow, kMaxMembers> path_{}, lat_{};
    Published<LinkDelays> delays_pub_;
    std::uint64_t flows_seen_ = 0, split_links_ = 0, split_rx_ = 0;
    RxCounters c_;
    Published<RxCounters> pub_;
};

} // namespace flowteam::dataplane::engine_detail
