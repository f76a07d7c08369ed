// SPDX-License-Identifier: BSD-3-Clause
// flowteam — software model of one team member link (embedded testbed).
//
// A member link is a FIFO server with a rate, a propagation delay, a bounded
// transmit queue, optional jitter and optional background (cross-traffic) load.
// Packets are opaque handles (`Pkt`, e.g. `rte_mbuf*` in the data plane, an
// integer in tests): the link never looks inside them, it only stores and hands
// them back. Reordering between members is never scripted: it emerges from the
// different rates, delays and queue depths of the links a flow is spread over.
//
// Timeline of one packet of `b` bytes offered at `now` (all times are Tick, the
// tick rate is given at construction: TSC Hz in the data plane, 1 GHz in tests):
//
//   start      = max(now, wire_free)          wire_free: end of the work already
//                                             scheduled (ours + cross traffic)
//   departure  = start + (max(b, min_frame) + overhead)·8 / rate   (exact, the
//                fractional tick is carried to the next packet; the reported
//                departure is rounded up to a whole tick)
//   arrival    = max(previous arrival, departure + delay + U[0, jitter])
//
// The packet is *queued* while departure > now (that is what the queue limits
// count: the TX ring), *in flight* while departure <= now < arrival, and
// *deliverable* once arrival <= now. The max() in the arrival keeps FIFO order
// within one link: jitter never reorders a link, only the links between them.
//
// Background load (cross traffic, fraction ρ of the capacity, 0 <= ρ < 1):
// virtual chunks of `background_chunk_bytes` arrive at the wire as a Poisson
// process of rate ρ·rate/(chunk bits) and are interleaved with our packets in
// a single non-preemptive FIFO: a chunk that reaches the wire before our
// packet is ready (our previous departure, or `now` if idle) is served first.
// A saturating sender therefore gets (1 − ρ) of the rate, and a light sender
// sees random queueing delay — bursts come from the Poisson clustering, not
// from a script. Cross chunks do not occupy our queue (they are other hosts'
// traffic sharing the wire). When the link was idle for a long time the
// generator is fast-forwarded: arrivals older than 256 mean gaps before the
// current packet are skipped (exact for the Poisson arrivals by
// memorylessness; the only approximation is forgetting a cross-traffic
// backlog older than 256 chunk gaps), so one call costs O(256) at most.
//
// Queue behaviour when a packet does not fit:
//   backpressure  a NIC TX ring: try_send stops at the first packet that does
//                 not fit and returns how many it took; the caller keeps the
//                 rest (STYLE §10). Nothing is dropped for lack of space.
//   taildrop      the link takes every packet; those that do not fit are
//                 handed back in `dropped` for the caller to free, counted as
//                 queue_full.
// In both modes a frame longer than max_frame_bytes is dropped (oversize) and
// a packet offered while the link is down is dropped (link_down).
//
// Storage is a power-of-two ring allocated once in the constructor, sized for
// the queue limit + the bandwidth·delay product in minimum-size frames + a
// slack of deliverable-but-not-yet-delivered packets. No allocation, lock or
// exception on the per-packet path. Not thread-safe: one link belongs to one
// lcore (or to the sender and receiver loop of the same lcore).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>

#include "common/types.h"
#include "emulation/rng.h"

namespace flowteam::emulation {

inline constexpr Tick kNever = UINT64_MAX;

enum class QueueMode : std::uint8_t { backpressure, taildrop };
bool parse_queue_mode(std::string_view s, QueueMode& out); // "backpressure", "taildrop"
const char* to_string(QueueMode m);

// Why a packet offered to try_send was not queued (it was handed back in `dropped`).
enum class DropReason : std::uint8_t {
    queue_full = 0, // taildrop: the queue limit (bytes or packets) was reached
    link_down,      // offered while the link is down
    oversize,       // frame longer than max_frame_bytes: could never be sent
    ring_full,      // taildrop: the ring is full of delivered-but-not-collected packets (call deliver() more often)
    count_
};
inline constexpr std::size_t kDropReasons = static_cast<std::size_t>(DropReason::count_);
const char* to_string(DropReason r);

struct LinkConfig {
    std::uint64_t rate_bps = 10'000'000'000ull; // line rate, bits/s, 1 kb/s .. 10 Tb/s
    std::uint64_t delay_ns = 0;                 // one-way propagation delay
    std::uint64_t jitter_ns = 0;                // extra delay uniform in [0, jitter] per packet (FIFO kept)
    std::uint64_t queue_bytes = 0;              // queue limit in frame bytes (padded to min_frame), 0 = none
    std::uint32_t queue_packets = 512;          // queue limit in packets, 0 = no packet limit (not both 0)
    QueueMode mode = QueueMode::backpressure;
    double background_load = 0.0;               // fraction of the rate taken by cross traffic, [0, 1)
    std::uint32_t background_chunk_bytes = 1500;// size of one cross-traffic chunk
    std::uint32_t overhead_bytes = 0;           // extra wire bytes per frame (24 = preamble+SFD+IFG+FCS)
    std::uint32_t min_frame_bytes = 60;         // shorter frames are padded to this on the wire
    std::uint32_t max_frame_bytes = 9216;       // longer frames are dropped (oversize)
    std::uint32_t deliver_slack_packets = 1024; // ring room for arrived packets not yet delivered
    std::uint32_t max_ring_entries = 1u << 22;  // refuse configurations needing a bigger ring
    std::uint64_t seed = 1;                     // jitter and cross-traffic RNG
};

// Everything derived from a LinkConfig at construction (validated; throws
// std::invalid_argument naming the field and the allowed range).
struct LinkTiming {
    std::uint64_t ticks_per_byte_fp = 0; // wire ticks per byte, 32.32 fixed point
    Tick delay = 0;
    Tick jitter = 0;
    std::uint64_t queue_limit_packets = 0; // UINT64_MAX = none
    std::uint64_t queue_limit_bytes = 0;   // UINT64_MAX = none
    std::uint32_t ring_capacity = 0;       // power of two
    std::uint32_t ring_queue_part = 0;     // how the ring size was reached (for messages/tests)
    std::uint32_t ring_flight_part = 0;
    bool cross = false;
    double cross_mean_gap = 0.0;           // ticks between cross-chunk arrivals (mean)
    Tick cross_horizon = 0;                // fast-forward horizon (256 mean gaps)
};
LinkTiming compute_link_timing(const LinkConfig& cfg, std::uint64_t tick_hz);

struct LinkCounters {
    std::uint64_t sent_packets = 0;      // accepted into the queue
    std::uint64_t sent_bytes = 0;
    std::uint64_t delivered_packets = 0; // handed out by deliver()
    std::uint64_t delivered_bytes = 0;
    std::uint64_t refused_packets = 0;   // backpressure: not taken, the caller kept them (not a drop)
    std::array<std::uint64_t, kDropReasons> dropped_packets{}; // offered but not queued, by reason
    std::array<std::uint64_t, kDropReasons> dropped_bytes{};
    std::uint64_t lost_packets = 0;      // accepted, then handed back by set_down() (queued or in flight)
    std::uint64_t lost_bytes = 0;
    std::uint64_t max_queue_packets = 0; // high-water mark of the queue
    std::uint64_t max_queue_bytes = 0;
    std::uint64_t busy_ticks = 0;        // wire time of our packets (utilisation = busy / window)
    std::uint64_t cross_chunks = 0;      // background chunks served
    std::uint64_t cross_bytes = 0;

    std::uint64_t dropped(DropReason r) const { return dropped_packets[static_cast<std::size_t>(r)]; }
    std::uint64_t dropped_total() const {
        std::uint64_t s = 0;
        for (auto v : dropped_packets) {
            s += v;
        }
        return s;
    }
};

template <class Pkt>
class EmulatedLink {
    static_assert(std::is_trivially_copyable_v<Pkt>, "Pkt must be a trivially copyable handle (pointer, index)");

public:
    // Throws std::invalid_argument on a bad configuration (see compute_link_timing).
    EmulatedLink(const LinkConfig& cfg, std::uint64_t tick_hz)
        : cfg_(cfg), t_(compute_link_timing(cfg, tick_hz)), mask_(t_.ring_capacity - 1u),
          ring_(std::make_unique<Entry[]>(t_.ring_capacity)), rng_(cfg.seed) {}

    EmulatedLink(const EmulatedLink&) = delete;
    EmulatedLink& operator=(const EmulatedLink&) = delete;
    EmulatedLink(EmulatedLink&&) noexcept = default;

    // Offer pkts[0..n) (frame lengths bytes[0..n), without FCS) at time `now`.
    // Returns k: pkts[0..k) now belong to the link — queued, or handed back in
    // dropped[0..*n_dropped) (each counted with a reason). pkts[k..n) are still
    // the caller's: only in backpressure mode can k < n (the queue or the ring
    // is full). `dropped` must have room for n handles. `now` never decreases.
    std::uint16_t try_send(const Pkt* pkts, const std::uint32_t* bytes, std::uint16_t n, Tick now, Pkt* dropped,
                           std::uint16_t* n_dropped) {
        std::uint16_t nd = 0;
        if (!up_) {
            for (std::uint16_t i = 0; i < n; ++i) {
                drop(DropReason::link_down, pkts[i], bytes[i], dropped, nd);
            }
            *n_dropped = nd;
            return n;
        }
        advance_queue(now);
        std::uint16_t i = 0;
        for (; i < n; ++i) {
            const std::uint32_t b = bytes[i];
            if (b > cfg_.max_frame_bytes) {
                drop(DropReason::oversize, pkts[i], b, dropped, nd);
                continue;
            }
            const std::uint64_t qpk = tail_ - qhead_;
            const bool fits_queue = qpk < t_.queue_limit_packets && queued_bytes_ + padded(b) <= t_.queue_limit_bytes;
            const bool fits_ring = tail_ - head_ < t_.ring_capacity;
            if (!fits_queue || !fits_ring) [[unlikely]] {
                if (cfg_.mode == QueueMode::backpressure) {
                    break;
                }
                drop(fits_queue ? DropReason::ring_full : DropReason::queue_full, pkts[i], b, dropped, nd);
                continue;
            }
            enqueue(pkts[i], b, now);
        }
        c_.refused_packets += static_cast<std::uint64_t>(n - i);
        *n_dropped = nd;
        return i;
    }

    // Hand out, in FIFO order, up to `max` packets whose arrival time <= now.
    // `arrival` / `departure` (optional, may be nullptr) receive each packet's
    // arrival tick / departure tick (its last bit left the queue).
    std::uint16_t deliver(Pkt* out, std::uint16_t max, Tick now, Tick* arrival = nullptr, Tick* departure = nullptr) {
        advance_queue(now);
        std::uint16_t k = 0;
        while (k < max && head_ != qhead_) {
            const Entry& e = ring_[head_ & mask_];
            if (e.arrival > now) {
                break;
            }
            out[k] = e.pkt;
            if (arrival != nullptr) {
                arrival[k] = e.arrival;
            }
            if (departure != nullptr) {
                departure[k] = e.departure;
            }
            ++k;
            ++head_;
            c_.delivered_packets += 1;
            c_.delivered_bytes += e.bytes;
        }
        return k;
    }

    // Arrival tick of the oldest packet still held (kNever when empty).
    Tick next_arrival() const { return head_ != tail_ ? ring_[head_ & mask_].arrival : kNever; }

    // Take the link down at `now`. Every packet queued or in flight (arrival >
    // now) is lost: handed back in lost[0..return) in FIFO order and counted
    // (lost_packets/lost_bytes); the caller frees or re-sends it. Packets that
    // already arrived stay deliverable. `lost_cap` must be >= ring_capacity()
    // (the worst case), else std::invalid_argument and nothing changes — a
    // control-path call, not a per-packet one. Going down twice is a no-op.
    std::uint32_t set_down(Tick now, Pkt* lost, std::uint32_t lost_cap);

    // Bring the link back up at `now` (idle wire, fresh cross traffic).
    void set_up(Tick now) {
        if (up_) {
            return;
        }
        up_ = true;
        if (now > wire_free_) {
            wire_free_ = now;
            wire_frac_ = 0;
        }
        last_dep_ = std::max(last_dep_, wire_free_);
        if (t_.cross) { // a fresh Poisson process from `now`
            next_cross_ = now;
            cross_resid_ = 0.0;
            next_cross_ += cross_gap();
        }
    }

    bool is_up() const { return up_; }

    // Bring the queue state up to `now` (packets whose departure <= now leave
    // it) without offering or delivering anything.
    void advance(Tick now) { advance_queue(now); }
    // Queue state as of the last try_send/deliver/advance call (bytes padded to min_frame_bytes).
    std::uint64_t queued_packets() const { return tail_ - qhead_; }
    // The first resolved() packets taken (queued or dropped, in the order
    // try_send took them) will never wait in this queue again: each departed
    // (in flight or arrived), was dropped, or was lost while queued when the
    // link went down. A prefix: a packet dropped behind a queued one counts
    // only once that one has left. As of the last try_send/deliver/advance.
    std::uint64_t resolved() const { return qhead_ != tail_ ? ring_[qhead_ & mask_].taken : taken_; }
    std::uint64_t queued_bytes() const { return queued_bytes_; }
    // Packets the link holds (queued + in flight + arrived, not delivered).
    std::uint64_t held_packets() const { return tail_ - head_; }
    // Wait before a packet offered at `now` would start serialising (our queue
    // and already scheduled cross traffic), in ticks.
    Tick queue_delay(Tick now) const { return wire_free_ > now ? wire_free_ - now : 0; }
    // One-way latency a `bytes` frame offered at `now` would see, jitter and
    // future cross traffic excluded: queue_delay + serialisation + delay.
    Tick expected_latency(std::uint32_t bytes, Tick now) const {
        Tick t = 0;
        std::uint32_t f = 0;
        add_wire(t, f, wire_bytes(bytes));
        return queue_delay(now) + t + (f != 0 ? 1 : 0) + t_.delay;
    }

    std::uint32_t ring_capacity() const { return t_.ring_capacity; }
    const LinkConfig& config() const { return cfg_; }
    const LinkTiming& timing() const { return t_; }
    const LinkCounters& counters() const { return c_; }

private:
    struct Entry {
        std::uint64_t taken;   // packets taken before this one (see resolved())
        Pkt pkt;
        std::uint32_t bytes;
        Tick departure;
        Tick arrival;
    };

    // Frame length as the queue counts it (padded to the minimum frame).
    std::uint64_t padded(std::uint32_t b) const { return std::max(b, cfg_.min_frame_bytes); }
    // Bytes the wire carries for it (padding + per-frame overhead).
    std::uint64_t wire_bytes(std::uint32_t b) const { return padded(b) + cfg_.overhead_bytes; }

    // t.f += wire_bytes · ticks_per_byte (32.32 fixed point, fraction carried).
    void add_wire(Tick& t, std::uint32_t& f, std::uint64_t wbytes) const {
        const unsigned __int128 c = static_cast<unsigned __int128>(wbytes) * t_.ticks_per_byte_fp + f;
        t += static_cast<Tick>(c >> 32);
        f = static_cast<std::uint32_t>(c);
    }

    // Entries whose departure <= now leave the queue (they are in flight).
    void advance_queue(Tick now) {
        while (qhead_ != tail_) {
            const Entry& e = ring_[qhead_ & mask_];
            if (e.departure > now) {
                break;
            }
            queued_bytes_ -= padded(e.bytes);
            ++qhead_;
        }
    }

    void drop(DropReason r, const Pkt& p, std::uint32_t b, Pkt* dropped, std::uint16_t& nd) {
        ++taken_;
        dropped[nd++] = p;
        c_.dropped_packets[static_cast<std::size_t>(r)] += 1;
        c_.dropped_bytes[static_cast<std::size_t>(r)] += b;
    }

    Tick cross_gap() {
        const double g = rng_.exponential(t_.cross_mean_gap) + cross_resid_;
        const Tick whole = static_cast<Tick>(g);
        cross_resid_ = g - static_cast<double>(whole);
        return whole;
    }

    // Serve the cross-traffic chunks that reach the wire at or before `r`.
    void serve_cross_until(Tick r) {
        if (next_cross_ > r) {
            return;
        }
        if (r > t_.cross_horizon) {
            const Tick t0 = r - t_.cross_horizon;
            if (next_cross_ < t0 && wire_free_ <= t0) { // long idle: fast-forward (see header comment)
                next_cross_ = t0;
                cross_resid_ = 0.0;
                next_cross_ += cross_gap();
            }
        }
        const std::uint64_t wb = static_cast<std::uint64_t>(cfg_.background_chunk_bytes) + cfg_.overhead_bytes;
        while (next_cross_ <= r) {
            if (next_cross_ > wire_free_) {
                wire_free_ = next_cross_;
                wire_frac_ = 0;
            }
            add_wire(wire_free_, wire_frac_, wb);
            c_.cross_chunks += 1;
            c_.cross_bytes += cfg_.background_chunk_bytes;
            next_cross_ += cross_gap();
        }
    }

    void enqueue(const Pkt& p, std::uint32_t b, Tick now) {
        if (t_.cross) {
            serve_cross_until(std::max(now, last_dep_));
        }
        if (now > wire_free_) {
            wire_free_ = now;
            wire_frac_ = 0;
        }
        const Tick start = wire_free_;
        add_wire(wire_free_, wire_frac_, wire_bytes(b));
        c_.busy_ticks += wire_free_ - start; // whole ticks; fractions are carried in wire_frac_
        last_dep_ = wire_free_;
        const Tick dep = wire_free_ + (wire_frac_ != 0 ? 1 : 0);
        Tick arr = dep + t_.delay;
        if (t_.jitter != 0) {
            arr += rng_.upto(t_.jitter);
        }
        arr = std::max(arr, last_arrival_);
        last_arrival_ = arr;

        Entry& e = ring_[tail_ & mask_];
        e.pkt = p;
        e.bytes = b;
        e.departure = dep;
        e.arrival = arr;
        e.taken = taken_++;
        ++tail_;
        queued_bytes_ += padded(b);
        c_.sent_packets += 1;
        c_.sent_bytes += b;
        c_.max_queue_packets = std::max(c_.max_queue_packets, tail_ - qhead_);
        c_.max_queue_bytes = std::max(c_.max_queue_bytes, queued_bytes_);
    }

    LinkConfig cfg_;
    LinkTiming t_;
    std::uint64_t mask_;
    std::unique_ptr<Entry[]> ring_;
    Rng rng_;
    // Ring cursors (monotonic, masked on access): head_ <= qhead_ <= tail_.
    // [head_, qhead_) departed (in flight or arrived), [qhead_, tail_) queued.
    std::uint64_t head_ = 0;
    std::uint64_t qhead_ = 0;
    std::uint64_t tail_ = 0;
    std::uint64_t taken_ = 0;     // packets taken by try_send (queued or dropped)
    std::uint64_t queued_bytes_ = 0;
    Tick wire_free_ = 0;      // end of the scheduled wire work (whole ticks) ...
    std::uint32_t wire_frac_ = 0; // ... plus this many 2^-32 ticks
    Tick last_dep_ = 0;       // our last departure (whole ticks): cross-traffic cut-off
    Tick last_arrival_ = 0;
    Tick next_cross_ = 0;
    double cross_resid_ = 0.0;
    bool up_ = true;
    LinkCounters c_;
};

void throw_lost_capacity(std::uint32_t lost_cap, std::uint32_t ring_capacity); // [[noreturn]]

// The k-way merge that hands the packets of several links over in arrival
// order: the index (< n) of the link whose oldest held packet arrives first,
// no later than `now` (ties: the lowest index), or kNoMember when none has
// arrived yet. `links[i]` is anything with ->next_arrival().
template <class Links>
std::uint8_t first_arrival(const Links& links, std::uint8_t n, Tick now) {
    std::uint8_t best = kNoMember;
    Tick best_t = now;
    for (std::uint8_t m = 0; m < n; ++m) {
        const Tick t = links[m]->next_arrival();
        if (t <= best_t && (best == kNoMember || t < best_t)) {
            best = m;
            best_t = t;
        }
    }
    return best;
}

template <class Pkt>
std::uint32_t EmulatedLink<Pkt>::set_down(Tick now, Pkt* lost, std::uint32_t lost_cap) {
    if (lost_cap < t_.ring_capacity) {
        throw_lost_capacity(lost_cap, t_.ring_capacity);
    }
    if (!up_) {
        return 0;
    }
    up_ = false;
    advance_queue(now);
    // Arrivals are non-decreasing: the packets that already arrived are a prefix.
    std::uint64_t split = head_;
    while (split != tail_ && ring_[split & mask_].arrival <= now) {
        ++split;
    }
    std::uint32_t k = 0;
    for (std::uint64_t i = split; i != tail_; ++i) {
        const Entry& e = ring_[i & mask_];
        lost[k++] = e.pkt;
        c_.lost_packets += 1;
        c_.lost_bytes += e.bytes;
    }
    tail_ = split;
    qhead_ = std::min(qhead_, split);
    queued_bytes_ = 0;
    wire_free_ = now;
    wire_frac_ = 0;
    last_dep_ = now;
    last_arrival_ = std::min(last_arrival_, now);
    return k;
}

} // namespace flowteam::emulation
