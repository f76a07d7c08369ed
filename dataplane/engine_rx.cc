// SPDX-License-Identifier: BSD-3-Clause
// flowteam — Team RX stage: poll every member, software RSS when needed,
// probe parsing, reordering per flow after merging members and queues.
#include "dataplane/engine_stages.h"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

#include "emulation/member_ping.h"
#include "emulation/probe_header.h"
#include "packet/flow_key.h"
#include "teaming/rss.h"

namespace flowteam::dataplane::engine_detail {

namespace {
// Largest frame the RX stage linearises (a 9216-byte jumbo frame and then some).
constexpr std::uint32_t kLinearSlot = emulation::kMaxProbeFrameBytes + 64;
} // namespace

RxStage::RxStage(unsigned index, std::vector<RxQueueRef> queues, RxRss rss, const std::vector<std::uint16_t>& reta,
                 const std::vector<unsigned>& rx_index_of_queue, const packet::ToeplitzKey& rss_key,
                 std::uint32_t track_flows, const measure::ReorderConfig& reorder, Tick flowlet_gap, bool wire_stamps,
                 std::unique_ptr<FrameSink> sink, Shared& shared)
    : index_(index), queues_(std::move(queues)), rss_(rss), reta_(reta), rx_index_of_queue_(rx_index_of_queue),
      rss_key_(rss_key), gap_(flowlet_gap), stamps_(wire_stamps), sink_(std::move(sink)), shared_(shared) {
    if (track_flows == 0 || (track_flows & (track_flows - 1)) != 0 || track_flows > (1u << 20))
        throw std::invalid_argument("track-flows: " + std::to_string(track_flows) +
                                    " not allowed; allowed: a power of two, 1..1048576");
    if (reta_.empty()) reta_.push_back(0);
    if (rx_index_of_queue_.empty()) rx_index_of_queue_.push_back(index_);
    // One queue in the whole RETA that this lcore owns (e.g. --rx-queues 1):
    // software RSS has nothing to decide, so no frame is parsed or hashed for it.
    const std::uint16_t q0 = reta_.front();
    rss_noop_ = std::all_of(reta_.begin(), reta_.end(), [q0](std::uint16_t q) { return q == q0; }) &&
                (q0 >= rx_index_of_queue_.size() || rx_index_of_queue_[q0] == index_);
    flows_.reserve(track_flows);
    for (std::uint32_t i = 0; i < track_flows; ++i) flows_.emplace_back(reorder);
    flow_mask_ = track_flows - 1;
    items_.resize(kBudget + kBurstSize);
    frames_.resize(kBudget + kBurstSize);
    // One slot for the measurement; with a sink, one per frame of a sink burst
    // (chained frames are handed to the sink linearised, valid during the call).
    linear_.resize(sink_ ? kLinearSlot * kBurstSize : kLinearSlot);
    c_.min_change_gap = UINT64_MAX;
    delays_pub_.store(delays());   // "not measured" until the first publish (all-zero would read as 0 us)
}

RxStage::~RxStage() = default;

void RxStage::retire(FlowSlot& s) noexcept {
    s.reo.finish();
    totals_.merge(s.reo.stats());
    if (std::popcount(s.link_mask) > 1) ++split_links_;
    if (std::popcount(s.rx_mask) > 1) ++split_rx_;
    s.reo.reset();
    fct_.on_retire(s.fct);
    s.fct.reset();
    s.link_mask = 0;
    s.rx_mask = 0;
    s.high_link = kNoMember;
    s.high_seq = 0;
    s.high_tx = 0;
    s.used = false;
    s.owner = UINT32_MAX;
}

void RxStage::finish() noexcept {
    for (auto& s : flows_)
        if (s.used) retire(s);
    c_.reordered = totals_.reordered;
    pub_.store(c_);
    delays_pub_.store(delays());
}

LinkDelays merge_link_delays(const std::vector<const Published<LinkDelays>*>& sources) noexcept {
    LinkDelays d{};
    for (std::uint8_t m = 0; m < kMaxMembers; ++m) {
        d.path_lo[m] = d.lat_lo[m] = measure::DelayWindow::kNone;
        d.path_hi[m] = d.lat_hi[m] = 0;
    }
    for (const Published<LinkDelays>* src : sources) {
        const LinkDelays x = src->load();
        for (std::uint8_t m = 0; m < kMaxMembers; ++m) {
            d.path_lo[m] = std::min(d.path_lo[m], x.path_lo[m]);
            d.path_hi[m] = std::max(d.path_hi[m], x.path_hi[m]);
            d.lat_lo[m] = std::min(d.lat_lo[m], x.lat_lo[m]);
            d.lat_hi[m] = std::max(d.lat_hi[m], x.lat_hi[m]);
            d.path_samples[m] += x.path_samples[m];
            d.lat_samples[m] += x.lat_samples[m];
        }
    }
    return d;
}

LinkDelays RxStage::delays() const {
    LinkDelays d{};
    for (std::uint8_t m = 0; m < kMaxMembers; ++m) {
        d.path_lo[m] = path_[m].lo();
        d.path_hi[m] = path_[m].hi();
        d.lat_lo[m] = lat_[m].lo();
        d.lat_hi[m] = lat_[m].hi();
        d.path_samples[m] = path_[m].samples();
        d.lat_samples[m] = lat_[m].samples();
    }
    return d;
}

void RxStage::publish(Tick now) noexcept {
    pub_.store(c_);
    if (!delays_on_) return;
    for (std::uint8_t m = 0; m < kMaxMembers; ++m) {
        path_[m].roll(now, delay_window_);
        lat_[m].roll(now, delay_window_);
    }
    delays_pub_.store(delays());
}

void RxStage::prefetch_flow(const rte_mbuf* mb) const noexcept {
    std::uint32_t flow_id = 0, seq = 0;
    if (!emulation::peek_probe_flow(rte_pktmbuf_mtod(mb, const std::uint8_t*), mb->data_len, flow_id, seq)) return;
    const FlowSlot& s = flows_[flow_id & flow_mask_];
    s.reo.prefetch(seq);
    __builtin_prefetch(&s.fct);
    __builtin_prefetch(&s.owner);
}

void RxStage::account(Item& it, Tick now) noexcept {
    rte_mbuf* mb = it.m;
    ++c_.m_packets[it.member];
    c_.m_bytes[it.member] += mb->pkt_len;
    ++c_.q_packets[it.member][it.queue < kMaxEngineQueues ? it.queue : kMaxEngineQueues - 1];
    ++c_.packets;
    c_.bytes += mb->pkt_len;
    if (!measure_) return;   // --no-measure: per-member packets/bytes only

    const std::uint8_t* data = rte_pktmbuf_mtod(mb, const std::uint8_t*);
    std::uint32_t len = mb->data_len;
    if (mb->nb_segs > 1) [[unlikely]] {
        len = std::min<std::uint32_t>(mb->pkt_len, kLinearSlot);
        const void* p = rte_pktmbuf_read(mb, 0, len, linear_.data());
        data = p != nullptr ? static_cast<const std::uint8_t*>(p) : data;
        if (p == nullptr) len = mb->data_len;
    }
    emulation::PacketDesc d;
    const emulation::ProbeStatus st = emulation::parse_probe_frame(data, len, d);
    ++c_.probe[static_cast<std::size_t>(st)];
    if (st != emulation::ProbeStatus::ok) return;

    if (d.tx_time != 0 && d.tx_time <= now) {
        const Tick lat = now - d.tx_time;
        ++c_.latency_samples;
        c_.latency_sum += lat;
        if (lat > c_.latency_max) c_.latency_max = lat;
        // Per member link: from the TX timestamp to the wire's arrival (no RX polling delay).
        if (delays_on_ && it.key >= d.tx_time) {
            const std::uint8_t lk = meta(mb).link;
            if (lk < kMaxMembers) lat_[lk].add(it.key - d.tx_time);
        }
    }

    FlowSlot& s = flows_[d.flow_id & flow_mask_];
    if (!s.used) {
        s.used = true;
        s.owner = d.flow_id;
        ++flows_seen_;
    } else if (s.owner != d.flow_id) [[unlikely]] {
        if (d.flow_id < s.owner) {   // a straggler of a flow whose slot was reused
            ++c_.untracked;
            return;
        }
        retire(s);
        s.used = true;
        s.owner = d.flow_id;
        ++flows_seen_;
    } else if (restart_flows_ && d.seq == 0 && (d.flags & emulation::kProbeFirst) != 0 &&
               s.reo.next_expected() != 0) [[unlikely]] {
        // The flow's first probe again: a new run of it (looped replay, restarted sender).
        retire(s);
        s.used = true;
        s.owner = d.flow_id;
        ++flows_seen_;
        ++c_.flow_restarts;
    }
    const std::uint8_t link = stamps_ ? meta(mb).link : it.member;
    const std::uint8_t lk = link < kMaxMembers ? link : it.member;
    s.link_mask |= 1u << lk;
    s.rx_mask |= 1u << it.member;
    const measure::Arrival arr = s.reo.on_packet(d.seq);
    if (arr == measure::Arrival::kLate) ++c_.reordered;
    if (arr != measure::Arrival::kDuplicate) {
        // FCT: the wire's delivery tick when there is a wire (the poll adds nothing of the network's)
        const Tick at = stamps_ && it.key != 0 ? it.key : now;   // key = meta(mb).arrival (set before the sort)
        Tick fct = 0;
        if (s.fct.on_packet(d.tx_time, at, d.payload_bytes(), d.flow_bytes, fct)) [[unlikely]]
            fct_.on_complete(d.flow_bytes, fct);
    }

    if (s.high_link == kNoMember) {
        s.high_seq = d.seq;
        s.high_tx = d.tx_time;
        s.high_link = lk;
    } else if (d.seq == s.high_seq + 1) {
        if (lk != s.high_link) {
            ++c_.member_changes;
            const Tick gap = d.tx_time > s.high_tx ? d.tx_time - s.high_tx : 0;
            if (gap < gap_) ++c_.member_changes_below_gap;
            if (gap < c_.min_change_gap) c_.min_change_gap = gap;
        }
        s.high_seq = d.seq;
        s.high_tx = d.tx_time;
        s.high_link = lk;
    } else if (d.seq > s.high_seq) {   // after a loss: no pair to compare
        s.high_seq = d.seq;
        s.high_tx = d.tx_time;
        s.high_link = lk;
    }
}

// The sink's side of an iteration: keep its timers running while nothing
// arrives (on_frames with n = 0), then send what it has to say back.
void RxStage::sink_tick(Tick now, bool called) noexcept {
    if (!sink_) return;
    if (called) {
        last_sink_ = now;
    } else {
        if (sink_idle_ == 0 || now - last_sink_ < sink_idle_) return;
        last_sink_ = now;
        ++c_.sink_idle_calls;
        sink_->on_frames(now, frames_.data(), 0);
    }
    if (fb_pool_ == nullptr || fb_ports_.empty()) return;
    const TxPort& port = fb_ports_[fb_member_ < fb_ports_.size() ? fb_member_ : 0];
    for (int round = 0; round < 4; ++round) {   // bounded: at most 4 bursts per iteration
        rte_mbuf* out[kBurstSize];
        if (rte_pktmbuf_alloc_bulk(fb_pool_, out, kBurstSize) != 0) [[unlikely]] {
            ++c_.feedback_alloc_failed;
            return;
        }
        FrameBuf bufs[kBurstSize];
        for (std::uint16_t i = 0; i < kBurstSize; ++i) {
            bufs[i].data = rte_pktmbuf_mtod(out[i], std::uint8_t*);
            bufs[i].cap = rte_pktmbuf_tailroom(out[i]);
            bufs[i].len = 0;
        }
        std::uint16_t k = sink_->take_feedback(now, bufs, kBurstSize);
        if (k > kBurstSize) k = kBurstSize;
        for (std::uint16_t i = 0; i < k; ++i) {
            const std::uint32_t len = std::min(bufs[i].len, bufs[i].cap);
            out[i]->data_len = static_cast<std::uint16_t>(len);
            out[i]->pkt_len = len;
        }
        const std::uint16_t sent = k != 0 ? rte_eth_tx_burst(port.port, port.queue, out, k) : 0;
        c_.feedback_tx += sent;
        c_.feedback_tx_full += k - sent;
        if (sent < kBurstSize) rte_pktmbuf_free_bulk(out + sent, kBurstSize - sent);
        if (k < kBurstSize) return;
    }
}

std::uint32_t RxStage::echo_pings(std::uint32_t n) noexcept {
    std::uint32_t kept = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        Item& it = items_[i];
        rte_mbuf* mb = it.m;
        // The length first: only ping-sized frames have their bytes read here.
        if (!emulation::maybe_member_ping(mb->pkt_len) || mb->nb_segs != 1 ||
            !emulation::ping_to_pong(rte_pktmbuf_mtod(mb, std::uint8_t*), mb->data_len)) [[likely]] {
            items_[kept++] = it;
            continue;
        }
        bool sent = false;
        if (it.member < fb_ports_.size()) {
            rte_mbuf* one = mb;
            sent = rte_eth_tx_burst(fb_ports_[it.member].port, fb_ports_[it.member].queue, &one, 1) == 1;
        }
        if (sent) {
            ++c_.pings_echoed;
        } else {
            ++c_.pings_dropped;
            rte_pktmbuf_free(mb);
        }
    }
    return kept;
}

void RxStage::poll(Tick now) noexcept {
    std::uint32_t n = 0;
    rte_mbuf* burst[kBurstSize];
    for (const RxQueueRef& q : queues_) {
        while (n + kBurstSize <= kBudget) {
            const std::uint16_t k = rte_eth_rx_burst(q.port, q.queue, burst, kBurstSize);
            for (std::uint16_t i = 0; i < k; ++i) {
                Item& it = items_[n];
                it.m = burst[i];
                it.order = n;
                it.member = q.member;
                it.queue = q.queue;
                ++n;
            }
            if (k < kBurstSize) break;
        }
    }
    if (!handoff_.empty()) {
        void* objs[kBurstSize];
        while (n + kBurstSize <= kBudget) {
            const unsigned k = rte_ring_dequeue_burst(handoff_[index_], objs, kBurstSize, nullptr);
            for (unsigned i = 0; i < k; ++i) {
                rte_mbuf* mb = static_cast<rte_mbuf*>(objs[i]);
                const WireMeta& w = meta(mb);
                Item& it = items_[n];
                it.m = mb;
                it.order = n;
                it.member = w.rx_member;
                it.queue = w.rx_queue;
                ++n;
            }
            if (k < kBurstSize) break;
        }
    }
    if (echo_pings_ && n != 0) n = echo_pings(n);
    last_empty_ = n == 0;
    if (n == 0) {
        sink_tick(now, false);
        return;
    }
    c_.last_rx_tsc = now;
    fb_member_ = items_[n - 1].member;

    if (rss_ == RxRss::software && rss_noop_) {
        for (std::uint32_t i = 0; i < n; ++i) items_[i].queue = reta_.front();
    } else if (rss_ == RxRss::software) {
        // Toeplitz -> RETA -> queue -> lcore, the plan a NIC would apply.
        std::uint32_t kept = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            Item it = items_[i];
            packet::FlowKey key;
            packet::parse_frame(rte_pktmbuf_mtod(it.m, const std::uint8_t*), it.m->data_len, key);
            const std::uint32_t h = rss_key_.hash_key(key, true);
            const std::uint16_t q = reta_[teaming::reta_slot(h, static_cast<std::uint32_t>(reta_.size()))];
            it.queue = q;
            const unsigned owner = q < rx_index_of_queue_.size() ? rx_index_of_queue_[q] : index_;
            if (owner != index_ && owner < handoff_.size()) {
                WireMeta& w = meta(it.m);
                w.rx_member = it.member;
                w.rx_queue = static_cast<std::uint8_t>(q);
                if (rte_ring_enqueue(handoff_[owner], it.m) == 0) {
                    ++c_.handoff;
                } else {
                    ++c_.handoff_full;
                    rte_pktmbuf_free(it.m);
                }
                continue;
            }
            items_[kept++] = it;
        }
        n = kept;
    }
    if (stamps_ && (measure_ || sink_ || delays_on_)) {
        for (std::uint32_t i = 0; i < n; ++i) {
            const WireMeta& w = meta(items_[i].m);
            items_[i].key = w.arrival;
            if (delays_on_ && w.link < kMaxMembers) path_[w.link].add(w.flight);
        }
        // Arrival order matters to the measurement and the sink only.
        if (measure_ || sink_)
            std::sort(items_.begin(), items_.begin() + n, [](const Item& a, const Item& b) {
                return a.key != b.key ? a.key < b.key : a.order < b.order;
            });
    }
    // Frame data kDataAhead packets ahead; the flow's measurement state
    // kFlowAhead ahead, from the flow id and sequence in that frame's probe
    // header (read unchecked: a frame that is no probe just prefetches some
    // slot). The per-flow state of thousands of flows is in L3 or DRAM.
    constexpr std::uint32_t kDataAhead = 8, kFlowAhead = 4;
    if (measure_)
        for (std::uint32_t i = 0; i < std::min(n, kDataAhead); ++i) rte_prefetch0(rte_pktmbuf_mtod(items_[i].m, void*));
    for (std::uint32_t i = 0; i < n; ++i) {
        if (measure_) {
            if (i + kDataAhead < n) rte_prefetch0(rte_pktmbuf_mtod(items_[i + kDataAhead].m, void*));
            if (i + kFlowAhead < n) prefetch_flow(items_[i + kFlowAhead].m);
        }
        account(items_[i], now);
    }
    if (sink_) {
        std::uint32_t done = 0;
        while (done < n) {
            const std::uint16_t k = static_cast<std::uint16_t>(std::min<std::uint32_t>(n - done, kBurstSize));
            for (std::uint16_t i = 0; i < k; ++i) {
                const Item& it = items_[done + i];
                RxFrame& f = frames_[i];
                f.data = rte_pktmbuf_mtod(it.m, const std::uint8_t*);
                f.len = it.m->data_len;
                f.pkt_len = it.m->pkt_len;
                // A chained frame (zero-copy TX) reaches the sink whole; one
                // longer than a slot stays first-segment only (len < pkt_len).
                if (it.m->nb_segs > 1 && f.pkt_len <= kLinearSlot) [[unlikely]] {
                    const void* p =
                        rte_pktmbuf_read(it.m, 0, f.pkt_len, linear_.data() + std::size_t{i} * kLinearSlot);
                    if (p != nullptr) {
                        f.data = static_cast<const std::uint8_t*>(p);
                        f.len = f.pkt_len;
                    }
                }
                f.member = it.member;
                f.queue = it.queue;
            }
            sink_->on_frames(now, frames_.data(), k);
            done += k;
        }
        sink_tick(now, n != 0);
    }
    rte_mbuf* freeb[kBurstSize];
    std::uint32_t nf = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        freeb[nf++] = items_[i].m;
        if (nf == kBurstSize) {
            rte_pktmbuf_free_bulk(freeb, nf);
            nf = 0;
        }
    }
    if (nf != 0) rte_pktmbuf_free_bulk(freeb, nf);
}

} // namespace flowteam::dataplane::engine_detail
