// SPDX-License-Identifier: BSD-3-Clause
#include <gtest/gtest.h>
#include <vector>

#include "migration/precopy.h"
#include "migration/scheduler.h"

namespace flowteam::migration {
namespace {

constexpr Tick kMs = 1'000'000;

MemoryConfig one_vm(std::uint32_t pages, std::uint32_t ws = 0, double rate = 0, std::uint16_t vms = 1) {
    MemoryConfig c;
    VmSpec s;
    s.mem_bytes = std::uint64_t{pages} * kPageSize;
    s.workload = {ws, rate};
    c.vms.assign(vms, s);
    return c;
}

void ack_all(Precopy& pc, Tick now, const std::vector<PageRef>& refs) {
    for (const PageRef& r : refs)
        pc.on_ack(now, AckEntry{r.round, r.page, 1});
}

std::vector<PageRef> drain(Precopy& pc, Tick now, std::uint32_t max = 1000) {
    std::vector<PageRef> out(max);
    out.resize(pc.next_pages(now, max, out.data()));
    return out;
}

TEST(Precopy, RoundOneSendsEveryPageStripedOverChannels) {
    VmMemory mem(one_vm(40));
    PrecopyConfig cfg;
    cfg.channels = 3;
    cfg.batch_pages = 4;
    Precopy pc(mem, 0, cfg);
    EXPECT_EQ(drain(pc, 0).size(), 0u); // queued: nothing
    pc.start(0);
    EXPECT_EQ(pc.phase(), Phase::setup);
    std::vector<PageRef> refs(16);
    ASSERT_EQ(pc.next_pages(kMs, 16, refs.data()), 16u);
    EXPECT_EQ(pc.phase(), Phase::precopy);
    EXPECT_FALSE(pc.pass_exhausted());
    auto rest = drain(pc, kMs);
    ASSERT_EQ(rest.size(), 24u);
    refs.insert(refs.end(), rest.begin(), rest.end());
    EXPECT_TRUE(pc.pass_exhausted());
    for (std::uint32_t i = 0; i < 40; ++i) {
        EXPECT_EQ(refs[i].page, i);
        EXPECT_EQ(refs[i].round, 1u);
        EXPECT_EQ(refs[i].channel, (i / 4) % 3) << i; // batches of 4 pages, round-robin
        EXPECT_FALSE(refs[i].resend);
    }
    // idle guest: the next sync finds nothing -> stop-copy with an empty pass
    EXPECT_EQ(drain(pc, 2 * kMs).size(), 0u);
    EXPECT_EQ(pc.phase(), Phase::stop_copy);
    EXPECT_FALSE(mem.workload_running(0));
    EXPECT_EQ(pc.stats(2 * kMs).switchover, Switchover::converged);
    // completion needs every page confirmed
    ack_all(pc, 3 * kMs, std::vector<PageRef>(refs.begin(), refs.end() - 1));
    EXPECT_EQ(pc.phase(), Phase::stop_copy);
    EXPECT_EQ(pc.stats(3 * kMs).unconfirmed, 1u);
    ack_all(pc, 4 * kMs, std::vector<PageRef>(refs.end() - 1, refs.end()));
    EXPECT_EQ(pc.phase(), Phase::completed);
    const MigrationStats s = pc.stats(9 * kMs);
    EXPECT_EQ(s.total_time_ns, 4 * kMs);
    EXPECT_EQ(s.setup_time_ns, 1 * kMs);
    EXPECT_EQ(s.downtime_ns, 2 * kMs); // stop at 2 ms, last ack at 4 ms
    EXPECT_EQ(s.dirty_sync_count, 2u);
    EXPECT_EQ(s.pages_sent, 40u);
    EXPECT_EQ(s.acked_pages, 40u);
    EXPECT_EQ(s.remaining, 0u);
}

TEST(Precopy, DirtyPagesMakeLaterRoundsUntilTheyFitTheDowntime) {
    VmMemory mem(one_vm(40, 40, 0));
    PrecopyConfig cfg;
    cfg.channels = 1;
    cfg.downtime_limit_ns = 1 * kMs;
    Precopy pc(mem, 0, cfg);
    pc.start(0);
    auto r1 = drain(pc, 0);
    ASSERT_EQ(r1.size(), 40u);
    pc.on_sent(10 * kMs, 40 * 4096, 40 * 4096); // 16.4 MB/s -> 1 ms fits 4 pages
    for (std::uint32_t p : {3u, 5u, 7u, 11u, 13u, 17u, 19u, 23u, 29u, 31u})
        mem.touch_page(0, p);
    auto r2 = drain(pc, 10 * kMs);
    ASSERT_EQ(r2.size(), 10u);
    EXPECT_EQ(pc.phase(), Phase::precopy); // 40 KiB > 16 KiB: another pre-copy round
    EXPECT_EQ(r2[0].page, 3u);
    EXPECT_EQ(r2[9].page, 31u);
    EXPECT_EQ(r2[0].round, 2u);
    EXPECT_EQ(pc.stats(10 * kMs).dirty_sync_count, 2u);
    mem.touch_page(0, 1);
    mem.touch_page(0, 39);
    auto r3 = drain(pc, 11 * kMs);
    ASSERT_EQ(r3.size(), 2u); // 8 KiB fits: stop-and-copy
    EXPECT_EQ(pc.phase(), Phase::stop_copy);
    EXPECT_FALSE(mem.workload_running(0));
    EXPECT_EQ(r3[0].page, 1u);
    EXPECT_EQ(r3[1].page, 39u);
    EXPECT_EQ(r3[0].round, 3u);
    const MigrationStats s = pc.stats(11 * kMs);
    EXPECT_EQ(s.switchover, Switchover::converged);
    EXPECT_EQ(s.dirty_sync_count, 3u);
    EXPECT_EQ(s.dirtied_pages, 12u);
    EXPECT_GT(s.expected_downtime_ns, 0u);
    // acks of round 1 for a page re-sent later do not confirm the newer copy
    ack_all(pc, 12 * kMs, r1);
    ack_all(pc, 12 * kMs, r2);
    EXPECT_EQ(pc.phase(), Phase::stop_copy);
    EXPECT_TRUE(pc.in_flight(1));
    EXPECT_TRUE(pc.in_flight(39));
    ack_all(pc, 13 * kMs, r3);
    EXPECT_EQ(pc.phase(), Phase::completed);
    EXPECT_EQ(pc.stats(13 * kMs).downtime_ns, 2 * kMs);
}

TEST(Precopy, PageRequestsResendOnlyMatchingUnconfirmedCopies) {
    VmMemory mem(one_vm(64));
    PrecopyConfig cfg;
    cfg.channels = 2;
    cfg.batch_pages = 8;
    Precopy pc(mem, 0, cfg);
    pc.start(0);
    auto r1 = drain(pc, 0); // pages 0-7 ch0, 8-15 ch1, 16-23 ch0, ...
    ASSERT_EQ(r1.size(), 64u);
    pc.on_sent(kMs, 64 * 4096, 64 * 4096); // 262 MB/s: 300 ms fit everything
    // everything confirmed but pages 2, 3 (ch 0) and 9 (ch 1)
    for (const PageRef& r : r1)
        if (r.page != 2 && r.page != 3 && r.page != 9) pc.on_ack(kMs, {1, r.page, 1});
    // request pages 0..20 of round 1 on channel 0: only 2 and 3 qualify
    pc.on_page_request(kMs, PageRequest{1, 0, 0, 20});
    // wrong round / wrong channel / confirmed page: ignored
    pc.on_page_request(kMs, PageRequest{2, 1, 0, 63});
    pc.on_page_request(kMs, PageRequest{1, 1, 10, 20});
    EXPECT_EQ(pc.stats(kMs).requested_pages, 2u);
    auto r2 = drain(pc, 2 * kMs); // sync: idle guest, 2 pages left -> stop-copy
    EXPECT_EQ(pc.phase(), Phase::stop_copy);
    ASSERT_EQ(r2.size(), 2u);
    EXPECT_EQ(r2[0].page, 2u);
    EXPECT_EQ(r2[1].page, 3u);
    EXPECT_TRUE(r2[0].resend);
    EXPECT_EQ(r2[0].round, 2u);
    EXPECT_EQ(pc.stats(2 * kMs).resent_pages, 2u);
    // during stop-copy a request makes a new pass as soon as this one is out
    pc.on_page_request(3 * kMs, PageRequest{1, 1, 9, 9});
    auto r3 = drain(pc, 3 * kMs);
    ASSERT_EQ(r3.size(), 1u);
    EXPECT_EQ(r3[0].page, 9u);
    EXPECT_EQ(r3[0].round, 3u);
    ack_all(pc, 4 * kMs, r2);
    EXPECT_EQ(pc.phase(), Phase::stop_copy);
    // a late ack of the lost round-1 copy of page 9 does not count for the round-3 copy
    pc.on_ack(4 * kMs, AckEntry{1, 9, 1});
    EXPECT_EQ(pc.phase(), Phase::stop_copy);
    pc.on_ack(5 * kMs, AckEntry{3, 9, 1});
    EXPECT_EQ(pc.phase(), Phase::completed);
    EXPECT_EQ(pc.stats(5 * kMs).resent_pages, 3u);
    EXPECT_EQ(pc.stats(5 * kMs).rounds, 3u);
}

TEST(Precopy, UnconfirmedCopiesAreResentAfterTheTimeout) {
    VmMemory mem(one_vm(8));
    PrecopyConfig cfg;
    cfg.channels = 1;
    cfg.rto_ns = 10 * kMs;
    Precopy pc(mem, 0, cfg);
    pc.start(0);
    auto r1 = drain(pc, 0);
    for (const PageRef& r : r1)
        if (r.page != 6) pc.on_ack(kMs, {1, r.page, 1});
    EXPECT_EQ(drain(pc, 2 * kMs).size(), 0u);  // stop-copy, waiting for page 6
    EXPECT_EQ(drain(pc, 9 * kMs).size(), 0u);  // not yet: sent at 0, rto 10 ms
    EXPECT_EQ(drain(pc, 10 * kMs).size(), 0u); // timeouts are checked every rto/4
    auto r2 = drain(pc, 12 * kMs);
    ASSERT_EQ(r2.size(), 1u);
    EXPECT_EQ(r2[0].page, 6u);
    EXPECT_TRUE(r2[0].resend);
    EXPECT_EQ(pc.stats(12 * kMs).rto_pages, 1u);
    pc.on_ack(11 * kMs, {r2[0].round, 6, 1});
    EXPECT_TRUE(pc.done());
}

// A guest that dirties its whole working set every round never converges:
// the switchover is forced after max_rounds; auto-converge throttles it.
TEST(Precopy, NonConvergingHitsMaxRoundsOrIsThrottled) {
    for (bool ac : {false, true}) {
        VmMemory mem(one_vm(256, 128, 5e4)); // 50 k writes/s over 128 pages
        PrecopyConfig cfg;
        cfg.channels = 1;
        cfg.max_rounds = 20;
        cfg.downtime_limit_ns = 1 * kMs;
        cfg.auto_converge = ac;
        Precopy pc(mem, 0, cfg);
        pc.start(0);
        Tick now = 0;
        // the sender moves 10 pages per ms (41 MB/s): one 128-page round takes 12.8 ms
        while ((pc.phase() == Phase::setup || pc.phase() == Phase::precopy) && now < 2000 * kMs) {
            now += kMs;
            mem.advance(0, now);
            std::vector<PageRef> refs(10);
            refs.resize(pc.next_pages(now, 10, refs.data()));
            for (const PageRef& r : refs) {
                pc.on_sent(now, 4096, 4096);
                pc.on_ack(now, {r.round, r.page, 1});
            }
        }
        const MigrationStats s = pc.stats(now);
        ASSERT_TRUE(pc.phase() == Phase::stop_copy || pc.phase() == Phase::completed)
            << "auto_converge=" << ac;
        if (!ac) {
            EXPECT_EQ(s.switchover, Switchover::max_rounds);
            EXPECT_EQ(s.dirty_sync_count, 21u); // 20 pre-copy passes + the switchover sync
            EXPECT_EQ(s.throttle, 0);
            EXPECT_GT(s.remaining, 100u * 4096u);
        } else {
            EXPECT_EQ(s.switchover, Switchover::converged);
            EXPECT_GT(s.throttle_steps, 0u);
            EXPECT_GE(s.throttle, 0.5);
            EXPECT_LT(s.dirty_sync_count, 21u);
            EXPECT_LE(s.remaining, 12u * 4096u); // about bandwidth × 1 ms
        }
    }
}

TEST(Precopy, BadConfigIsRejected) {
    VmMemory mem(one_vm(8));
    PrecopyConfig cfg;
    cfg.channels = 0;
    EXPECT_THROW(Precopy(mem, 0, cfg), std::invalid_argument);
    cfg = PrecopyConfig{};
    cfg.max_rounds = 0;
    EXPECT_THROW(Precopy(mem, 0, cfg), std::invalid_argument);
    cfg = PrecopyConfig{};
    cfg.throttle_initial = 0;
    EXPECT_THROW(Precopy(mem, 0, cfg), std::invalid_argument);
    EXPECT_THROW(Precopy(mem, 1, PrecopyConfig{}), std::invalid_argument);
}

TEST(Scheduler, AtMostMConcurrentMigrations) {
    VmMemory mem(one_vm(4, 0, 0, 5));
    SchedulerConfig cfg;
    cfg.max_concurrent = 2;
    cfg.precopy.channels = 2;
    cfg.order = {4, 3, 2, 1, 0};
    Scheduler s(mem, cfg);
    s.start(0);
    ASSERT_EQ(s.active().size(), 2u);
    EXPECT_EQ(s.active()[0], 4);
    EXPECT_EQ(s.active()[1], 3);
    EXPECT_EQ(s.queued(), 3);
    EXPECT_EQ(s.migration(0).phase(), Phase::queued);
    EXPECT_EQ(s.flow_index(3, 1), 7u);
    Tick now = 0;
    std::vector<std::uint16_t> completion_order;
    std::vector<bool> recorded(5, false);
    while (!s.done() && now < 1000 * kMs) {
        now += kMs;
        s.poll(now);
        EXPECT_LE(s.active().size(), 2u);
        // serve only the first active migration
        if (!s.active().empty()) {
            Precopy& pc = s.migration(s.active()[0]);
            std::vector<PageRef> refs(16);
            refs.resize(pc.next_pages(now, 16, refs.data()));
            for (const PageRef& r : refs)
                pc.on_ack(now, {r.round, r.page, 1});
        }
        for (std::uint16_t v = 0; v < 5; ++v)
            if (s.migration(v).done() && !recorded[v]) {
                recorded[v] = true;
                completion_order.push_back(v);
            }
    }
    ASSERT_TRUE(s.done());
    EXPECT_EQ(completion_order, (std::vector<std::uint16_t>{4, 3, 2, 1, 0}));
    EXPECT_EQ(s.max_active(), 2);
    const SchedulerTotals t = s.totals(now);
    EXPECT_EQ(t.completed, 5);
    EXPECT_EQ(t.pages_sent, 20u);
    SchedulerConfig bad = cfg;
    bad.order = {0, 0, 1, 2, 3};
    EXPECT_THROW(Scheduler(mem, bad), std::invalid_argument);
    bad.max_concurrent = 0;
    EXPECT_THROW(Scheduler(mem, bad), std::invalid_argument);
}

} // namespace
} // namespace flowteam::migration
