// SPDX-License-Identifier: BSD-3-Clause
// Unit tests: flow-size distributions (loader, sampling, mean).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "emulation/flowsize.h"

using namespace flowteam::emulation;

namespace {

const std::string kData = FLOWTEAM_DATA_DIR;

std::string error_of(const std::string& text) {
    try {
        FlowSizeDist::parse(text, "t.cdf");
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

// Kolmogorov–Smirnov distance between the samples and the model. Samples are
// whole bytes, so the model probability of "sample <= v" is cdf(v + 0.5).
double ks_distance(const FlowSizeDist& d, std::vector<std::uint64_t> s) {
    std::sort(s.begin(), s.end());
    const double n = static_cast<double>(s.size());
    double ks = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t j = i;
        while (j < s.size() && s[j] == s[i]) {
            ++j;
        }
        const double v = static_cast<double>(s[i]);
        const double below = static_cast<double>(i) / n; // empirical P(X < v)
        const double upto = static_cast<double>(j) / n;  // empirical P(X <= v)
        ks = std::max(ks, std::fabs(upto - d.cdf(v + 0.5)));
        ks = std::max(ks, std::fabs(below - d.cdf(v - 0.5)));
        i = j;
    }
    return ks;
}

} // namespace

TEST(FlowSize, FilesHoldTheBriefNumbers) {
    const FlowSizeDist ws = FlowSizeDist::load(kData + "/websearch.cdf");
    const std::vector<std::pair<double, double>> ws_ref = {
        {10e3, .15}, {20e3, .2}, {30e3, .3}, {50e3, .4}, {80e3, .53}, {200e3, .6},
        {1e6, .7},   {2e6, .8},  {5e6, .9},  {10e6, .97}, {30e6, 1}};
    ASSERT_EQ(ws.points().size(), ws_ref.size());
    for (std::size_t i = 0; i < ws_ref.size(); ++i) {
        EXPECT_EQ(ws.points()[i].bytes, ws_ref[i].first);
        EXPECT_EQ(ws.points()[i].fraction, ws_ref[i].second);
    }
    const FlowSizeDist dm = FlowSizeDist::load(kData + "/datamining.cdf");
    const std::vector<std::pair<double, double>> dm_ref = {
        {180, .1},  {216, .2},    {560, .3},     {900, .4},     {1100, .5},  {1870, .6},
        {3160, .7}, {10e3, .8},   {400e3, .9},   {3.16e6, .95}, {100e6, .98}, {1e9, 1}};
    ASSERT_EQ(dm.points().size(), dm_ref.size());
    for (std::size_t i = 0; i < dm_ref.size(); ++i) {
        EXPECT_EQ(dm.points()[i].bytes, dm_ref[i].first);
        EXPECT_EQ(dm.points()[i].fraction, dm_ref[i].second);
    }
    // Means by hand (linear): point mass at the first size + segment midpoints.
    EXPECT_NEAR(ws.mean(), 1'712'000.0, 1e-6 * 1'712'000.0);
    EXPECT_NEAR(dm.mean(), 12'658'207.6, 1e-6 * 12'658'207.6);
    EXPECT_EQ(ws.min_bytes(), 10'000u);
    EXPECT_EQ(dm.max_bytes(), 1'000'000'000u);
}

TEST(FlowSize, QuantileAndCdfByHand) {
    const FlowSizeDist ws = FlowSizeDist::load(kData + "/websearch.cdf");
    EXPECT_EQ(ws.quantile(0.0), 10'000u);
    EXPECT_EQ(ws.quantile(0.1), 10'000u);  // inside the point mass at 10 KB
    EXPECT_EQ(ws.quantile(0.175), 15'000u); // halfway between 10K (.15) and 20K (.2)
    EXPECT_EQ(ws.quantile(0.99), 23'333'333u); // 10M + (0.02/0.03)·20M
    EXPECT_EQ(ws.quantile(0.999999999), 29'999'999u);
    EXPECT_DOUBLE_EQ(ws.cdf(9'999), 0.0);
    EXPECT_DOUBLE_EQ(ws.cdf(10'000), 0.15);
    EXPECT_DOUBLE_EQ(ws.cdf(15'000), 0.175);
    EXPECT_DOUBLE_EQ(ws.cdf(30'000'000), 1.0);

    const FlowSizeDist st = FlowSizeDist::load(kData + "/websearch.cdf", Interp::step);
    EXPECT_EQ(st.quantile(0.175), 20'000u);
    EXPECT_EQ(st.quantile(0.2), 30'000u); // F(20K) = .2 exactly: u = .2 is above it
    EXPECT_DOUBLE_EQ(st.cdf(25'000), 0.2);
    // Step mean: sum of (f_i - f_{i-1}) · b_i.
    const double m = .15 * 10e3 + .05 * 20e3 + .1 * 30e3 + .1 * 50e3 + .13 * 80e3 + .07 * 200e3 + .1 * 1e6 +
                     .1 * 2e6 + .1 * 5e6 + .07 * 10e6 + .03 * 30e6;
    EXPECT_NEAR(st.mean(), m, 1e-6 * m);
}

TEST(FlowSize, EmpiricalCdfMatchesTheFile) {
    for (const char* file : {"/websearch.cdf", "/datamining.cdf"}) {
        for (Interp in : {Interp::linear, Interp::step}) {
            const FlowSizeDist d = FlowSizeDist::load(kData + file, in);
            Rng rng(2024);
            std::vector<std::uint64_t> s(100'000);
            for (auto& v : s) {
                v = d.sample(rng);
                ASSERT_GE(v, d.min_bytes());
                ASSERT_LE(v, d.max_bytes());
            }
            // KS 1 % critical value for 100K samples is 1.63/sqrt(n) = 0.0052.
            EXPECT_LT(ks_distance(d, s), 0.0052) << file << " " << to_string(in);
        }
    }
}

TEST(FlowSize, SampleMeanMatchesTheModelMean) {
    {
        const FlowSizeDist ws = FlowSizeDist::load(kData + "/websearch.cdf");
        Rng rng(5);
        double sum = 0;
        const int n = 200'000;
        for (int i = 0; i < n; ++i) {
            sum += static_cast<double>(ws.sample(rng));
        }
        EXPECT_NEAR(sum / n / ws.mean(), 1.0, 0.03);
    }
    {
        // Heavy tail (2 % of flows carry ~87 % of the bytes): 1M samples keep the
        // standard error of the mean near 0.7 %.
        const FlowSizeDist dm = FlowSizeDist::load(kData + "/datamining.cdf");
        Rng rng(6);
        double sum = 0;
        const int n = 1'000'000;
        for (int i = 0; i < n; ++i) {
            sum += static_cast<double>(dm.sample(rng));
        }
        EXPECT_NEAR(sum / n / dm.mean(), 1.0, 0.03);
    }
}

TEST(FlowSize, SameSeedSameSamples) {
    const FlowSizeDist ws = FlowSizeDist::load(kData + "/websearch.cdf");
    Rng a(9), b(9), c(10);
    int differ = 0;
    for (int i = 0; i < 1000; ++i) {
        const auto x = ws.sample(a);
        EXPECT_EQ(x, ws.sample(b));
        differ += x != ws.sample(c) ? 1 : 0;
    }
    EXPECT_GT(differ, 500);
}

TEST(FlowSize, LoaderErrorsSayWhereAndWhat) {
    EXPECT_EQ(error_of("# c\n100 0.5\n\n200 1 # end\n"), "");
    EXPECT_EQ(error_of("100 .5\n200 1.2\n"), "t.cdf:2: fraction 1.2 outside [0, 1]");
    EXPECT_EQ(error_of("100 -0.1\n200 1\n"), "t.cdf:1: fraction -0.1 outside [0, 1]");
    EXPECT_EQ(error_of("# header\n100 .5\n200 .4\n300 1\n"), "t.cdf:3: non-monotonic: fraction 0.4 after 0.5");
    EXPECT_EQ(error_of("100 .5\n100 1\n"), "t.cdf:2: sizes must strictly increase: 100 after 100");
    EXPECT_EQ(error_of("100 .5\n200 .9\n"), "t.cdf:2: last fraction is 0.9, must be 1");
    EXPECT_EQ(error_of("100\n"), "t.cdf:1: expected 2 fields 'bytes cumulative_fraction', got '100'");
    EXPECT_EQ(error_of("100 .5 7\n"), "t.cdf:1: expected 2 fields 'bytes cumulative_fraction', got '100 .5 7'");
    EXPECT_EQ(error_of("1e2 .5\n2OO 1\n"), "t.cdf:2: size '2OO' is not a number");
    EXPECT_EQ(error_of("100 half\n"), "t.cdf:1: fraction 'half' is not a number");
    EXPECT_EQ(error_of("100.5 1\n"), "t.cdf:1: size 100.5 is not a whole number of bytes in 1 .. 1e18");
    EXPECT_EQ(error_of("0 0\n100 1\n"), "t.cdf:1: size 0 is not a whole number of bytes in 1 .. 1e18");
    EXPECT_EQ(error_of("# only comments\n\n"), "t.cdf: no data points (expected lines 'bytes cumulative_fraction')");
    EXPECT_EQ(error_of("100 nan\n"), "t.cdf:1: fraction 'nan' is not a number");

    try {
        FlowSizeDist::load(kData + "/does-not-exist.cdf");
        FAIL() << "expected an error";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("does-not-exist.cdf: cannot open"), std::string::npos) << e.what();
    }
    EXPECT_THROW(FlowSizeDist({{100, 0.5}, {50, 1}}), std::invalid_argument);

    Interp in{};
    EXPECT_TRUE(parse_interp("step", in));
    EXPECT_EQ(in, Interp::step);
    EXPECT_FALSE(parse_interp("cubic", in));
}

TEST(FlowSize, SinglePointIsAConstant) {
    const FlowSizeDist d = FlowSizeDist::parse("64000 1\n", "const");
    Rng rng(1);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(d.sample(rng), 64'000u);
    }
    EXPECT_EQ(d.mean(), 64'000.0);
}
