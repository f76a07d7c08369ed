// SPDX-License-Identifier: BSD-3-Clause
// flowteam — empirical flow-size distributions: loader, sampling, mean.
#include "emulation/flowsize.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace flowteam::emulation {

namespace {

std::string fmt(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw std::invalid_argument(where + ": " + what);
}

std::string_view trim(std::string_view s) {
    const auto ws = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
    while (!s.empty() && ws(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && ws(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// Next whitespace-separated token of `s` (consumed), empty when none.
std::string_view next_token(std::string_view& s) {
    s = trim(s);
    std::size_t i = 0;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
        ++i;
    }
    const std::string_view tok = s.substr(0, i);
    s.remove_prefix(i);
    return tok;
}

bool to_double(std::string_view tok, double& v) {
    const char* b = tok.data();
    const char* e = tok.data() + tok.size();
    if (b != e && *b == '+') {
        ++b;
    }
    const auto r = std::from_chars(b, e, v);
    return r.ec == std::errc() && r.ptr == e && std::isfinite(v);
}

// Checks shared by the constructor and the parser; `where(i)` names point i.
template <class Where>
void check_points(const std::vector<CdfPoint>& p, const Where& where, const std::string& name) {
    if (p.empty()) {
        fail(name, "no data points (expected lines 'bytes cumulative_fraction')");
    }
    for (std::size_t i = 0; i < p.size(); ++i) {
        const double b = p[i].bytes;
        const double f = p[i].fraction;
        if (!std::isfinite(b) || b < 1.0 || b != std::floor(b) || b > 1e18) {
            fail(where(i), "size " + fmt(b) + " is not a whole number of bytes in 1 .. 1e18");
        }
        if (!std::isfinite(f) || f < 0.0 || f > 1.0) {
            fail(where(i), "fraction " + fmt(f) + " outside [0, 1]");
        }
        if (i > 0) {
            if (b <= p[i - 1].bytes) {
                fail(where(i), "sizes must strictly increase: " + fmt(b) + " after " + fmt(p[i - 1].bytes));
            }
            if (f < p[i - 1].fraction) {
                fail(where(i), "non-monotonic: fraction " + fmt(f) + " after " + fmt(p[i - 1].fraction));
            }
        }
    }
    if (p.back().fraction != 1.0) {
        fail(where(p.size() - 1), "last fraction is " + fmt(p.back().fraction) + ", must be 1");
    }
}

} // namespace

bool parse_interp(std::string_view s, Interp& out) {
    if (s == "linear") {
        out = Interp::linear;
        return true;
    }
    if (s == "step") {
        out = Interp::step;
        return true;
    }
    return false;
}

const char* to_string(Interp i) { return i == Interp::linear ? "linear" : "step"; }

FlowSizeDist::FlowSizeDist(std::vector<CdfPoint> points, Interp interp, std::string name)
    : pts_(std::move(points)), interp_(interp), name_(std::move(name)) {
    check_points(pts_, [this](std::size_t i) { return name_ + " point " + std::to_string(i + 1); }, name_);
    // Mean: point mass f0 at b0, then each segment contributes its mass times
    // its mean size (midpoint when linear, upper end when step).
    double m = pts_[0].fraction * pts_[0].bytes;
    for (std::size_t i = 1; i < pts_.size(); ++i) {
        const double w = pts_[i].fraction - pts_[i - 1].fraction;
        const double v = interp_ == Interp::linear ? 0.5 * (pts_[i - 1].bytes + pts_[i].bytes) : pts_[i].bytes;
        m += w * v;
    }
    mean_ = m;
}

FlowSizeDist FlowSizeDist::parse(std::string_view text, const std::string& source, Interp interp) {
    std::vector<CdfPoint> pts;
    std::vector<std::size_t> line_of;
    std::size_t line_no = 0;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_no;
        const std::string where = source + ":" + std::to_string(line_no);
        if (const std::size_t h = line.find('#'); h != std::string_view::npos) {
            line = line.substr(0, h);
        }
        line = trim(line);
        if (line.empty()) {
            continue;
        }
        std::string_view rest = line;
        const std::string_view t1 = next_token(rest);
        const std::string_view t2 = next_token(rest);
        const std::string_view t3 = next_token(rest);
        if (t2.empty() || !t3.empty()) {
            fail(where, "expected 2 fields 'bytes cumulative_fraction', got '" + std::string(line) + "'");
        }
        CdfPoint p;
        if (!to_double(t1, p.bytes)) {
            fail(where, "size '" + std::string(t1) + "' is not a number");
        }
        if (!to_double(t2, p.fraction)) {
            fail(where, "fraction '" + std::string(t2) + "' is not a number");
        }
        pts.push_back(p);
        line_of.push_back(line_no);
    }
    check_points(pts, [&](std::size_t i) { return source + ":" + std::to_string(line_of[i]); },
                 source);
    return FlowSizeDist(std::move(pts), interp, source);
}

FlowSizeDist FlowSizeDist::load(const std::string& path, Interp interp) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        fail(path, std::string("cannot open: ") + std::strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        fail(path, "read error");
    }
    return parse(ss.str(), path, interp);
}

std::uint64_t FlowSizeDist::quantile(double u) const {
    u = std::clamp(u, 0.0, 1.0);
    // First point whose cumulative fraction exceeds u (exists for u < 1).
    const auto it = std::upper_bound(pts_.begin(), pts_.end(), u,
                                     [](double x, const CdfPoint& p) { return x < p.fraction; });
    double v;
    if (it == pts_.end()) {
        v = pts_.back().bytes;
    } else if (it == pts_.begin()) {
        v = it->bytes;
    } else if (interp_ == Interp::step) {
        v = it->bytes;
    } else {
        const CdfPoint& a = *(it - 1);
        const CdfPoint& b = *it;
        v = a.bytes + (u - a.fraction) / (b.fraction - a.fraction) * (b.bytes - a.bytes);
    }
    return std::max<std::uint64_t>(1u, static_cast<std::uint64_t>(std::llround(v)));
}

double FlowSizeDist::cdf(double x) const {
    if (x < pts_.front().bytes) {
        return 0.0;
    }
    if (x >= pts_.back().bytes) {
        return 1.0;
    }
    // Last point with bytes <= x (exists: x >= b0).
    const auto it = std::upper_bound(pts_.begin(), pts_.end(), x,
                                     [](double v, const CdfPoint& p) { return v < p.bytes; });
    const CdfPoint& a = *(it - 1);
    if (interp_ == Interp::step) {
        return a.fraction;
    }
    const CdfPoint& b = *it; // x < back().bytes, so `it` is a real point
    return a.fraction + (x - a.bytes) / (b.bytes - a.bytes) * (b.fraction - a.fraction);
}

} // namespace flowteam::emulation
