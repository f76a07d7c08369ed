// SPDX-License-Identifier: BSD-3-Clause
#include "migration/receiver.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

namespace flowteam::migration {

namespace {
[[noreturn]] void bad(const std::string& msg) {
    throw std::invalid_argument("migration receiver: " + msg);
}
inline std::int32_t sdiff(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b);
}
constexpr std::uint32_t kMaxRoundsPerGap = 8;
constexpr std::uint32_t kMaxRoundAhead = Receiver::kMaxRoundAhead;
} // namespace

Receiver::Receiver(VmMemory& mem, const ReceiverConfig& cfg, Decompressor* decompressor)
    : mem_(mem), cfg_(cfg), decomp_(decompressor) {
    check_mtu(cfg.mtu);
    if (cfg.channels == 0 || cfg.channels > 1024) bad("channels must be in 1..1024");
    if (cfg.window < 64 || cfg.window > 65536 || (cfg.window & (cfg.window - 1)) != 0)
        bad("window must be a power of two in 64..65536, got " + std::to_string(cfg.window));
    if (cfg.reorder_frames == 0 || cfg.reorder_frames >= cfg.window)
        bad("reorder_frames must be in 1..window-1, got " + std::to_string(cfg.reorder_frames));
    if (cfg.max_pending == 0) bad("max_pending must be >= 1");
    if (!mem.has_destination()) bad("VmMemory has no destination images (with_destination)");
    lim_ = WireLimits::from(mem, cfg.channels);
    wmask_ = cfg.window - 1;
    reorder_timeout_ = ticks_from_ns(cfg.reorder_timeout_ns, mem.tick_hz());
    max_acks_ = max_ack_entries(cfg.mtu);
    max_reqs_ = max_request_entries(cfg.mtu);
    vms_.resize(mem.vm_count());
    for (std::uint16_t v = 0; v < mem.vm_count(); ++v) {
        Vm& s = vms_[v];
        s.round.assign(mem.pages(v), 0);
        s.base.assign(mem.pages(v), 0);
        s.mask.assign(mem.pages(v), 0);
        s.acks.resize(cfg.max_pending);
        s.reqs.resize(cfg.max_pending);
        s.back_seq.assign(cfg.channels, 0);
    }
    const std::size_t nflows = static_cast<std::size_t>(mem.vm_count()) * cfg.channels;
    flows_.resize(nflows);
    bits_.assign(nflows * (cfg.window / 64), 0);
    slot_round_.assign(nflows * cfg.window, 0);
    slot_page_.assign(nflows * cfg.window, 0);
    slot_first_.assign(nflows * cfg.window, 0);
    slot_time_.assign(nflows * cfg.window, 0);
    scratch_acks_.resize(max_acks_);
    scratch_reqs_.resize(max_reqs_);
}

std::uint64_t Receiver::dropped_total() const {
    std::uint64_t n = 0;
    for (std::size_t i = 1; i < kWireStatusCount; ++i)
        n += drops_[i];
    return n;
}

WireStatus Receiver::on_frame(Tick now, const std::uint8_t* buf, std::size_t len) {
    FrameView f;
    WireStatus s = decode(buf, len, lim_, f);
    if (s == WireStatus::ok && (f.h.type == FrameType::ack || f.h.type == FrameType::page_request))
        s = WireStatus::unexpected_type;
    if (s != WireStatus::ok) {
        ++drops_[static_cast<std::size_t>(s)];
        return s;
    }
    Vm& v = vms_[f.h.vm];
    // A round can only be this far beyond the highest one seen (receiver.h)
    if (static_cast<std::uint64_t>(f.h.round) > static_cast<std::uint64_t>(v.max_round) + kMaxRoundAhead) {
        ++drops_[static_cast<std::size_t>(WireStatus::round_ahead)];
        return WireStatus::round_ahead;
    }
    if (f.h.round > v.max_round) v.max_round = f.h.round;
    ++v.ctr.frames;
    v.ctr.payload_bytes += len;
    const std::uint32_t flow = static_cast<std::uint32_t>(f.h.vm) * cfg_.channels + f.h.channel;
    WireStatus result = WireStatus::ok;
    switch (f.h.type) {
    case FrameType::page:
        result = apply_page(f, flow);
        track_seq(now, flow, f.h.seq, f.h.round, f.h.page, f.h.offset == 0);
        break;
    case FrameType::round_end:
    case FrameType::end:
        if (f.h.type == FrameType::end)
            v.ctr.end_seen = true;
        else
            ++v.ctr.markers;
        close_run(flow);
        v.due = true;
        track_seq(now, flow, f.h.seq, f.h.round, kEndPage, true);
        break;
    case FrameType::ack:
    case FrameType::page_request:
        break; // rejected above
    }
    return result;
}

WireStatus Receiver::apply_page(const FrameView& f, std::uint32_t flow) {
    const std::uint16_t vm = f.h.vm;
    Vm& v = vms_[vm];
    const std::uint32_t p = f.h.page;
    const std::uint32_t r = f.h.round;
    const std::uint32_t base = f.h.count != 0 ? f.h.count : r;
    ++v.ctr.page_frames;
    bool newer = false;
    if (v.round[p] != 0 && base == v.base[p]) {
        // same content as the copy held: fragments of both combine
        if (r != v.round[p]) ++v.ctr.combined_frames;
        if (r > v.round[p]) {
            v.round[p] = r;
            newer = true;
        }
    } else if (r > v.round[p]) {
        v.round[p] = r; // newer content: the page starts over
        v.base[p] = base;
        v.mask[p] = 0;
    } else {
        ++v.ctr.stale_frames;
        return WireStatus::ok;
    }
    const bool zero = (f.h.flags & kFlagZero) != 0;
    const bool comp = (f.h.flags & kFlagCompressed) != 0;
    if (v.mask[p] == kFullMask) {
        ++v.ctr.duplicate_frames;
        // a newer copy of content held whole, or a whole copy again (its ack
        // may have been lost): confirm it
        if (newer ||
            (r == v.round[p] &&
             (zero || comp || static_cast<std::uint32_t>(f.h.offset) + f.h.payload_len == f.h.page_len)))
            add_ack(flow, v.round[p], p);
        return WireStatus::ok;
    }
    std::uint8_t* dst = mem_.dest_page(vm, p);
    if (zero) {
        if (!page_is_zero(dst)) std::memset(dst, 0, kPageSize);
        v.mask[p] = kFullMask;
        ++v.ctr.zero_pages;
    } else if (comp) {
        const std::size_t n = decomp_ != nullptr
                                  ? decomp_->decompress(f.body, f.h.payload_len, dst, kPageSize)
                                  : std::size_t{0};
        if (n != kPageSize) {
            ++drops_[static_cast<std::size_t>(WireStatus::decompress_failed)];
            v.mask[p] = 0;
            PageRequest q;
            q.round = r;
            q.channel = static_cast<std::uint16_t>(flow % cfg_.channels);
            q.first_page = p;
            q.last_page = p;
            add_request(vm, q);
            return WireStatus::decompress_failed;
        }
        v.mask[p] = kFullMask;
        ++v.ctr.compressed_pages;
    } else {
        const std::uint32_t first = f.h.offset / kFragmentUnit;
        const std::uint32_t units = (f.h.payload_len + kFragmentUnit - 1) / kFragmentUnit;
        const std::uint64_t bits = units >= 64 ? kFullMask : (((std::uint64_t{1} << units) - 1) << first);
        if ((v.mask[p] & bits) == bits) {
            ++v.ctr.duplicate_frames;
            return WireStatus::ok;
        }
        std::memcpy(dst + f.h.offset, f.body, f.h.payload_len);
        v.mask[p] |= bits;
    }
    if (v.mask[p] == kFullMask) {
        ++v.ctr.completed_copies;
        add_ack(flow, v.round[p], p);
    }
    return WireStatus::ok;
}

bool Receiver::slot_set(std::uint32_t flow, std::uint32_t seq) const {
    const std::uint32_t i = seq & wmask_;
    return ((bits_[static_cast<std::size_t>(flow) * (cfg_.window / 64) + (i >> 6)] >> (i & 63)) & 1u) != 0;
}

std::uint32_t Receiver::next_received(std::uint32_t flow, std::uint32_t from, std::uint32_t to) const {
    const std::uint64_t* w = bits_.data() + static_cast<std::size_t>(flow) * (cfg_.window / 64);
    std::uint32_t s = from;
    while (sdiff(s, to) < 0) {
        const std::uint32_t i = s & wmask_;
        const std::uint64_t word = w[i >> 6] >> (i & 63);
        if (word != 0) {
            const std::uint32_t cand = s + static_cast<std::uint32_t>(std::countr_zero(word));
            return sdiff(cand, to) < 0 ? cand : to;
        }
        s += 64 - (i & 63);
    }
    return to;
}

void Receiver::advance_cum(std::uint32_t flow) {
    Flow& fl = flows_[flow];
    const std::size_t base = static_cast<std::size_t>(flow) * cfg_.window;
    std::uint64_t* w = bits_.data() + static_cast<std::size_t>(flow) * (cfg_.window / 64);
    while (fl.cum != fl.highest) {
        const std::uint32_t i = fl.cum & wmask_;
        const std::uint64_t m = std::uint64_t{1} << (i & 63);
        if ((w[i >> 6] & m) == 0) break;
        w[i >> 6] &= ~m;
        fl.prev_round = slot_round_[base + i];
        fl.prev_page = slot_page_[base + i];
        ++fl.cum;
    }
}

void Receiver::track_seq(Tick now, std::uint32_t flow, std::uint32_t seq, std::uint32_t round,
                         std::uint32_t page, bool first_fragment) {
    Flow& fl = flows_[flow];
    Vm& v = vms_[flow / cfg_.channels];
    if (sdiff(seq, fl.cum) < 0) {
        ++v.ctr.late_frames;
        return;
    }
    // Beyond the window: declare the oldest gaps lost until the seq fits.
    while (sdiff(seq, fl.cum) >= static_cast<std::int32_t>(cfg_.window)) {
        advance_cum(flow);
        if (sdiff(seq, fl.cum) < static_cast<std::int32_t>(cfg_.window)) break;
        if (fl.cum == fl.highest) {
            declare_gap(flow, round, page, first_fragment);
            v.ctr.lost_frames += seq - fl.cum;
            fl.cum = seq;
            fl.highest = seq;
            break;
        }
        const std::uint32_t b = next_received(flow, fl.cum, fl.highest);
        const std::size_t sb = static_cast<std::size_t>(flow) * cfg_.window + (b & wmask_);
        declare_gap(flow, slot_round_[sb], slot_page_[sb], slot_first_[sb] != 0);
        v.ctr.lost_frames += b - fl.cum;
        fl.cum = b;
    }
    if (slot_set(flow, seq)) {
        ++v.ctr.duplicate_frames;
        return;
    }
    const std::uint32_t i = seq & wmask_;
    const std::size_t si = static_cast<std::size_t>(flow) * cfg_.window + i;
    bits_[static_cast<std::size_t>(flow) * (cfg_.window / 64) + (i >> 6)] |= std::uint64_t{1} << (i & 63);
    slot_round_[si] = round;
    slot_page_[si] = page;
    slot_first_[si] = first_fragment ? 1 : 0;
    slot_time_[si] = now;
    if (sdiff(seq, fl.highest) >= 0) fl.highest = seq + 1;
    check_gap(now, flow);
}

void Receiver::check_gap(Tick now, std::uint32_t flow) {
    Flow& fl = flows_[flow];
    Vm& v = vms_[flow / cfg_.channels];
    for (;;) {
        advance_cum(flow);
        if (fl.cum == fl.highest) return;
        const std::uint32_t b = next_received(flow, fl.cum, fl.highest);
        if (b == fl.highest) return; // cannot happen: highest-1 is received
        const std::size_t sb = static_cast<std::size_t>(flow) * cfg_.window + (b & wmask_);
        const bool by_count = fl.highest - b >= cfg_.reorder_frames;
        const bool by_time = now >= slot_time_[sb] && now - slot_time_[sb] >= reorder_timeout_;
        if (!by_count && !by_time) return;
        declare_gap(flow, slot_round_[sb], slot_page_[sb], slot_first_[sb] != 0);
        v.ctr.lost_frames += b - fl.cum;
        fl.cum = b;
    }
}

bool Receiver::copy_incomplete(std::uint16_t vm, std::uint32_t round, std::uint32_t page) const {
    const Vm& v = vms_[vm];
    return v.round[page] == round && v.mask[page] != kFullMask;
}

// The seqs between the frame at cum-1 (A) and the frame at b (B) are lost.
void Receiver::declare_gap(std::uint32_t flow, std::uint32_t b_round, std::uint32_t b_page, bool b_first) {
    const Flow& fl = flows_[flow];
    const std::uint16_t vm = static_cast<std::uint16_t>(flow / cfg_.channels);
    const std::uint16_t ch = static_cast<std::uint16_t>(flow % cfg_.channels);
    Vm& v = vms_[vm];
    ++v.ctr.gaps;
    const std::uint32_t last = lim_.pages[vm] - 1;
    std::uint64_t lo_r, lo_p, hi_r, hi_p;
    if (fl.prev_page == kEndPage) {
        lo_r = static_cast<std::uint64_t>(fl.prev_round) + 1;
        lo_p = 0;
    } else {
        lo_r = fl.prev_round;
        lo_p =
            copy_incomplete(vm, fl.prev_round, fl.prev_page) ? fl.prev_page : std::uint64_t{fl.prev_page} + 1;
        if (lo_p > last) {
            ++lo_r;
            lo_p = 0;
        }
    }
    hi_r = b_round;
    if (b_page == kEndPage) {
        hi_p = last;
    } else if (!b_first && copy_incomplete(vm, b_round, b_page)) {
        hi_p = b_page;
    } else if (b_page == 0) {
        if (hi_r == 0) return;
        --hi_r;
        hi_p = last;
    } else {
        hi_p = b_page - 1;
    }
    if (hi_r == 0 || lo_r > hi_r) return;
    std::uint64_t r = std::max<std::uint64_t>(lo_r, 1);
    if (hi_r >= kMaxRoundsPerGap && r < hi_r - (kMaxRoundsPerGap - 1)) r = hi_r - (kMaxRoundsPerGap - 1);
    for (; r <= hi_r; ++r) {
        const std::uint64_t first = r == lo_r ? lo_p : 0;
        const std::uint64_t end = r == hi_r ? hi_p : last;
        if (first > end) continue;
        PageRequest q;
        q.round = static_cast<std::uint32_t>(r);
        q.channel = ch;
        q.first_page = static_cast<std::uint32_t>(first);
        q.last_page = static_cast<std::uint32_t>(end);
        add_request(vm, q);
    }
}

void Receiver::add_request(std::uint16_t vm, const PageRequest& r) {
    Vm& v = vms_[vm];
    if (v.req_n == v.reqs.size()) {
        ++v.ctr.dropped_entries;
        return;
    }
    v.reqs[(v.req_head + v.req_n) % v.reqs.size()] = r;
    ++v.req_n;
    ++v.ctr.request_entries;
}

void Receiver::add_ack(std::uint32_t flow, std::uint32_t round, std::uint32_t page) {
    Flow& fl = flows_[flow];
    if (fl.run_count != 0 && fl.run_round == round && page == fl.run_first + fl.run_count &&
        fl.run_count < 0xFFFFFFFFu) {
        ++fl.run_count;
        return;
    }
    close_run(flow);
    fl.run_round = round;
    fl.run_first = page;
    fl.run_count = 1;
}

void Receiver::close_run(std::uint32_t flow) {
    Flow& fl = flows_[flow];
    if (fl.run_count == 0) return;
    Vm& v = vms_[flow / cfg_.channels];
    if (v.ack_n == v.acks.size()) {
        ++v.ctr.dropped_entries;
    } else {
        AckEntry& a = v.acks[(v.ack_head + v.ack_n) % v.acks.size()];
        a.round = fl.run_round;
        a.first_page = fl.run_first;
        a.count = fl.run_count;
        ++v.ack_n;
        ++v.ctr.ack_entries;
    }
    fl.run_count = 0;
}

void Receiver::poll(Tick now) {
    for (std::uint32_t f = 0; f < flows_.size(); ++f) {
        close_run(f);
        check_gap(now, f);
    }
    for (Vm& v : vms_)
        if (v.ack_n != 0) v.due = true;
}

std::size_t Receiver::next_feedback(Tick now, std::uint8_t* buf, std::size_t cap, FeedbackFrame& out) {
    if (buf == nullptr) return 0;
    cap = std::min<std::size_t>(cap, udp_payload_capacity(cfg_.mtu));
    if (cap < kHeaderSize + kRequestEntrySize) return 0;
    const std::size_t nvm = vms_.size();
    for (std::size_t k = 0; k < nvm; ++k) {
        const std::uint16_t vm = static_cast<std::uint16_t>((fb_rr_ + k) % nvm);
        Vm& v = vms_[vm];
        const bool reqs = v.req_n != 0;
        const bool acks = !reqs && v.ack_n != 0 && (v.due || v.ack_n >= max_acks_);
        if (!reqs && !acks) continue;
        FrameHeader h;
        h.vm = vm;
        h.channel = v.back_channel;
        h.seq = v.back_seq[v.back_channel]++;
        h.tx_time = now;
        std::size_t len = 0;
        std::uint32_t n = 0;
        if (reqs) {
            n = static_cast<std::uint32_t>(
                std::min<std::size_t>({v.req_n, max_reqs_, (cap - kHeaderSize) / kRequestEntrySize}));
            for (std::uint32_t i = 0; i < n; ++i)
                scratch_reqs_[i] = v.reqs[(v.req_head + i) % v.reqs.size()];
            v.req_head = (v.req_head + n) % v.reqs.size();
            v.req_n -= n;
            len = encode_requests(h, scratch_reqs_.data(), n, buf, cap);
            out.type = FrameType::page_request;
        } else {
            n = static_cast<std::uint32_t>(
                std::min<std::size_t>({v.ack_n, max_acks_, (cap - kHeaderSize) / kAckEntrySize}));
            for (std::uint32_t i = 0; i < n; ++i)
                scratch_acks_[i] = v.acks[(v.ack_head + i) % v.acks.size()];
            v.ack_head = (v.ack_head + n) % v.acks.size();
            v.ack_n -= n;
            if (v.ack_n == 0) v.due = false;
            len = encode_acks(h, scratch_acks_.data(), n, buf, cap);
            out.type = FrameType::ack;
        }
        out.vm = vm;
        out.channel = h.channel;
        out.flow = static_cast<std::uint32_t>(vm) * cfg_.channels + h.channel;
        out.entries = n;
        v.back_channel =
            static_cast<std::uint16_t>(v.back_channel + 1 == cfg_.channels ? 0 : v.back_channel + 1);
        ++v.ctr.feedback_frames;
        fb_rr_ = vm + 1u;
        return len;
    }
    return 0;
}

VerifyResult Receiver::verify(std::uint16_t vm) const {
    VerifyResult res;
    if (vm >= vms_.size() || !mem_.has_source()) return res;
    const Vm& v = vms_[vm];
    res.pages = lim_.pages[vm];
    for (std::uint32_t p = 0; p < res.pages; ++p) {
        if (v.round[p] == 0) ++res.never_received;
        if (v.mask[p] != kFullMask) ++res.incomplete;
        if (mem_.dest_checksum(vm, p) == mem_.source_checksum(vm, p)) {
            ++res.matched;
        } else {
            ++res.mismatched;
            if (res.first_mismatches.size() < 16) res.first_mismatches.push_back(p);
        }
    }
    return res;
}

VerifyResult Receiver::verify(std::uint16_t vm, const std::uint64_t* expected, std::size_t n) const {
    VerifyResult res;
    if (vm >= vms_.size() || expected == nullptr || n != lim_.pages[vm]) return res;
    const Vm& v = vms_[vm];
    res.pages = lim_.pages[vm];
    for (std::uint32_t p = 0; p < res.pages; ++p) {
        if (v.round[p] == 0) ++res.never_received;
        if (v.mask[p] != kFullMask) ++res.incomplete;
        if (mem_.dest_checksum(vm, p) == expected[p]) {
            ++res.matched;
        } else {
            ++res.mismatched;
            if (res.first_mismatches.size() < 16) res.first_mismatches.push_back(p);
        }
    }
    return res;
}

} // namespace flowteam::migration
