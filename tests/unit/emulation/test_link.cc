// SPDX-License-Identifier: BSD-3-Clause
// Unit tests: emulated member link. Time is simulated in ns (tick_hz = 1 GHz).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "emulation/link.h"

using namespace flowteam;
using namespace flowteam::emulation;

namespace {

constexpr std::uint64_t kHz = 1'000'000'000ull; // ns ticks
using Link = EmulatedLink<std::uint32_t>;

LinkConfig base_config() {
    LinkConfig c;
    c.rate_bps = 10'000'000'000ull;
    c.queue_packets = 256;
    c.deliver_slack_packets = 4096;
    return c;
}

struct Delivered {
    std::uint32_t id;
    Tick arrival;
};

// Deliver everything that arrived by `now`.
void drain(Link& l, Tick now, std::vector<Delivered>& out) {
    std::uint32_t pk[64];
    Tick arr[64];
    for (;;) {
        const std::uint16_t k = l.deliver(pk, 64, now, arr);
        for (std::uint16_t i = 0; i < k; ++i) {
            out.push_back({pk[i], arr[i]});
        }
        if (k < 64) {
            break;
        }
    }
}

// A sender that keeps the link saturated: offers a burst every `step` ns and
// keeps what the link refuses (backpressure) for the next try.
struct Saturator {
    std::deque<std::uint32_t> pending;
    std::uint32_t next_id = 0;
    std::uint32_t frame = 1500;

    void run(Link& l, Tick from, Tick to, Tick step, std::vector<Delivered>* got = nullptr) {
        std::vector<Delivered> sink;
        for (Tick t = from; t < to; t += step) {
            while (pending.size() < 32) {
                pending.push_back(next_id++);
            }
            std::uint32_t pk[32];
            std::uint32_t by[32];
            for (int i = 0; i < 32; ++i) {
                pk[i] = pending[static_cast<std::size_t>(i)];
                by[i] = frame;
            }
            std::uint32_t dropped[32];
            std::uint16_t nd = 0;
            const std::uint16_t k = l.try_send(pk, by, 32, t, dropped, &nd);
            ASSERT_EQ(nd, 0u);
            pending.erase(pending.begin(), pending.begin() + k);
            drain(l, t, got != nullptr ? *got : sink);
            sink.clear();
        }
    }
};

} // namespace

TEST(Link, LatencyIsSerialisationPlusDelay) {
    LinkConfig c = base_config();
    c.delay_ns = 10'000;
    Link l(c, kHz);
    const std::uint32_t p[2] = {7, 8};
    const std::uint32_t b[2] = {1500, 1500};
    std::uint32_t dropped[2];
    std::uint16_t nd = 9;
    ASSERT_EQ(l.try_send(p, b, 2, 1000, dropped, &nd), 2);
    EXPECT_EQ(nd, 0);
    // 1500 B at 10 Gb/s = 1200 ns; the second waits for the first.
    EXPECT_EQ(l.next_arrival(), 1000u + 1200u + 10'000u);
    std::uint32_t out[2];
    Tick arr[2];
    EXPECT_EQ(l.deliver(out, 2, 12'199, arr), 0);
    ASSERT_EQ(l.deliver(out, 2, 12'200, arr), 1);
    EXPECT_EQ(out[0], 7u);
    EXPECT_EQ(arr[0], 12'200u);
    EXPECT_EQ(l.next_arrival(), 1000u + 2400u + 10'000u);
    ASSERT_EQ(l.deliver(out, 2, 20'000, arr), 1);
    EXPECT_EQ(out[0], 8u);
    EXPECT_EQ(arr[0], 13'400u);
    EXPECT_EQ(l.next_arrival(), kNever);
}

TEST(Link, OverheadPaddingAndFractionalTicks) {
    LinkConfig c = base_config();
    c.overhead_bytes = 24;
    c.queue_packets = 0;
    c.queue_bytes = 1'000'000;
    Link l(c, kHz);
    // 1500+24 B = 1219.2 ns: departures at 1219.2 and 2438.4 are reported as 1220, 2439.
    const std::uint32_t p[3] = {1, 2, 3};
    const std::uint32_t b[3] = {1500, 1500, 10}; // 10 B is padded to 60 (+24) = 67.2 ns
    std::uint32_t d[3];
    std::uint16_t nd = 0;
    ASSERT_EQ(l.try_send(p, b, 3, 0, d, &nd), 3);
    std::uint32_t out[3];
    Tick arr[3];
    ASSERT_EQ(l.deliver(out, 3, 1'000'000, arr), 3);
    EXPECT_EQ(arr[0], 1220u);
    EXPECT_EQ(arr[1], 2439u);
    EXPECT_EQ(arr[2], 2506u); // 2438.4 + 67.2 = 2505.6
    EXPECT_EQ(l.counters().delivered_bytes, 3010u);

    // 10000 back-to-back 64 B frames at 10 Gb/s: 51.2 ns each, no drift.
    LinkConfig c2 = base_config();
    c2.queue_packets = 20'000;
    Link l2(c2, kHz);
    std::vector<std::uint32_t> ids(10'000), by(10'000, 64);
    std::vector<std::uint32_t> dr(10'000);
    for (std::uint32_t i = 0; i < ids.size(); ++i) {
        ids[i] = i;
    }
    std::uint32_t sent = 0;
    while (sent < ids.size()) {
        const auto n = static_cast<std::uint16_t>(std::min<std::size_t>(1000, ids.size() - sent));
        ASSERT_EQ(l2.try_send(ids.data() + sent, by.data() + sent, n, 0, dr.data(), &nd), n);
        sent += n;
    }
    std::vector<Delivered> got;
    drain(l2, 1'000'000, got);
    ASSERT_EQ(got.size(), 10'000u);
    EXPECT_EQ(got.back().arrival, 512'000u);
    EXPECT_EQ(got[4].arrival, 256u); // 5 × 51.2
    EXPECT_EQ(got[5].arrival, 308u); // 307.2 rounded up
}

TEST(Link, ThroughputEqualsRate) {
    for (std::uint64_t rate : {1'000'000'000ull, 10'000'000'000ull, 25'000'000'000ull}) {
        LinkConfig c = base_config();
        c.rate_bps = rate;
        c.delay_ns = 5'000;
        c.queue_packets = 128;
        Link l(c, kHz);
        Saturator s;
        s.run(l, 0, 1'000'000, 1000); // warm up 1 ms
        const LinkCounters a = l.counters();
        s.run(l, 1'000'000, 21'000'000, 1000); // 20 ms window
        const LinkCounters z = l.counters();
        const double bps = static_cast<double>(z.delivered_bytes - a.delivered_bytes) * 8.0 / 0.020;
        EXPECT_NEAR(bps / static_cast<double>(rate), 1.0, 0.01) << "rate " << rate;
        const double util = static_cast<double>(z.busy_ticks - a.busy_ticks) / 20'000'000.0;
        EXPECT_NEAR(util, 1.0, 0.01);
        EXPECT_EQ(z.dropped_total(), 0u);
        EXPECT_GT(z.refused_packets, 0u); // the sender really was pushed back
        EXPECT_LE(z.max_queue_packets, 128u);
    }
}

TEST(Link, BackpressureAcceptsWhatFitsAndNeverDrops) {
    LinkConfig c = base_config();
    c.queue_packets = 8;
    Link l(c, kHz);
    std::uint32_t p[20], b[20], d[20];
    for (std::uint32_t i = 0; i < 20; ++i) {
        p[i] = i;
        b[i] = 1500;
    }
    std::uint16_t nd = 0;
    EXPECT_EQ(l.try_send(p, b, 20, 0, d, &nd), 8);
    EXPECT_EQ(nd, 0);
    EXPECT_EQ(l.counters().refused_packets, 12u);
    EXPECT_EQ(l.queued_packets(), 8u);
    // At t = 2400 ns two packets have left the queue (departures 1200, 2400).
    EXPECT_EQ(l.try_send(p + 8, b + 8, 12, 2400, d, &nd), 2);
    EXPECT_EQ(l.try_send(p + 10, b + 10, 10, 2401, d, &nd), 0);

    // Byte limit: 10000 B holds six 1500 B frames, not seven.
    LinkConfig cb = base_config();
    cb.queue_packets = 0;
    cb.queue_bytes = 10'000;
    Link lb(cb, kHz);
    EXPECT_EQ(lb.try_send(p, b, 20, 0, d, &nd), 6);
    EXPECT_EQ(lb.queued_bytes(), 9000u);
    b[6] = 1000; // a smaller one still fits
    EXPECT_EQ(lb.try_send(p + 6, b + 6, 14, 0, d, &nd), 1);
    EXPECT_EQ(lb.counters().dropped_total(), 0u);

    // Property: random bursts, sizes and times; never a drop, FIFO out, queue bounded.
    std::mt19937_64 rng(42);
    LinkConfig cr = base_config();
    cr.queue_packets = 32;
    cr.queue_bytes = 20'000;
    cr.delay_ns = 3'000;
    cr.jitter_ns = 2'000;
    Link lr(cr, kHz);
    std::uint32_t next = 0;
    std::vector<Delivered> got;
    Tick t = 0;
    std::deque<std::pair<std::uint32_t, std::uint32_t>> pending;
    for (int it = 0; it < 20'000; ++it) {
        t += rng() % 3000;
        const auto n = static_cast<std::uint16_t>(1 + rng() % 32);
        while (pending.size() < n) {
            pending.emplace_back(next++, static_cast<std::uint32_t>(60 + rng() % 1455));
        }
        std::uint32_t pp[32], bb[32], dd[32];
        for (std::uint16_t i = 0; i < n; ++i) {
            pp[i] = pending[i].first;
            bb[i] = pending[i].second;
        }
        const std::uint16_t k = lr.try_send(pp, bb, n, t, dd, &nd);
        ASSERT_LE(k, n);
        ASSERT_EQ(nd, 0);
        ASSERT_LE(lr.queued_packets(), 32u);
        ASSERT_LE(lr.queued_bytes(), 20'000u);
        pending.erase(pending.begin(), pending.begin() + k);
        drain(lr, t, got);
    }
    drain(lr, t + 1'000'000'000, got);
    ASSERT_EQ(got.size(), lr.counters().sent_packets);
    for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].id, i);
        if (i > 0) {
            ASSERT_GE(got[i].arrival, got[i - 1].arrival);
        }
    }
    EXPECT_EQ(lr.counters().dropped_total(), 0u);
    EXPECT_LE(lr.counters().max_queue_packets, 32u);
    EXPECT_LE(lr.counters().max_queue_bytes, 20'000u);
}

TEST(Link, TaildropDropsExactlyTheExcess) {
    LinkConfig c = base_config();
    c.mode = QueueMode::taildrop;
    c.queue_packets = 10;
    Link l(c, kHz);
    std::uint32_t p[25], b[25], d[25];
    for (std::uint32_t i = 0; i < 25; ++i) {
        p[i] = 100 + i;
        b[i] = 1000;
    }
    std::uint16_t nd = 0;
    EXPECT_EQ(l.try_send(p, b, 25, 0, d, &nd), 25); // taildrop takes everything
    ASSERT_EQ(nd, 15);
    for (std::uint16_t i = 0; i < nd; ++i) {
        EXPECT_EQ(d[i], 110u + i);
    }
    EXPECT_EQ(l.counters().dropped(DropReason::queue_full), 15u);
    EXPECT_EQ(l.counters().dropped_bytes[static_cast<std::size_t>(DropReason::queue_full)], 15'000u);
    EXPECT_EQ(l.counters().sent_packets, 10u);
    EXPECT_EQ(l.counters().refused_packets, 0u);
    // 800 ns per frame: at t = 1600 two slots are free again, in the middle of a burst.
    EXPECT_EQ(l.try_send(p, b, 5, 1600, d, &nd), 5);
    EXPECT_EQ(nd, 3);
    EXPECT_EQ(d[0], 102u);
    EXPECT_EQ(l.counters().dropped(DropReason::queue_full), 18u);

    // Byte limit and a mixed burst: only frames that do not fit are dropped.
    LinkConfig cb = base_config();
    cb.mode = QueueMode::taildrop;
    cb.queue_packets = 0;
    cb.queue_bytes = 9216;
    Link lb(cb, kHz);
    const std::uint32_t pb[5] = {1, 2, 3, 4, 5};
    const std::uint32_t bb[5] = {4000, 4000, 2000, 1000, 200};
    EXPECT_EQ(lb.try_send(pb, bb, 5, 0, d, &nd), 5);
    ASSERT_EQ(nd, 1);
    EXPECT_EQ(d[0], 3u); // 8000 + 2000 > 9216; 1000 and 200 still fit
    EXPECT_EQ(lb.queued_bytes(), 9200u);

    // Property: offered = queued + dropped, the queue never exceeds its limit.
    std::mt19937_64 rng(7);
    LinkConfig cr = base_config();
    cr.mode = QueueMode::taildrop;
    cr.queue_packets = 16;
    Link lr(cr, kHz);
    std::uint64_t offered = 0, dropped = 0;
    Tick t = 0;
    std::vector<Delivered> got;
    for (int it = 0; it < 10'000; ++it) {
        t += rng() % 2000;
        const auto n = static_cast<std::uint16_t>(1 + rng() % 32);
        std::uint32_t pp[32], bbr[32], dd[32];
        for (std::uint16_t i = 0; i < n; ++i) {
            pp[i] = static_cast<std::uint32_t>(offered + i);
            bbr[i] = static_cast<std::uint32_t>(60 + rng() % 1455);
        }
        ASSERT_EQ(lr.try_send(pp, bbr, n, t, dd, &nd), n);
        offered += n;
        dropped += nd;
        ASSERT_LE(lr.queued_packets(), 16u);
        drain(lr, t, got);
    }
    EXPECT_EQ(offered, lr.counters().sent_packets + dropped);
    EXPECT_EQ(dropped, lr.counters().dropped(DropReason::queue_full));
    EXPECT_GT(dropped, 0u);
    EXPECT_LE(lr.counters().max_queue_packets, 16u);
}

TEST(Link, OversizeIsDroppedInBothModes) {
    for (QueueMode m : {QueueMode::backpressure, QueueMode::taildrop}) {
        LinkConfig c = base_config();
        c.mode = m;
        c.max_frame_bytes = 1514;
        Link l(c, kHz);
        const std::uint32_t p[3] = {1, 2, 3};
        const std::uint32_t b[3] = {1514, 1515, 100};
        std::uint32_t d[3];
        std::uint16_t nd = 0;
        EXPECT_EQ(l.try_send(p, b, 3, 0, d, &nd), 3);
        ASSERT_EQ(nd, 1);
        EXPECT_EQ(d[0], 2u);
        EXPECT_EQ(l.counters().dropped(DropReason::oversize), 1u);
        EXPECT_EQ(l.counters().sent_packets, 2u);
    }
}

// Reordering is not scripted: the same alternating packets over a short and a
// long link arrive out of order only because of the delay difference.
TEST(Link, ReorderingEmergesFromDifferentDelays) {
    auto run = [](std::uint64_t delay_b) {
        LinkConfig ca = base_config();
        ca.delay_ns = 10'000;
        LinkConfig cb = base_config();
        cb.delay_ns = delay_b;
        Link a(ca, kHz), b(cb, kHz);
        std::vector<Delivered> got;
        const std::uint32_t by = 1500;
        std::uint32_t d[1];
        std::uint16_t nd = 0;
        for (std::uint32_t seq = 0; seq < 100; ++seq) {
            const Tick t = 1000ull * (seq + 1);
            Link& l = (seq % 2 == 0) ? a : b;
            EXPECT_EQ(l.try_send(&seq, &by, 1, t, d, &nd), 1);
        }
        drain(a, 1'000'000, got);
        drain(b, 1'000'000, got);
        std::stable_sort(got.begin(), got.end(),
                         [](const Delivered& x, const Delivered& y) { return x.arrival < y.arrival; });
        return got;
    };
    // Equal delays: arrival order is sending order.
    auto same = run(10'000);
    ASSERT_EQ(same.size(), 100u);
    for (std::uint32_t i = 0; i < 100; ++i) {
        EXPECT_EQ(same[i].id, i);
    }
    // 40 µs more on link b: packet 1 (b, sent at 2 µs) arrives at 2+1.2+50 µs,
    // after packets 2, 4, ..., 40 sent on a (packet 40: 41+1.2+10 = 52.2 µs).
    auto skew = run(50'000);
    ASSERT_EQ(skew.size(), 100u);
    std::vector<Tick> arrival(100);
    for (const auto& g : skew) {
        arrival[g.id] = g.arrival;
    }
    EXPECT_EQ(arrival[1], 2000u + 1200u + 50'000u);
    EXPECT_EQ(arrival[2], 3000u + 1200u + 10'000u);
    EXPECT_GT(arrival[1], arrival[40]);
    EXPECT_LT(arrival[1], arrival[42]);
    // RFC 4737 style: count packets that arrive with a lower sequence than one already seen.
    std::uint32_t next_exp = 0, reordered = 0;
    for (const auto& g : skew) {
        if (g.id < next_exp) {
            ++reordered;
        } else {
            next_exp = g.id + 1;
        }
    }
    EXPECT_GT(reordered, 40u);
    // Within each link the order is still FIFO.
    std::uint32_t last_even = 0, last_odd = 1;
    for (const auto& g : skew) {
        std::uint32_t& last = (g.id % 2 == 0) ? last_even : last_odd;
        EXPECT_GE(g.id, last);
        last = g.id;
    }
}

TEST(Link, JitterIsBoundedAndNeverReordersALink) {
    LinkConfig c = base_config();
    c.delay_ns = 10'000;
    c.jitter_ns = 50'000;
    c.seed = 3;
    Link l(c, kHz);
    std::uint32_t d[1];
    std::uint16_t nd = 0;
    const std::uint32_t by = 1500;
    // Sparse packets (idle link): extra delay uniform in [0, 50 µs].
    Tick min_extra = kNever, max_extra = 0;
    for (std::uint32_t i = 0; i < 2000; ++i) {
        const Tick t = 100'000ull * (i + 1);
        ASSERT_EQ(l.try_send(&i, &by, 1, t, d, &nd), 1);
        std::vector<Delivered> got;
        drain(l, t + 99'999, got);
        ASSERT_EQ(got.size(), 1u);
        const Tick base = t + 1200 + 10'000;
        ASSERT_GE(got[0].arrival, base);
        ASSERT_LE(got[0].arrival, base + 50'000);
        min_extra = std::min(min_extra, got[0].arrival - base);
        max_extra = std::max(max_extra, got[0].arrival - base);
    }
    EXPECT_LT(min_extra, 1'000u);
    EXPECT_GT(max_extra, 49'000u);
    // Dense packets: jitter much larger than the spacing, still FIFO and non-decreasing.
    Link l2(c, kHz);
    std::vector<Delivered> got;
    for (std::uint32_t i = 0; i < 20'000; ++i) {
        const Tick t = 1300ull * i;
        ASSERT_EQ(l2.try_send(&i, &by, 1, t, d, &nd), 1);
        drain(l2, t, got);
    }
    drain(l2, kNever - 1, got);
    ASSERT_EQ(got.size(), 20'000u);
    for (std::uint32_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].id, i);
        if (i > 0) {
            ASSERT_GE(got[i].arrival, got[i - 1].arrival);
        }
    }
}

TEST(Link, LinkDownHandsBackQueuedAndInFlight) {
    LinkConfig c = base_config();
    c.delay_ns = 10'000;
    Link l(c, kHz);
    std::uint32_t p[20], b[20], d[20];
    for (std::uint32_t i = 0; i < 20; ++i) {
        p[i] = i;
        b[i] = 1500;
    }
    std::uint16_t nd = 0;
    ASSERT_EQ(l.try_send(p, b, 20, 0, d, &nd), 20);
    // Departures every 1.2 µs, arrivals at 11.2, 12.4, 13.6, 14.8, ... µs. At
    // 14 µs packets 0..2 have arrived, 3..10 are in flight (departed by 13.2 µs)
    // and 11..19 are still queued.
    std::uint32_t out[20];
    ASSERT_EQ(l.deliver(out, 1, 14'000), 1); // collect packet 0 only
    EXPECT_EQ(l.queued_packets(), 9u);       // 11..19
    EXPECT_EQ(l.held_packets(), 19u);
    std::vector<std::uint32_t> lost(l.ring_capacity());
    EXPECT_THROW(l.set_down(14'000, lost.data(), l.ring_capacity() - 1), std::invalid_argument);
    ASSERT_TRUE(l.is_up());
    const std::uint32_t n_lost = l.set_down(14'000, lost.data(), l.ring_capacity());
    // In flight and queued are lost: 3..19, in FIFO order.
    ASSERT_EQ(n_lost, 17u);
    for (std::uint32_t i = 0; i < n_lost; ++i) {
        EXPECT_EQ(lost[i], 3u + i);
    }
    EXPECT_EQ(l.counters().lost_packets, 17u);
    EXPECT_EQ(l.counters().lost_bytes, 17u * 1500u);
    EXPECT_EQ(l.queued_packets(), 0u);
    EXPECT_FALSE(l.is_up());
    // Packets 1 and 2 had arrived: still deliverable.
    ASSERT_EQ(l.deliver(out, 20, 15'000), 2);
    EXPECT_EQ(out[0], 1u);
    EXPECT_EQ(out[1], 2u);
    EXPECT_EQ(l.next_arrival(), kNever);
    // Sending while down: every packet handed back as dropped (link_down).
    EXPECT_EQ(l.try_send(p, b, 5, 16'000, d, &nd), 5);
    EXPECT_EQ(nd, 5);
    EXPECT_EQ(l.counters().dropped(DropReason::link_down), 5u);
    EXPECT_EQ(l.set_down(16'000, lost.data(), l.ring_capacity()), 0u); // already down
    // Conservation: sent = delivered + lost + held.
    const LinkCounters& k = l.counters();
    EXPECT_EQ(k.sent_packets, k.delivered_packets + k.lost_packets + l.held_packets());
    // Up again: a fresh, idle wire from `now`.
    l.set_up(100'000);
    ASSERT_EQ(l.try_send(p, b, 1, 100'000, d, &nd), 1);
    EXPECT_EQ(l.next_arrival(), 100'000u + 1200u + 10'000u);
}

TEST(Link, BackgroundLoadTakesItsShare) {
    for (double load : {0.2, 0.5, 0.8}) {
        LinkConfig c = base_config();
        c.background_load = load;
        c.queue_packets = 64;
        c.seed = 11;
        Link l(c, kHz);
        Saturator s;
        s.run(l, 0, 1'000'000, 1000);
        const LinkCounters a = l.counters();
        s.run(l, 1'000'000, 51'000'000, 1000); // 50 ms
        const LinkCounters z = l.counters();
        const double ours = static_cast<double>(z.delivered_bytes - a.delivered_bytes) * 8.0 / 0.050 / 1e10;
        const double cross = static_cast<double>(z.cross_bytes - a.cross_bytes) * 8.0 / 0.050 / 1e10;
        EXPECT_NEAR(ours, 1.0 - load, 0.03) << "load " << load;
        EXPECT_NEAR(cross, load, 0.03) << "load " << load;
        EXPECT_NEAR(ours + cross, 1.0, 0.01);
    }
}

TEST(Link, BackgroundLoadAddsQueueingDelayToALightSender) {
    LinkConfig c = base_config();
    c.background_load = 0.5;
    c.delay_ns = 1'000;
    Link l(c, kHz);
    std::uint32_t d[1];
    std::uint16_t nd = 0;
    const std::uint32_t by = 1500;
    std::uint64_t delayed = 0, total = 0;
    for (std::uint32_t i = 0; i < 5000; ++i) {
        const Tick t = 20'000ull * (i + 1); // 0.6 Gb/s of ours
        ASSERT_EQ(l.try_send(&i, &by, 1, t, d, &nd), 1);
        std::vector<Delivered> got;
        drain(l, t + 19'999, got);
        ASSERT_EQ(got.size(), 1u);
        const Tick lat = got[0].arrival - t;
        ASSERT_GE(lat, 2200u); // never faster than serialisation + delay
        total += lat;
        delayed += lat > 2200u ? 1 : 0;
    }
    // M/D/1-like: about half the packets find a chunk in service.
    EXPECT_GT(delayed, 1500u);
    EXPECT_LT(delayed, 3500u);
    EXPECT_GT(static_cast<double>(total) / 5000.0, 2400.0);
}

TEST(Link, LongIdleWithBackgroundLoadIsBounded) {
    LinkConfig c = base_config();
    c.background_load = 0.5;
    Link l(c, kHz);
    std::uint32_t d[1];
    std::uint16_t nd = 0;
    const std::uint32_t by = 1500;
    std::uint32_t id = 0;
    ASSERT_EQ(l.try_send(&id, &by, 1, 0, d, &nd), 1);
    // One hour of idle later (TSC-like jump): the cross traffic is fast-forwarded.
    const Tick later = 3600ull * 1'000'000'000ull;
    ASSERT_EQ(l.try_send(&id, &by, 1, later, d, &nd), 1);
    EXPECT_LT(l.counters().cross_chunks, 2000u);
    EXPECT_LT(l.next_arrival(), later); // the first packet has long arrived
    std::uint32_t out[2];
    Tick arr[2];
    ASSERT_EQ(l.deliver(out, 2, later + 1'000'000, arr), 2);
    EXPECT_GE(arr[1], later + 1200);
    EXPECT_LT(arr[1], later + 100'000);
}

TEST(Link, RingIsSizedFromQueueAndBandwidthDelay) {
    LinkConfig c = base_config();
    c.queue_packets = 512;
    c.delay_ns = 100'000;
    c.deliver_slack_packets = 1024;
    Link l(c, kHz);
    // 60 B at 10 Gb/s = 48 ns: 100 µs holds 2083.3 -> 2084 in flight; 512 + 2084 + 1024 = 3620 -> 4096.
    EXPECT_EQ(l.timing().ring_flight_part, 2084u);
    EXPECT_EQ(l.timing().ring_queue_part, 512u);
    EXPECT_EQ(l.ring_capacity(), 4096u);

    LinkConfig cb = base_config();
    cb.queue_packets = 0;
    cb.queue_bytes = 60'000; // at most 1000 min-size frames
    cb.deliver_slack_packets = 100;
    Link lb(cb, kHz);
    EXPECT_EQ(lb.timing().ring_queue_part, 1000u);
    EXPECT_EQ(lb.ring_capacity(), 2048u); // 1000 + 1 + 100 -> 1101 -> 2048
}

TEST(Link, RingFullOfUncollectedPacketsPushesBack) {
    LinkConfig c = base_config();
    c.queue_packets = 4;
    c.deliver_slack_packets = 3; // ring 4 + 1 + 3 = 8
    Link l(c, kHz);
    ASSERT_EQ(l.ring_capacity(), 8u);
    std::uint32_t p = 0;
    const std::uint32_t by = 100;
    std::uint32_t d[1];
    std::uint16_t nd = 0;
    std::uint32_t accepted = 0;
    for (Tick t = 0; t < 100'000; t += 1000) {
        accepted += l.try_send(&p, &by, 1, t, d, &nd);
        ASSERT_EQ(nd, 0);
    }
    EXPECT_EQ(accepted, 8u); // nobody collects: the ring fills and pushes back
    LinkConfig ct = c;
    ct.mode = QueueMode::taildrop;
    Link lt(ct, kHz);
    for (Tick t = 0; t < 100'000; t += 1000) {
        lt.try_send(&p, &by, 1, t, d, &nd);
    }
    EXPECT_EQ(lt.counters().sent_packets, 8u);
    EXPECT_EQ(lt.counters().dropped(DropReason::ring_full), 92u);
}

TEST(Link, ConfigErrorsNameTheField) {
    auto msg = [](const LinkConfig& c, std::uint64_t hz = kHz) -> std::string {
        try {
            Link l(c, hz);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    LinkConfig c = base_config();
    c.queue_packets = 0;
    c.queue_bytes = 0;
    EXPECT_NE(msg(c).find("queue_packets and queue_bytes"), std::string::npos);
    c = base_config();
    c.rate_bps = 0;
    EXPECT_NE(msg(c).find("rate_bps"), std::string::npos);
    c = base_config();
    c.background_load = 1.0;
    EXPECT_NE(msg(c).find("background_load"), std::string::npos);
    c = base_config();
    c.queue_bytes = 4000;
    EXPECT_NE(msg(c).find("max_frame_bytes"), std::string::npos);
    c = base_config();
    c.rate_bps = 10'000'000'000'000ull;
    c.delay_ns = 10'000'000'000ull; // 10 s at 10 Tb/s
    EXPECT_NE(msg(c).find("max_ring_entries"), std::string::npos);
    c = base_config();
    EXPECT_NE(msg(c, 10).find("tick_hz"), std::string::npos);
    c = base_config();
    c.min_frame_bytes = 0;
    EXPECT_NE(msg(c).find("min_frame_bytes"), std::string::npos);
    EXPECT_EQ(msg(base_config()), "");

    QueueMode m{};
    EXPECT_TRUE(parse_queue_mode("taildrop", m));
    EXPECT_EQ(m, QueueMode::taildrop);
    EXPECT_FALSE(parse_queue_mode("red", m));
    EXPECT_STREQ(to_string(DropReason::queue_full), "queue_full");
}

TEST(Link, TscTickRate) {
    // 2.5 GHz ticks: 1500 B at 10 Gb/s = 1.2 µs = 3000 ticks; 5 µs = 12500 ticks.
    LinkConfig c = base_config();
    c.delay_ns = 5'000;
    Link l(c, 2'500'000'000ull);
    const std::uint32_t p = 1, by = 1500;
    std::uint32_t d[1];
    std::uint16_t nd = 0;
    const Tick t0 = 1ull << 50;
    ASSERT_EQ(l.try_send(&p, &by, 1, t0, d, &nd), 1);
    EXPECT_EQ(l.next_arrival(), t0 + 3000 + 12'500);
    EXPECT_EQ(l.expected_latency(1500, t0), 3000u + 3000u + 12'500u); // queued behind the first
}

// resolved(): the prefix of taken packets that will never wait in the queue
// again, checked afterwards against each packet's own departure (from
// deliver) or drop time, with drops behind queued packets (taildrop) and
// backpressure: safe (everything in the prefix had gone by then) and tight
// (the packet right after the prefix was still waiting).
TEST(Link, ResolvedIsThePrefixThatLeftTheQueue) {
    for (const QueueMode mode : {QueueMode::taildrop, QueueMode::backpressure}) {
        LinkConfig c = base_config();
        c.mode = mode;
        c.queue_packets = 12;
        c.delay_ns = 5000;
        c.rate_bps = 1'000'000'000ull;
        Link l(c, kHz);
        std::mt19937_64 rng(mode == QueueMode::taildrop ? 3 : 4);
        std::vector<Tick> gone;   // per taken packet: departure or drop tick
        std::vector<std::pair<Tick, std::uint64_t>> seen;   // (t, resolved() at t)
        Tick t = 0;
        std::uint32_t next = 0;
        auto collect = [&](Tick now) {
            std::uint32_t pk[64];
            Tick arr[64], dep[64];
            for (std::uint16_t g; (g = l.deliver(pk, 64, now, arr, dep)) != 0;) {
                for (std::uint16_t i = 0; i < g; ++i) {
                    gone[pk[i]] = dep[i];
                    EXPECT_EQ(dep[i] + c.delay_ns, arr[i]);
                }
            }
        };
        for (int it = 0; it < 3000; ++it) {
            t += rng() % 3000;
            const auto n = static_cast<std::uint16_t>(1 + rng() % 8);
            std::uint32_t p[8], b[8], d[8];
            for (std::uint16_t i = 0; i < n; ++i) {
                p[i] = next + i;
                b[i] = static_cast<std::uint32_t>(60 + rng() % 1400);
            }
            std::uint16_t nd = 0;
            const std::uint16_t k = l.try_send(p, b, n, t, d, &nd);
            gone.resize(next + k, kNever);
            for (std::uint16_t j = 0; j < nd; ++j) gone[d[j]] = t;
            next += k;
            collect(t);
            seen.emplace_back(t, l.resolved());
        }
        collect(kNever - 1);
        std::uint64_t tight = 0;
        for (const auto& [at, r] : seen) {
            ASSERT_LE(r, gone.size());
            for (std::uint64_t i = 0; i < r; ++i) {
                ASSERT_LE(gone[i], at) << "packet " << i << " counted too early";
            }
            if (r < gone.size() && gone[r] > at) ++tight;
        }
        EXPECT_GT(tight, seen.size() / 2) << "resolved() lags far behind the departures";
        EXPECT_GT(l.resolved(), 500u);
        if (mode == QueueMode::taildrop) {
            EXPECT_GT(l.counters().dropped(DropReason::queue_full), 0u);
        }
    }
}
