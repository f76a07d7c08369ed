// SPDX-License-Identifier: BSD-3-Clause
// Migrations over the embedded testbed: sending team -> emulated member links
// -> switch -> receiving team, back channel receiver -> sender. Every
// scenario must end with every page of every VM verified (destination ==
// source, per-page checksums) — faults only change how it gets there.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

#include "dataplane/engine.h"
#include "dataplane/migrate.h"
#include "migration/wire.h"

namespace {

namespace dp = flowteam::dataplane;
namespace mig = flowteam::migration;

struct Outcome {
    std::uint32_t vms = 0, verified_vms = 0, completed = 0;
    std::uint64_t pages = 0, matched = 0;
    std::uint64_t resent = 0, compressed_pages = 0, duplicate = 0, max_active = 0;
    std::uint64_t frames_received = 0;
    dp::SinkCounters sink{};
    dp::SourceCounters source{};
    mig::WireDropCounters drops{};
    dp::EngineReport rep;
    std::uint32_t channel_flows = 0, flows_on_two_members = 0;
};

dp::MigrateConfig small_config(std::uint16_t vms, std::uint64_t mem) {
    dp::MigrateConfig c;
    mig::VmSpec s;
    s.mem_bytes = mem;
    s.workload.working_set_pages = 256;
    s.workload.dirty_rate = 20000;
    c.memory.vms.assign(vms, s);
    c.memory.seed = 7;
    c.sched.max_concurrent = 2;
    c.sched.precopy.channels = 2;
    return c;
}

dp::EngineOptions testbed(std::uint32_t mtu) {
    dp::EngineOptions o;
    o.links.resize(2);
    o.links[0].rate_bps = 10'000'000'000ull;
    o.links[1].rate_bps = 10'000'000'000ull;
    o.links[0].delay_ns = 10'000;
    o.links[1].delay_ns = 60'000;
    o.mtu = mtu;
    o.traffic_kind = dp::TrafficKind::custom;
    o.duration_ns = 60'000'000'000ull; // safety stop; runs end when the source finishes
    o.max_rx_lcores = 1;
    o.progress = false;
    o.telemetry = false;
    return o;
}

Outcome migrate(dp::MigrateConfig cfg, dp::EngineOptions o) {
    cfg.sender.mtu = o.mtu;
    dp::MigrationSession s(cfg, dp::migrate_tsc_hz());
    o.source_factory = [&s](unsigned) { return s.make_source(); };
    o.sink_factory = [&s](unsigned) { return s.make_sink(); };
    Outcome out;
    out.rep = dp::run_testbed(o);
    const auto& sched = s.scheduler();
    out.vms = sched.vm_count();
    for (std::uint16_t v = 0; v < sched.vm_count(); ++v) {
        const mig::VerifyResult r = s.receiver().verify(v);
        out.pages += r.pages;
        out.matched += r.matched;
        if (r.ok()) ++out.verified_vms;
        if (sched.migration(v).done()) ++out.completed;
        out.frames_received += s.receiver().vm_counters(v).frames;
    }
    const mig::SchedulerTotals t = sched.totals(s.last_tick());
    out.resent = t.resent_pages;
    out.compressed_pages = t.compressed_pages;
    out.duplicate = t.duplicate;
    out.max_active = t.max_active;
    out.sink = s.sink_counters();
    out.source = s.source_counters();
    out.drops = s.receiver().drops();
    for (const auto& cs : s.channel_stats()) {
        ++out.channel_flows;
        std::uint32_t members = 0;
        for (auto n : cs.rx_member) members += n != 0 ? 1u : 0u;
        if (members >= 2) ++out.flows_on_two_members;
    }
    return out;
}

void expect_all_verified(const Outcome& o) {
    EXPECT_EQ(o.completed, o.vms) << "stop reason: " << o.rep.stop_reason;
    EXPECT_EQ(o.verified_vms, o.vms);
    EXPECT_GT(o.pages, 0u);
    EXPECT_EQ(o.matched, o.pages);
    EXPECT_EQ(o.rep.stop_reason, "source finished");
}

std::uint64_t drop(const Outcome& o, mig::WireStatus s) { return o.drops[static_cast<std::size_t>(s)]; }

} // namespace

TEST(Migrate, CleanRunVerified) {
    const Outcome o = migrate(small_config(3, 8u << 20), testbed(1500));
    expect_all_verified(o);
    EXPECT_EQ(o.sink.rejected, 0u);
    EXPECT_EQ(o.sink.not_migration, 0u);
    EXPECT_GT(o.duplicate, 0u); // the content mix has zero pages; they travel flagged
    EXPECT_GT(o.sink.feedback_frames, 0u);
    EXPECT_EQ(o.max_active, 2u); // M = 2 of 3 VMs at once
}

TEST(Migrate, OnePercentLossStillVerifiedWithResends) {
    dp::MigrateConfig c = small_config(2, 8u << 20);
    c.faults.loss_ppm = 10'000; // 1 %
    const Outcome o = migrate(c, testbed(1500));
    expect_all_verified(o);
    EXPECT_GT(o.sink.injected_loss, 0u);
    EXPECT_GT(o.resent, 0u);
}

// The back channel crosses the team's reverse direction: every feedback frame
// the receiver wrote left on a receiving member port, was carried by the wire
// to a sending member port, received there and handed to the Sender — with
// 1 % loss on the forward path, which only the feedback (NACK/page
// requests) and the re-send timer can repair.
TEST(Migrate, FeedbackCrossesReversePathWithLoss) {
    dp::MigrateConfig c = small_config(2, 8u << 20);
    c.faults.loss_ppm = 10'000; // 1 %
    const Outcome o = migrate(c, testbed(1500));
    expect_all_verified(o);
    EXPECT_GT(o.sink.injected_loss, 0u);
    EXPECT_GT(o.sink.feedback_frames, 0u);
    EXPECT_GT(o.rep.feedback_tx, 0u);
    EXPECT_GT(o.rep.reverse_forwarded, 0u);
    EXPECT_GT(o.rep.return_path_rx, 0u);
    EXPECT_GT(o.source.feedback_frames, 0u);
    EXPECT_EQ(o.source.feedback_not_migration, 0u);
    // conservation: written by the sink = sent by the port (nothing refused,
    // nothing lost on the way back: the reverse path is not emulated); what
    // the sender's ports received is what the wire forwarded (or fewer, if
    // the run ended with some still queued), and all of it was migration feedback.
    EXPECT_EQ(o.rep.feedback_tx_full, 0u);
    EXPECT_EQ(o.rep.feedback_tx, o.sink.feedback_frames);
    EXPECT_EQ(o.rep.reverse_full, 0u);
    EXPECT_LE(o.rep.reverse_forwarded, o.rep.feedback_tx);
    EXPECT_LE(o.rep.return_path_rx, o.rep.reverse_forwarded);
    EXPECT_EQ(o.rep.return_path_fed, o.rep.return_path_rx);
    EXPECT_EQ(o.source.feedback_frames, o.rep.return_path_fed);
}

TEST(Migrate, JumboFrames) {
    const Outcome o = migrate(small_config(2, 8u << 20), testbed(9000));
    expect_all_verified(o);
    // one frame per raw page at MTU 9000: frames <= pages sent + control frames
    EXPECT_GT(o.frames_received, 0u);
    EXPECT_LT(o.frames_received, 2 * o.pages + 2000);
}

TEST(Migrate, CompressionIsal) {
    dp::MigrateConfig c = small_config(2, 8u << 20);
    c.compress = dp::MigrateCompress::isal;
    const Outcome o = migrate(c, testbed(1500));
    expect_all_verified(o);
    EXPECT_GT(o.compressed_pages, 0u);
    EXPECT_EQ(drop(o, mig::WireStatus::decompress_failed), 0u);
}

TEST(Migrate, SeveralSimultaneousSeveralChannels) {
    dp::MigrateConfig c = small_config(6, 4u << 20);
    c.sched.max_concurrent = 4;
    c.sched.precopy.channels = 4;
    dp::EngineOptions e = testbed(1500);
    e.team.mode = flowteam::teaming::Mode::hash;
    e.team.teaming = flowteam::teaming::TeamingMode::static_lag;
    const Outcome o = migrate(c, e);
    expect_all_verified(o);
    EXPECT_EQ(o.max_active, 4u);
    EXPECT_EQ(o.channel_flows, 24u);
    // 24 distinct UDP flows hashed over 2 members: both members carry traffic
    EXPECT_GT(o.rep.members[0].tx_packets, 0u);
    EXPECT_GT(o.rep.members[1].tx_packets, 0u);
}

TEST(Migrate, CorruptedAndTruncatedFramesCountedDroppedVerified) {
    dp::MigrateConfig c = small_config(2, 8u << 20);
    c.faults.corrupt_ppm = 5'000;  // 0.5 %
    c.faults.truncate_ppm = 5'000; // 0.5 %
    const Outcome o = migrate(c, testbed(1500));
    expect_all_verified(o);
    EXPECT_GT(o.sink.injected_corrupt, 0u);
    EXPECT_GT(o.sink.injected_truncate, 0u);
    // every injected frame was rejected with a reason (a flipped header byte
    // fails the CRC or a field check; a cut frame is truncated or a length mismatch)
    EXPECT_EQ(o.sink.rejected, o.sink.injected_corrupt + o.sink.injected_truncate);
    std::uint64_t by_reason = 0;
    for (auto n : o.drops) by_reason += n;
    EXPECT_EQ(by_reason, o.sink.rejected);
    EXPECT_GT(drop(o, mig::WireStatus::length_mismatch) + drop(o, mig::WireStatus::truncated), 0u);
    EXPECT_GT(drop(o, mig::WireStatus::bad_checksum) + drop(o, mig::WireStatus::bad_magic), 0u);
}

TEST(Migrate, MemberFailsMidMigration) {
    dp::MigrateConfig c = small_config(4, 16u << 20);
    dp::EngineOptions e = testbed(1500);
    e.team.mode = flowteam::teaming::Mode::hash;
    e.team.teaming = flowteam::teaming::TeamingMode::static_lag;
    e.failures.push_back({1, 30'000'000, std::nullopt}); // member 1 down 30 ms into the run
    const Outcome o = migrate(c, e);
    expect_all_verified(o);
    EXPECT_FALSE(o.rep.members[1].up);
    EXPECT_GT(o.rep.members[0].tx_packets, 0u);
}
