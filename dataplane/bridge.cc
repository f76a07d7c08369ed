// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the team as a bump in the wire between two net_tap ports (see bridge.h).
#include "dataplane/bridge.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "dataplane/port.h"
#include "dataplane/port_io.h"
#include "dataplane/testbed.h"
#include "packet/flow_key.h"
#include "packet/hash.h"

namespace flowteam::dataplane {

namespace {

// IPv4 addresses and TCP ports of a flow, as they are on the wire.
struct FlowKey4 {
    std::uint32_t src = 0, dst = 0;
    std::uint16_t sport = 0, dport = 0;
    bool operator==(const FlowKey4&) const = default;
};

// A flow's slot is searched this far from its hash; beyond, the flow is not tracked.
constexpr std::size_t kMaxProbe = 16;

} // namespace

struct TapBridge::State {
    struct Slot {
        bool used = false;
        FlowKey4 key;
        std::uint64_t order = 0;      // first-seen rank
        std::uint64_t ext_id = 0;     // last IP ID, extended to 64 bits
        std::uint64_t frames = 0, bytes = 0;
        std::array<std::uint64_t, kMaxMembers> rx_member{};
        measure::FlowReorder reorder;
    };

    std::uint16_t port_a = 0, port_b = 0;
    rte_mempool* pool = nullptr;
    std::vector<Slot> slots;          // open addressing, size a power of two
    std::uint64_t next_order = 0;
    std::atomic<bool> forwarding{false}; // set by the source's first fill()
    BridgeCounters c;                 // A-side fields written by the TX lcore, the rest by the RX lcore

    // Forward frame seen by the receiving application: measure it.
    void measure(const std::uint8_t* f, std::uint32_t len, std::uint8_t member) noexcept {
        c.rx_member[member & (kMaxMembers - 1)] += 1;
        packet::FlowKey pk;
        // TCP over IPv4 with its ports (a non-first fragment has none): a flow.
        if (packet::parse_frame(f, len, pk) != packet::ParseStatus::ok || pk.l3 != packet::L3::ipv4 ||
            pk.l4_proto != packet::kProtoTcp || !pk.has_l4 || pk.fragment) {
            ++c.other_frames;
            return;
        }
        ++c.tcp4_frames;
        FlowKey4 k;
        std::memcpy(&k.src, pk.src_ip, 4);
        std::memcpy(&k.dst, pk.dst_ip, 4);
        k.sport = pk.src_port;
        k.dport = pk.dst_port;
        const std::uint8_t* ip = f + pk.l3_offset;
        const auto id = static_cast<std::uint16_t>((ip[4] << 8) | ip[5]);
        const std::size_t mask = slots.size() - 1;
        std::size_t i = packet::flow_hash(pk, packet::HashPolicy::l34) & mask;
        for (std::size_t probe = 0; probe < std::min(kMaxProbe, slots.size()); ++probe, i = (i + 1) & mask) {
            Slot& s = slots[i];
            if (!s.used) {
                s.used = true;
                s.key = k;
                s.order = next_order++;
                s.ext_id = (std::uint64_t{1} << 32) + id;   // room below the first ID for late packets
            } else if (!(s.key == k)) {
                continue;
            } else {
                const auto delta = static_cast<std::int16_t>(static_cast<std::uint16_t>(id - static_cast<std::uint16_t>(s.ext_id)));
                s.ext_id = static_cast<std::uint64_t>(static_cast<std::int64_t>(s.ext_id) + delta);
            }
            ++s.frames;
            s.bytes += len;
            ++s.rx_member[member & (kMaxMembers - 1)];
            s.reorder.on_packet(s.ext_id);
            return;
        }
        ++c.flows_untracked;
    }
};

// ------------------------------------------------------------ source (TX lcore)

class BridgeSource final : public FrameSource {
public:
    explicit BridgeSource(TapBridge::State& s) : s_(s) {}

    std::uint16_t fill(Tick, FrameBuf* bufs, std::uint16_t n) override {
        if (!started_) [[unlikely]] {
            started_ = true;
            s_.forwarding.store(true, std::memory_order_release);
        }
        rte_mbuf* in[kBurstSize];
        const std::uint16_t want = std::min<std::uint16_t>(n, kBurstSize);
        const std::uint16_t got = rte_eth_rx_burst(s_.port_a, 0, in, want);
        std::uint16_t k = 0;
        for (std::uint16_t i = 0; i < got; ++i) {
            rte_mbuf* m = in[i];
            const std::uint32_t len = m->pkt_len;
            ++s_.c.a_rx_frames;
            s_.c.a_rx_bytes += len;
            if (len > bufs[k].cap) [[unlikely]] {
                ++s_.c.a_too_big;
                continue;
            }
            const void* p = rte_pktmbuf_read(m, 0, len, bufs[k].data);
            if (p != bufs[k].data) std::memcpy(bufs[k].data, p, len);
            bufs[k].len = len;
            ++k;
        }
        if (got != 0) rte_pktmbuf_free_bulk(in, got);
        return k;
    }

private:
    TapBridge::State& s_;
    bool started_ = false;
};

// ------------------------------------------------------------ sink (RX lcore)

class BridgeSink final : public FrameSink {
public:
    explicit BridgeSink(TapBridge::State& s) : s_(s) {}

    void on_frames(Tick, const RxFrame* frames, std::uint16_t n) override {
        for (std::uint16_t done = 0; done < n;) {
            const auto k = static_cast<std::uint16_t>(std::min<std::uint32_t>(n - done, kBurstSize));
            forward(frames + done, k);
            done = static_cast<std::uint16_t>(done + k);
        }
        reverse();
    }

private:
    // Team -> tap B: copy into the bridge pool's mbufs (the engine frees its own).
    void forward(const RxFrame* frames, std::uint16_t n) noexcept {
        auto& c = s_.c;
        c.b_frames += n;
        rte_mbuf* out[kBurstSize];
        if (rte_pktmbuf_alloc_bulk(s_.pool, out, n) != 0) [[unlikely]] {
            c.b_alloc_failed += n;
            for (std::uint16_t i = 0; i < n; ++i) {
                c.b_bytes += frames[i].pkt_len;
                s_.measure(frames[i].data, frames[i].len, frames[i].member);
            }
            return;
        }
        std::uint16_t k = 0;
        for (std::uint16_t i = 0; i < n; ++i) {
            const RxFrame& f = frames[i];
            c.b_bytes += f.pkt_len;
            s_.measure(f.data, f.len, f.member);
            if (f.len != f.pkt_len || f.len > rte_pktmbuf_tailroom(out[k])) [[unlikely]] {
                ++c.b_segmented;
                continue;
            }
            std::memcpy(rte_pktmbuf_mtod(out[k], void*), f.data, f.len);
            out[k]->data_len = static_cast<std::uint16_t>(f.len);
            out[k]->pkt_len = f.len;
            ++k;
        }
        const std::uint16_t sent = k != 0 ? rte_eth_tx_burst(s_.port_b, 0, out, k) : 0;
        c.b_tx += sent;
        c.b_tx_full += k - sent;
        if (sent < n) rte_pktmbuf_free_bulk(out + sent, n - sent);
    }

    // Tap B -> tap A directly (bounded: 4 bursts per call).
    void reverse() noexcept {
        auto& c = s_.c;
        for (int round = 0; round < 4; ++round) {
            rte_mbuf* rev[kBurstSize];
            const std::uint16_t got = rte_eth_rx_burst(s_.port_b, 0, rev, kBurstSize);
            if (got == 0) break;
            c.rev_frames += got;
            for (std::uint16_t i = 0; i < got; ++i) c.rev_bytes += rev[i]->pkt_len;
            const std::uint16_t sent = rte_eth_tx_burst(s_.port_a, 0, rev, got);
            if (sent < got) {
                c.rev_tx_full += got - sent;
                rte_pktmbuf_free_bulk(rev + sent, got - sent);
            }
            if (got < kBurstSize) break;
        }
    }

    TapBridge::State& s_;
};

// ------------------------------------------------------------ bridge

TapBridge::TapBridge(const BridgeConfig& cfg) : cfg_(cfg), st_(std::make_unique<State>()) {
    if (cfg_.iface_a == cfg_.iface_b)
        throw std::invalid_argument("iface-b: '" + cfg_.iface_b + "' is the same as iface-a; give two names");
    if (cfg_.mtu < 576 || cfg_.mtu > 1500)
        throw std::invalid_argument("mtu: " + std::to_string(cfg_.mtu) + " not allowed for the tap bridge; allowed: 576..1500");
    if (cfg_.track_flows < 16 || cfg_.track_flows > 4096 || (cfg_.track_flows & (cfg_.track_flows - 1)) != 0)
        throw std::invalid_argument("track-flows: " + std::to_string(cfg_.track_flows) +
                                    " not allowed; allowed: a power of two 16..4096");
    MbufPoolConfig pc;
    pc.mbufs = cfg_.mbufs;
    pc.cache = 256;
    pools_ = std::make_unique<MbufPools>(pc);
    vdev_a_ = std::make_unique<VirtualPort>(make_tap_port({cfg_.iface_a}));
    vdev_b_ = std::make_unique<VirtualPort>(make_tap_port({cfg_.iface_b}));
    PortConfig p;
    p.rx_queues = 1;
    p.tx_queues = 1;
    p.rx_desc = 512;
    p.tx_desc = 512;
    p.mtu = cfg_.mtu;
    p.rss = false;
    p.checksum_offload = false;   // the kernel's frames carry their checksums; nothing is rewritten
    p.promiscuous = true;
    a_ = std::make_unique<Port>(vdev_a_->port_id(), p, *pools_);
    b_ = std::make_unique<Port>(vdev_b_->port_id(), p, *pools_);
    a_->start();
    b_->start();
    st_->port_a = a_->id();
    st_->port_b = b_->id();
    st_->pool = lookup_pool(a_->setup().pool_name);
    if (st_->pool == nullptr) throw PortError("tap bridge: mbuf pool " + a_->setup().pool_name + " not found");
    st_->slots.resize(cfg_.track_flows);
}

TapBridge::~TapBridge() {
    // Ports before their devices, pools last (see testbed.h).
    a_.reset();
    b_.reset();
    vdev_a_.reset();
    vdev_b_.reset();
    pools_.reset();
}

std::uint16_t TapBridge::port_a() const { return st_->port_a; }
std::uint16_t TapBridge::port_b() const { return st_->port_b; }

std::unique_ptr<FrameSource> TapBridge::make_source() {
    if (source_made_) throw std::invalid_argument("bridge: one TX lcore only (the source was already made)");
    source_made_ = true;
    return std::make_unique<BridgeSource>(*st_);
}

std::unique_ptr<FrameSink> TapBridge::make_sink() {
    if (sink_made_) throw std::invalid_argument("bridge: one RX lcore only (set max_rx_lcores = 1)");
    sink_made_ = true;
    return std::make_unique<BridgeSink>(*st_);
}

bool TapBridge::forwarding() const { return st_->forwarding.load(std::memory_order_acquire); }

BridgeCounters TapBridge::counters() const { return st_->c; }

std::vector<BridgeFlowStats> TapBridge::flows() const {
    std::vector<const State::Slot*> used;
    for (const auto& s : st_->slots)
        if (s.used) used.push_back(&s);
    std::sort(used.begin(), used.end(), [](const State::Slot* a, const State::Slot* b) { return a->order < b->order; });
    std::vector<BridgeFlowStats> out;
    for (const State::Slot* s : used) {
        BridgeFlowStats f;
        std::memcpy(f.src.data(), &s->key.src, 4);
        std::memcpy(f.dst.data(), &s->key.dst, 4);
        f.sport = s->key.sport;
        f.dport = s->key.dport;
        f.frames = s->frames;
        f.bytes = s->bytes;
        f.rx_member = s->rx_member;
        measure::FlowReorder r = s->reorder;
        r.finish();
        f.reorder = r.stats();
        out.push_back(f);
    }
    return out;
}

measure::ReorderStats TapBridge::reorder_total() const {
    measure::ReorderStats t;
    for (const auto& f : flows()) t.merge(f.reorder);
    return t;
}

} // namespace flowteam::dataplane
