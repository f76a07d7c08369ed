// SPDX-License-Identifier: BSD-3-Clause
// Test helpers: in-test codecs (RLE, zlib) and a simulated testbed — a
// scheduler, sender and receiver joined by two in-memory pipes (forward and
// back channel) with a rate, a delay, random loss, reordering by shuffling
// within windows, and optional corruption. Time is simulated (ns ticks).
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <random>
#include <vector>

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
    std::size_t compress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst, std::size_t cap) override {
        std::size_t i = 0, o = 0;
        while (i < len) {
            std::size_t run = 1;
            while (i + run < len && run < 130 && src[i + run] == src[i]) ++run;
            if (run >= 3) {
                if (o + 2 > cap) return 0;
                dst[o++] = static_cast<std::uint8_t>(run + 125);
                dst[o++] = src[i];
                i += run;
                continue;
            }
            std::size_t lit = 0; // literal stretch until a run of 3 starts
            while (i + lit < len && lit < 128) {
                if (i + lit + 2 < len && src[i + lit] == src[i + lit + 1] && src[i + lit] == src[i + lit + 2]) break;
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
    std::size_t decompress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst, std::size_t cap) override {
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
    std::size_t compress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst, std::size_t cap) override {
        uLongf out = static_cast<uLongf>(cap);
        if (compress2(dst, &out, src, static_cast<uLong>(len), 1) != Z_OK) return 0;
        return out < len ? out : 0;
    }
    std::size_t decompress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst, std::size_t cap) override {
        uLongf out = static_cast<uLongf>(cap);
        if (uncompress(dst, &out, src, static_cast<uLong>(len)) != Z_OK) return 0;
        return out;
    }
};

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
        for (auto& f : hold_) q_.push_back({now + cfg_.delay, std::move(f)});
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
          tx(mem, sched, cfg_.sender, cfg_.compressor), rx(mem, cfg_.receiver, cfg_.decompressor), fwd(cfg_.fwd),
          back(cfg_.back) {
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
            while (budget > 0) {
                TxFrame f;
                const std::size_t len = tx.next_frame(now, buf.data(), buf.size(), f);
                if (len == 0) break;
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
                budget -= static_cast<double>(f.payload_len + cfg_.sender.wire_overhead);
                if (cfg_.tamper) cfg_.tamper(now, frame);
                fwd.push(now, std::move(frame));
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
                back.push(now, std::vector<std::uint8_t>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len)));
            }
            back.deliver(now, [&](const std::vector<std::uint8_t>& fr) {
                const WireStatus s = tx.on_feedback(now, fr.data(), fr.size());
                EXPECT_EQ(s, WireStatus::ok) << to_string(s);
            });
            if (sched.done() && fwd.idle()) {
                sched.poll(now);
                return true;
            }
            now += cfg_.step;
        }
        return false;
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
