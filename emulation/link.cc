// SPDX-License-Identifier: BSD-3-Clause
// flowteam — member link model: configuration checks and derived timing.
#include "emulation/link.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

namespace flowteam::emulation {

namespace {

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument("link config: " + msg); }

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

} // namespace

bool parse_queue_mode(std::string_view s, QueueMode& out) {
    if (s == "backpressure") {
        out = QueueMode::backpressure;
        return true;
    }
    if (s == "taildrop") {
        out = QueueMode::taildrop;
        return true;
    }
    return false;
}

const char* to_string(QueueMode m) {
    switch (m) {
    case QueueMode::backpressure: return "backpressure";
    case QueueMode::taildrop: return "taildrop";
    }
    return "?";
}

const char* to_string(DropReason r) {
    switch (r) {
    case DropReason::queue_full: return "queue_full";
    case DropReason::link_down: return "link_down";
    case DropReason::oversize: return "oversize";
    case DropReason::ring_full: return "ring_full";
    case DropReason::count_: break;
    }
    return "?";
}

void throw_lost_capacity(std::uint32_t lost_cap, std::uint32_t ring_capacity) {
    throw std::invalid_argument("link set_down: lost array holds " + std::to_string(lost_cap) +
                                " handles, needs ring_capacity() = " + std::to_string(ring_capacity));
}

LinkTiming compute_link_timing(const LinkConfig& c, std::uint64_t hz) {
    constexpr std::uint64_t kMaxNs = 10'000'000'000ull; // 10 s
    if (hz < 1'000'000ull || hz > 100'000'000'000ull) {
        bad("tick_hz " + std::to_string(hz) + " out of range: allowed 1 MHz .. 100 GHz");
    }
    if (c.rate_bps < 1000ull || c.rate_bps > 10'000'000'000'000ull) {
        bad("rate_bps " + std::to_string(c.rate_bps) + " out of range: allowed 1000 .. 1e13 bits/s");
    }
    if (c.delay_ns > kMaxNs) {
        bad("delay_ns " + std::to_string(c.delay_ns) + " out of range: allowed 0 .. 10 s");
    }
    if (c.jitter_ns > kMaxNs) {
        bad("jitter_ns " + std::to_string(c.jitter_ns) + " out of range: allowed 0 .. 10 s");
    }
    if (c.min_frame_bytes == 0 || c.min_frame_bytes > c.max_frame_bytes) {
        bad("min_frame_bytes " + std::to_string(c.min_frame_bytes) + " must be 1 .. max_frame_bytes (" +
            std::to_string(c.max_frame_bytes) + ")");
    }
    if (c.max_frame_bytes > 65535u) {
        bad("max_frame_bytes " + std::to_string(c.max_frame_bytes) + " out of range: allowed up to 65535");
    }
    if (c.overhead_bytes > 1024u) {
        bad("overhead_bytes " + std::to_string(c.overhead_bytes) + " out of range: allowed 0 .. 1024");
    }
    if (c.queue_packets == 0 && c.queue_bytes == 0) {
        bad("queue_packets and queue_bytes are both 0: set at least one queue limit");
    }
    if (c.queue_bytes != 0 && c.queue_bytes < c.max_frame_bytes) {
        bad("queue_bytes " + std::to_string(c.queue_bytes) + " < max_frame_bytes " +
            std::to_string(c.max_frame_bytes) + ": a largest frame could never be queued");
    }
    if (!(c.background_load >= 0.0 && c.background_load < 1.0)) {
        bad("background_load " + num(c.background_load) + " out of range: allowed 0 <= load < 1");
    }
    if (c.background_load > 0.0 && (c.background_chunk_bytes == 0 || c.background_chunk_bytes > 65535u)) {
        bad("background_chunk_bytes " + std::to_string(c.background_chunk_bytes) + " out of range: allowed 1 .. 65535");
    }
    if (c.deliver_slack_packets == 0) {
        bad("deliver_slack_packets must be >= 1");
    }
    if (c.max_ring_entries == 0 || c.max_ring_entries > (1u << 30)) {
        bad("max_ring_entries " + std::to_string(c.max_ring_entries) + " out of range: allowed 1 .. 2^30");
    }

    LinkTiming t;
    const unsigned __int128 tpb = (static_cast<unsigned __int128>(8u * hz) << 32) / c.rate_bps;
    if (tpb == 0 || (tpb >> 64) != 0) {
        bad("rate_bps " + std::to_string(c.rate_bps) + " and tick_hz " + std::to_string(hz) +
            " give an unrepresentable ticks-per-byte");
    }
    t.ticks_per_byte_fp = static_cast<std::uint64_t>(tpb);
    t.delay = ticks_from_ns(c.delay_ns, hz);
    t.jitter = ticks_from_ns(c.jitter_ns, hz);
    t.queue_limit_packets = c.queue_packets != 0 ? c.queue_packets : UINT64_MAX;
    t.queue_limit_bytes = c.queue_bytes != 0 ? c.queue_bytes : UINT64_MAX;

    // Ring: queue limit + packets in flight (bandwidth·(delay+jitter) in
    // minimum-size frames, +1) + slack for arrived-but-undelivered packets.
    constexpr double kInf = std::numeric_limits<double>::infinity();
    const double queue_part = std::min(c.queue_packets != 0 ? static_cast<double>(c.queue_packets) : kInf,
                                       c.queue_bytes != 0
                                           ? std::floor(static_cast<double>(c.queue_bytes) / c.min_frame_bytes)
                                           : kInf);
    const double min_ser_ticks = static_cast<double>(c.min_frame_bytes + c.overhead_bytes) * 8.0 *
                                 static_cast<double>(hz) / static_cast<double>(c.rate_bps);
    const double flight_part = std::floor(static_cast<double>(t.delay + t.jitter) / min_ser_ticks) + 1.0;
    const double need = queue_part + flight_part + static_cast<double>(c.deliver_slack_packets);
    if (need > static_cast<double>(c.max_ring_entries)) {
        bad("ring would need " + num(need) + " entries (queue " + num(queue_part) + " + bandwidth*delay " +
            num(flight_part) + " min-size frames + deliver slack " + std::to_string(c.deliver_slack_packets) +
            ") > max_ring_entries " + std::to_string(c.max_ring_entries) +
            ": lower queue_packets/queue_bytes, delay_ns, jitter_ns or rate_bps, or raise min_frame_bytes");
    }
    t.ring_queue_part = static_cast<std::uint32_t>(queue_part);
    t.ring_flight_part = static_cast<std::uint32_t>(flight_part);
    t.ring_capacity = std::bit_ceil(static_cast<std::uint32_t>(need));

    if (c.background_load > 0.0) {
        t.cross = true;
        const double chunk_ticks = static_cast<double>(c.background_chunk_bytes + c.overhead_bytes) * 8.0 *
                                   static_cast<double>(hz) / static_cast<double>(c.rate_bps);
        t.cross_mean_gap = chunk_ticks / c.background_load;
        if (!(256.0 * t.cross_mean_gap < 1e18)) {
            bad("background_load " + num(c.background_load) + " too small for this rate: use 0 to disable");
        }
        t.cross_horizon = static_cast<Tick>(std::ceil(256.0 * t.cross_mean_gap)) + 1u;
    }
    return t;
}

} // namespace flowteam::emulation
