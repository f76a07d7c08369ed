// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the embedded testbed's wire: emulated member links, the switch
// (receive-side model of the teaming mode) and the receiving NIC's RSS.
#include "dataplane/engine_stages.h"

#include <stdexcept>
#include <string>

#include "packet/flow_key.h"
#include "teaming/rss.h"

namespace flowteam::dataplane::engine_detail {

int g_wire_meta_offset = -1;

int register_wire_meta() {
    if (g_wire_meta_offset >= 0) return g_wire_meta_offset;
    rte_mbuf_dynfield desc;
    std::memset(&desc, 0, sizeof(desc));
    std::snprintf(desc.name, sizeof(desc.name), "%s", "flowteam_wire_meta");
    desc.size = sizeof(WireMeta);
    desc.align = alignof(WireMeta);
    const int off = rte_mbuf_dynfield_register(&desc);
    if (off < 0)
        throw std::runtime_error(std::string("rte_mbuf_dynfield_register(flowteam_wire_meta) failed: ") +
                                 rte_strerror(rte_errno) + "; no room left in the mbuf for the engine's metadata");
    g_wire_meta_offset = off;
    return off;
}

namespace {

std::uint32_t all_up_mask(std::uint8_t n) { return n >= 32 ? ~0u : ((1u << n) - 1u); }

} // namespace

WireStage::WireStage(const std::vector<emulation::LinkConfig>& links, std::vector<WireMemberPorts> ports,
                     teaming::TeamingMode teaming, teaming::Mode mode, std::uint8_t receiver_primary,
                     const std::vector<std::uint16_t>& reta, const packet::ToeplitzKey& rss_key, Shared& shared,
                     std::uint64_t tsc_hz)
    : n_(static_cast<std::uint8_t>(links.size())), ports_(std::move(ports)), teaming_(teaming), mode_(mode),
      primary_(receiver_primary), reta_(reta), rss_key_(rss_key), shared_(shared) {
    if (ports_.size() != n_) throw std::invalid_argument("wire: one port set per member link");
    rx_queues_ = static_cast<std::uint16_t>(ports_.front().rx_rings.size());
    std::vector<MemberInfo> infos(n_);
    std::uint32_t max_ring = 0;
    for (std::uint8_t m = 0; m < n_; ++m) {
        links_.push_back(std::make_unique<emulation::EmulatedLink<rte_mbuf*>>(links[m], tsc_hz));
        max_ring = std::max(max_ring, links_.back()->ring_capacity());
        infos[m].capacity_bps = links[m].rate_bps;
        if (ports_[m].rx_rings.size() != rx_queues_ || ports_[m].tx_rings.empty())
            throw std::invalid_argument("wire: every member needs the same RX queue count and a TX ring");
    }
    receivers_ = teaming::MemberSet(infos.data(), n_);
    current_up_ = all_up_mask(n_);
    stage_.resize(n_);
    lost_.resize(max_ring);
    targets_.resize(static_cast<std::size_t>(n_) * rx_queues_ * kDeliverBudget);
    target_n_.assign(static_cast<std::size_t>(n_) * rx_queues_, 0);
    if (reta_.empty()) reta_.push_back(0);
}

WireStage::~WireStage() { release(0); }

bool WireStage::idle() const noexcept {
    for (std::uint8_t m = 0; m < n_; ++m) {
        if (stage_[m].n != 0 || links_[m]->held_packets() != 0) return false;
        for (rte_ring* r : ports_[m].tx_rings)
            if (rte_ring_count(r) != 0) return false;
    }
    return true;
}

void WireStage::release(Tick now) noexcept {
    for (std::uint8_t m = 0; m < n_; ++m) {
        Stage& s = stage_[m];
        if (s.n != 0) {
            rte_pktmbuf_free_bulk(s.pkts, s.n);
            c_.in_flight_at_stop += s.n;
            s.n = 0;
        }
        auto& link = *links_[m];
        // Collect everything the link holds: arrived packets, then (going
        // down) the queued / in-flight ones.
        rte_mbuf* out[kBurstSize];
        for (std::uint16_t k; (k = link.deliver(out, kBurstSize, now == 0 ? emulation::kNever - 1 : now)) != 0;) {
            rte_pktmbuf_free_bulk(out, k);
            c_.in_flight_at_stop += k;
        }
        if (link.is_up() && link.held_packets() != 0) {
            const std::uint32_t k = link.set_down(now, lost_.data(), static_cast<std::uint32_t>(lost_.size()));
            rte_pktmbuf_free_bulk(lost_.data(), k);
            c_.in_flight_at_stop += k;
        }
        for (rte_ring* r : ports_[m].tx_rings) {
            void* objs[kBurstSize];
            for (unsigned k; (k = rte_ring_dequeue_burst(r, objs, kBurstSize, nullptr)) != 0;) {
                rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), k);
                c_.in_flight_at_stop += k;
            }
        }
    }
}

void WireStage::apply_commands(std::uint32_t desired, Tick now) noexcept {
    const std::uint32_t changed = (desired ^ current_up_) & all_up_mask(n_);
    for (std::uint8_t m = 0; m < n_; ++m) {
        if (((changed >> m) & 1u) == 0) continue;
        auto& link = *links_[m];
        const bool up = ((desired >> m) & 1u) != 0;
        if (!up) {
            // The cable is cut: what the link queued or carried is lost, and
            // so is what the member port's TX ring still held.
            const std::uint32_t k = link.set_down(now, lost_.data(), static_cast<std::uint32_t>(lost_.size()));
            if (k != 0) rte_pktmbuf_free_bulk(lost_.data(), k);
            c_.link_lost[m] += k;
            Stage& s = stage_[m];
            if (s.n != 0) {
                rte_pktmbuf_free_bulk(s.pkts, s.n);
                c_.ring_lost[m] += s.n;
                s.n = 0;
            }
            for (rte_ring* r : ports_[m].tx_rings) {
                void* objs[kBurstSize];
                for (unsigned j; (j = rte_ring_dequeue_burst(r, objs, kBurstSize, nullptr)) != 0;) {
                    rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), j);
                    c_.ring_lost[m] += j;
                }
            }
            ++c_.down_events[m];
        } else {
            link.set_up(now);
            ++c_.up_events[m];
        }
        try {
            receivers_.set_up(m, up);
        } catch (...) {
        }
        current_up_ = up ? (current_up_ | (1u << m)) : (current_up_ & ~(1u << m));
        // Detection: the emulated link event itself. TX applies it on its next loop.
        shared_.link_change_tsc[m].store(now, std::memory_order_relaxed);
        shared_.link_up.store(current_up_, std::memory_order_release);
    }
}

void WireStage::ingress(std::uint8_t m, Tick now) noexcept {
    Stage& s = stage_[m];
    auto& link = *links_[m];
    const auto& rings = ports_[m].tx_rings;
    for (int round = 0; round < 4; ++round) {
        if (s.n == 0) {
            // Take from the port's TX rings (round-robin over TX queues) only
            // what the link may accept next: one burst at a time.
            for (std::size_t t = 0; t < rings.size() && s.n == 0; ++t) {
                rte_ring* r = rings[s.next_ring];
                s.next_ring = static_cast<std::uint16_t>((s.next_ring + 1) % rings.size());
                s.n = static_cast<std::uint16_t>(
                    rte_ring_dequeue_burst(r, reinterpret_cast<void**>(s.pkts), kBurstSize, nullptr));
            }
            if (s.n == 0) return;
            for (std::uint16_t i = 0; i < s.n; ++i) s.bytes[i] = s.pkts[i]->pkt_len;
        }
        rte_mbuf* dropped[kBurstSize];
        std::uint16_t nd = 0;
        const std::uint16_t k = link.try_send(s.pkts, s.bytes, s.n, now, dropped, &nd);
        if (nd != 0) rte_pktmbuf_free_bulk(dropped, nd);
        if (k < s.n) {   // backpressure: the link's queue is full, keep the rest staged
            const std::uint16_t left = static_cast<std::uint16_t>(s.n - k);
            std::memmove(s.pkts, s.pkts + k, left * sizeof(s.pkts[0]));
            std::memmove(s.bytes, s.bytes + k, left * sizeof(s.bytes[0]));
            s.n = left;
            return;
        }
        s.n = 0;
    }
}

void WireStage::publish() noexcept {
    for (std::uint8_t m = 0; m < n_; ++m) {
        const emulation::LinkCounters& lc = links_[m]->counters();
        c_.accepted[m] = lc.sent_packets;
        c_.delivered[m] = lc.delivered_packets;
        for (std::size_t r = 0; r < emulation::kDropReasons; ++r) c_.dropped[m][r] = lc.dropped_packets[r];
    }
    pub_.store(c_);
}

void WireStage::route(rte_mbuf* pkt, std::uint8_t link) noexcept {
    const WireMeta& w = meta(pkt);
    const std::uint8_t r = teaming::inbound_member(teaming_, mode_, link, w.flow_hash, primary_, receivers_.view());
    if (r >= n_) [[unlikely]] {
        ++c_.switch_no_member[link];
        rte_pktmbuf_free(pkt);
        return;
    }
    std::uint16_t q = 0;
    if (rx_queues_ > 1) {
        // The receiving NIC's RSS, done in software with the same plan.
        packet::FlowKey key;
        packet::parse_frame(rte_pktmbuf_mtod(pkt, const std::uint8_t*), pkt->data_len, key);
        const std::uint32_t h = rss_key_.hash_key(key, true);
        q = reta_[teaming::reta_slot(h, static_cast<std::uint32_t>(reta_.size()))];
        if (q >= rx_queues_) q = 0;
    }
    const std::size_t t = static_cast<std::size_t>(r) * rx_queues_ + q;
    targets_[t * kDeliverBudget + target_n_[t]++] = pkt;
}

void WireStage::flush_targets() noexcept {
    for (std::size_t t = 0; t < target_n_.size(); ++t) {
        const std::uint16_t n = target_n_[t];
        if (n == 0) continue;
        rte_mbuf** p = &targets_[t * kDeliverBudget];
        const std::uint8_t r = static_cast<std::uint8_t>(t / rx_queues_);
        const std::uint16_t q = static_cast<std::uint16_t>(t % rx_queues_);
        const unsigned k = rte_ring_enqueue_burst(ports_[r].rx_rings[q], reinterpret_cast<void**>(p), n, nullptr);
        if (k < n) {
            rte_pktmbuf_free_bulk(p + k, n - k);
            c_.switch_rx_full[r] += n - k;
        }
        target_n_[t] = 0;
    }
}

// What left each member as of `now`, for the TX stage's queue-aware flowlet
// timing: the link's resolved prefix plus what the port's TX ring lost when
// the link went down (those came before anything the link took since).
void WireStage::publish_departures(Tick now) noexcept {
    for (std::uint8_t m = 0; m < n_; ++m) {
        auto& link = *links_[m];
        link.advance(now);
        const std::uint64_t resolved = link.resolved() + c_.ring_lost[m];
        Shared::Departures& d = shared_.departures[m];
        d.at.store(now, std::memory_order_relaxed);
        d.resolved.store(resolved, std::memory_order_release);
    }
}

void WireStage::poll(Tick now) noexcept {
    poll_commands(now);
    for (std::uint8_t m = 0; m < n_; ++m) ingress(m, now);   // a dead link drops what reaches it (link_down)

    // Deliver in global arrival order across links (k-way merge on the
    // arrival tick), so the order between members is the one the link
    // delays made, whatever the loop's speed.
    std::uint16_t budget = kDeliverBudget;
    while (budget != 0) {
        const std::uint8_t best = emulation::first_arrival(links_, n_, now);
        if (best == kNoMember) break;
        rte_mbuf* pkt = nullptr;
        Tick arr = 0, dep = 0;
        if (links_[best]->deliver(&pkt, 1, now, &arr, &dep) == 0) break;
        WireMeta& w = meta(pkt);
        w.arrival = arr;
        w.flight = arr - dep < 0xFFFFFFFFull ? static_cast<std::uint32_t>(arr - dep) : 0xFFFFFFFFu;
        w.link = best;
        route(pkt, best);
        --budget;
    }
    flush_targets();
    if (shared_.wire_departures) publish_departures(now);

    // Reverse direction: receiving member port TX -> sending member port RX,
    // as is (no emulation; frames queued there when the run ends are freed
    // with the rings).
    for (std::uint8_t m = 0; m < n_; ++m) {
        const WireMemberPorts& p = ports_[m];
        if (p.rev_in == nullptr || p.rev_out == nullptr) continue;
        void* objs[kBurstSize];
        const unsigned k = rte_ring_dequeue_burst(p.rev_in, objs, kBurstSize, nullptr);
        if (k == 0) continue;
        const unsigned in = rte_ring_enqueue_burst(p.rev_out, objs, k, nullptr);
        c_.reverse[m] += in;
        if (in < k) {
            c_.reverse_full[m] += k - in;
            rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs + in), k - in);
        }
    }
}

} // namespace flowteam::dataplane::engine_detail
