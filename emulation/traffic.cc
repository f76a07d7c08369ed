// SPDX-License-Identifier: BSD-3-Clause
// flowteam — synthetic traffic generator.
#include "emulation/traffic.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace flowteam::emulation {

namespace {

[[noreturn]] void bad(const std::string& msg) { throw std::invalid_argument("traffic config: " + msg); }

constexpr std::uint32_t kPortSpan = 64512; // source ports 1024 .. 65535
constexpr std::uint32_t kHostSpan = 65534; // 198.18.0.1 .. 198.18.255.254

} // namespace

bool parse_arrival_mode(std::string_view s, ArrivalMode& out) {
    if (s == "fixed") {
        out = ArrivalMode::fixed;
        return true;
    }
    if (s == "poisson") {
        out = ArrivalMode::poisson;
        return true;
    }
    return false;
}

const char* to_string(ArrivalMode m) { return m == ArrivalMode::fixed ? "fixed" : "poisson"; }

void TrafficGenerator::flow_tuple(std::uint32_t id, std::uint16_t n_vports, std::uint16_t dst_port, PacketDesc& d) {
    const std::uint16_t vport = static_cast<std::uint16_t>(id % (n_vports == 0 ? 1u : n_vports));
    d.vport = vport;
    d.src_ip = kBenchNet + 1u + (id / kPortSpan) % kHostSpan;
    d.src_port = static_cast<std::uint16_t>(1024u + id % kPortSpan);
    d.dst_ip = kBenchNet + 0x10000u + 1u + vport; // 198.19.0.1 + vport
    d.dst_port = dst_port;
    d.proto = 17;
}

TrafficGenerator::TrafficGenerator(TrafficConfig cfg, std::uint64_t tick_hz)
    : cfg_(std::move(cfg)), hz_(tick_hz), max_payload_(0), rng_(cfg_.seed) {
    if (hz_ < 1'000'000ull || hz_ > 100'000'000'000ull) {
        bad("tick_hz " + std::to_string(hz_) + " out of range: allowed 1 MHz .. 100 GHz");
    }
    if (cfg_.mtu < 576 || cfg_.mtu > kMaxProbeFrameBytes - kEthHeaderBytes) {
        bad("mtu " + std::to_string(cfg_.mtu) + " out of range: allowed 576 .. " +
            std::to_string(kMaxProbeFrameBytes - kEthHeaderBytes) + " (1500 or 9000 usually)");
    }
    max_payload_ = cfg_.mtu - kIpv4HeaderBytes - kUdpHeaderBytes;
    if (cfg_.n_vports == 0) {
        bad("n_vports must be >= 1");
    }
    if (cfg_.pace_bps != 0) {
        if (cfg_.pace_bps < 1000) {
            bad("pace_bps " + std::to_string(cfg_.pace_bps) + " out of range: 0 (unpaced) or >= 1000 bits/s");
        }
        pace_ticks_per_byte_ = 8.0 * static_cast<double>(hz_) / static_cast<double>(cfg_.pace_bps);
    }
    if ((cfg_.gap_every_bytes == 0) != (cfg_.gap_ns == 0)) {
        bad("gap_every_bytes and gap_ns must be both 0 (no gaps) or both > 0");
    }
    if (cfg_.gap_ns > 10'000'000'000ull) {
        bad("gap_ns " + std::to_string(cfg_.gap_ns) + " out of range: allowed 0 .. 10 s");
    }
    gap_ticks_ = ticks_from_ns(cfg_.gap_ns, hz_);

    std::uint32_t slots = 0;
    if (cfg_.mode == ArrivalMode::fixed) {
        if (cfg_.n_flows == 0 || cfg_.n_flows > (1u << 20)) {
            bad("n_flows " + std::to_string(cfg_.n_flows) + " out of range: allowed 1 .. 1048576");
        }
        slots = cfg_.n_flows;
    } else {
        if (!cfg_.sizes) {
            bad("poisson arrivals need a flow-size distribution (sizes)");
        }
        if (!(cfg_.load > 0.0 && cfg_.load <= 4.0)) {
            bad("load " + std::to_string(cfg_.load) + " out of range: allowed 0 < load <= 4");
        }
        if (cfg_.capacity_bps < 1000) {
            bad("capacity_bps " + std::to_string(cfg_.capacity_bps) + " must be >= 1000 for poisson arrivals");
        }
        if (cfg_.max_active_flows == 0 || cfg_.max_active_flows > (1u << 20)) {
            bad("max_active_flows " + std::to_string(cfg_.max_active_flows) + " out of range: allowed 1 .. 1048576");
        }
        slots = cfg_.max_active_flows;
        // Flow arrivals per tick = load·C / (8·mean size) / hz.
        mean_arrival_gap_ = 8.0 * cfg_.sizes->mean() * static_cast<double>(hz_) /
                            (cfg_.load * static_cast<double>(cfg_.capacity_bps));
    }
    flows_.resize(slots);
    free_.reserve(slots);
    for (std::uint32_t s = slots; s-- > 0;) {
        free_.push_back(s);
    }
    heap_.reserve(slots);
}

void TrafficGenerator::sift_up(std::size_t i) {
    const std::uint32_t v = heap_[i];
    while (i > 0) {
        const std::size_t p = (i - 1) / 2;
        if (!before(v, heap_[p])) {
            break;
        }
        heap_[i] = heap_[p];
        i = p;
    }
    heap_[i] = v;
}

void TrafficGenerator::sift_down(std::size_t i) {
    const std::size_t n = heap_.size();
    const std::uint32_t v = heap_[i];
    for (;;) {
        std::size_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && before(heap_[c + 1], heap_[c])) {
            ++c;
        }
        if (!before(heap_[c], v)) {
            break;
        }
        heap_[i] = heap_[c];
        i = c;
    }
    heap_[i] = v;
}

void TrafficGenerator::heap_push(std::uint32_t slot) {
    heap_.push_back(slot); // within the reserved capacity: no allocation
    sift_up(heap_.size() - 1);
}

void TrafficGenerator::heap_pop_top() {
    heap_[0] = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) {
        sift_down(0);
    }
}

void TrafficGenerator::start_flow(Tick at, std::uint64_t size) {
    const std::uint32_t slot = free_.back();
    free_.pop_back();
    Flow& f = flows_[slot];
    f.id = next_id_++;
    f.seq = 0;
    f.size = size == 0 ? 0 : std::max<std::uint64_t>(size, kProbeHeaderBytes);
    f.sent = 0;
    f.next_gap_at = cfg_.gap_every_bytes;
    f.eligible = at;
    f.order = order_++;
    f.pace_resid = 0.0;
    c_.flows_started += 1;
    heap_push(slot);
}

std::uint16_t TrafficGenerator::generate(Tick now, PacketDesc* out, std::uint16_t max) {
    if (!started_) {
        started_ = true;
        if (cfg_.mode == ArrivalMode::fixed) {
            for (std::uint32_t i = 0; i < cfg_.n_flows; ++i) {
                start_flow(now, cfg_.flow_bytes);
            }
        } else {
            next_arrival_ = now;
            const double g = rng_.exponential(mean_arrival_gap_);
            next_arrival_ += static_cast<Tick>(g);
            arrival_resid_ = g - std::floor(g);
        }
    }
    if (cfg_.mode == ArrivalMode::poisson) {
        while (next_arrival_ <= now) {
            if (free_.empty()) {
                blocked_ = true;
                break;
            }
            if (blocked_) { // this arrival waited for a slot
                c_.flows_delayed += 1;
            }
            start_flow(next_arrival_, cfg_.sizes->sample(rng_));
            const double g = rng_.exponential(mean_arrival_gap_) + arrival_resid_;
            const Tick whole = static_cast<Tick>(g);
            arrival_resid_ = g - static_cast<double>(whole);
            next_arrival_ += whole;
            if (next_arrival_ > now) {
                blocked_ = false;
            }
        }
    }

    std::uint16_t k = 0;
    while (k < max && !heap_.empty()) {
        const std::uint32_t slot = heap_[0];
        Flow& f = flows_[slot];
        if (f.eligible > now) {
            break;
        }
        std::uint32_t payload = max_payload_;
        bool last = false;
        if (f.size != 0) {
            const std::uint64_t remaining = f.size - f.sent;
            if (remaining <= max_payload_) {
                payload = static_cast<std::uint32_t>(remaining);
                last = true;
            } else if (remaining - max_payload_ < kProbeHeaderBytes) {
                payload = static_cast<std::uint32_t>(remaining - kProbeHeaderBytes); // keep the last >= 32
            }
        }
        PacketDesc& d = out[k++];
        flow_tuple(f.id, cfg_.n_vports, cfg_.dst_port, d);
        d.flow_id = f.id;
        d.seq = f.seq++;
        d.bytes = kProbeOffset + payload;
        d.flags = static_cast<std::uint8_t>((d.seq == 0 ? kProbeFirst : 0) | (last ? kProbeLast : 0));
        d.tx_time = now;
        d.flow_bytes = f.size;
        f.sent += payload;
        c_.packets += 1;
        c_.payload_bytes += payload;
        c_.frame_bytes += d.bytes;

        if (last) {
            c_.flows_completed += 1;
            heap_pop_top();
            free_.push_back(slot);
            continue;
        }
        Tick next = now;
        if (cfg_.pace_bps != 0) {
            const double t = pace_ticks_per_byte_ * d.bytes + f.pace_resid;
            const Tick ser = static_cast<Tick>(t);
            f.pace_resid = t - static_cast<double>(ser);
            Tick base = f.eligible;
            if (now > base + ser) { // held back: catch up by at most one packet
                base = now - ser;
            }
            next = base + ser;
        }
        if (gap_ticks_ != 0 && f.sent >= f.next_gap_at) {
            next = std::max(next, now + gap_ticks_);
            while (f.next_gap_at <= f.sent) {
                f.next_gap_at += cfg_.gap_every_bytes;
            }
            c_.gaps += 1;
        }
        f.eligible = next;
        f.order = order_++;
        sift_down(0);
    }
    return k;
}

Tick TrafficGenerator::next_event() const {
    if (!started_) {
        return 0;
    }
    Tick t = heap_.empty() ? kNoTick : flows_[heap_[0]].eligible;
    if (cfg_.mode == ArrivalMode::poisson) {
        t = std::min(t, next_arrival_);
    }
    return t;
}

} // namespace flowteam::emulation
