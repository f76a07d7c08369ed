// SPDX-License-Identifier: BSD-3-Clause
// Test helpers: in-test codecs (RLE, zlib) and a simulated testbed — a
// scheduler, sender and receiver joined by two in-memory pipes (forward and
// back channel) with a rate, a delay, random loss, reordering by shuffling
// within windows, and optional corruption. Time is simulated (ns ticks).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <random>
#include <vector>
#include <zlib.h>

#include "migration/codec.h"
#include "migration/memory.h"
#include "migration/receiver.h"
#include "migration/scheduler.h"
#include "migration/sender.h"
#include "migration/wire.h"

namespace flowteam::migration::test {

// PackBits-style RLE: control c < 128: c+1 literal bytes follow; c >= 128: the
// next byte repeated c-125 times (3..130).
class RleCodec : public Compressor, public Decompressor {
  public:
    std::size_t compress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                         std::size_t cap) override {
        std::size_t i = 0, o = 0;
        while (i < len) {
            std::size_t run = 1;
            while (i + run < len && run < 130 && src[i + run] == src[i])
                ++run;
            if (run >= 3) {
                if (o + 2 > cap) return 0;
                dst[o++] = static_cast<std::uint8_t>(run + 125);
                dst[o++] = src[i];
                i += run;
                continue;
            }
            std::size_t lit = 0; // literal stretch until a run of 3 starts
            while (i + lit < len && lit < 128) {
                if (i + lit + 2 < len && src[i + lit] == src[i + lit + 1] && src[i + lit] == src[i + lit + 2])
                    break;
                ++lit;
            }
            if (o + 1 + lit > cap) return 0;
            dst[o++] = static_cast<std::uint8_t>(lit - 1);
            std::memcpy(dst + o, src + i, lit);
            o += lit;
            i += lit;
        }
        return o < len ? o : 0;
    }
    std::size_t decompress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                           std::size_t cap) override {
        std::size_t i = 0, o = 0;
        while (i < len) {
            const std::uint8_t c = src[i++];
            if (c < 128) {
                const std::size_t n = c + 1u;
                if (i + n > len || o + n > cap) return 0;
                std::memcpy(dst + o, src + i, n);
                i += n;
                o += n;
            } else {
                const std::size_t n = c - 125u;
                if (i + 1 > len || o + n > cap) return 0;
                std::memset(dst + o, src[i++], n);
                o += n;
            }
        }
        return o;
    }
};

class ZlibCodec : public Compressor, public Decompressor {
  public:
    std::size_t compress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                         std::size_t cap) override {
        uLongf out = static_cast<uLongf>(cap);
        if (compress2(dst, &out, src, static_cast<uLong>(len), 1) != Z_OK) return 0;
        return out < len ? out : 0;
    }
    std::size_t decompress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                           std::size_t cap) override {
        uLongf out = static_cast<uLongf>(cap);
        if (uncompress(dst, &out, src, static_cast<uLong>(len)) != Z_OK) return 0;
        return out;
    }
};

// One frame of every class decode() rejects, built from valid frames for
// `lim` (needs >= 1 VM with >= 2 pages), with the reason expected.
struct BadFrame {
    std::vector<std::uint8_t> bytes;
    WireStatus why;
    const char* what;
};
inline std::vector<BadFrame> invalid_frames(const WireLimits& lim) {
    std::vector<BadFrame> out;
    const std::uint32_t pages = lim.pages[0];
    auto page_hdr = [&] {
        FrameHeader h;
        h.type = FrameType::page;
        h.round = 1;
        h.page = pages - 1;
        h.payload_len = 1408;
        h.page_len = 4096;
        h.seq = 3;
        return h;
    };
    auto enc = [](const FrameHeader& h) {
        std::vector<std::uint8_t> body(h.payload_len, 0x77), f(kHeaderSize + h.payload_len);
        f.resize(encode_frame(h, body.data(), f.data(), f.size()));
        return f;
    };
    auto with = [&](auto mutate) {
        FrameHeader h = page_hdr();
        mutate(h);
        return enc(h);
    };
    const auto good = enc(page_hdr());
    auto raw = [&](auto mutate) {
        auto f = good;
        mutate(f);
        return f;
    };
    out.push_back(
        {std::vector<std::uint8_t>(good.begin(), good.begin() + 47), WireStatus::truncated, "47 bytes"});
    out.push_back({raw([](auto& f) { f[0] ^= 1; }), WireStatus::bad_magic, "magic"});
    out.push_back({raw([](auto& f) { f[4] = 2; }), WireStatus::bad_version, "version"});
    out.push_back({raw([](auto& f) { f[26] = 56; }), WireStatus::bad_header_len, "header_len"});
    out.push_back({raw([](auto& f) { f[12] ^= 0x10; }), WireStatus::bad_checksum, "crc"});
    out.push_back(
        {with([](FrameHeader& h) { h.type = static_cast<FrameType>(9); }), WireStatus::bad_type, "type"});
    out.push_back({with([](FrameHeader& h) { h.flags = 0x80; }), WireStatus::bad_flags, "unknown flag"});
    out.push_back({with([&](FrameHeader& h) { h.vm = lim.vm_count; }), WireStatus::bad_vm, "vm"});
    out.push_back(
        {with([&](FrameHeader& h) { h.channel = lim.channels; }), WireStatus::bad_channel, "channel"});
    out.push_back({with([](FrameHeader& h) { h.round = 0; }), WireStatus::bad_round, "round 0"});
    out.push_back({with([&](FrameHeader& h) { h.page = pages; }), WireStatus::bad_page, "page"});
    out.push_back({raw([](auto& f) { f.push_back(0); }), WireStatus::length_mismatch, "trailing byte"});
    out.push_back({raw([](auto& f) { f.pop_back(); }), WireStatus::length_mismatch, "short body"});
    out.push_back(
        {with([](FrameHeader& h) { h.page_len = 4000; }), WireStatus::bad_page_len, "raw page_len"});
    out.push_back({with([](FrameHeader& h) { h.offset = 32; }), WireStatus::bad_offset, "unaligned"});
    out.push_back({with([](FrameHeader& h) { h.offset = 3072; }), WireStatus::bad_offset, "past the page"});
    out.push_back(
        {with([](FrameHeader& h) { h.payload_len = 100; }), WireStatus::bad_offset, "odd middle fragment"});
    out.push_back(
        {with([](FrameHeader& h) { h.payload_len = 0; }), WireStatus::bad_offset, "empty fragment"});
    out.push_back({with([](FrameHeader& h) {
                       h.flags = kFlagZero;
                       h.page_len = 0;
                       h.payload_len = 64;
                   }),
                   WireStatus::zero_with_body, "zero page with body"});
    out.push_back({with([](FrameHeader& h) {
                       h.flags = kFlagZero;
                       h.payload_len = 0;
                   }),
                   WireStatus::bad_page_len, "zero page with page_len"});
    out.push_back({with([](FrameHeader& h) { h.flags = kFlagZero | kFlagCompressed; }), WireStatus::bad_flags,
                   "zero+compressed"});
    out.push_back({with([](FrameHeader& h) {
                       h.flags = kFlagCompressed;
                       h.page_len = 1000;
                   }),
                   WireStatus::bad_compressed, "compressed len mismatch"});
    out.push_back({with([](FrameHeader& h) {
                       h.flags = kFlagCompressed;
                       h.payload_len = 4096;
                       h.page_len = 4096;
                   }),
                   WireStatus::bad_compressed, "compressed not smaller"});
    out.push_back({with([](FrameHeader& h) {
                       h.flags = kFlagCompressed;
                       h.page_len = 1408;
                       h.offset = 64;
                   }),
                   WireStatus::bad_compressed, "compressed fragment"});
    out.push_back({with([](FrameHeader& h) { h.count = 2; }), WireStatus::bad_control, "page base round > round"});
    out.push_back({with([](FrameHeader& h) {
                       h.type = FrameType::round_end;
                       h.page = 0;
                       h.payload_len = 8;
                       h.page_len = 0;
                   }),
                   WireStatus::bad_control, "marker with a body"});
    out.push_back({with([](FrameHeader& h) {
                       h.type = FrameType::end;
                       h.page = 0;
                       h.payload_len = 0;
                       h.page_len = 0;
                       h.flags = kFlagResend;
                   }),
                   WireStatus::bad_flags, "end with flags"});
    std::vector<std::uint8_t> buf(1472);
    auto ctl = [&](std::size_t n) {
        return std::vector<std::uint8_t>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    };
    {
        const AckEntry a[1] = {{1, pages - 1, 2}};
        out.push_back({ctl(encode_acks(FrameHeader{}, a, 1, buf.data(), buf.size())), WireStatus::bad_entry,
                       "ack past the end"});
        const AckEntry z[1] = {{0, 0, 1}};
        out.push_back({ctl(encode_acks(FrameHeader{}, z, 1, buf.data(), buf.size())), WireStatus::bad_entry,
                       "ack round 0"});
        const PageRequest r[1] = {{1, lim.channels, 0, 1}};
        out.push_back({ctl(encode_requests(FrameHeader{}, r, 1, buf.data(), buf.size())),
                       WireStatus::bad_entry, "request channel"});
        const PageRequest q[1] = {{1, 0, 1, 0}};
        out.push_back({ctl(encode_requests(FrameHeader{}, q, 1, buf.data(), buf.size())),
                       WireStatus::bad_entry, "request first > last"});
    }
    {
        FrameHeader h;
        h.type = FrameType::ack;
        h.count = 2;
        h.payload_len = 12;
        out.push_back({enc(h), WireStatus::bad_control, "ack count/body mismatch"});
        h.count = 0;
        h.payload_len = 0;
        out.push_back({enc(h), WireStatus::bad_control, "empty ack"});
        h.count = 1;
        h.payload_len = 12;
        h.page = 1;
        out.push_back({enc(h), WireStatus::bad_control, "ack with a page"});
    }
    return out;
}

// A one-direction pipe: loss, reorder by shuffling windows of `shuffle`
// frames, constant delay.
class Pipe {
  public:
    struct Config {
        Tick delay = 100'000;        // ns
        double loss = 0;             // probability a frame is dropped
        std::uint32_t shuffle = 0;   // 0/1 = in order; else shuffled within windows of this many frames
        Tick shuffle_hold = 200'000; // a partial window is released after this long
        std::uint64_t seed = 7;
    };
    explicit Pipe(const Config& c) : cfg_(c), rng_(c.seed) {}

    void push(Tick now, std::vector<std::uint8_t> frame) {
        ++pushed;
        if (cfg_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_.loss) {
            ++lost;
            return;
        }
        if (cfg_.shuffle <= 1) {
            q_.push_back({now + cfg_.delay, std::move(frame)});
            return;
        }
        if (hold_.empty()) hold_since_ = now;
        hold_.push_back(std::move(frame));
        if (hold_.size() >= cfg_.shuffle) release(now);
    }
    template <typename F>
    void deliver(Tick now, F&& fn) {
        if (!hold_.empty() && now >= hold_since_ + cfg_.shuffle_hold) release(now);
        while (!q_.empty() && q_.front().at <= now) {
            std::vector<std::uint8_t> f = std::move(q_.front().bytes);
            q_.pop_front();
            ++delivered;
            fn(f);
        }
    }
    bool idle() const { return q_.empty() && hold_.empty(); }
    std::uint64_t pushed = 0, lost = 0, delivered = 0;

  private:
    void release(Tick now) {
        std::shuffle(hold_.begin(), hold_.end(), rng_);
        for (auto& f : hold_)
            q_.push_back({now + cfg_.delay, std::move(f)});
        hold_.clear();
    }
    struct Item {
        Tick at;
        std::vector<std::uint8_t> bytes;
    };
    Config cfg_;
    std::mt19937_64 rng_;
    std::deque<Item> q_;
    std::vector<std::vector<std::uint8_t>> hold_;
    Tick hold_since_ = 0;
};

struct TestbedConfig {
    MemoryConfig mem;
    SchedulerConfig sched;
    SenderConfig sender;
    ReceiverConfig receiver;
    Pipe::Config fwd;
    Pipe::Config back;
    double rate_bps = 1e9;        // forward link rate
    Tick step = 50'000;           // simulation step, ns
    Tick rx_poll_every = 200'000; // receiver poll period, ns
    Tick limit = 20'000'000'000;  // give up after this much simulated time
    Compressor* compressor = nullptr;
    Decompressor* decompressor = nullptr;
    // Called on each forward frame before the pipe; may mutate/inject.
    std::function<void(Tick, std::vector<std::uint8_t>&)> tamper;
};

class Testbed {
  public:
    explicit Testbed(TestbedConfig cfg)
        : cfg_(std::move(cfg)), mem(cfg_.mem), sched(mem, cfg_.sched),
          tx(mem, sched, cfg_.sender, cfg_.compressor), rx(mem, cfg_.receiver, cfg_.decompressor),
          fwd(cfg_.fwd), back(cfg_.back) {
        payload_by_vm.assign(mem.vm_count(), 0);
        buf.resize(udp_payload_capacity(cfg_.sender.mtu));
    }

    // Runs until every migration completed (and the pipes drained) or the limit.
    bool run() {
        sched.start(now);
        Tick next_poll = 0;
        double budget = 0;
        const double bytes_per_step = cfg_.rate_bps / 8.0 * static_cast<double>(cfg_.step) / 1e9;
        while (now < cfg_.limit) {
            sched.poll(now);
            max_active_seen = std::max<std::size_t>(max_active_seen, sched.active().size());
            budget = std::min(budget + bytes_per_step, 4 * bytes_per_step + 10000.0);
            std::size_t sent_now = 0;
            while (budget > 0) {
                const double cost = transmit();
                if (cost == 0) break;
                budget -= cost;
                ++sent_now;
            }
            fwd.deliver(now, [&](const std::vector<std::uint8_t>& fr) {
                const WireStatus s = rx.on_frame(now, fr.data(), fr.size());
                if (s != WireStatus::ok) ++rx_rejects;
            });
            if (now >= next_poll) {
                rx.poll(now);
                next_poll = now + cfg_.rx_poll_every;
            }
            FeedbackFrame fb;
            for (;;) {
                const std::size_t len = rx.next_feedback(now, buf.data(), buf.size(), fb);
                if (len == 0) break;
                ++feedback_frames;
                back.push(now, std::vector<std::uint8_t>(buf.begin(),
                                                         buf.begin() + static_cast<std::ptrdiff_t>(len)));
            }
            back.deliver(now, [&](const std::vector<std::uint8_t>& fr) {
                const WireStatus s = tx.on_feedback(now, fr.data(), fr.size());
                EXPECT_EQ(s, WireStatus::ok) << to_string(s);
            });
            if (sched.done() && fwd.idle() && back.idle() && sent_now == 0) {
                sched.poll(now);
                if (transmit() == 0) return true; // nothing left, not even an end frame
            }
            now += cfg_.step;
        }
        return false;
    }

    // One frame from the sender into the forward pipe; returns its wire cost (0: none).
    double transmit() {
        TxFrame f;
        const std::size_t len = tx.next_frame(now, buf.data(), buf.size(), f);
        if (len == 0) return 0;
        std::vector<std::uint8_t> frame(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
        if (f.ext != nullptr) frame.insert(frame.end(), f.ext, f.ext + f.ext_len);
        EXPECT_EQ(frame.size(), f.payload_len);
        payload_by_vm[f.vm] += f.payload_len;
        if (f.type == FrameType::page) {
            ++page_frames;
            if (f.payload_len == kHeaderSize) ++zero_page_frames;
        }
        if (f.flow >= frames_by_flow.size()) frames_by_flow.resize(f.flow + 1, 0);
        ++frames_by_flow[f.flow];
        frame_sizes.push_back(static_cast<std::uint32_t>(frame.size()));
        if (cfg_.tamper) cfg_.tamper(now, frame);
        fwd.push(now, std::move(frame));
        return static_cast<double>(f.payload_len + cfg_.sender.wire_overhead);
    }

    TestbedConfig cfg_;
    VmMemory mem;
    Scheduler sched;
    Sender tx;
    Receiver rx;
    Pipe fwd, back;
    Tick now = 0;
    std::vector<std::uint64_t> payload_by_vm;
    std::vector<std::uint8_t> buf;
    std::vector<std::uint32_t> frame_sizes;
    std::size_t max_active_seen = 0;
    std::uint64_t page_frames = 0, zero_page_frames = 0, feedback_frames = 0, rx_rejects = 0;
    std::vector<std::uint64_t> frames_by_flow;
};

} // namespace flowteam::migration::test
