// SPDX-License-Identifier: BSD-3-Clause
// flowteam — empirical flow-size distributions (web search, data mining, ...).
//
// File format (data/*.cdf): one point per line, "bytes cumulative_fraction",
// whitespace separated; '#' starts a comment (whole line or trailing); blank
// lines are ignored. Sizes strictly increase, fractions never decrease, every
// fraction is in [0, 1] and the last one is 1.
//
// Meaning of the points: F(b_i) = P(size <= b_i) = f_i. The first point is
// the smallest size ever drawn: its fraction f_0 is a point mass at b_0 (add a
// "1 0" line first for sizes spread over 1 .. b_0). Between two points:
//   Interp::linear  sizes are uniform on (b_{i-1}, b_i] (the CDF is the
//                   straight line between the points) — the usual reading in
//                   the DCTCP/pFabric/CONGA simulators, and the default;
//   Interp::step    every size is one of the listed b_i, drawn with
//                   probability f_i − f_{i-1} (piecewise-constant CDF).
// Samples are rounded to the nearest whole byte (at least 1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "emulation/rng.h"

namespace flowteam::emulation {

enum class Interp : std::uint8_t { linear, step };
bool parse_interp(std::string_view s, Interp& out); // "linear", "step"
const char* to_string(Interp i);

struct CdfPoint {
    double bytes = 0;
    double fraction = 0;
};

class FlowSizeDist {
public:
    // Validates the points; throws std::invalid_argument("<name>: <what is wrong>").
    FlowSizeDist(std::vector<CdfPoint> points, Interp interp = Interp::linear, std::string name = "cdf");

    // Read a .cdf file. Errors name the file and line: "<path>:<line>: <what>".
    static FlowSizeDist load(const std::string& path, Interp interp = Interp::linear);
    // Parse text in the file format; `source` names it in error messages.
    static FlowSizeDist parse(std::string_view text, const std::string& source, Interp interp = Interp::linear);

    // Inverse-CDF sampling: size for a uniform u in [0, 1).
    std::uint64_t quantile(double u) const;
    std::uint64_t sample(Rng& rng) const { return quantile(rng.uniform01()); }

    double cdf(double bytes) const; // P(size <= bytes) under the model (before rounding)
    double mean() const { return mean_; } // exact mean of the model
    std::uint64_t min_bytes() const { return static_cast<std::uint64_t>(pts_.front().bytes); }
    std::uint64_t max_bytes() const { return static_cast<std::uint64_t>(pts_.back().bytes); }

    const std::vector<CdfPoint>& points() const { return pts_; }
    Interp interp() const { return interp_; }
    const std::string& name() const { return name_; }

private:
    std::vector<CdfPoint> pts_;
    Interp interp_;
    std::string name_;
    double mean_ = 0;
};

} // namespace flowteam::emulation
