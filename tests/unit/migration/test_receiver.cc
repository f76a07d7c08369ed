// SPDX-License-Identifier: BSD-3-Clause
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

#include "migration/receiver.h"
#include "sim.h"

namespace flowteam::migration {
namespace {

using Frame = std::vector<std::uint8_t>;
constexpr Tick kMs = 1'000'000;

MemoryConfig mem_cfg(std::uint32_t pages = 32, std::uint16_t vms = 1) {
    MemoryConfig c;
    VmSpec s;
    s.mem_bytes = std::uint64_t{pages} * kPageSize;
    s.mix = {0.0, 0.5};
    c.vms.assign(vms, s);
    c.seed = 99;
    return c;
}

// The raw fragments of one page copy as the sender would build them.
std::vector<Frame> page_frames(const VmMemory& m, std::uint16_t vm, std::uint16_t ch, std::uint32_t round,
                               std::uint32_t page, std::uint32_t& seq, std::uint32_t mtu) {
    std::vector<Frame> out;
    const std::uint32_t frag = page_fragment_bytes(mtu);
    for (std::uint32_t off = 0; off < kPageSize; off += frag) {
        FrameHeader h;
        h.type = FrameType::page;
        h.vm = vm;
        h.channel = ch;
        h.round = round;
        h.page = page;
        h.offset = static_cast<std::uint16_t>(off);
        h.payload_len = static_cast<std::uint16_t>(std::min(frag, kPageSize - off));
        h.page_len = kPageSize;
        h.seq = seq++;
        Frame f(kHeaderSize + h.payload_len);
        EXPECT_EQ(encode_frame(h, m.source_page(vm, page) + off, f.data(), f.size()), f.size());
        out.push_back(std::move(f));
    }
    return out;
}

Frame marker(std::uint16_t vm, std::uint16_t ch, std::uint32_t round, std::uint32_t seq) {
    FrameHeader h;
    h.type = FrameType::round_end;
    h.vm = vm;
    h.channel = ch;
    h.round = round;
    h.seq = seq;
    Frame f(kHeaderSize);
    encode_header(h, f.data(), f.size());
    return f;
}

WireStatus feed(Receiver& rx, Tick now, const Frame& f) {
    return rx.on_frame(now, f.data(), f.size());
}

// All back-channel frames due now, decoded.
struct Feedback {
    std::vector<AckEntry> acks;
    std::vector<PageRequest> reqs;
};
Feedback collect(Receiver& rx, Tick now, const WireLimits& lim) {
    Feedback fb;
    std::vector<std::uint8_t> buf(1472);
    FeedbackFrame info;
    for (;;) {
        const std::size_t n = rx.next_feedback(now, buf.data(), buf.size(), info);
        if (n == 0) break;
        FrameView v;
        EXPECT_EQ(decode(buf.data(), n, lim, v), WireStatus::ok);
        for (std::uint32_t i = 0; i < v.h.count; ++i) {
            if (v.h.type == FrameType::ack)
                fb.acks.push_back(ack_entry(v, i));
            else
                fb.reqs.push_back(request_entry(v, i));
        }
    }
    return fb;
}

bool same(const PageRequest& a, std::uint32_t round, std::uint16_t ch, std::uint32_t first,
          std::uint32_t last) {
    return a.round == round && a.channel == ch && a.first_page == first && a.last_page == last;
}

TEST(Receiver, FragmentsInAnyOrderWithDuplicates) {
    VmMemory m(mem_cfg());
    ReceiverConfig rc;
    rc.channels = 1;
    Receiver rx(m, rc);
    std::uint32_t seq = 0;
    auto fr = page_frames(m, 0, 0, 1, 5, seq, 1500);
    ASSERT_EQ(fr.size(), 3u);
    EXPECT_EQ(feed(rx, 0, fr[2]), WireStatus::ok);
    EXPECT_EQ(feed(rx, 0, fr[0]), WireStatus::ok);
    EXPECT_FALSE(rx.page_complete(0, 5));
    EXPECT_EQ(feed(rx, 0, fr[0]), WireStatus::ok); // duplicate fragment
    EXPECT_EQ(feed(rx, 0, fr[1]), WireStatus::ok);
    EXPECT_TRUE(rx.page_complete(0, 5));
    EXPECT_EQ(std::memcmp(m.dest_page(0, 5), m.source_page(0, 5), kPageSize), 0);
    EXPECT_EQ(rx.vm_counters(0).duplicate_frames, 1u); // the fragment (nothing new)
    EXPECT_EQ(rx.vm_counters(0).late_frames, 1u);      // its seq is below cum by then
    EXPECT_EQ(rx.vm_counters(0).completed_copies, 1u);
    rx.poll(0);
    const Feedback fb = collect(rx, 0, rx.limits());
    ASSERT_EQ(fb.acks.size(), 1u);
    EXPECT_EQ(fb.acks[0].round, 1u);
    EXPECT_EQ(fb.acks[0].first_page, 5u);
    EXPECT_EQ(fb.acks[0].count, 1u);
    EXPECT_TRUE(fb.reqs.empty());
}

TEST(Receiver, OlderRoundIsStaleNewerRoundRestartsThePage) {
    VmMemory m(mem_cfg());
    ReceiverConfig rc;
    rc.channels = 1;
    Receiver rx(m, rc);
    std::uint32_t seq = 0;
    auto r1 = page_frames(m, 0, 0, 1, 7, seq, 1500);
    m.touch_page(0, 7); // the guest writes the page: round 2 carries the new content
    auto r2 = page_frames(m, 0, 0, 2, 7, seq, 1500);
    feed(rx, 0, r1[0]);
    for (const auto& f : r2)
        feed(rx, 0, f);
    EXPECT_TRUE(rx.page_complete(0, 7));
    EXPECT_EQ(rx.page_round(0, 7), 2u);
    feed(rx, 0, r1[1]);
    feed(rx, 0, r1[2]);
    EXPECT_EQ(rx.vm_counters(0).stale_frames, 2u);
    EXPECT_EQ(std::memcmp(m.dest_page(0, 7), m.source_page(0, 7), kPageSize), 0);
}

TEST(Receiver, ZeroAndCompressedPages) {
    VmMemory m(mem_cfg());
    test::RleCodec rle;
    ReceiverConfig rc;
    rc.channels = 1;
    Receiver rx(m, rc, &rle);
    std::memset(m.dest_page(0, 3), 0xAB, kPageSize);
    FrameHeader h;
    h.type = FrameType::page;
    h.round = 1;
    h.page = 3;
    h.flags = kFlagZero;
    Frame z(kHeaderSize);
    encode_header(h, z.data(), z.size());
    EXPECT_EQ(feed(rx, 0, z), WireStatus::ok);
    EXPECT_TRUE(page_is_zero(m.dest_page(0, 3)));
    EXPECT_EQ(rx.vm_counters(0).zero_pages, 1u);
    // a run-heavy page through the RLE codec
    std::uint32_t page = 0;
    while (m.initial_class(0, page) != PageClass::compressible)
        ++page;
    // generated pages are deflate material (RLE does not shrink them): give this one long runs
    for (std::uint32_t i = 0; i < kPageSize; ++i)
        m.source_page(0, page)[i] = static_cast<std::uint8_t>(1 + i / 512);
    std::vector<std::uint8_t> c(4096);
    const std::size_t n =
        rle.compress(m.source_page(0, page), kPageSize, c.data(), frame_body_capacity(1500));
    ASSERT_GT(n, 0u);
    h = FrameHeader{};
    h.type = FrameType::page;
    h.round = 1;
    h.page = page;
    h.seq = 1;
    h.flags = kFlagCompressed;
    h.payload_len = h.page_len = static_cast<std::uint16_t>(n);
    Frame cf(kHeaderSize + n);
    ASSERT_EQ(encode_frame(h, c.data(), cf.data(), cf.size()), cf.size());
    EXPECT_EQ(feed(rx, 0, cf), WireStatus::ok);
    EXPECT_EQ(std::memcmp(m.dest_page(0, page), m.source_page(0, page), kPageSize), 0);
    EXPECT_EQ(rx.vm_counters(0).compressed_pages, 1u);
    // a body the decompressor rejects: counted, the page is asked for again
    h.page = page + 1;
    h.seq = 2;
    h.round = 1;
    std::vector<std::uint8_t> junk(n, 0x85); // runs that do not make a 4096-byte page
    ASSERT_EQ(encode_frame(h, junk.data(), cf.data(), cf.size()), cf.size());
    EXPECT_EQ(feed(rx, 0, cf), WireStatus::decompress_failed);
    EXPECT_EQ(rx.drops()[static_cast<std::size_t>(WireStatus::decompress_failed)], 1u);
    EXPECT_FALSE(rx.page_complete(0, page + 1));
    const Feedback fb = collect(rx, 0, rx.limits());
    ASSERT_EQ(fb.reqs.size(), 1u);
    EXPECT_TRUE(same(fb.reqs[0], 1, 0, page + 1, page + 1));
}

// Jumbo frames: one frame per page, seq == page on this channel.
TEST(Receiver, GapBetweenTwoFramesRequestsThePagesBetween) {
    VmMemory m(mem_cfg());
    ReceiverConfig rc;
    rc.channels = 2;
    rc.mtu = 9000;
    rc.reorder_frames = 2;
    Receiver rx(m, rc);
    std::vector<Frame> f;
    std::uint32_t seq = 0;
    for (std::uint32_t p = 0; p < 10; ++p)
        f.push_back(page_frames(m, 0, 1, 1, p, seq, 9000)[0]);
    for (int i : {0, 1, 2, 5})
        feed(rx, 0, f[i]);
    EXPECT_TRUE(collect(rx, 0, rx.limits()).reqs.empty()); // 1 frame past the gap: maybe reordering
    feed(rx, 0, f[6]);                                     // 2 frames past it: lost
    Feedback fb = collect(rx, 0, rx.limits());
    ASSERT_EQ(fb.reqs.size(), 1u);
    EXPECT_TRUE(same(fb.reqs[0], 1, 1, 3, 4));
    EXPECT_EQ(rx.vm_counters(0).lost_frames, 2u);
    // the tail: 8 and 9 lost, then the marker; declared by the timeout
    feed(rx, kMs, f[7]);
    feed(rx, kMs, marker(0, 1, 1, 10));
    rx.poll(2 * kMs);
    fb = collect(rx, 2 * kMs, rx.limits());
    EXPECT_TRUE(fb.reqs.empty());
    // acks: 0-2, 5-7 as two runs (closed by the gap / the marker)
    ASSERT_EQ(fb.acks.size(), 2u);
    EXPECT_EQ(fb.acks[0].first_page, 0u);
    EXPECT_EQ(fb.acks[0].count, 3u);
    EXPECT_EQ(fb.acks[1].first_page, 5u);
    EXPECT_EQ(fb.acks[1].count, 3u);
    rx.poll(3 * kMs); // marker is 2 ms old
    fb = collect(rx, 3 * kMs, rx.limits());
    ASSERT_EQ(fb.reqs.size(), 1u);
    EXPECT_TRUE(same(fb.reqs[0], 1, 1, 8, 31)); // everything after page 7 of round 1
    // a late arrival is still applied
    EXPECT_EQ(feed(rx, 3 * kMs, f[3]), WireStatus::ok);
    EXPECT_TRUE(rx.page_complete(0, 3));
    EXPECT_EQ(rx.vm_counters(0).late_frames, 1u);
}

TEST(Receiver, GapAcrossRoundsAndAtFlowStart) {
    VmMemory m(mem_cfg());
    ReceiverConfig rc;
    rc.channels = 1;
    rc.mtu = 9000;
    rc.reorder_frames = 1;
    Receiver rx(m, rc);
    std::uint32_t seq = 0;
    auto a0 = page_frames(m, 0, 0, 1, 0, seq, 9000)[0]; // seq 0 (lost)
    auto a1 = page_frames(m, 0, 0, 1, 1, seq, 9000)[0]; // seq 1
    auto a5 = page_frames(m, 0, 0, 1, 5, seq, 9000)[0]; // seq 2 (lost)
    ++seq;                                              // seq 3: round 1 marker (lost)
    auto b2 = page_frames(m, 0, 0, 2, 2, seq, 9000)[0]; // seq 4
    feed(rx, 0, a1);
    Feedback fb = collect(rx, 0, rx.limits());
    ASSERT_EQ(fb.reqs.size(), 1u);
    EXPECT_TRUE(same(fb.reqs[0], 1, 0, 0, 0)); // before the first frame: pages < 1 of round 1
    feed(rx, 0, b2);
    fb = collect(rx, 0, rx.limits());
    ASSERT_EQ(fb.reqs.size(), 2u);
    EXPECT_TRUE(same(fb.reqs[0], 1, 0, 2, 31)); // rest of round 1
    EXPECT_TRUE(same(fb.reqs[1], 2, 0, 0, 1));  // round 2 before page 2
    (void)a0;
    (void)a5;
}

TEST(Receiver, PartialPageAtTheGapIsRequested) {
    VmMemory m(mem_cfg());
    ReceiverConfig rc;
    rc.channels = 1;
    rc.reorder_frames = 1;
    Receiver rx(m, rc);
    std::uint32_t seq = 0;
    auto p4 = page_frames(m, 0, 0, 1, 4, seq, 1500); // seqs 0..2
    auto p6 = page_frames(m, 0, 0, 1, 6, seq, 1500); // seqs 3..5
    feed(rx, 0, p4[0]);
    feed(rx, 0, p4[1]);
    // p4[2], p6[0] lost
    feed(rx, 0, p6[1]);
    const Feedback fb = collect(rx, 0, rx.limits());
    ASSERT_EQ(fb.reqs.size(), 1u);
    EXPECT_TRUE(same(fb.reqs[0], 1, 0, 4, 6)); // both boundary pages are incomplete
}

TEST(Receiver, SeqFarBeyondTheWindowForcesDeclarations) {
    VmMemory m(mem_cfg());
    ReceiverConfig rc;
    rc.channels = 1;
    rc.mtu = 9000;
    rc.window = 64;
    rc.reorder_frames = 32;
    Receiver rx(m, rc);
    std::uint32_t seq = 0;
    feed(rx, 0, page_frames(m, 0, 0, 1, 0, seq, 9000)[0]);
    seq = 10;
    feed(rx, 0, page_frames(m, 0, 0, 1, 2, seq, 9000)[0]);
    seq = 1000;
    feed(rx, 0, page_frames(m, 0, 0, 1, 9, seq, 9000)[0]);
    const Feedback fb = collect(rx, 0, rx.limits());
    ASSERT_EQ(fb.reqs.size(), 2u);
    EXPECT_TRUE(same(fb.reqs[0], 1, 0, 1, 1));
    EXPECT_TRUE(same(fb.reqs[1], 1, 0, 3, 8));
    EXPECT_EQ(rx.vm_counters(0).lost_frames, 9u + 989u);
}

TEST(Receiver, InvalidFramesAreCountedByReasonAndDropped) {
    VmMemory m(mem_cfg(32, 2));
    ReceiverConfig rc;
    rc.channels = 2;
    Receiver rx(m, rc);
    WireDropCounters want{};
    std::uint64_t n = 0;
    for (const test::BadFrame& b : test::invalid_frames(rx.limits())) {
        EXPECT_EQ(rx.on_frame(0, b.bytes.data(), b.bytes.size()), b.why) << b.what;
        ++want[static_cast<std::size_t>(b.why)];
        ++n;
    }
    // a valid back-channel frame on the forward path
    const AckEntry a[1] = {{1, 0, 1}};
    Frame f(200);
    f.resize(encode_acks(FrameHeader{}, a, 1, f.data(), f.size()));
    EXPECT_EQ(feed(rx, 0, f), WireStatus::unexpected_type);
    ++want[static_cast<std::size_t>(WireStatus::unexpected_type)];
    ++n;
    for (std::size_t i = 0; i < kWireStatusCount; ++i)
        EXPECT_EQ(rx.drops()[i], want[i]) << to_string(static_cast<WireStatus>(i));
    EXPECT_EQ(rx.dropped_total(), n);
    // nothing was applied, acknowledged or requested
    EXPECT_EQ(rx.vm_counters(0).frames + rx.vm_counters(1).frames, 0u);
    for (std::uint32_t p = 0; p < 32; ++p)
        EXPECT_TRUE(page_is_zero(m.dest_page(0, p)));
    rx.poll(0);
    FeedbackFrame info;
    std::vector<std::uint8_t> buf(1472);
    EXPECT_EQ(rx.next_feedback(0, buf.data(), buf.size(), info), 0u);
    // and the receiver still works
    std::uint32_t seq = 0;
    EXPECT_EQ(feed(rx, 0, page_frames(m, 1, 1, 1, 3, seq, 1500)[0]), WireStatus::ok);
}

TEST(Receiver, VerifyReportsMismatches) {
    VmMemory m(mem_cfg(8));
    ReceiverConfig rc;
    rc.channels = 1;
    rc.mtu = 9000;
    Receiver rx(m, rc);
    std::uint32_t seq = 0;
    for (std::uint32_t p = 0; p < 8; ++p)
        if (p != 6) feed(rx, 0, page_frames(m, 0, 0, 1, p, seq, 9000)[0]);
    VerifyResult v = rx.verify(0);
    EXPECT_FALSE(v.ok());
    EXPECT_EQ(v.pages, 8u);
    EXPECT_EQ(v.never_received, 1u);
    ASSERT_EQ(v.mismatched, 1u); // page 6 is not a zero page (mix has none)
    EXPECT_EQ(v.first_mismatches[0], 6u);
    feed(rx, 0, page_frames(m, 0, 0, 1, 6, seq, 9000)[0]);
    v = rx.verify(0);
    EXPECT_TRUE(v.ok());
    const auto sums = m.source_checksums(0);
    EXPECT_TRUE(rx.verify(0, sums.data(), sums.size()).ok());
    m.dest_page(0, 2)[100] ^= 1;
    v = rx.verify(0, sums.data(), sums.size());
    EXPECT_EQ(v.mismatched, 1u);
    EXPECT_EQ(v.first_mismatches[0], 2u);
}

} // namespace
} // namespace flowteam::migration
