// SPDX-License-Identifier: BSD-3-Clause
// A capture file is checked before it is replayed: empty, truncated, garbage,
// non-Ethernet or absurd record lengths are refused in one line.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/option_value.h"
#include "common/pcap_check.h"

using namespace flowteam::opt;

namespace {

using Bytes = std::vector<std::uint8_t>;

void put32(Bytes& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put16(Bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
}

Bytes pcap_header(std::uint32_t linktype = 1) {
    Bytes b;
    put32(b, 0xa1b2c3d4);
    put16(b, 2);
    put16(b, 4);
    put32(b, 0);
    put32(b, 0);
    put32(b, 65535);
    put32(b, linktype);
    return b;
}

void add_record(Bytes& b, std::uint32_t caplen, std::uint32_t body = UINT32_MAX) {
    put32(b, 1);
    put32(b, 0);
    put32(b, caplen);
    put32(b, caplen);
    b.insert(b.end(), body == UINT32_MAX ? caplen : body, 0xab);
}

std::string write(const Bytes& b, const std::string& name) {
    const std::string p = ::testing::TempDir() + "/" + name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return p;
}

std::string refusal(const std::string& path) {
    try {
        check_pcap_file("--pcap", path);
    } catch (const OptionError& e) {
        const std::string m = e.what();
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        EXPECT_EQ(m.rfind("--pcap: ", 0), 0u) << m;
        return m;
    }
    return "";
}

} // namespace

TEST(PcapCheck, ValidClassic) {
    Bytes b = pcap_header();
    add_record(b, 64);
    add_record(b, 1514);
    const auto s = check_pcap_file("--pcap", write(b, "ok.pcap"));
    EXPECT_EQ(s.packets, 2u);
    EXPECT_EQ(s.max_caplen, 1514u);
    EXPECT_FALSE(s.pcapng);
}

TEST(PcapCheck, ValidPcapng) {
    Bytes b;
    put32(b, 0x0A0D0D0A);   // SHB
    put32(b, 28);
    put32(b, 0x1A2B3C4D);
    put16(b, 1);
    put16(b, 0);
    put32(b, 0xffffffff);
    put32(b, 0xffffffff);
    put32(b, 28);
    put32(b, 1);            // IDB
    put32(b, 20);
    put16(b, 1);
    put16(b, 0);
    put32(b, 65535);
    put32(b, 20);
    put32(b, 6);            // EPB, 64-byte frame
    put32(b, 32 + 64);
    put32(b, 0);
    put32(b, 0);
    put32(b, 0);
    put32(b, 64);
    put32(b, 64);
    b.insert(b.end(), 64, 0xab);
    put32(b, 32 + 64);
    const auto s = check_pcap_file("--pcap", write(b, "ok.pcapng"));
    EXPECT_TRUE(s.pcapng);
    EXPECT_EQ(s.packets, 1u);
}

TEST(PcapCheck, Refused) {
    EXPECT_NE(refusal(write({}, "empty.pcap")).find("empty"), std::string::npos);
    EXPECT_NE(refusal(write(pcap_header(), "nopackets.pcap")).find("no packets"), std::string::npos);
    Bytes trunc = pcap_header();
    add_record(trunc, 100, 40);
    EXPECT_NE(refusal(write(trunc, "trunc.pcap")).find("truncated"), std::string::npos);
    Bytes trunc_hdr = pcap_header();
    trunc_hdr.resize(trunc_hdr.size() + 7, 0);
    EXPECT_NE(refusal(write(trunc_hdr, "trunchdr.pcap")).find("truncated"), std::string::npos);
    Bytes garbage(4096);
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 7 + 3);
    EXPECT_NE(refusal(write(garbage, "garbage.pcap")).find("not a pcap"), std::string::npos);
    Bytes raw = pcap_header(101);
    add_record(raw, 64);
    EXPECT_NE(refusal(write(raw, "raw.pcap")).find("raw IP"), std::string::npos);
    Bytes huge = pcap_header();
    add_record(huge, 0xfffffff0u, 16);
    EXPECT_NE(refusal(write(huge, "huge.pcap")).find("4294967280"), std::string::npos);
    Bytes tiny = pcap_header();
    add_record(tiny, 4);
    EXPECT_FALSE(refusal(write(tiny, "tiny.pcap")).empty());
    EXPECT_NE(refusal(::testing::TempDir()).find("directory"), std::string::npos);
    EXPECT_NE(refusal(::testing::TempDir() + "/does-not-exist.pcap").find("does not exist"), std::string::npos);
    EXPECT_NE(refusal("/dev/null").find("regular"), std::string::npos);
}
