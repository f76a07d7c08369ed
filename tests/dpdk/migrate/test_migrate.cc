// SPDX-License-Identifier: BSD-3-Clause
// Migrations over the embedded testbed: sending team -> emulated member links
// -> switch -> receiving team, back channel receiver -> sender. Every
// scenario must end with every page of every VM verified (destination ==
// source, per-page checksums) — faults only change how it gets there.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <vector>

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
    mig::SchedulerTotals totals{};
    mig::SenderCounters sender{};
    std::uint64_t rx_compressed_pages = 0;       // decompressed and written by the receiver
    std::uint64_t compress_bytes_in = 0, decompress_bytes_out = 0;
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
    out.totals = t;
    out.sender = s.sender().counters();
    for (std::uint16_t v = 0; v < sched.vm_count(); ++v)
        out.rx_compressed_pages += s.receiver().vm_counters(v).compressed_pages;
    out.compress_bytes_in = s.compress_bytes_in();
    out.decompress_bytes_out = s.decompress_bytes_out();
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

// The same VMs without and with deflate (compress_isal): every page verified
// both ways, and what compression did is measured from the stream itself —
// the compressed pages shrank (> 2x: the content model's compressible pages
// are ~3.5x material), the stream of pages with a body shrank, fewer bytes
// went out for the same memory, random pages were skipped by the sample and
// never reached the compressor, and every compressed copy was decompressed.
TEST(Migrate, CompressionShrinksTheStreamEveryPageVerified) {
    dp::MigrateConfig c = small_config(2, 8u << 20);
    dp::EngineOptions e = testbed(1500);
    e.links[0].rate_bps = e.links[1].rate_bps = 1'000'000'000ull;
    const Outcome plain = migrate(c, e);
    c.compress = dp::MigrateCompress::isal;
    const Outcome z = migrate(c, e);
    expect_all_verified(plain);
    expect_all_verified(z);
    EXPECT_EQ(plain.totals.compressed_pages, 0u);
    ASSERT_GT(z.totals.compressed_pages, 0u);
    const double page_ratio = static_cast<double>(z.totals.compressed_pages) * mig::kPageSize /
                              static_cast<double>(z.totals.compressed_bytes);
    EXPECT_GT(page_ratio, 2.0);
    const double body_bytes = static_cast<double>(z.totals.compressed_bytes) +
                              static_cast<double>(z.totals.normal - z.totals.compressed_pages) * mig::kPageSize;
    EXPECT_GT(static_cast<double>(z.totals.normal) * mig::kPageSize / body_bytes, 1.5);
    // bytes per page copy: the compressed stream is well under the plain one
    const double plain_per_page = static_cast<double>(plain.totals.transferred) / plain.totals.pages_sent;
    const double z_per_page = static_cast<double>(z.totals.transferred) / z.totals.pages_sent;
    EXPECT_LT(z_per_page, 0.75 * plain_per_page);
    EXPECT_LT(z.totals.wire_bytes, plain.totals.wire_bytes);
    // random pages never reached the compressor; what did, went through the device
    EXPECT_GT(z.sender.compress_skipped, 0u);
    EXPECT_EQ(z.compress_bytes_in, z.sender.compress_calls * mig::kPageSize);
    // compressed copies were inflated by the receiver's device, page by page
    EXPECT_GT(z.rx_compressed_pages, 0u);
    EXPECT_LE(z.rx_compressed_pages, z.totals.compressed_pages);
    EXPECT_EQ(z.decompress_bytes_out % mig::kPageSize, 0u);
    EXPECT_GE(z.decompress_bytes_out, z.rx_compressed_pages * mig::kPageSize);
    EXPECT_EQ(drop(z, mig::WireStatus::decompress_failed), 0u);
}

// Dynamic Huffman codes (ISA-L level 1: a tree per page; the default is
// fixed codes) and no sample: every non-zero page is tried, random ones come
// back "not shrunk" and go raw.
TEST(Migrate, CompressionDynamicHuffmanNoSampleVerified) {
    dp::MigrateConfig c = small_config(2, 4u << 20);
    c.compress = dp::MigrateCompress::isal;
    c.compress_huffman = dp::CompressHuffman::kDynamic;
    c.sender.compress_sample = false;
    const Outcome o = migrate(c, testbed(1500));
    expect_all_verified(o);
    EXPECT_GT(o.totals.compressed_pages, 0u);
    EXPECT_EQ(o.sender.compress_skipped, 0u);
    EXPECT_GT(o.sender.compress_rejects, 0u);
    EXPECT_EQ(drop(o, mig::WireStatus::decompress_failed), 0u);
}

// Zero-copy asked: the sender hands raw page bodies out by pointer into guest
// memory (TxFrame::ext) and the engine chains them as a second mbuf segment
// (FrameBuf::ext): the receiver sees whole frames (RX linearises them for the
// sink) and every page matches.
void expect_zero_copy_chained(const Outcome& o) {
    expect_all_verified(o);
    EXPECT_GT(o.sender.zero_copy_frames, 0u);
    EXPECT_GT(o.source.ext_segments_attached, 0u);
    // every body the source handed over was chained, or copied / dropped by the engine (counted)
    EXPECT_EQ(o.source.ext_segments_attached + o.source.ext_engine_copied + o.source.ext_engine_dropped,
              o.source.zero_copy_frames);
    EXPECT_EQ(o.source.ext_engine_copied + o.source.ext_engine_dropped, o.source.ext_pool_empty);
    EXPECT_EQ(o.source.ext_segments_released, o.source.ext_segments_attached); // all freed after the drain
    EXPECT_EQ(o.sink.rejected, 0u);
    EXPECT_EQ(o.sink.not_migration, 0u);
}

TEST(Migrate, ZeroCopyChainsGuestSegmentsVerified) {
    dp::MigrateConfig c = small_config(2, 4u << 20);
    c.sender.zero_copy = true;
    const Outcome o = migrate(c, testbed(1500));
    expect_zero_copy_chained(o);
}

TEST(Migrate, ZeroCopyJumboChainsGuestSegmentsVerified) {
    dp::MigrateConfig c = small_config(2, 4u << 20);
    c.sender.zero_copy = true;
    const Outcome o = migrate(c, testbed(9000));
    expect_zero_copy_chained(o);
}

TEST(Migrate, CopyModeAttachesNoSegment) {
    dp::MigrateConfig c = small_config(1, 2u << 20);
    const Outcome o = migrate(c, testbed(1500));
    expect_all_verified(o);
    EXPECT_EQ(o.sender.zero_copy_frames, 0u);
    EXPECT_EQ(o.source.ext_segments_attached, 0u);
    EXPECT_EQ(o.source.ext_segments_released, 0u);
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

// Issue #15 finding 8: with --corrupt the sink copied the UDP payload into a
// scratch buffer of udp_payload_capacity(kMaxMtu) = 9,188 bytes; a chained
// frame carries up to 9,238 - 42. Such a payload is now counted and dropped
// (under ASan the old copy is a heap-buffer-overflow).
TEST(Migrate, OversizePayloadIsCountedAndDroppedUnderCorruption) {
    dp::MigrateConfig c = small_config(1, 1u << 20);
    c.faults.corrupt_ppm = 1'000'000; // every frame goes through the scratch copy
    c.sender.mtu = 9000;
    dp::MigrationSession s(c, dp::migrate_tsc_hz());
    auto sink = s.make_sink();
    const std::uint32_t payload = 9238 - 42;
    std::vector<std::uint8_t> frame(42 + payload, 0xA5);
    dp::build_migrate_headers(frame.data(), 0, 0, payload, false);
    dp::RxFrame f;
    f.data = frame.data();
    f.len = static_cast<std::uint32_t>(frame.size());
    f.pkt_len = f.len;
    sink->on_frames(1, &f, 1);
    EXPECT_EQ(s.sink_counters().oversize, 1u);
    EXPECT_EQ(s.sink_counters().injected_corrupt, 0u);
    EXPECT_EQ(s.sink_counters().accepted + s.sink_counters().rejected, 0u);
    // a payload that fits still goes through corruption and the receiver
    std::vector<std::uint8_t> ok(42 + 100, 0xA5);
    dp::build_migrate_headers(ok.data(), 0, 0, 100, false);
    f.data = ok.data();
    f.len = f.pkt_len = static_cast<std::uint32_t>(ok.size());
    sink->on_frames(2, &f, 1);
    EXPECT_EQ(s.sink_counters().oversize, 1u);
    EXPECT_EQ(s.sink_counters().injected_corrupt, 1u);
    EXPECT_EQ(s.sink_counters().rejected, 1u);
}
