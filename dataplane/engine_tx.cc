// SPDX-License-Identifier: BSD-3-Clause
// flowteam — Team TX stage and the burst sources.
#include "dataplane/engine_stages.h"

#include <rte_cycles.h>
#include <rte_errno.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "packet/flow_key.h"
#include "packet/hash.h"

namespace flowteam::dataplane {

// ------------------------------------------------------- SyntheticSource

SyntheticSource::SyntheticSource(const emulation::TrafficConfig& cfg, std::uint64_t tick_hz) : gen_(cfg, tick_hz) {}

std::uint16_t SyntheticSource::fill(Tick now, FrameBuf* bufs, std::uint16_t n) {
    if (n > kBurstSize) n = kBurstSize;
    const std::uint16_t k = gen_.generate(now, descs_, n);
    std::uint16_t out = 0;
    for (std::uint16_t i = 0; i < k; ++i) {
        const std::size_t len = emulation::build_probe_frame(descs_[i], kReceiverMac, bufs[out].data, bufs[out].cap,
                                                             /*zero_fill=*/false);
        if (len == 0) [[unlikely]] {
            ++too_small_;   // the sequence gap shows up as loss at the receiver
            continue;
        }
        bufs[out].len = static_cast<std::uint32_t>(len);
        ++out;
    }
    return out;
}

bool SyntheticSource::finished() const { return gen_.next_event() == emulation::TrafficGenerator::kNoTick; }

namespace engine_detail {
namespace {

class FrameMbufSource final : public MbufSource {
public:
    FrameMbufSource(std::unique_ptr<FrameSource> src, rte_mempool* mp) : src_(std::move(src)), mp_(mp) {}

    std::uint16_t next(Tick now, rte_mbuf** out, std::uint16_t max, TxCounters& c) override {
        if (max > kBurstSize) max = kBurstSize;
        if (rte_pktmbuf_alloc_bulk(mp_, out, max) != 0) [[unlikely]] {
            ++c.mbuf_alloc_failed;
            return 0;
        }
        FrameBuf bufs[kBurstSize];
        for (std::uint16_t i = 0; i < max; ++i) {
            bufs[i].data = rte_pktmbuf_mtod(out[i], std::uint8_t*);
            bufs[i].cap = rte_pktmbuf_tailroom(out[i]);
            bufs[i].len = 0;
        }
        std::uint16_t k = src_->fill(now, bufs, max);
        if (k > max) k = max;
        for (std::uint16_t i = 0; i < k; ++i) {
            const std::uint32_t len = std::min(bufs[i].len, bufs[i].cap);
            out[i]->data_len = static_cast<std::uint16_t>(len);
            out[i]->pkt_len = len;
        }
        if (k < max) rte_pktmbuf_free_bulk(out + k, max - k);
        return k;
    }
    bool finished() const override { return src_->finished(); }
    const FrameSource* frame_source() const override { return src_.get(); }
    FrameSource* feedback_target() override { return src_.get(); }
    std::uint64_t too_small() const override {
        const auto* s = dynamic_cast<const SyntheticSource*>(src_.get());
        return s != nullptr ? s->too_small() : 0;
    }

private:
    std::unique_ptr<FrameSource> src_;
    rte_mempool* mp_;
};

class PortMbufSource final : public MbufSource {
public:
    PortMbufSource(std::uint16_t port, std::uint16_t queue) : port_(port), queue_(queue) {}
    std::uint16_t next(Tick, rte_mbuf** out, std::uint16_t max, TxCounters&) override {
        return rte_eth_rx_burst(port_, queue_, out, max);
    }

private:
    std::uint16_t port_, queue_;
};

} // namespace

std::unique_ptr<MbufSource> make_frame_mbuf_source(std::unique_ptr<FrameSource> src, rte_mempool* mp) {
    if (!src) throw std::invalid_argument("traffic source: the source factory returned nothing");
    return std::make_unique<FrameMbufSource>(std::move(src), mp);
}

std::unique_ptr<MbufSource> make_port_mbuf_source(std::uint16_t port, std::uint16_t queue) {
    return std::make_unique<PortMbufSource>(port, queue);
}

// ------------------------------------------------------------- TxStage

TxStage::TxStage(unsigned index, teaming::Team team, std::unique_ptr<MbufSource> source, std::vector<TxPort> ports,
                 Shared& shared, const packet::ToeplitzKey& rss_key, std::uint64_t tsc_hz)
    : index_(index), team_(std::move(team)), source_(std::move(source)), ports_(std::move(ports)), shared_(shared),
      rss_key_(rss_key), policy_(team_.config().hash_policy), vport_mode_(team_.config().mode == teaming::Mode::vport),
      n_members_(team_.view().n_members), known_mask_(team_.view().active_mask), backlog_(n_members_),
      buckets_before_(team_.config().buckets), publish_period_(tsc_hz / 1000), tsc_hz_(tsc_hz) {
    if (ports_.size() != n_members_)
        throw std::invalid_argument("tx stage: " + std::to_string(ports_.size()) + " ports for " +
                                    std::to_string(n_members_) + " members");
    failovers_.reserve(kMaxFailoverRecords);
    fb_target_ = source_->feedback_target();
}

TxStage::~TxStage() { release(); }

bool TxStage::room_for_burst() const noexcept {
    for (std::uint8_t m = 0; m < n_members_; ++m)
        if (backlog_[m].n > kBacklog - kBurstSize) return false;
    return true;
}

bool TxStage::idle() const noexcept {
    if (reassign_.n != 0) return false;
    for (std::uint8_t m = 0; m < n_members_; ++m)
        if (backlog_[m].n != 0) return false;
    return true;
}

void TxStage::release() noexcept {
    auto drop_all = [&](Backlog& b) {
        if (b.n == 0) return;
        rte_pktmbuf_free_bulk(b.pkts, b.n);
        c_.unsent_at_stop += b.n;
        b.n = 0;
    };
    for (auto& b : backlog_) drop_all(b);
    drop_all(reassign_);
}

void TxStage::flush(std::uint8_t m) noexcept {
    Backlog& b = backlog_[m];
    if (b.n == 0) return;
    const std::uint16_t sent = rte_eth_tx_burst(ports_[m].port, ports_[m].queue, b.pkts, b.n);
    std::uint64_t bytes = 0;
    for (std::uint16_t i = 0; i < sent; ++i) bytes += b.bytes[i];
    c_.m_packets[m] += sent;
    c_.m_bytes[m] += bytes;
    c_.packets += sent;
    c_.bytes += bytes;
    if (sent < b.n) {
        ++c_.m_short[m];
        const std::uint16_t left = static_cast<std::uint16_t>(b.n - sent);
        std::memmove(b.pkts, b.pkts + sent, left * sizeof(b.pkts[0]));
        std::memmove(b.hash, b.hash + sent, left * sizeof(b.hash[0]));
        std::memmove(b.bytes, b.bytes + sent, left * sizeof(b.bytes[0]));
        std::memmove(b.vport, b.vport + sent, left * sizeof(b.vport[0]));
        b.n = left;
    } else {
        b.n = 0;
    }
}

void TxStage::dispatch(rte_mbuf** pkts, const std::uint32_t* hash, const std::uint32_t* bytes,
                       const std::uint32_t* vport, std::uint16_t n, Tick now) noexcept {
    std::uint8_t member[kBurstSize];
    BurstView bv;
    bv.hash = hash;
    bv.bytes = bytes;
    bv.vport = vport_mode_ ? vport : nullptr;
    bv.n = n;
    bv.now = now;
    team_.assign(bv, member);
    std::uint32_t touched = 0;
    rte_mbuf* dead[kBurstSize];
    std::uint16_t n_dead = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        const std::uint8_t m = member[i];
        if (m >= n_members_) [[unlikely]] {
            dead[n_dead++] = pkts[i];
            continue;
        }
        Backlog& b = backlog_[m];
        b.pkts[b.n] = pkts[i];
        b.hash[b.n] = hash[i];
        b.bytes[b.n] = bytes[i];
        b.vport[b.n] = vport[i];
        ++b.n;
        ++c_.m_assigned[m];
        touched |= 1u << m;
    }
    if (n_dead != 0) {
        c_.no_member += n_dead;
        rte_pktmbuf_free_bulk(dead, n_dead);
    }
    while (touched != 0) {
        const auto m = static_cast<std::uint8_t>(__builtin_ctz(touched));
        touched &= touched - 1;
        flush(m);
    }
}

void TxStage::on_membership(std::uint32_t mask, Tick now) noexcept {
    const std::uint32_t changed = mask ^ known_mask_;
    for (std::uint8_t m = 0; m < n_members_; ++m) {
        if (((changed >> m) & 1u) == 0) continue;
        const bool up = ((mask >> m) & 1u) != 0;
        const std::uint32_t nb = team_.config().buckets;
        std::memcpy(buckets_before_.data(), team_.buckets(), nb);
        try {
            team_.set_member_up(m, up);
        } catch (...) {
            continue;   // not a configured member: cannot happen (mask built from the members)
        }
        const Tick applied = rte_rdtsc();
        const std::uint8_t* after = team_.buckets();
        std::uint32_t moved = 0, foreign = 0;
        for (std::uint32_t i = 0; i < nb; ++i) {
            if (after[i] == buckets_before_[i]) continue;
            ++moved;
            // Going down: only buckets that were m's may move. Coming up:
            // only buckets that now belong to m may have moved.
            if (up ? after[i] != m : buckets_before_[i] != m) ++foreign;
        }
        if (!up) {
            // Its backlog never left the host: run it through the team again.
            Backlog& b = backlog_[m];
            for (std::uint16_t i = 0; i < b.n && reassign_.n < kBacklog; ++i) {
                reassign_.pkts[reassign_.n] = b.pkts[i];
                reassign_.hash[reassign_.n] = b.hash[i];
                reassign_.bytes[reassign_.n] = b.bytes[i];
                reassign_.vport[reassign_.n] = b.vport[i];
                ++reassign_.n;
            }
            c_.m_reassigned[m] += b.n;
            b.n = 0;
        }
        if (failovers_.size() < failovers_.capacity()) {
            FailoverRecord r;
            r.member = m;
            r.up = up;
            const Tick detected = shared_.link_change_tsc[m].load(std::memory_order_acquire);
            r.at_s = detected > shared_.start_tsc
                         ? static_cast<double>(detected - shared_.start_tsc) / static_cast<double>(tsc_hz_)
                         : 0.0;
            r.detect_to_apply_ns =
                applied > detected ? (applied - detected) * 1'000'000'000ull / tsc_hz_ : 0;
            r.buckets_moved = moved;
            r.buckets_moved_foreign = foreign;
            failovers_.push_back(r);
            n_failovers_.store(failovers_.size(), std::memory_order_release);
        }
    }
    known_mask_ = mask;
    (void)now;
}

void TxStage::poll(Tick now) noexcept {
    const std::uint32_t mask = shared_.link_up.load(std::memory_order_acquire);
    if (mask != known_mask_) [[unlikely]]
        on_membership(mask, now);

    if (poll_return_) {
        rte_mbuf* in[kBurstSize];
        for (std::uint8_t m = 0; m < n_members_; ++m) {
            const std::uint16_t k = rte_eth_rx_burst(ports_[m].port, ports_[m].queue, in, kBurstSize);
            if (k != 0) {
                c_.return_path_rx += k;
                if (fb_target_ != nullptr) {
                    RxFrame f[kBurstSize];
                    for (std::uint16_t i = 0; i < k; ++i) {
                        f[i].data = rte_pktmbuf_mtod(in[i], const std::uint8_t*);
                        f[i].len = in[i]->data_len;
                        f[i].pkt_len = in[i]->pkt_len;
                        f[i].member = m;
                        f[i].queue = ports_[m].queue;
                    }
                    fb_target_->on_feedback(now, f, k);
                    c_.return_path_fed += k;
                }
                rte_pktmbuf_free_bulk(in, k);
            }
        }
    }
    for (std::uint8_t m = 0; m < n_members_; ++m)
        if (backlog_[m].n != 0) flush(m);

    if (reassign_.n != 0) [[unlikely]] {
        if (room_for_burst()) {
            const std::uint16_t n = std::min<std::uint16_t>(reassign_.n, kBurstSize);
            dispatch(reassign_.pkts, reassign_.hash, reassign_.bytes, reassign_.vport, n, now);
            const std::uint16_t left = static_cast<std::uint16_t>(reassign_.n - n);
            std::memmove(reassign_.pkts, reassign_.pkts + n, left * sizeof(reassign_.pkts[0]));
            std::memmove(reassign_.hash, reassign_.hash + n, left * sizeof(reassign_.hash[0]));
            std::memmove(reassign_.bytes, reassign_.bytes + n, left * sizeof(reassign_.bytes[0]));
            std::memmove(reassign_.vport, reassign_.vport + n, left * sizeof(reassign_.vport[0]));
            reassign_.n = left;
        }
    } else if (shared_.phase.load(std::memory_order_relaxed) == kRun) {
        if (!room_for_burst()) {
            ++c_.pushback;
        } else {
            rte_mbuf* pkts[kBurstSize];
            const std::uint16_t got = source_->next(now, pkts, kBurstSize, c_);
            if (got != 0) {
                c_.generated += got;
                packet::FlowKey keys[kBurstSize];
                std::uint32_t bytes[kBurstSize], hash[kBurstSize], vport[kBurstSize];
                rte_mbuf* bad[kBurstSize];
                std::uint16_t n = 0, n_bad = 0;
                for (std::uint16_t i = 0; i < got; ++i) {
                    rte_mbuf* mb = pkts[i];
                    if (i + 2 < got) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 2], void*));
                    const packet::ParseStatus st =
                        packet::parse_frame(rte_pktmbuf_mtod(mb, const std::uint8_t*), mb->data_len, keys[n]);
                    if (st != packet::ParseStatus::ok) [[unlikely]] {
                        ++c_.malformed[static_cast<std::size_t>(st)];
                        bad[n_bad++] = mb;
                        continue;
                    }
                    bytes[n] = mb->pkt_len;
                    const packet::FlowKey& k = keys[n];
                    // The vport id (source MAC) matters only to the vport mode.
                    vport[n] = vport_mode_ ? (static_cast<std::uint32_t>(k.src_mac[2]) << 24) |
                                                 (static_cast<std::uint32_t>(k.src_mac[3]) << 16) |
                                                 (static_cast<std::uint32_t>(k.src_mac[4]) << 8) | k.src_mac[5]
                                           : 0;
                    pkts[n] = mb;
                    ++n;
                }
                if (n_bad != 0) rte_pktmbuf_free_bulk(bad, n_bad);
                if (n != 0) {
                    packet::flow_hash_burst(keys, n, policy_, &rss_key_, hash, c_.hash_layers);
                    for (std::uint16_t i = 0; i < n; ++i) {
                        WireMeta& w = meta(pkts[i]);
                        w.flow_hash = hash[i];
                        w.arrival = 0;
                        w.link = kNoMember;
                    }
                    dispatch(pkts, hash, bytes, vport, n, now);
                }
            } else if (source_->finished()) {
                shared_.source_finished.store(true, std::memory_order_relaxed);
            }
        }
    }
    if (now >= next_publish_) publish(now);
}

void TxStage::publish(Tick now) noexcept {
    next_publish_ = now + publish_period_;
    const teaming::TeamCounters& tc = team_.counters();
    c_.team_bucket_moves = tc.bucket_moves;
    c_.failovers = tc.failovers;
    if (const flowlet::DynamicCounters* d = team_.dynamic_counters(); d != nullptr) {
        c_.flowlet_starts = d->flowlet_starts;
        c_.member_moves = d->member_moves;
    }
    pub_.store(c_);
}

} // namespace engine_detail
} // namespace flowteam::dataplane
