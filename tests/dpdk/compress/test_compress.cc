// SPDX-License-Identifier: BSD-3-Clause
// dataplane/compress: DEFLATE over compressdev (compress_isal, compress_zlib)
// on the testbed EAL (--no-huge).
#include "dataplane/compress.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/eal.h"
#include "dataplane/lcores.h"

namespace flowteam::dataplane {
namespace {

constexpr std::uint32_t kPage = 4096;
using Page = std::vector<std::uint8_t>;

// ------------------------------------------------------------ page content

Page zero_page() { return Page(kPage, 0); }

Page random_page(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Page p(kPage);
    for (std::size_t i = 0; i < kPage; i += 8) {
        const std::uint64_t v = rng();
        std::memcpy(p.data() + i, &v, 8);
    }
    return p;
}

void fill_text(std::uint8_t* p, std::size_t n, std::mt19937_64& rng) {
    static const char* const kWords[] = {"the", "migration", "page", "of", "memory", "guest", "kernel",
                                         "and", "to", "a", "network", "team", "member", "flow", "in",
                                         "packet", "virtual", "machine", "is", "dirty", "round", "copy"};
    constexpr std::size_t kN = sizeof(kWords) / sizeof(kWords[0]);
    std::size_t i = 0;
    while (i < n) {
        const char* w = kWords[rng() % kN];
        for (; *w != '\0' && i < n; ++w) p[i++] = static_cast<std::uint8_t>(*w);
        if (i < n) p[i++] = (rng() % 12 == 0) ? '\n' : ' ';
    }
}

Page text_page(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Page p(kPage);
    fill_text(p.data(), kPage, rng);
    return p;
}

// Guest-like: 64-byte chunks of zeros, small integers, pointers, text, noise.
Page mixed_page(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Page p(kPage, 0);
    for (std::size_t off = 0; off < kPage; off += 64) {
        std::uint8_t* c = p.data() + off;
        const unsigned kind = static_cast<unsigned>(rng() % 10);
        if (kind < 4) continue;                                  // zeros
        if (kind < 6) {                                          // small ints
            for (std::size_t i = 0; i < 64; i += 4) {
                const std::uint32_t v = static_cast<std::uint32_t>(rng() % 256);
                std::memcpy(c + i, &v, 4);
            }
        } else if (kind < 8) {                                   // pointers
            for (std::size_t i = 0; i < 64; i += 8) {
                const std::uint64_t v = 0x00007f3a00000000ull | ((rng() & 0xFFFFFull) << 3);
                std::memcpy(c + i, &v, 8);
            }
        } else if (kind < 9) {
            fill_text(c, 64, rng);
        } else {
            for (std::size_t i = 0; i < 64; ++i) c[i] = static_cast<std::uint8_t>(rng());
        }
    }
    return p;
}

CompressConfig config_for(const std::string& driver, CompressBuffers b = CompressBuffers::kAuto) {
    CompressConfig c;
    c.driver = driver;
    c.buffers = b;
    return c;
}

// Compresses `pages` on the engine's current lane, then decompresses and
// compares. Returns compressed sizes (0 = not shrunk).
struct RoundTrip {
    std::vector<std::uint32_t> sizes;
    std::vector<PageStatus> comp_status;
    std::vector<Page> streams;
};

RoundTrip compress_all(CompressEngine& e, const std::vector<Page>& pages, std::uint32_t cap = kPage) {
    const std::size_t n = pages.size();
    RoundTrip r;
    r.streams.assign(n, Page(cap));
    std::vector<PageIn> in(n);
    std::vector<PageOut> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        in[i] = {pages[i].data(), static_cast<std::uint32_t>(pages[i].size())};
        out[i] = {r.streams[i].data(), cap, 0xDEAD, PageStatus::kOther};
    }
    const std::size_t ok = e.compress_batch(in.data(), n, out.data());
    std::size_t counted = 0;
    for (std::size_t i = 0; i < n; ++i) {
        r.sizes.push_back(out[i].len);
        r.comp_status.push_back(out[i].status);
        if (out[i].status == PageStatus::kOk) {
            ++counted;
            r.streams[i].resize(out[i].len);
        } else {
            EXPECT_EQ(out[i].len, 0u) << "page " << i;
            r.streams[i].clear();
        }
    }
    EXPECT_EQ(ok, counted);
    return r;
}

void expect_decompresses_to(CompressEngine& e, const std::vector<Page>& pages, const RoundTrip& r) {
    std::vector<PageIn> in;
    std::vector<PageOut> out;
    std::vector<Page> back;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < pages.size(); ++i) {
        if (r.comp_status[i] != PageStatus::kOk) continue;
        which.push_back(i);
        back.emplace_back(kPage, 0xA5);
    }
    for (std::size_t k = 0; k < which.size(); ++k) {
        const Page& s = r.streams[which[k]];
        in.push_back({s.data(), static_cast<std::uint32_t>(s.size())});
        out.push_back({back[k].data(), kPage, 0, PageStatus::kOther});
    }
    const std::size_t ok = e.decompress_batch(in.data(), in.size(), out.data(), kPage);
    EXPECT_EQ(ok, which.size());
    for (std::size_t k = 0; k < which.size(); ++k) {
        EXPECT_EQ(out[k].status, PageStatus::kOk) << "page " << which[k] << ": " << to_string(out[k].status);
        EXPECT_EQ(out[k].len, kPage);
        EXPECT_TRUE(back[k] == pages[which[k]]) << "page " << which[k] << " differs after the round trip";
    }
}

void expect_invariants(const CodecCounters& c) {
    EXPECT_EQ(c.pages_in, c.pages_ok + c.not_shrunk + c.no_room + c.rejected + c.errors());
}

// -------------------------------------------------------------- config

TEST(CompressConfigTest, DefaultsAreValid) {
    CompressConfig c;
    EXPECT_NO_THROW(validate(c));
    EXPECT_EQ(c.driver, "compress_isal");
    EXPECT_EQ(c.level, 1);
    EXPECT_EQ(c.queue_depth, 64);
    EXPECT_EQ(c.max_page, 4096u);
}

void expect_bad(const CompressConfig& c, const std::string& field) {
    try {
        validate(c);
        ADD_FAILURE() << "no error for " << field;
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(field), std::string::npos) << what;
        EXPECT_NE(what.find("allowed"), std::string::npos) << what;
        EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    }
}

TEST(CompressConfigTest, BadFieldsNameTheFieldAndTheAllowedValues) {
    CompressConfig c;
    c.level = 0;
    expect_bad(c, "compress level");
    c.level = 10;
    expect_bad(c, "compress level");
    c = {};
    c.queue_depth = 0;
    expect_bad(c, "compress queue-depth");
    c.queue_depth = 4096;
    expect_bad(c, "compress queue-depth");
    c = {};
    c.max_page = 63;
    expect_bad(c, "compress max-page");
    c.max_page = 70000;
    expect_bad(c, "compress max-page");
    c = {};
    c.driver = "";
    expect_bad(c, "compress driver");
    c.driver = "bad driver";
    expect_bad(c, "compress driver");
    c = {};
    c.poll_timeout_us = 0;
    expect_bad(c, "compress poll-timeout-us");
    c = {};
    c.lcores = {0, 0};
    try {
        validate(c);
        ADD_FAILURE() << "duplicate lcore accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("compress lcores"), std::string::npos);
    }
}

TEST(CompressConfigTest, ParseHelpers) {
    EXPECT_EQ(parse_huffman("fixed"), CompressHuffman::kFixed);
    EXPECT_EQ(parse_huffman("dynamic"), CompressHuffman::kDynamic);
    EXPECT_EQ(parse_buffers("copy"), CompressBuffers::kCopy);
    EXPECT_EQ(parse_buffers("external"), CompressBuffers::kExternal);
    EXPECT_THROW(parse_huffman("static"), std::invalid_argument);
    EXPECT_THROW(parse_buffers("zero-copy"), std::invalid_argument);
    EXPECT_STREQ(to_string(PageStatus::kNotShrunk), "not-shrunk");
}

TEST(CompressEngineTest, UnknownDriverListsWhatIsAvailable) {
    try {
        CompressEngine e(config_for("compress_nope"));
        FAIL() << "engine built on an unknown driver";
    } catch (const std::invalid_argument& ex) {
        const std::string what = ex.what();
        EXPECT_NE(what.find("compress driver"), std::string::npos) << what;
        EXPECT_NE(what.find("compress_isal"), std::string::npos) << what;
        EXPECT_NE(what.find("compress_zlib"), std::string::npos) << what;
        EXPECT_NE(what.find("probed"), std::string::npos) << what;
    }
}

TEST(CompressEngineTest, LcoreNotEnabledIsRejected) {
    CompressConfig c;
    c.lcores = {100};                       // < RTE_MAX_LCORE, never enabled on the testbed
    EXPECT_THROW(CompressEngine e(c), std::invalid_argument);
}

// ------------------------------------------------------------- engine

class DriverTest : public ::testing::TestWithParam<std::tuple<std::string, CompressBuffers>> {
protected:
    CompressConfig cfg() const { return config_for(std::get<0>(GetParam()), std::get<1>(GetParam())); }
};

TEST_P(DriverTest, DeviceIsConfiguredReleasedAndReused) {
    std::string name;
    {
        CompressEngine e(cfg());
        const auto& d = e.device();
        name = d.name;
        EXPECT_EQ(d.name.rfind(std::get<0>(GetParam()) + "_ft", 0), 0u) << d.name;
        EXPECT_EQ(d.driver, std::get<0>(GetParam()));
        EXPECT_FALSE(d.hardware);
        EXPECT_EQ(d.queue_pairs, e.lane_count());
        EXPECT_GE(e.lane_count(), 1u);
        EXPECT_NE(d.buffers, CompressBuffers::kAuto);
        if (std::get<1>(GetParam()) == CompressBuffers::kAuto) {
            EXPECT_EQ(d.buffers, CompressBuffers::kExternal);
        }
        EXPECT_EQ(d.window_log2, 15);
        EXPECT_FALSE(d.features.empty());
        ASSERT_NE(e.current_lane(), nullptr) << "the main lcore has a lane";
        EXPECT_EQ(e.current_lane(), e.lane_for_lcore(e.current_lane()->lcore()));
    }
    // Released, not destroyed: the next engine of the driver gets the same device, and it works.
    CompressEngine again(cfg());
    EXPECT_EQ(again.device().name, name);
    EXPECT_FALSE(again.device().created);
    const auto pages = std::vector<Page>{text_page(3)};
    const RoundTrip r = compress_all(again, pages);
    EXPECT_EQ(r.comp_status[0], PageStatus::kOk);
    expect_decompresses_to(again, pages, r);
}

TEST_P(DriverTest, RoundTripZeroTextRandomMixed) {
    CompressEngine e(cfg());
    std::vector<Page> pages;
    pages.push_back(zero_page());
    for (std::uint64_t s = 1; s <= 8; ++s) pages.push_back(text_page(s));
    for (std::uint64_t s = 1; s <= 8; ++s) pages.push_back(mixed_page(100 + s));
    for (std::uint64_t s = 1; s <= 4; ++s) pages.push_back(random_page(200 + s));
    const RoundTrip r = compress_all(e, pages);

    // Zero page: a few bytes of Huffman-coded matches.
    EXPECT_EQ(r.comp_status[0], PageStatus::kOk);
    EXPECT_GT(r.sizes[0], 0u);
    EXPECT_LT(r.sizes[0], 64u);
    // Text from a 22-word dictionary: well over 2:1.
    for (std::size_t i = 1; i <= 8; ++i) {
        EXPECT_EQ(r.comp_status[i], PageStatus::kOk);
        EXPECT_LT(r.sizes[i], kPage / 2) << "text page " << i;
    }
    // Mixed guest-like pages shrink (40 % zero chunks alone give that).
    for (std::size_t i = 9; i <= 16; ++i) {
        EXPECT_EQ(r.comp_status[i], PageStatus::kOk);
        EXPECT_LT(r.sizes[i], kPage) << "mixed page " << i;
    }
    // Random pages do not shrink: reported, not an error.
    for (std::size_t i = 17; i <= 20; ++i) {
        EXPECT_EQ(r.comp_status[i], PageStatus::kNotShrunk) << to_string(r.comp_status[i]);
        EXPECT_EQ(r.sizes[i], 0u);
    }
    expect_decompresses_to(e, pages, r);

    const CompressStats st = e.stats();
    const CodecCounters& c = st.compress;
    EXPECT_EQ(c.calls, 1u);
    EXPECT_EQ(c.pages_in, pages.size());
    EXPECT_EQ(c.bytes_in, pages.size() * kPage);
    EXPECT_EQ(c.pages_ok, 17u);
    EXPECT_EQ(c.not_shrunk, 4u);
    EXPECT_EQ(c.bytes_raw, 4u * kPage);
    EXPECT_EQ(c.bytes_in_ok, 17u * kPage);
    std::uint64_t produced = 0;
    for (auto s : r.sizes) produced += s;
    EXPECT_EQ(c.bytes_out, produced);
    EXPECT_EQ(c.errors(), 0u);
    expect_invariants(c);
    EXPECT_DOUBLE_EQ(c.ratio(), static_cast<double>(21 * kPage) / static_cast<double>(produced + 4 * kPage));
    EXPECT_DOUBLE_EQ(c.compressed_ratio(), static_cast<double>(17 * kPage) / static_cast<double>(produced));
    EXPECT_GT(c.cycles, 0u);
    EXPECT_GT(c.cycles_per_byte(), 0.0);

    const CodecCounters& d = st.decompress;
    EXPECT_EQ(d.pages_in, 17u);
    EXPECT_EQ(d.pages_ok, 17u);
    EXPECT_EQ(d.bytes_in, produced);
    EXPECT_EQ(d.bytes_out, 17u * kPage);
    EXPECT_EQ(d.errors(), 0u);
    expect_invariants(d);
    EXPECT_DOUBLE_EQ(d.ratio(), c.compressed_ratio());
    EXPECT_GT(st.compress_gbps(), 0.0);
    EXPECT_GT(st.decompress_gbps(), 0.0);

    e.reset_stats();
    EXPECT_EQ(e.stats().compress.pages_in, 0u);
}

TEST_P(DriverTest, SmallCapacityIsNoRoomAndCounted) {
    CompressEngine e(cfg());
    const std::vector<Page> pages = {text_page(7)};
    const RoundTrip full = compress_all(e, pages);
    ASSERT_EQ(full.comp_status[0], PageStatus::kOk);
    ASSERT_GT(full.sizes[0], 17u);
    e.reset_stats();
    const RoundTrip small = compress_all(e, pages, 16);
    EXPECT_EQ(small.comp_status[0], PageStatus::kNoRoom);
    EXPECT_EQ(small.sizes[0], 0u);
    // PMDs want a little slack past the stream (measured: ISA-L 7 bytes, it
    // stores 8-byte words; zlib 1 byte): size + 8 always fits, size - 1 never.
    const RoundTrip slack = compress_all(e, pages, full.sizes[0] + 8);
    EXPECT_EQ(slack.comp_status[0], PageStatus::kOk) << to_string(slack.comp_status[0]);
    EXPECT_EQ(slack.sizes[0], full.sizes[0]);
    EXPECT_TRUE(slack.streams[0] == full.streams[0]);
    const RoundTrip short_by_one = compress_all(e, pages, full.sizes[0] - 1);
    EXPECT_EQ(short_by_one.comp_status[0], PageStatus::kNoRoom);
    const CodecCounters c = e.stats().compress;
    EXPECT_EQ(c.no_room, 2u);
    EXPECT_EQ(c.pages_ok, 1u);
    EXPECT_EQ(c.bytes_raw, 2u * kPage);
    EXPECT_EQ(c.errors(), 0u);
    expect_invariants(c);
}

TEST_P(DriverTest, DecompressIntoSmallCapacityIsOutOfSpace) {
    CompressEngine e(cfg());
    const std::vector<Page> pages = {text_page(11)};
    const RoundTrip r = compress_all(e, pages);
    ASSERT_EQ(r.comp_status[0], PageStatus::kOk);
    Page back(kPage, 0);
    PageIn in{r.streams[0].data(), static_cast<std::uint32_t>(r.streams[0].size())};
    PageOut out{back.data(), 1000, 0, PageStatus::kOk};
    EXPECT_EQ(e.decompress_batch(&in, 1, &out), 0u);
    EXPECT_EQ(out.status, PageStatus::kOutOfSpace) << to_string(out.status);
    EXPECT_EQ(out.len, 0u);
    const CodecCounters d = e.stats().decompress;
    EXPECT_EQ(d.err_out_of_space, 1u);
    expect_invariants(d);
}

TEST_P(DriverTest, CorruptStreamsAreErrorsNotCrashes) {
    CompressEngine e(cfg());
    std::vector<Page> streams;
    // BFINAL=1, BTYPE=11 (reserved): invalid at the third bit.
    streams.push_back(Page{0x07, 0x00, 0x00, 0x00});
    // Stored block whose NLEN is not the complement of LEN.
    streams.push_back(Page{0x01, 0x10, 0x00, 0x00, 0x00, 'a', 'b'});
    // A valid stream cut in half: too short (expect 4096).
    const std::vector<Page> text = {text_page(21)};
    const RoundTrip r = compress_all(e, text);
    ASSERT_EQ(r.comp_status[0], PageStatus::kOk);
    streams.emplace_back(r.streams[0].begin(), r.streams[0].begin() + static_cast<long>(r.streams[0].size() / 2));
    // Seeded garbage.
    for (std::uint64_t s = 0; s < 32; ++s) {
        Page g = random_page(900 + s);
        g.resize(64 + (s * 97) % 2000);
        streams.push_back(g);
    }
    e.reset_stats();
    std::vector<Page> back(streams.size(), Page(kPage, 0));
    std::vector<PageIn> in;
    std::vector<PageOut> out;
    for (std::size_t i = 0; i < streams.size(); ++i) {
        in.push_back({streams[i].data(), static_cast<std::uint32_t>(streams[i].size())});
        out.push_back({back[i].data(), kPage, 0, PageStatus::kOk});
    }
    EXPECT_EQ(e.decompress_batch(in.data(), in.size(), out.data(), kPage), 0u);
    EXPECT_EQ(out[0].status, PageStatus::kError) << to_string(out[0].status);
    EXPECT_EQ(out[1].status, PageStatus::kError) << to_string(out[1].status);
    EXPECT_TRUE(out[2].status == PageStatus::kLength || out[2].status == PageStatus::kError)
        << to_string(out[2].status);
    for (std::size_t i = 0; i < out.size(); ++i) {
        EXPECT_NE(out[i].status, PageStatus::kOk) << "stream " << i;
        EXPECT_EQ(out[i].len, 0u);
    }
    const CodecCounters d = e.stats().decompress;
    EXPECT_EQ(d.pages_in, streams.size());
    EXPECT_EQ(d.pages_ok, 0u);
    EXPECT_EQ(d.errors(), streams.size());
    EXPECT_GE(d.err_error, 2u);
    expect_invariants(d);

    // The lane still works afterwards.
    const RoundTrip again = compress_all(e, text);
    expect_decompresses_to(e, text, again);
}

TEST_P(DriverTest, BitFlipsNeverCrashAndAreCounted) {
    CompressEngine e(cfg());
    const std::vector<Page> pages = {mixed_page(5)};
    const RoundTrip r = compress_all(e, pages);
    ASSERT_EQ(r.comp_status[0], PageStatus::kOk);
    std::mt19937_64 rng(77);
    e.reset_stats();
    std::size_t differ_or_fail = 0;
    for (int k = 0; k < 200; ++k) {
        Page s = r.streams[0];
        const std::size_t bit = rng() % ((s.size() - 1) * 8);   // not the padding of the last byte
        s[bit / 8] = static_cast<std::uint8_t>(s[bit / 8] ^ (1u << (bit % 8)));
        Page back(kPage, 0);
        PageIn in{s.data(), static_cast<std::uint32_t>(s.size())};
        PageOut out{back.data(), kPage, 0, PageStatus::kOk};
        e.decompress_batch(&in, 1, &out, kPage);
        if (out.status != PageStatus::kOk || back != pages[0]) ++differ_or_fail;
    }
    // DEFLATE has no checksum: a flip may decode to another page of the
    // right length, but it almost never decodes to the same page.
    EXPECT_GE(differ_or_fail, 190u);
    const CodecCounters d = e.stats().decompress;
    EXPECT_EQ(d.pages_in, 200u);
    expect_invariants(d);
}

TEST_P(DriverTest, RejectsBadPagesWithoutSubmitting) {
    CompressEngine e(cfg());
    Page p = text_page(1);
    Page big(kPage + 1, 'x');
    Page buf(kPage);
    std::array<PageIn, 5> in = {PageIn{nullptr, kPage}, PageIn{p.data(), 0},
                                PageIn{big.data(), kPage + 1}, PageIn{p.data(), kPage}, PageIn{p.data(), 1}};
    std::array<PageOut, 5> out = {PageOut{buf.data(), kPage, 0, PageStatus::kOk},
                                  PageOut{buf.data(), kPage, 0, PageStatus::kOk},
                                  PageOut{buf.data(), kPage, 0, PageStatus::kOk},
                                  PageOut{nullptr, kPage, 0, PageStatus::kOk},
                                  PageOut{buf.data(), kPage, 0, PageStatus::kOk}};
    EXPECT_EQ(e.compress_batch(in.data(), in.size(), out.data()), 0u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)].status, PageStatus::kRejected) << i;
    EXPECT_EQ(out[4].status, PageStatus::kNotShrunk);         // one byte cannot shrink
    const CodecCounters c = e.stats().compress;
    EXPECT_EQ(c.rejected, 4u);
    EXPECT_EQ(c.not_shrunk, 1u);
    expect_invariants(c);
}

TEST_P(DriverTest, BatchLargerThanTheQueue) {
    CompressConfig c = cfg();
    c.queue_depth = 4;
    CompressEngine e(c);
    std::vector<Page> pages;
    for (std::uint64_t s = 0; s < 150; ++s) pages.push_back(s % 3 == 0 ? text_page(s) : mixed_page(s));
    const RoundTrip r = compress_all(e, pages);
    for (std::size_t i = 0; i < pages.size(); ++i) EXPECT_EQ(r.comp_status[i], PageStatus::kOk) << i;
    expect_decompresses_to(e, pages, r);
    EXPECT_LE(e.device().slots_per_lane, 4u);
}

TEST_P(DriverTest, FixedHuffmanAndLevel9) {
    for (const auto& [h, level] : {std::pair{CompressHuffman::kFixed, 1}, std::pair{CompressHuffman::kDynamic, 9},
                                   std::pair{CompressHuffman::kDefault, 3}}) {
        CompressConfig c = cfg();
        c.huffman = h;
        c.level = level;
        CompressEngine e(c);
        std::vector<Page> pages = {text_page(31), mixed_page(32), zero_page()};
        const RoundTrip r = compress_all(e, pages);
        for (std::size_t i = 0; i < pages.size(); ++i)
            EXPECT_EQ(r.comp_status[i], PageStatus::kOk) << to_string(h) << " level " << level;
        expect_decompresses_to(e, pages, r);
    }
}

TEST_P(DriverTest, MigrationCodecAdapter) {
    CompressEngine e(cfg());
    ASSERT_NE(e.current_lane(), nullptr);
    DeflateCodec codec(*e.current_lane());
    migration::Compressor& comp = codec;
    migration::Decompressor& decomp = codec;

    const Page text = text_page(41);
    Page wire(1408);                         // one MTU-1500 frame body
    const std::size_t n = comp.compress(text.data(), text.size(), wire.data(), wire.size());
    ASSERT_GT(n, 0u);
    ASSERT_LT(n, 1408u);
    Page back(kPage, 0);
    EXPECT_EQ(decomp.decompress(wire.data(), n, back.data(), back.size()), kPage);
    EXPECT_TRUE(back == text);

    const Page noise = random_page(42);
    EXPECT_EQ(comp.compress(noise.data(), noise.size(), wire.data(), wire.size()), 0u);
    EXPECT_EQ(codec.last_status(), PageStatus::kNoRoom);     // cap 1408 < 4095
    Page big(kPage + 64);
    EXPECT_EQ(comp.compress(noise.data(), noise.size(), big.data(), big.size()), 0u);
    EXPECT_EQ(codec.last_status(), PageStatus::kNotShrunk);

    const Page garbage = {0x07, 1, 2, 3};
    EXPECT_EQ(decomp.decompress(garbage.data(), garbage.size(), back.data(), back.size()), 0u);
    EXPECT_EQ(codec.last_status(), PageStatus::kError);
    // Never writes past cap: a 4 KiB page into 100 bytes.
    Page small(100 + 16, 0xEE);
    EXPECT_EQ(decomp.decompress(wire.data(), n, small.data(), 100), 0u);
    for (std::size_t i = 100; i < small.size(); ++i) EXPECT_EQ(small[i], 0xEE) << i;
}

// Caller buffers that end right before a PROT_NONE page: a PMD reading past
// src+len or writing past dst+cap faults (ASan cannot see into the PMDs).
class GuardedBuffer {
public:
    explicit GuardedBuffer(std::size_t len) : len_(len) {
        page_ = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        span_ = ((len + page_ - 1) / page_ + 1) * page_;
        base_ = ::mmap(nullptr, span_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base_ != MAP_FAILED) ::mprotect(static_cast<std::uint8_t*>(base_) + span_ - page_, page_, PROT_NONE);
    }
    ~GuardedBuffer() {
        if (base_ != MAP_FAILED) ::munmap(base_, span_);
    }
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;
    bool ok() const { return base_ != MAP_FAILED; }
    std::uint8_t* data() { return static_cast<std::uint8_t*>(base_) + span_ - page_ - len_; }

private:
    std::size_t len_, page_ = 0, span_ = 0;
    void* base_ = MAP_FAILED;
};

TEST_P(DriverTest, NeverTouchesPastCallerBuffers) {
    CompressEngine e(cfg());
    for (std::uint64_t seed = 0; seed < 24; ++seed) {
        const Page page = seed % 3 == 0 ? text_page(seed) : seed % 3 == 1 ? mixed_page(seed) : random_page(seed);
        GuardedBuffer src(kPage);
        GuardedBuffer dst(1408);
        ASSERT_TRUE(src.ok() && dst.ok());
        std::memcpy(src.data(), page.data(), kPage);
        PageIn in{src.data(), kPage};
        PageOut out{dst.data(), 1408, 0, PageStatus::kOk};
        e.compress_batch(&in, 1, &out);
        if (out.status != PageStatus::kOk) continue;
        // Decompress the stream from the end of a guarded buffer into a guarded page.
        GuardedBuffer s2(out.len);
        GuardedBuffer back(kPage);
        std::memcpy(s2.data(), dst.data(), out.len);
        PageIn in2{s2.data(), out.len};
        PageOut out2{back.data(), kPage, 0, PageStatus::kOk};
        EXPECT_EQ(e.decompress_batch(&in2, 1, &out2, kPage), 1u);
        EXPECT_EQ(std::memcmp(back.data(), page.data(), kPage), 0) << "seed " << seed;
        // Truncated streams, decoded right up to the guard page. Half a
        // stream never gives a page. Without its last byte (end-of-block
        // code and padding) ISA-L may still deliver all 4096 bytes — then
        // they must be the right ones.
        for (std::uint32_t cut : {out.len / 2, out.len - 1}) {
            GuardedBuffer s3(cut);
            std::memcpy(s3.data(), dst.data(), cut);
            PageIn in3{s3.data(), cut};
            Page back3(kPage, 0);
            PageOut out3{back3.data(), kPage, 0, PageStatus::kOk};
            e.decompress_batch(&in3, 1, &out3, kPage);
            if (cut == out.len / 2) {
                EXPECT_NE(out3.status, PageStatus::kOk) << "seed " << seed;
            } else if (out3.status == PageStatus::kOk) {
                EXPECT_TRUE(back3 == page) << "seed " << seed;
            }
        }
    }
    expect_invariants(e.stats().compress);
    expect_invariants(e.stats().decompress);
}

TEST_P(DriverTest, NonEalThreadHasNoLane) {
    CompressEngine e(cfg());
    const Page p = text_page(51);
    Page buf(kPage);
    PageIn in{p.data(), kPage};
    PageOut out{buf.data(), kPage, 0, PageStatus::kOk};
    std::size_t ok = 99;
    std::thread t([&] { ok = e.compress_batch(&in, 1, &out); });
    t.join();
    EXPECT_EQ(ok, 0u);
    EXPECT_EQ(out.status, PageStatus::kNoLane);
    EXPECT_EQ(e.no_lane_calls(), 1u);
}

TEST_P(DriverTest, WorkerLcoreUsesItsOwnLane) {
    CompressEngine e(cfg());
    if (e.lane_count() < 2) GTEST_SKIP() << "needs a worker lcore";
    CompressLane* main_lane = e.current_lane();
    ASSERT_NE(main_lane, nullptr);
    unsigned worker = 0;
    for (std::size_t i = 0; i < e.lane_count(); ++i)
        if (&e.lane(i) != main_lane) worker = e.lane(i).lcore();
    std::vector<Page> pages;
    for (std::uint64_t s = 0; s < 64; ++s) pages.push_back(mixed_page(600 + s));
    RoundTrip on_worker;
    LcoreGroup g;
    g.launch(worker, [&] {
        on_worker = compress_all(e, pages);
        return 0;
    });
    const RoundTrip on_main = compress_all(e, pages);   // concurrently, on the main lane
    EXPECT_EQ(g.wait(), 0);
    EXPECT_EQ(on_worker.sizes, on_main.sizes);
    EXPECT_TRUE(on_worker.streams == on_main.streams) << "same input, same level: same stream";
    EXPECT_EQ(e.lane_for_lcore(worker)->stats().compress.pages_in, 64u);
    EXPECT_EQ(main_lane->stats().compress.pages_in, 64u);
    EXPECT_EQ(e.stats().compress.pages_in, 128u);
}

INSTANTIATE_TEST_SUITE_P(Drivers, DriverTest,
                         ::testing::Combine(::testing::Values(std::string(kCompressIsal), std::string(kCompressZlib)),
                                            ::testing::Values(CompressBuffers::kAuto, CompressBuffers::kCopy)),
                         [](const auto& p) {
                             return std::get<0>(p.param) + "_" + to_string(std::get<1>(p.param));
                         });

// ------------------------------------------------------ interoperability

TEST(CompressInteropTest, IsalAndZlibReadEachOther) {
    CompressEngine isal(config_for(kCompressIsal));
    CompressEngine zlib(config_for(kCompressZlib));
    EXPECT_NE(isal.device().dev_id, zlib.device().dev_id);
    std::vector<Page> pages;
    for (std::uint64_t s = 0; s < 12; ++s) pages.push_back(s % 2 ? text_page(s) : mixed_page(s));
    pages.push_back(zero_page());
    const RoundTrip by_isal = compress_all(isal, pages);
    const RoundTrip by_zlib = compress_all(zlib, pages);
    expect_decompresses_to(zlib, pages, by_isal);
    expect_decompresses_to(isal, pages, by_zlib);
}

TEST(CompressInteropTest, TwoEnginesOfOneDriverAreIndependent) {
    CompressEngine a(config_for(kCompressIsal));
    CompressEngine b(config_for(kCompressIsal));
    EXPECT_NE(a.device().name, b.device().name);
    const std::vector<Page> pages = {text_page(61), mixed_page(62)};
    const RoundTrip r = compress_all(a, pages);
    expect_decompresses_to(b, pages, r);
    EXPECT_EQ(a.stats().compress.pages_in, 2u);
    EXPECT_EQ(a.stats().decompress.pages_in, 0u);
    EXPECT_EQ(b.stats().decompress.pages_in, 2u);
}

TEST(CompressInteropTest, ExistingDeviceByNameIsClaimedOnce) {
    CompressEngine a(config_for(kCompressZlib));
    // The device a created can be named directly — but only one engine may own it.
    try {
        CompressEngine b(config_for(a.device().name));
        FAIL() << "two engines on one device";
    } catch (const std::invalid_argument& ex) {
        EXPECT_NE(std::string(ex.what()).find("already used"), std::string::npos) << ex.what();
    }
}

} // namespace
} // namespace flowteam::dataplane
