// SPDX-License-Identifier: BSD-3-Clause
// flowteam — synthetic traffic generator for the embedded testbed.
//
// Produces packet descriptors (PacketDesc, see probe_header.h) for a set of
// UDP flows; the data plane turns them into frames with build_probe_frame().
//
// Flows. Every flow gets a distinct 5-tuple inside 198.18.0.0/15 (RFC 2544
// benchmarking range) derived from its id:
//     src  198.18.H.L : 1024 + id % 64512      H.L = 1 + id / 64512 (1 .. 65534)
//     dst  198.19.0.0 + 1 + vport : dst_port   vport = id % n_vports
// (distinct for the first 64512·65534 ≈ 4.2e9 flow ids), a per-flow sequence
// from 0, and a payload size (bytes of UDP payload, probe header included).
// A flow is cut into packets of at most MTU − 28 payload bytes; the last two
// are balanced so that no packet carries less than the 32-byte probe header
// (a flow smaller than 32 bytes is sent as one 32-byte packet).
//
// Arrivals.
//   fixed    n_flows flows start at the first generate() call; each carries
//            flow_bytes (0 = unbounded: long-lived elephants).
//   poisson  flows arrive as a Poisson process whose rate makes the offered
//            load = load × capacity_bps, counted in payload bytes (the usual
//            definition in the DCTCP/pFabric/CONGA evaluations; frames carry
//            42 header bytes more per packet). Sizes come from a FlowSizeDist.
//            At most max_active_flows are active at once (preallocated); an
//            arrival that finds the table full waits for a free slot (counted
//            in flows_delayed) so the long-run load is kept.
//
// Sending. Flows that may send (eligible time <= now) are served one packet
// at a time, round-robin (a min-heap on (eligible time, service order)). An
// unpaced flow is always eligible: the caller's `max` (its free TX space) is
// the limit, as for a host stack filling a NIC. Options:
//   pace_bps         per-flow pacing of frame bytes: the next packet of a flow
//                    becomes eligible bytes·8/pace later (a flow that was held
//                    back catches up by at most one packet);
//   gap_every_bytes  sender-created flowlet gaps: after every K payload bytes
//   + gap_ns         of a flow, the flow pauses for G before its next packet.
// generate() does no allocation; everything is sized in the constructor.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "emulation/flowsize.h"
#include "emulation/probe_header.h"
#include "emulation/rng.h"

namespace flowteam::emulation {

enum class ArrivalMode : std::uint8_t { fixed, poisson };
bool parse_arrival_mode(std::string_view s, ArrivalMode& out); // "fixed", "poisson"
const char* to_string(ArrivalMode m);

struct TrafficConfig {
    ArrivalMode mode = ArrivalMode::fixed;
    // fixed
    std::uint32_t n_flows = 1;           // 1 .. 1<<20
    std::uint64_t flow_bytes = 0;        // payload bytes per flow, 0 = unbounded
    // poisson
    double load = 0.5;                   // offered load, fraction of capacity_bps, (0, 4]
    std::uint64_t capacity_bps = 0;      // the sending team's aggregate capacity
    std::optional<FlowSizeDist> sizes;   // flow-size distribution (required for poisson)
    std::uint32_t max_active_flows = 4096; // 1 .. 1<<20
    // both
    std::uint32_t mtu = 1500;            // IP MTU, 576 .. 9202 (1500 or 9000 usually)
    std::uint64_t pace_bps = 0;          // per-flow pacing, 0 = unpaced
    std::uint64_t gap_every_bytes = 0;   // sender-created gap every K payload bytes (0 = off) ...
    std::uint64_t gap_ns = 0;            // ... of this length
    std::uint16_t n_vports = 1;          // VMs the flows are spread over (1 .. 65535)
    std::uint16_t dst_port = 4000;       // UDP destination port
    std::uint64_t seed = 1;
};

struct TrafficCounters {
    std::uint64_t packets = 0;
    std::uint64_t payload_bytes = 0;   // UDP payload (what the load counts)
    std::uint64_t frame_bytes = 0;     // Ethernet frames without FCS
    std::uint64_t flows_started = 0;
    std::uint64_t flows_completed = 0;
    std::uint64_t flows_delayed = 0;   // poisson: arrivals that waited for a free flow slot
    std::uint64_t gaps = 0;            // sender-created gaps inserted
};

class TrafficGenerator {
public:
    // Throws std::invalid_argument naming the bad field.
    TrafficGenerator(TrafficConfig cfg, std::uint64_t tick_hz);

    // Fill out[0..k) with up to `max` packets that may leave at `now`
    // (tx_time = now). `now` never decreases; the first call starts the clock.
    std::uint16_t generate(Tick now, PacketDesc* out, std::uint16_t max);

    // Earliest tick at which generate() could return a packet (kNoTick when
    // nothing is pending: all fixed flows done).
    Tick next_event() const;
    static constexpr Tick kNoTick = UINT64_MAX;

    std::uint32_t active_flows() const { return static_cast<std::uint32_t>(heap_.size()); }
    std::uint32_t max_payload() const { return max_payload_; }
    const TrafficCounters& counters() const { return c_; }
    const TrafficConfig& config() const { return cfg_; }
    double mean_arrival_gap_ticks() const { return mean_arrival_gap_; }

    // The tuple of flow `id` (see header comment); vport = id % n_vports.
    static void flow_tuple(std::uint32_t id, std::uint16_t n_vports, std::uint16_t dst_port, PacketDesc& d);

private:
    struct Flow {
        std::uint32_t id = 0;
        std::uint32_t seq = 0;
        std::uint64_t size = 0;        // 0 = unbounded
        std::uint64_t sent = 0;        // payload bytes sent
        std::uint64_t next_gap_at = 0; // payload offset of the next sender-created gap
        Tick eligible = 0;
        std::uint64_t order = 0;       // round-robin tie-break
        double pace_resid = 0.0;
    };

    void start_flow(Tick at, std::uint64_t size);
    bool before(std::uint32_t a, std::uint32_t b) const {
        const Flow& x = flows_[a];
        const Flow& y = flows_[b];
        return x.eligible != y.eligible ? x.eligible < y.eligible : x.order < y.order;
    }
    void sift_up(std::size_t i);
    void sift_down(std::size_t i);
    void heap_push(std::uint32_t slot);
    void heap_pop_top();

    TrafficConfig cfg_;
    std::uint64_t hz_;
    std::uint32_t max_payload_;
    double pace_ticks_per_byte_ = 0.0;
    Tick gap_ticks_ = 0;
    double mean_arrival_gap_ = 0.0;
    Rng rng_;
    std::vector<Flow> flows_;           // slots
    std::vector<std::uint32_t> free_;   // free slot stack (capacity fixed)
    std::vector<std::uint32_t> heap_;   // slots of active flows (capacity fixed)
    bool started_ = false;
    Tick next_arrival_ = 0;
    double arrival_resid_ = 0.0;
    bool blocked_ = false;
    std::uint32_t next_id_ = 0;
    std::uint64_t order_ = 0;
    TrafficCounters c_;
};

} // namespace flowteam::emulation
