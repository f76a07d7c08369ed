// SPDX-License-Identifier: BSD-3-Clause
// flowteam — Team TX stage and the burst sources.
#include "dataplane/engine_stages.h"

#include <rte_cycles.h>
#include <rte_errno.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

#include "dataplane/ext_segments.h"
#include "emulation/member_ping.h"
#include "packet/flow_key.h"
#include "packet/hash.h"
#include "packet/hash_fast.h"

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
    FrameMbufSource(std::unique_ptr<FrameSource> src, rte_mempool* mp) : src_(std::move(src)), mp_(mp) {
        if (src_->wants_ext()) {
            // One segment per engine mbuf covers every frame in flight (TX
            // ring, backlog, links, RX ring): a frame holds one head mbuf.
            static std::atomic<unsigned> seq{0};
            chainer_ = std::make_unique<ExtSegmentChainer>("ft_txseg" + std::to_string(seq.fetch_add(1)),
                                                           std::max<unsigned>(mp_->size, 2 * kBurstSize));
        }
    }
    ~FrameMbufSource() override {
        if (!chainer_) return;
        ExtTxStats st;
        st.attached = chainer_->attached();
        st.released = chainer_->released();
        st.pool_empty = chainer_->pool_empty();
        st.copied = ext_copied_;
        st.dropped = ext_dropped_;
        st.cycles = ext_cycles_;
        src_->on_ext_stats(st);
    }
    FrameMbufSource(const FrameMbufSource&) = delete;
    FrameMbufSource& operator=(const FrameMbufSource&) = delete;

    std::uint16_t next(Tick now, rte_mbuf** out, std::uint16_t max, TxCounters& c) override {
        if (max > kBurstSize) max = kBurstSize;
        if (rte_pktmbuf_alloc_bulk(mp_, out, max) != 0) [[unlikely]] {
            ++c.mbuf_alloc_failed;
            return 0;
        }
        const bool ext_ok = chainer_ != nullptr;
        FrameBuf bufs[kBurstSize];
        for (std::uint16_t i = 0; i < max; ++i) {
            bufs[i].data = rte_pktmbuf_mtod(out[i], std::uint8_t*);
            bufs[i].cap = rte_pktmbuf_tailroom(out[i]);
            bufs[i].len = 0;
            bufs[i].ext_ok = ext_ok;
        }
        std::uint16_t k = src_->fill(now, bufs, max);
        if (k > max) k = max;
        for (std::uint16_t i = 0; i < k; ++i) {
            const std::uint32_t len = std::min(bufs[i].len, bufs[i].cap);
            out[i]->data_len = static_cast<std::uint16_t>(len);
            out[i]->pkt_len = len;
        }
        if (k < max) rte_pktmbuf_free_bulk(out + k, max - k);
        if (ext_ok) [[unlikely]] {
            const Tick t0 = rte_rdtsc();
            k = attach_ext(out, bufs, k);
            ext_cycles_ += rte_rdtsc() - t0;
        }
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
    // Chains each frame's ext tail as a second segment; when no segment is
    // free, copies it behind the frame if it fits, else drops the frame
    // (both counted). Returns the frames kept (out[] compacted).
    std::uint16_t attach_ext(rte_mbuf** out, const FrameBuf* bufs, std::uint16_t k) noexcept {
        std::uint16_t kept = 0;
        for (std::uint16_t i = 0; i < k; ++i) {
            rte_mbuf* m = out[i];
            const FrameBuf& b = bufs[i];
            if (b.ext != nullptr && b.ext_len != 0 && !chainer_->chain(m, b)) [[unlikely]] {
                if (b.ext_len <= rte_pktmbuf_tailroom(m)) {
                    std::memcpy(rte_pktmbuf_mtod_offset(m, std::uint8_t*, m->data_len), b.ext, b.ext_len);
                    m->data_len = static_cast<std::uint16_t>(m->data_len + b.ext_len);
                    m->pkt_len += b.ext_len;
                    ++ext_copied_;
                } else {
                    rte_pktmbuf_free(m);
                    ++ext_dropped_;
                    continue;
                }
            }
            out[kept++] = m;
        }
        return kept;
    }

    std::unique_ptr<FrameSource> src_;
    rte_mempool* mp_;
    std::unique_ptr<ExtSegmentChainer> chainer_; // only when src_->wants_ext()
    std::uint64_t ext_copied_ = 0, ext_dropped_ = 0, ext_cycles_ = 0;
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
      hash_free_(team_.config().mode == teaming::Mode::roundrobin ||
                 team_.config().mode == teaming::Mode::active_backup),
      flowlet_(team_.flowlet_locator()),
      buckets_before_(team_.config().buckets),
      publish_period_(tsc_hz / 1000), tsc_hz_(tsc_hz) {
    if (ports_.size() != n_members_)
        throw std::invalid_argument("tx stage: " + std::to_string(ports_.size()) + " ports for " +
                                    std::to_string(n_members_) + " members");
    failovers_.reserve(kMaxFailoverRecords);
    fb_target_ = source_->feedback_target();
}

TxStage::~TxStage() { release(); }

namespace {
// Sender timing with an automatic gap: no flow moves until the delays are measured.
constexpr Tick kGapUnmeasured = Tick{1} << 53;
} // namespace

void TxStage::set_flowlet_timing(FlowletTimingSetup setup) {
    timing_ = std::move(setup);
    drain_.reset();
    if (team_.config().mode != teaming::Mode::dynamic) return;
    if (timing_.timing == flowlet::Timing::sender) {
        if (timing_.auto_gap) team_.set_flowlet_delta(kGapUnmeasured);
        return;
    }
    flowlet::DrainConfig dc;
    dc.members = n_members_;
    dc.delta = timing_.delta;
    dc.auto_delta = timing_.auto_gap;
    dc.auto_floor = timing_.auto_floor;
    dc.tick_hz = tsc_hz_;
    dc.overhead_bytes = timing_.overhead_bytes;
    drain_ = std::make_unique<flowlet::DrainClock>(dc);
    desc_ring_.assign(n_members_, 0);
    any_desc_ = false;
    for (std::uint8_t m = 0; m < n_members_; ++m) {
        drain_->set_rate(m, m < timing_.rates.size() ? timing_.rates[m] : 0);
        if (timing_.wire_departures) {
            drain_->use_evidence(m, true, false);
            continue;
        }
        // A NIC that reports TX descriptor status corrects the model (-ENOTSUP: it does not).
        const std::uint16_t ring = m < timing_.tx_desc.size() ? timing_.tx_desc[m] : 0;
        if (ring != 0 && rte_eth_tx_descriptor_status(ports_[m].port, ports_[m].queue, 0) >= 0) {
            desc_ring_[m] = ring;
            any_desc_ = true;
        }
        drain_->use_evidence(m, desc_ring_[m] != 0, true);
    }
    // Path delays: measured by the receiving side (testbed) or by pings;
    // neither: taken as equal, delta must cover the skew.
    if (timing_.delays.empty() && timing_.ping_pool == nullptr) drain_->assume_zero_path_delay();
}

void TxStage::send_pings(Tick now) noexcept {
    if (now >= next_ping_) {
        next_ping_ = now + timing_.ping_period;
        ping_due_ = n_members_ >= 32 ? ~0u : (1u << n_members_) - 1u;
    }
    const std::uint32_t up = shared_.link_up.load(std::memory_order_relaxed);
    for (std::uint32_t due = ping_due_ & up; due != 0; due &= due - 1) {
        const auto m = static_cast<std::uint8_t>(__builtin_ctz(due));
        // Only behind an empty queue: the round trip is then the path's.
        if (backlog_[m].n != 0 || drain_->busy_until(m) > now) continue;
        ping_due_ &= ~(1u << m);
        rte_mbuf* mb = rte_pktmbuf_alloc(timing_.ping_pool);
        if (mb == nullptr) [[unlikely]] {
            ++c_.pings_not_sent;
            continue;
        }
        emulation::MemberPing p;
        p.member = m;
        p.seq = ping_seq_[m]++;
        p.sent = now;
        const std::size_t len =
            emulation::build_member_ping(p, rte_pktmbuf_mtod(mb, std::uint8_t*), rte_pktmbuf_tailroom(mb));
        mb->data_len = static_cast<std::uint16_t>(len);
        mb->pkt_len = static_cast<std::uint32_t>(len);
        if (len == 0 || rte_eth_tx_burst(ports_[m].port, ports_[m].queue, &mb, 1) != 1) {
            rte_pktmbuf_free(mb);
            ++c_.pings_not_sent;
            continue;
        }
        ++c_.pings_sent;
    }
}

bool TxStage::reports_descriptors(std::uint8_t m) const { return m < desc_ring_.size() && desc_ring_[m] != 0; }

void TxStage::observe_descriptors(Tick now) noexcept {
    for (std::uint8_t m = 0; m < n_members_; ++m) {
        const std::uint16_t ring = desc_ring_[m];
        if (ring == 0) continue;
        // Offsets from the tail: first the descriptors the NIC is done with,
        // then the ones it still holds (the newest packets). Find the first
        // held one; the rounding of drivers that report every rs_thresh-th
        // descriptor only makes the count larger (later departures).
        std::uint16_t lo = 0, hi = ring;
        while (lo < hi) {
            const auto mid = static_cast<std::uint16_t>(lo + (hi - lo) / 2);
            if (rte_eth_tx_descriptor_status(ports_[m].port, ports_[m].queue, mid) == RTE_ETH_TX_DESC_FULL)
                hi = mid;
            else
                lo = static_cast<std::uint16_t>(mid + 1);
        }
        const std::uint64_t held = ring - lo;
        const std::uint64_t sent = c_.m_packets[m];
        drain_->on_departed(m, sent > held ? sent - held : 0, now);
    }
}

void TxStage::update_delays() noexcept {
    if (drain_ && timing_.ping_pool != nullptr) {
        // Half round trips of the pings. A member that never answered is
        // taken as 0 with a fixed delta (delta covers the skew, as without
        // pings) and as unknown with an automatic one (nothing leaves it).
        for (std::uint8_t m = 0; m < n_members_; ++m) {
            measure::DelayWindow& w = ping_delay_[m];
            w.roll(now_, timing_.delay_window);
            c_.m_ping_lo[m] = w.lo();
            c_.m_ping_hi[m] = w.hi();
            if (w.known())
                drain_->set_path_delay(m, w.lo(), w.hi());
            else
                drain_->set_path_delay(m, 0, timing_.auto_gap ? flowlet::kUnknownDelay : 0);
        }
        return;
    }
    if (timing_.delays.empty() || team_.config().mode != teaming::Mode::dynamic) return;
    const LinkDelays d = merge_link_delays(timing_.delays);
    if (drain_) {
        for (std::uint8_t m = 0; m < n_members_; ++m) {
            const bool known = d.path_lo[m] != measure::DelayWindow::kNone;
            drain_->set_path_delay(m, known ? d.path_lo[m] : 0, known ? d.path_hi[m] : flowlet::kUnknownDelay);
        }
        return;
    }
    if (!timing_.auto_gap) return;
    // Sender timing, automatic gap: the spread of the one-way latencies
    // (queueing included: that is what the sender's idle time must cover),
    // path delays when no probe latency is measured, plus the same margin as
    // queue timing's. Until every member is measured, nothing moves.
    Tick lo = measure::DelayWindow::kNone, hi = 0;
    for (std::uint8_t m = 0; m < n_members_; ++m) {
        const bool lat = d.lat_lo[m] != measure::DelayWindow::kNone;
        const Tick l = lat ? d.lat_lo[m] : d.path_lo[m];
        const Tick h = lat ? d.lat_hi[m] : d.path_hi[m];
        if (l == measure::DelayWindow::kNone) return;
        lo = std::min(lo, l);
        hi = std::max(hi, h);
    }
    const Tick spread = hi > lo ? hi - lo : 0;
    c_.flowlet_skew = spread;
    team_.set_flowlet_delta(std::min<Tick>(spread + spread / 8 + timing_.auto_floor, kGapUnmeasured));
}

bool TxStage::room_for_burst() const noexcept {
    for (std::uint8_t m = 0; m < n_members_; ++m)
        if (backlog_[m].n > kBacklog - kBurstSize) return false;
    return true;
}

bool TxStage::idle() const noexcept {
    if (reassign_.n != 0 || bursts_[0].n != 0 || bursts_[1].n != 0) return false;
    for (std::uint8_t m = 0; m < n_members_; ++m)
        if (backlog_[m].n != 0) return false;
    return true;
}

void TxStage::release() noexcept {
    auto drop = [&](rte_mbuf** pkts, std::uint16_t& n) {
        if (n == 0) return;
        rte_pktmbuf_free_bulk(pkts, n);
        c_.unsent_at_stop += n;
        n = 0;
    };
    for (auto& b : backlog_) {
        drop(b.pkts, b.n);
        b.bytes = 0;
    }
    drop(reassign_.pkts, reassign_.n);
    for (auto& b : bursts_) drop(b.pkts, b.n);
}

void TxStage::send(std::uint8_t m, rte_mbuf** pk, std::uint16_t k, std::uint64_t bytes) noexcept {
    Backlog& q = backlog_[m];
    const std::uint16_t sent = rte_eth_tx_burst(ports_[m].port, ports_[m].queue, pk, k);
    if (sent < k) [[unlikely]] {
        // What is left is still ours: its bytes tell what was sent.
        ++c_.m_short[m];
        const auto left = static_cast<std::uint16_t>(k - sent);
        std::uint64_t left_bytes = 0;
        for (std::uint16_t i = sent; i < k; ++i) left_bytes += pk[i]->pkt_len;
        std::memmove(q.pkts, pk + sent, left * sizeof(pk[0]));   // pk may be q.pkts itself
        q.n = left;
        q.bytes = left_bytes;
        bytes -= left_bytes;
    } else {
        q.n = 0;
        q.bytes = 0;
    }
    if (drain_ && sent != 0) drain_->on_sent(m, sent, bytes, now_);
    c_.m_packets[m] += sent;
    c_.m_bytes[m] += bytes;
    c_.packets += sent;
    c_.bytes += bytes;
}

void TxStage::flush(std::uint8_t m) noexcept {
    Backlog& b = backlog_[m];
    if (b.n != 0) send(m, b.pkts, b.n, b.bytes);
}

void TxStage::classify(rte_mbuf* const* pkts, std::uint16_t got, Burst& out) noexcept {
    if (!hash_free_ || stamp_meta_) [[likely]] {
        classify_hashed(pkts, got, out);
        return;
    }
    // roundrobin / active-backup without the testbed wire: nothing reads the
    // flow hash, so frames go out as they are, unparsed (as net_bond mode 0
    // and 1 do): no malformed-frame drops and no hash-layer counts here.
    for (std::uint16_t i = 0; i < got; ++i) {
        out.pkts[i] = pkts[i];
        out.hash[i] = 0;
        out.bytes[i] = pkts[i]->pkt_len;
    }
    out.n = got;
}

void TxStage::classify_hashed(rte_mbuf* const* pkts, std::uint16_t got, Burst& out) noexcept {
    rte_mbuf* bad[kBurstSize];
    std::uint16_t n = 0, n_bad = 0, n_fast = 0;
    packet::HashLayer fast_used = packet::HashLayer::l2;
    for (std::uint16_t i = 0; i < got; ++i) {
        rte_mbuf* mb = pkts[i];
        // No software prefetch of pkts[i + 2]'s data: measured 5-10 % slower
        // with the pcap source (the PMD has just written the frames) -- it
        // costs a load of the next mbuf's header per packet and competes with
        // the source's own misses for fill buffers.
        const std::uint8_t* d = rte_pktmbuf_mtod(mb, const std::uint8_t*);
        // Untagged IPv4 TCP/UDP: hashed from the frame's bytes (its layer is
        // the policy's, counted once per burst); anything else: the full
        // parse into a FlowKey, then the same policy.
        if (packet::flow_hash_fast(d, mb->data_len, policy_, out.hash[n], fast_used)) [[likely]] {
            ++n_fast;
        } else {
            packet::FlowKey key;
            const packet::ParseStatus st = packet::parse_frame(d, mb->data_len, key);
            if (st != packet::ParseStatus::ok) [[unlikely]] {
                ++c_.malformed[static_cast<std::size_t>(st)];
                bad[n_bad++] = mb;
                continue;
            }
            packet::HashLayer used = packet::HashLayer::l2;
            out.hash[n] = packet::flow_hash(key, policy_, &rss_key_, &used);
            ++c_.hash_layers[static_cast<std::size_t>(used)];
        }
        if (flowlet_.base != nullptr) __builtin_prefetch(flowlet_.entry(out.hash[n]), 1, 3);
        out.bytes[n] = mb->pkt_len;
        // The vport id (source MAC bytes 2..5) matters only to the vport mode.
        if (vport_mode_)
            out.vport[n] = (static_cast<std::uint32_t>(d[8]) << 24) | (static_cast<std::uint32_t>(d[9]) << 16) |
                           (static_cast<std::uint32_t>(d[10]) << 8) | d[11];
        out.pkts[n] = mb;
        ++n;
    }
    c_.hash_layers[static_cast<std::size_t>(fast_used)] += n_fast;
    if (n_bad != 0) rte_pktmbuf_free_bulk(bad, n_bad);
    out.n = n;
    if (stamp_meta_) {
        for (std::uint16_t i = 0; i < n; ++i) {
            WireMeta& w = meta(out.pkts[i]);
            w.flow_hash = out.hash[i];
            w.arrival = 0;
            w.link = kNoMember;
        }
    }
}

void TxStage::dispatch(const Burst& b, const std::uint32_t* next_hash, std::uint16_t next_n) noexcept {
    const std::uint16_t n = b.n;
    std::uint8_t member[kBurstSize];
    BurstView bv;
    bv.hash = b.hash;
    bv.bytes = b.bytes;
    bv.vport = vport_mode_ ? b.vport : nullptr;
    bv.n = n;
    bv.now = b.at;
    if (drain_) bv.drain = &drain_->view(b.at);
    team_.assign(bv, member, next_hash, next_n);

    // Split the burst per member, in order. The per-member fill counts live
    // in one 128-bit register (8 bits for each of up to 16 members, a burst
    // is <= 32): a count kept in memory makes every packet wait for the
    // previous store.
    static_assert(kBurstSize < 256 && kMaxMembers * 8 <= 128, "8-bit packed counts");
    rte_mbuf* per[kMaxMembers][kBurstSize];
    rte_mbuf* dead[kBurstSize];
    std::uint16_t n_dead = 0;
    unsigned __int128 packed = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        const std::uint8_t m = member[i];
        if (m >= n_members_) [[unlikely]] {
            dead[n_dead++] = b.pkts[i];
            c_.no_member_bytes += b.bytes[i];
            continue;
        }
        const unsigned shift = 8u * m;
        per[m][static_cast<std::uint8_t>(packed >> shift)] = b.pkts[i];
        packed += static_cast<unsigned __int128>(1) << shift;
    }
    if (n_dead != 0) [[unlikely]] {
        c_.no_member += n_dead;
        rte_pktmbuf_free_bulk(dead, n_dead);
    }
    for (std::uint8_t m = 0; m < n_members_; ++m) {
        const std::uint16_t k = static_cast<std::uint8_t>(packed >> (8u * m));
        if (k == 0) continue;
        rte_mbuf** pk = per[m];
        // From the burst's byte array, not pk[j]->pkt_len: another pass over
        // the mbufs costs a TLB miss per packet without hugepages.
        std::uint64_t bytes = 0;
        for (std::uint16_t i = 0; i < n; ++i) bytes += b.bytes[i] & (0u - static_cast<std::uint32_t>(member[i] == m));
        c_.m_assigned[m] += k;
        c_.m_assigned_bytes[m] += bytes;
        if (drain_) drain_->on_handed(m, k);
        Backlog& q = backlog_[m];
        if (q.n != 0) [[unlikely]] {
            // Behind what the member still holds (room_for_burst made room).
            std::memcpy(q.pkts + q.n, pk, k * sizeof(pk[0]));
            q.n = static_cast<std::uint16_t>(q.n + k);
            q.bytes += bytes;
            flush(m);
        } else {
            send(m, pk, k, bytes);   // nothing held: straight to the port
        }
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
            if (drain_) drain_->on_taken_back(m, b.n);
            const std::uint16_t take = std::min<std::uint16_t>(b.n, static_cast<std::uint16_t>(kBacklog - reassign_.n));
            std::memcpy(reassign_.pkts + reassign_.n, b.pkts, take * sizeof(b.pkts[0]));
            reassign_.n = static_cast<std::uint16_t>(reassign_.n + take);
            if (take < b.n) {
                // No room to hold them (several members failed at once): no member takes them.
                rte_pktmbuf_free_bulk(b.pkts + take, b.n - take);
                c_.no_member += b.n - take;
            }
            c_.m_reassigned[m] += take;
            b.n = 0;
            b.bytes = 0;
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

void TxStage::poll_return_path(Tick now) noexcept {
    rte_mbuf* in[kBurstSize];
    for (std::uint8_t m = 0; m < n_members_; ++m) {
        const std::uint16_t k = rte_eth_rx_burst(ports_[m].port, ports_[m].queue, in, kBurstSize);
        if (k == 0) continue;
        c_.return_path_rx += k;
        if (timing_.ping_pool != nullptr) {
            for (std::uint16_t i = 0; i < k; ++i) {
                emulation::MemberPing p;
                if (!emulation::maybe_member_ping(in[i]->pkt_len) ||
                    !emulation::parse_member_ping(rte_pktmbuf_mtod(in[i], const std::uint8_t*), in[i]->data_len, p) ||
                    p.kind != emulation::kPingKindPong || p.member != m || p.sent > now)
                    continue;
                ++c_.pongs;
                ++c_.m_pongs[m];
                ping_delay_[m].add((now - p.sent) / 2);
            }
        }
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

void TxStage::poll(Tick now) noexcept {
    now_ = now;
    if (drain_ && timing_.wire_departures) {
        for (std::uint8_t m = 0; m < n_members_; ++m) {
            const Shared::Departures& d = shared_.departures[m];
            const std::uint64_t resolved = d.resolved.load(std::memory_order_acquire);
            drain_->on_departed(m, resolved, d.at.load(std::memory_order_relaxed));
        }
    } else if (any_desc_ && --desc_countdown_ == 0) {
        desc_countdown_ = kDescriptorPollEvery;
        observe_descriptors(now);
    }
    if (drain_ && timing_.ping_pool != nullptr && shared_.phase.load(std::memory_order_relaxed) == kRun &&
        (now >= next_ping_ || ping_due_ != 0)) [[unlikely]]
        send_pings(now);
    const std::uint32_t mask = shared_.link_up.load(std::memory_order_acquire);
    if (mask != known_mask_) [[unlikely]]
        on_membership(mask, now);

    // A source that consumes the return path (feedback) sees it every loop;
    // otherwise it is only freed, every kReturnPollEvery loops.
    if (poll_return_ && (fb_target_ != nullptr || --return_countdown_ == 0)) {
        return_countdown_ = kReturnPollEvery;
        poll_return_path(now);
    }
    for (std::uint8_t m = 0; m < n_members_; ++m)
        if (backlog_[m].n != 0) flush(m);

    Burst& pend = bursts_[pending_];
    if (reassign_.n != 0) [[unlikely]] {
        // Before the pending burst: the reassigned packets were sent earlier.
        if (room_for_burst()) {
            const std::uint16_t n = std::min<std::uint16_t>(reassign_.n, kBurstSize);
            Burst& tmp = bursts_[pending_ ^ 1u];
            classify(reassign_.pkts, n, tmp);
            tmp.at = now;
            if (tmp.n != 0) dispatch(tmp, nullptr, 0);
            tmp.n = 0;
            const std::uint16_t left = static_cast<std::uint16_t>(reassign_.n - n);
            std::memmove(reassign_.pkts, reassign_.pkts + n, left * sizeof(reassign_.pkts[0]));
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
                classify(pkts, got, pend);
                pend.at = now;
                if (pend.n != 0) dispatch(pend, nullptr, 0);
                pend.n = 0;
            } else {
                if (pend.n != 0) {
                    dispatch(pend, nullptr, 0);
                    pend.n = 0;
                }
                if (source_->finished()) shared_.source_finished.store(true, std::memory_order_relaxed);
            }
        }
    } else if (pend.n != 0 && room_for_burst()) {
        dispatch(pend, nullptr, 0);
        pend.n = 0;
    }
    if (now >= next_publish_) publish(now);
}

void TxStage::publish(Tick now) noexcept {
    next_publish_ = now + publish_period_;
    const teaming::TeamCounters& tc = team_.counters();
    c_.team_bucket_moves = tc.bucket_moves;
    c_.failovers = tc.failovers;
    update_delays();
    if (const flowlet::DynamicCounters* d = team_.dynamic_counters(); d != nullptr) {
        c_.flowlet_starts = d->flowlet_starts;
        c_.member_moves = d->member_moves;
        c_.moves_held = d->moves_held;
        c_.flowlet_delta = team_.flowlet_delta();
    }
    if (drain_) {
        c_.flowlet_delta = drain_->delta();
        c_.flowlet_skew = drain_->skew();
        const DrainView& v = drain_->view(now);
        for (std::uint8_t m = 0; m < n_members_; ++m) {
            c_.m_gap[m] = v.gap[m];
            c_.m_handed[m] = v.handed[m];
            c_.m_drained[m] = v.drained[m];
        }
    }
    pub_.store(c_);
}

} // namespace engine_detail
} // namespace flowteam::dataplane
