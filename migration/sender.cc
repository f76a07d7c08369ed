// SPDX-License-Identifier: BSD-3-Clause
#include "migration/sender.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace flowteam::migration {

Sender::Sender(VmMemory& mem, Scheduler& sched, const SenderConfig& cfg, Compressor* compressor)
    : mem_(mem), sched_(sched), cfg_(cfg), comp_(compressor) {
    check_mtu(cfg.mtu);
    if (cfg.fetch_pages == 0 || cfg.fetch_pages > 256)
        throw std::invalid_argument("migration sender: fetch_pages must be in 1..256, got " +
                                    std::to_string(cfg.fetch_pages));
    if (!mem.has_source())
        throw std::invalid_argument("migration sender: VmMemory has no source images (with_source)");
    lim_ = WireLimits::from(mem, sched.channels());
    frag_ = page_fragment_bytes(cfg.mtu);
    body_cap_ = frame_body_capacity(cfg.mtu);
    vms_.resize(mem.vm_count());
    for (VmTx& t : vms_) {
        t.seq.assign(sched.channels(), 0);
        t.pass_frames.assign(sched.channels(), 0);
    }
    end_queue_.reserve(mem.vm_count());
}

std::size_t Sender::next_frame(Tick now, std::uint8_t* buf, std::size_t cap, TxFrame& out) {
    if (cap < udp_payload_capacity(cfg_.mtu) || buf == nullptr) {
        ++ctr_.buffer_too_small;
        return 0;
    }
    const auto& log = sched_.completion_log();
    for (; log_seen_ < log.size(); ++log_seen_)
        note_done(log[log_seen_]);
    if (!end_queue_.empty()) {
        const std::uint16_t vm = end_queue_.back();
        end_queue_.pop_back();
        return emit_end(vm, now, buf, cap, out);
    }
    const auto& act = sched_.active();
    const std::size_t n = act.size();
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = (rr_ + k) % n;
        const std::size_t len = emit(act[i], now, buf, cap, out);
        if (len != 0) {
            rr_ = i + 1;
            return len;
        }
    }
    if (!end_queue_.empty()) return next_frame(now, buf, cap, out);
    return 0;
}

std::size_t Sender::next_frame_for(std::uint16_t vm, Tick now, std::uint8_t* buf, std::size_t cap,
                                   TxFrame& out) {
    if (cap < udp_payload_capacity(cfg_.mtu) || buf == nullptr || vm >= vms_.size()) {
        ++ctr_.buffer_too_small;
        return 0;
    }
    VmTx& t = vms_[vm];
    if (t.end_pending) {
        std::erase(end_queue_, vm);
        return emit_end(vm, now, buf, cap, out);
    }
    const std::size_t len = emit(vm, now, buf, cap, out);
    if (len == 0 && t.end_pending) {
        std::erase(end_queue_, vm);
        return emit_end(vm, now, buf, cap, out);
    }
    return len;
}

void Sender::note_done(std::uint16_t vm) {
    VmTx& t = vms_[vm];
    if (sched_.migration(vm).done() && !t.end_pending && !t.end_sent) {
        t.end_pending = true;
        end_queue_.push_back(vm);
    }
}

std::size_t Sender::emit(std::uint16_t vm, Tick now, std::uint8_t* buf, std::size_t cap, TxFrame& out) {
    VmTx& t = vms_[vm];
    Precopy& pc = sched_.migration(vm);
    for (int step = 0; step < 4; ++step) {
        if (t.in_page) return emit_fragment(vm, t, now, buf, cap, out);
        if (t.next_ref < t.n_refs) return start_page(vm, t, now, buf, cap, out);
        if (t.marker_pending) {
            const std::uint16_t ch = t.marker_channel;
            FrameHeader h;
            h.type = FrameType::round_end;
            h.vm = vm;
            h.channel = ch;
            h.round = t.marked_pass;
            h.count = t.pass_frames[ch];
            h.seq = t.seq[ch]++;
            h.tx_time = now;
            const std::size_t len = encode_header(h, buf, cap);
            if (++t.marker_channel == sched_.channels()) t.marker_pending = false;
            ++ctr_.markers;
            return finish(vm, now, h, len, 0, nullptr, out);
        }
        if (!pc.active()) return 0;
        if (pc.pass_exhausted() && t.marked_pass < pc.pass()) {
            t.marked_pass = pc.pass();
            t.marker_pending = true;
            t.marker_channel = 0;
            continue;
        }
        const std::uint32_t n = pc.next_pages(now, cfg_.fetch_pages, t.refs);
        note_done(vm);
        if (n == 0) return 0;
        if (t.refs[0].round != t.pass_of_frames) {
            t.pass_of_frames = t.refs[0].round;
            std::fill(t.pass_frames.begin(), t.pass_frames.end(), 0u);
        }
        t.n_refs = n;
        t.next_ref = 0;
    }
    return 0;
}

std::size_t Sender::start_page(std::uint16_t vm, VmTx& t, Tick now, std::uint8_t* buf, std::size_t cap,
                               TxFrame& out) {
    const PageRef r = t.refs[t.next_ref++];
    Precopy& pc = sched_.migration(vm);
    const std::uint8_t* src = mem_.source_page(vm, r.page);
    FrameHeader h;
    h.type = FrameType::page;
    h.flags = r.resend ? kFlagResend : 0;
    h.vm = vm;
    h.channel = r.channel;
    h.round = r.round;
    h.page = r.page;
    h.count = r.base;
    h.tx_time = now;
    if (cfg_.detect_zero && page_is_zero(src)) {
        h.flags |= kFlagZero;
        h.seq = t.seq[r.channel]++;
        const std::size_t len = encode_header(h, buf, cap);
        pc.on_page_sent(PageKind::zero, 0);
        ++t.pass_frames[r.channel];
        return finish(vm, now, h, len, 0, nullptr, out);
    }
    // a re-sent copy goes raw: a receiver that could not decompress the first one gets it anyway
    if (comp_ != nullptr && !r.resend && cfg_.compress_sample && page_looks_incompressible(src)) {
        ++ctr_.compress_skipped;
    } else if (comp_ != nullptr && !r.resend) {
        ++ctr_.compress_calls;
        const std::size_t room = std::min<std::size_t>(cap - kHeaderSize, body_cap_);
        const std::size_t n = comp_->compress(src, kPageSize, buf + kHeaderSize, room);
        if (n > 0 && n < kPageSize && n <= room) {
            h.flags |= kFlagCompressed;
            h.page_len = static_cast<std::uint16_t>(n);
            h.payload_len = static_cast<std::uint16_t>(n);
            h.seq = t.seq[r.channel]++;
            encode_header(h, buf, cap); // the body is already in place
            pc.on_page_sent(PageKind::compressed, static_cast<std::uint32_t>(n));
            ++t.pass_frames[r.channel];
            return finish(vm, now, h, kHeaderSize + n, static_cast<std::uint32_t>(n), nullptr, out);
        }
        ++ctr_.compress_rejects;
    }
    pc.on_page_sent(PageKind::raw, kPageSize);
    t.in_page = true;
    t.cur = r;
    t.offset = 0;
    return emit_fragment(vm, t, now, buf, cap, out);
}

std::size_t Sender::emit_fragment(std::uint16_t vm, VmTx& t, Tick now, std::uint8_t* buf, std::size_t cap,
                                  TxFrame& out) {
    const PageRef& r = t.cur;
    const std::uint32_t len = std::min(frag_, kPageSize - t.offset);
    const std::uint8_t* body = mem_.source_page(vm, r.page) + t.offset;
    FrameHeader h;
    h.type = FrameType::page;
    h.flags = r.resend ? kFlagResend : 0;
    h.vm = vm;
    h.channel = r.channel;
    h.round = r.round;
    h.page = r.page;
    h.count = r.base;
    h.offset = static_cast<std::uint16_t>(t.offset);
    h.payload_len = static_cast<std::uint16_t>(len);
    h.page_len = static_cast<std::uint16_t>(kPageSize);
    h.tx_time = now;
    h.seq = t.seq[r.channel]++;
    t.offset += len;
    if (t.offset >= kPageSize) t.in_page = false;
    ++t.pass_frames[r.channel];
    if (cfg_.zero_copy) {
        const std::size_t w = encode_header(h, buf, cap);
        ++ctr_.zero_copy_frames;
        return finish(vm, now, h, w, len, body, out);
    }
    const std::size_t w = encode_frame(h, body, buf, cap);
    return finish(vm, now, h, w, len, nullptr, out);
}

std::size_t Sender::emit_end(std::uint16_t vm, Tick now, std::uint8_t* buf, std::size_t cap, TxFrame& out) {
    VmTx& t = vms_[vm];
    t.end_pending = false;
    t.end_sent = true;
    FrameHeader h;
    h.type = FrameType::end;
    h.vm = vm;
    h.channel = 0;
    h.round = std::max<std::uint32_t>(1, sched_.migration(vm).pass());
    h.seq = t.seq[0]++;
    h.tx_time = now;
    const std::size_t len = encode_header(h, buf, cap);
    ++ctr_.end_frames;
    return finish(vm, now, h, len, 0, nullptr, out);
}

std::size_t Sender::finish(std::uint16_t vm, Tick now, const FrameHeader& h, std::size_t written,
                           std::uint32_t body_len, const std::uint8_t* ext, TxFrame& out) {
    out.vm = vm;
    out.channel = h.channel;
    out.flow = sched_.flow_index(vm, h.channel);
    out.type = h.type;
    out.page = h.page;
    out.round = h.round;
    out.seq = h.seq;
    out.payload_len = kHeaderSize + body_len;
    out.ext = ext;
    out.ext_len = ext != nullptr ? body_len : 0;
    ++ctr_.frames;
    if (h.type == FrameType::page) ++ctr_.page_frames;
    sched_.migration(vm).on_sent(now, out.payload_len, out.payload_len + cfg_.wire_overhead);
    return written;
}

WireStatus Sender::on_feedback(Tick now, const std::uint8_t* buf, std::size_t len) {
    FrameView f;
    WireStatus s = decode(buf, len, lim_, f);
    if (s == WireStatus::ok && f.h.type != FrameType::ack && f.h.type != FrameType::page_request)
        s = WireStatus::unexpected_type;
    if (s != WireStatus::ok) {
        ++ctr_.drops[static_cast<std::size_t>(s)];
        return s;
    }
    ++ctr_.feedback_frames;
    Precopy& pc = sched_.migration(f.h.vm);
    if (f.h.type == FrameType::ack) {
        for (std::uint32_t i = 0; i < f.h.count; ++i)
            pc.on_ack(now, ack_entry(f, i));
        ctr_.ack_entries += f.h.count;
    } else {
        for (std::uint32_t i = 0; i < f.h.count; ++i)
            pc.on_page_request(now, request_entry(f, i));
        ctr_.request_entries += f.h.count;
    }
    note_done(f.h.vm);
    return WireStatus::ok;
}

} // namespace flowteam::migration
