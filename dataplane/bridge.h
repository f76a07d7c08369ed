// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the team as a bump in the wire between two kernel interfaces
// (public header: no rte_*.h, no rte_ types).
//
// A TapBridge owns two net_tap ports, A and B, whose kernel interfaces the
// caller moves into two network namespaces (the tcp scenario: a client in
// one, a server in the other). Kernel TCP then crosses the embedded testbed:
//
//   A -> B  tap A RX --(BridgeSource::fill, TX lcore: copy)--> sending team
//           -> emulated member links -> switch -> receiving team
//           --(BridgeSink::on_frames, RX lcore: copy)--> tap B TX
//   B -> A  tap B RX --(BridgeSink, RX lcore, every on_frames call)--> tap A TX
//           directly: ACKs do NOT cross the team or the emulated links (the
//           seeds' question is what the forward data path does to TCP).
//
// Each tap queue is touched by one lcore per direction only: tap A's RX
// queue by the TX lcore, tap A's TX queue and tap B's RX/TX queues by the RX
// lcore (EngineOptions::max_rx_lcores = 1; make_sink() throws on a second
// call). Nothing is rewritten: frames keep the kernel interfaces' MACs, so
// the namespaces need neighbour entries for each other (static ones, or ARP
// crossing the bridge like anything else).
//
// Reordering as flowteam sees it: per TCP/IPv4 flow, the IPv4 identification
// field (Linux sends one increasing ID per segment of a connected socket,
// retransmissions included), extended to 64 bits and fed in arrival order
// to measure::FlowReorder. This is network reordering only: a
// retransmission is a new ID, not a reordered packet.
//
// Every frame that does not make it is counted with its reason. Results are
// read after run_testbed() returned.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/types.h"
#include "dataplane/engine_source.h"
#include "measure/reorder.h"

namespace flowteam::dataplane {

class MbufPools;
class Port;
class VirtualPort;

struct BridgeConfig {
    std::string iface_a = "ftA";    // kernel interface of tap A (client side), <= 15 chars [A-Za-z0-9_]
    std::string iface_b = "ftB";    // kernel interface of tap B (server side)
    std::uint32_t mtu = 1500;       // both taps
    std::uint32_t mbufs = 8191;     // bridge pool (tap RX + copies to tap B)
    std::uint32_t track_flows = 256; // IP-ID reorder slots (power of two, 16..4096)
};

struct BridgeCounters {
    // A -> team (TX lcore)
    std::uint64_t a_rx_frames = 0, a_rx_bytes = 0;
    std::uint64_t a_too_big = 0;        // frame longer than the engine's buffer: dropped
    // team -> B (RX lcore)
    std::uint64_t b_frames = 0, b_bytes = 0;   // handed by the receiving team
    std::uint64_t b_tx = 0;             // accepted by tap B
    std::uint64_t b_tx_full = 0;        // not accepted by tap B (freed)
    std::uint64_t b_alloc_failed = 0;   // no mbuf for the copy (dropped)
    std::uint64_t b_segmented = 0;      // multi-segment frame from the team (dropped; MTU <= 1500 never has one)
    // B -> A directly (RX lcore)
    std::uint64_t rev_frames = 0, rev_bytes = 0;
    std::uint64_t rev_tx_full = 0;      // not accepted by tap A (freed)
    // measurement
    std::uint64_t tcp4_frames = 0;      // forward frames measured (TCP over IPv4)
    std::uint64_t other_frames = 0;     // forward frames not measured (ARP, IPv6, UDP, ...)
    std::uint64_t flows_untracked = 0;  // TCP frames whose flow found no free slot within 16 of its hash
    std::array<std::uint64_t, kMaxMembers> rx_member{}; // forward frames per receiving member
};

struct BridgeFlowStats {
    std::array<std::uint8_t, 4> src{}, dst{};
    std::uint16_t sport = 0, dport = 0;
    std::uint64_t frames = 0, bytes = 0;
    std::array<std::uint64_t, kMaxMembers> rx_member{};
    measure::ReorderStats reorder{};
};

class TapBridge {
public:
    // Creates and starts both tap ports (EAL must be up). Throws PortError /
    // std::invalid_argument naming the field.
    explicit TapBridge(const BridgeConfig& cfg);
    ~TapBridge();
    TapBridge(const TapBridge&) = delete;
    TapBridge& operator=(const TapBridge&) = delete;

    std::unique_ptr<FrameSource> make_source();
    std::unique_ptr<FrameSink> make_sink();

    const BridgeConfig& config() const { return cfg_; }
    std::uint16_t port_a() const;
    std::uint16_t port_b() const;
    // True once the engine has polled tap A (the data path is running).
    bool forwarding() const;

    // After the run.
    BridgeCounters counters() const;
    std::vector<BridgeFlowStats> flows() const;   // tracked flows, first seen first
    measure::ReorderStats reorder_total() const;

    struct State;   // shared with the source and the sink (bridge.cc)

private:
    BridgeConfig cfg_;
    std::unique_ptr<MbufPools> pools_;
    std::unique_ptr<VirtualPort> vdev_a_, vdev_b_;
    std::unique_ptr<Port> a_, b_;
    std::unique_ptr<State> st_;
    bool source_made_ = false, sink_made_ = false;
};

} // namespace flowteam::dataplane
