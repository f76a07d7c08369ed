// SPDX-License-Identifier: BSD-3-Clause
// The one option-value parser: exact values, and one clear line for every bad one.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/option_value.h"

using namespace flowteam::opt;

namespace {

// The message of the OptionError `f` throws ("" when it does not throw).
template <class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const OptionError& e) {
        return e.what();
    }
    return "";
}

void expect_one_line_naming(const std::string& msg, const std::string& option) {
    ASSERT_FALSE(msg.empty()) << "accepted";
    EXPECT_EQ(msg.rfind(option + ": ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find("allowed"), std::string::npos) << msg;
}

} // namespace

TEST(ParseUint, Valid) {
    EXPECT_EQ(parse_uint("--x", "0"), 0u);
    EXPECT_EQ(parse_uint("--x", "18446744073709551615"), UINT64_MAX);
    EXPECT_EQ(parse_uint("--x", "4294967295", 0, UINT32_MAX), UINT32_MAX);
    EXPECT_EQ(parse_uint("--x", "007"), 7u);
}

TEST(ParseUint, Refused) {
    for (const char* bad : {"-1", "", "1.5", "1e3", "abc", " 1", "1 ", "+1", "0x10", "nan", "inf", "18446744073709551616",
                            "99999999999999999999999"})
        expect_one_line_naming(error_of([&] { parse_uint("--seed", bad); }), "--seed");
    // 32-bit truncation: 2^32 is not queue 0
    expect_one_line_naming(error_of([] { parse_uint("--queues", "4294967296", 0, UINT32_MAX); }), "--queues");
    expect_one_line_naming(error_of([] { parse_uint("--flows", "0", 1, 100); }), "--flows");
    EXPECT_NE(error_of([] { parse_uint("--seed", "-1"); }).find("negative"), std::string::npos);
}

TEST(ParseSize, DecimalAndBinary) {
    const SizeSpec dec{};
    EXPECT_EQ(parse_size("--s", "64K", dec), 64'000u);
    EXPECT_EQ(parse_size("--s", "64k", dec), 64'000u);
    EXPECT_EQ(parse_size("--s", "64KB", dec), 64'000u);
    EXPECT_EQ(parse_size("--s", "64KiB", dec), 65'536u);
    EXPECT_EQ(parse_size("--s", "64Ki", dec), 65'536u);
    EXPECT_EQ(parse_size("--s", "1.5K", dec), 1'500u);
    EXPECT_EQ(parse_size("--s", "2.5G", dec), 2'500'000'000u);
    EXPECT_EQ(parse_size("--s", "1MiB", dec), 1u << 20);
    EXPECT_EQ(parse_size("--s", "0", dec), 0u);
    EXPECT_EQ(parse_size("--s", "16TiB", dec), 16ull << 40);
    const SizeSpec bin{0, UINT64_MAX, true, true};
    EXPECT_EQ(parse_size("--vm-mem", "128M", bin), 128u << 20);
    EXPECT_EQ(parse_size("--vm-mem", "128MiB", bin), 128u << 20);
    EXPECT_EQ(parse_size("--vm-mem", "4K", bin), 4096u);
    EXPECT_EQ(parse_size("--vm-mem", "0.5KiB", bin), 512u);
}

TEST(ParseSize, Refused) {
    const SizeSpec u32{0, UINT32_MAX, false, true};
    // truncated today: 5G does not fit a 32-bit cell size
    expect_one_line_naming(error_of([&] { parse_size("--flowcell-bytes", "5G", u32); }), "--flowcell-bytes");
    for (const char* bad : {"99999999999999999999999", "-1", "-1K", "+1", "1.5", "1.0001K", "nan", "inf", "K", "", "1X",
                            "1KK", "1e3", "1..5", ".", "20000000T", "0x10"})
        expect_one_line_naming(error_of([&] { parse_size("--queue-bytes", bad, SizeSpec{}); }), "--queue-bytes");
    expect_one_line_naming(error_of([] { parse_size("--t", "8", SizeSpec{16, 64}); }), "--t");
}

TEST(ParseRate, Valid) {
    EXPECT_EQ(parse_rate_bps("--r", "10G"), 10'000'000'000u);
    EXPECT_EQ(parse_rate_bps("--r", "2.5G"), 2'500'000'000u);
    EXPECT_EQ(parse_rate_bps("--r", "10Gbps"), 10'000'000'000u);
    EXPECT_EQ(parse_rate_bps("--r", "1g"), 1'000'000'000u);
    EXPECT_EQ(parse_rate_bps("--r", "100M"), 100'000'000u);
    EXPECT_EQ(parse_rate_bps("--r", "1000000"), 1'000'000u);
    EXPECT_EQ(parse_rate_bps("--r", "10T"), 10'000'000'000'000u);
}

TEST(ParseRate, Refused) {
    for (const char* bad : {"0", "999", "-10G", "nan", "inf", "11T", "10X", "G", "", "1e9", "99999999999999999999999G"})
        expect_one_line_naming(error_of([&] { parse_rate_bps("--rates", bad); }), "--rates");
}

TEST(ParseDuration, Valid) {
    EXPECT_EQ(parse_duration_ns("--d", "0"), 0u);
    EXPECT_EQ(parse_duration_ns("--d", "500us"), 500'000u);
    EXPECT_EQ(parse_duration_ns("--d", "1ms"), 1'000'000u);
    EXPECT_EQ(parse_duration_ns("--d", "2s"), 2'000'000'000u);
    EXPECT_EQ(parse_duration_ns("--d", "1.5ns"), 2u);
    EXPECT_EQ(parse_duration_ns("--d", "0.25us"), 250u);
    EXPECT_EQ(parse_duration_ns("--d", "12.5us"), 12'500u);
    EXPECT_EQ(parse_duration_ns("--d", "inf", DurationSpec{0, kMaxDurationNs, true}), kInfiniteNs);
}

TEST(ParseDuration, Refused) {
    for (const char* bad : {"-1ms", "1", "nan", "nanms", "inf", "1h", "", "ms", "1e3ms", "99999999999999999999999s",
                            "2000000s", "+1ms"})
        expect_one_line_naming(error_of([&] { parse_duration_ns("--duration", bad); }), "--duration");
    expect_one_line_naming(error_of([] { parse_duration_ns("--delays", "11s", DurationSpec{0, 10'000'000'000ull}); }),
                           "--delays");
}

TEST(ParseReal, ValidAndRefused) {
    EXPECT_DOUBLE_EQ(parse_real("--load", "0.5", 0, 4), 0.5);
    EXPECT_DOUBLE_EQ(parse_real("--load", "1e-3", 0, 4), 0.001);
    EXPECT_DOUBLE_EQ(parse_real("--load", "+4", 0, 4), 4.0);
    EXPECT_FALSE(std::signbit(parse_real("--loss", "-0", 0, 100)));
    for (const char* bad : {"nan", "NaN", "inf", "-inf", "-1", "101", "", "1e999", "5%", "abc", "0x10", " 1"})
        expect_one_line_naming(error_of([&] { parse_real("--loss", bad, 0, 100); }), "--loss");
}

TEST(Quote, OneLineAndShort) {
    EXPECT_EQ(quote("abc"), "'abc'");
    EXPECT_EQ(quote("a\nb"), "'a\\x0ab'");
    EXPECT_EQ(quote(std::string(100, 'x')).size(), 48u + 5u);
    const std::string msg = error_of([] { parse_uint("--flows", std::string("1\n2\n3\n\xff", 7)); });
    EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(Utf8, Validation) {
    EXPECT_TRUE(is_utf8("plain"));
    EXPECT_TRUE(is_utf8("caf\xc3\xa9"));
    EXPECT_TRUE(is_utf8("\xf0\x9f\x98\x80"));
    EXPECT_FALSE(is_utf8("\xff"));
    EXPECT_FALSE(is_utf8("caf\xc3"));
    EXPECT_FALSE(is_utf8("\xc0\xaf"));          // overlong '/'
    EXPECT_FALSE(is_utf8("\xed\xa0\x80"));      // surrogate
}

TEST(Format, Durations) {
    EXPECT_EQ(format_duration(0), "0");
    EXPECT_EQ(format_duration(2'000'000'000), "2s");
    EXPECT_EQ(format_duration(1500), "1500ns");
    EXPECT_EQ(format_real(0.6), "0.6");
}
