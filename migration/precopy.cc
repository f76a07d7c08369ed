// SPDX-License-Identifier: BSD-3-Clause
#include "migration/precopy.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace flowteam::migration {

namespace {
[[noreturn]] void bad(const std::string& msg) {
    throw std::invalid_argument("migration precopy: " + msg);
}
} // namespace

const char* to_string(Phase p) {
    switch (p) {
    case Phase::queued:
        return "queued";
    case Phase::setup:
        return "setup";
    case Phase::precopy:
        return "precopy";
    case Phase::stop_copy:
        return "stop_copy";
    case Phase::completed:
        return "completed";
    }
    return "?";
}

const char* to_string(Switchover s) {
    switch (s) {
    case Switchover::none:
        return "none";
    case Switchover::converged:
        return "converged";
    case Switchover::max_rounds:
        return "max_rounds";
    }
    return "?";
}

Precopy::Precopy(VmMemory& mem, std::uint16_t vm, const PrecopyConfig& cfg)
    : mem_(mem), vm_(vm), cfg_(cfg), pages_(vm < mem.vm_count() ? mem.pages(vm) : 0) {
    if (vm >= mem.vm_count())
        bad("vm " + std::to_string(vm) + " out of range (" + std::to_string(mem.vm_count()) + " VMs)");
    if (cfg.channels == 0 || cfg.channels > 1024) bad("channels must be in 1..1024");
    if (cfg.batch_pages == 0) bad("batch_pages must be >= 1");
    if (cfg.downtime_limit_ns == 0) bad("downtime_limit_ns must be > 0");
    if (cfg.bandwidth_window_ns == 0) bad("bandwidth_window_ns must be > 0");
    if (cfg.max_rounds == 0) bad("max_rounds must be >= 1");
    if (cfg.rto_ns == 0) bad("rto_ns must be > 0");
    if (!(cfg.throttle_trigger > 0)) bad("throttle_trigger must be > 0");
    if (!(cfg.throttle_initial > 0) || !(cfg.throttle_initial <= cfg.throttle_max) ||
        !(cfg.throttle_max <= 1) || !(cfg.throttle_increment >= 0))
        bad("throttle: need 0 < throttle_initial <= throttle_max <= 1 and throttle_increment >= 0");
    const std::uint64_t hz = mem.tick_hz();
    downtime_limit_ = ticks_from_ns(cfg.downtime_limit_ns, hz);
    window_ = ticks_from_ns(cfg.bandwidth_window_ns, hz);
    rto_ = ticks_from_ns(cfg.rto_ns, hz);
    if (window_ == 0) window_ = 1;
    if (rto_ == 0) rto_ = 1;
    send_ = PageBitmap(pages_);
    resend_ = PageBitmap(pages_);
    inflight_ = PageBitmap(pages_);
    lost_ = PageBitmap(pages_);
    sent_round_.assign(pages_, 0);
    sent_channel_.assign(pages_, 0);
    sent_tick_.assign(pages_, 0);
    sent_base_.assign(pages_, 0);
    changed_ = PageBitmap(pages_);
    index_ = InflightIndex(pages_, cfg.channels);
}

std::uint64_t Precopy::ns(Tick t) const {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(t) * 1'000'000'000u) / mem_.tick_hz());
}

void Precopy::start(Tick now) {
    if (phase_ != Phase::queued) return;
    phase_ = Phase::setup;
    start_ = now;
    mem_.start_workload(vm_, now); // no-op when the guest already runs
    mem_.advance(vm_, now);
    mem_.reset_dirty(vm_); // dirty logging starts here
}

void Precopy::begin(Tick now) {
    setup_end_ = now;
    phase_ = Phase::precopy;
    send_.set_all();
    cursor_ = 0;
    pass_ = 1;
    precopy_passes_ = 1;
    st_.dirty_sync_count = 1;
    channel_ = 0;
    batch_left_ = cfg_.batch_pages;
    last_sync_ = now;
    win_start_ = now;
}

std::uint32_t Precopy::next_pages(Tick now, std::uint32_t max, PageRef* out) {
    if (phase_ == Phase::queued || phase_ == Phase::completed || max == 0) return 0;
    if (phase_ == Phase::setup) begin(now);
    if (send_.empty()) {
        end_pass(now);
        if (send_.empty()) return 0;
    }
    std::uint32_t n = 0;
    while (n < max) {
        const std::uint32_t p = send_.find_next(cursor_);
        if (p >= pages_) break;
        send_.clear(p);
        cursor_ = p + 1;
        PageRef& r = out[n++];
        r.page = p;
        r.round = pass_;
        r.channel = channel_;
        r.resend = lost_.clear(p);
        if (r.resend) ++st_.resent_pages;
        // a copy of content already sent (not written since) keeps its base round
        if (changed_.clear(p) || sent_round_[p] == 0) sent_base_[p] = pass_;
        r.base = sent_base_[p];
        inflight_.set(p);
        index_.add(pass_, p, channel_);
        sent_round_[p] = pass_;
        sent_channel_[p] = channel_;
        sent_tick_[p] = now;
        if (--batch_left_ == 0) {
            batch_left_ = cfg_.batch_pages;
            channel_ = static_cast<std::uint16_t>(channel_ + 1 == cfg_.channels ? 0 : channel_ + 1);
        }
    }
    st_.pages_sent += n;
    win_pages_ += n;
    return n;
}

// The current pass is exhausted: decide what the next one is.
void Precopy::end_pass(Tick now) {
    if (phase_ == Phase::precopy) {
        rto_scan(now);
        mem_.advance(vm_, now);
        const std::uint32_t dirtied = mem_.collect_dirty(vm_, changed_);
        send_.merge(changed_); // changed_ is a subset of send_ before the sync
        st_.dirtied_pages += dirtied;
        ++st_.dirty_sync_count;
        if (now > last_sync_)
            st_.dirty_pages_rate = static_cast<double>(dirtied) * static_cast<double>(mem_.tick_hz()) /
                                   static_cast<double>(now - last_sync_);
        last_sync_ = now;
        const std::uint64_t sent_period = st_.transferred - transferred_at_sync_;
        transferred_at_sync_ = st_.transferred;
        send_.merge(resend_);
        resend_.clear_all();
        const std::uint64_t remaining_pages = send_.count();
        const double bw = bandwidth(now);
        st_.bandwidth_bps = static_cast<std::uint64_t>(bw);
        const double remaining_bytes = static_cast<double>(remaining_pages) * kPageSize;
        st_.expected_downtime_ns =
            bw > 0 ? static_cast<std::uint64_t>(remaining_bytes / bw * 1e9) : 0; // 0: unknown yet
        const double limit_s = static_cast<double>(downtime_limit_) / static_cast<double>(mem_.tick_hz());
        if (remaining_bytes <= bw * limit_s) {
            enter_stop_copy(now, Switchover::converged);
        } else if (precopy_passes_ >= cfg_.max_rounds) {
            enter_stop_copy(now, Switchover::max_rounds);
        } else {
            // auto-converge: the guest dirtied more than throttle_trigger of
            // what we sent since the last sync, or the set did not shrink
            const bool fast = static_cast<double>(dirtied) * kPageSize >
                              cfg_.throttle_trigger * static_cast<double>(sent_period);
            const bool stuck = have_prev_remaining_ && remaining_pages >= prev_remaining_pages_;
            if (cfg_.auto_converge && (fast || stuck)) {
                double t = mem_.throttle(vm_);
                t = t <= 0 ? cfg_.throttle_initial : t + cfg_.throttle_increment;
                if (t > cfg_.throttle_max) t = cfg_.throttle_max;
                if (t != mem_.throttle(vm_)) ++st_.throttle_steps;
                mem_.set_throttle(vm_, t);
            }
            ++precopy_passes_;
        }
        prev_remaining_pages_ = remaining_pages;
        have_prev_remaining_ = true;
        ++pass_;
        cursor_ = 0;
        return;
    }
    if (phase_ == Phase::stop_copy) {
        if (resend_.empty()) {
            if (inflight_.empty()) {
                maybe_complete(now);
                return;
            }
            if (now < next_rto_scan_) return;
            next_rto_scan_ = now + (rto_ / 4 == 0 ? 1 : rto_ / 4);
            rto_scan(now);
            if (resend_.empty()) return;
        }
        start_resend_pass();
    }
}

void Precopy::start_resend_pass() {
    send_.merge(resend_);
    resend_.clear_all();
    ++pass_;
    cursor_ = 0;
}

void Precopy::enter_stop_copy(Tick now, Switchover why) {
    mem_.stop_workload(vm_, now); // the blackout starts
    st_.dirtied_pages += mem_.collect_dirty(vm_, changed_);
    send_.merge(changed_);
    send_.merge(resend_);
    resend_.clear_all();
    phase_ = Phase::stop_copy;
    st_.switchover = why;
    stop_start_ = now;
    st_.precopy_bytes = st_.transferred;
    next_rto_scan_ = now;
}

void Precopy::rto_scan(Tick now) {
    for (std::uint32_t p = inflight_.find_next(0); p < pages_; p = inflight_.find_next(p + 1)) {
        if (sent_tick_[p] + rto_ <= now && !send_.test(p) && resend_.set(p)) {
            lost_.set(p);
            ++st_.rto_pages;
        }
    }
}

void Precopy::maybe_complete(Tick now) {
    if (phase_ == Phase::stop_copy && send_.empty() && resend_.empty() && inflight_.empty()) {
        phase_ = Phase::completed;
        end_ = now;
    }
}

void Precopy::on_page_sent(PageKind kind, std::uint32_t body_bytes) {
    switch (kind) {
    case PageKind::zero:
        ++st_.duplicate;
        break;
    case PageKind::raw:
        ++st_.normal;
        break;
    case PageKind::compressed:
        ++st_.normal;
        ++st_.compressed_pages;
        st_.compressed_bytes += body_bytes;
        break;
    }
}

void Precopy::close_window(Tick now) {
    if (now < win_start_ + window_) return;
    const double dt = static_cast<double>(now - win_start_) / static_cast<double>(mem_.tick_hz());
    win_bw_ = static_cast<double>(win_bytes_) / dt;
    win_pps_ = static_cast<double>(win_pages_) / dt;
    have_window_ = true;
    win_start_ = now;
    win_bytes_ = 0;
    win_pages_ = 0;
}

double Precopy::bandwidth(Tick now) const {
    if (have_window_) return win_bw_;
    if (now <= setup_end_) return 0;
    return static_cast<double>(st_.transferred) * static_cast<double>(mem_.tick_hz()) /
           static_cast<double>(now - setup_end_);
}

void Precopy::on_sent(Tick now, std::uint32_t payload_bytes, std::uint32_t wire_bytes) {
    st_.transferred += payload_bytes;
    st_.wire_bytes += wire_bytes;
    ++st_.frames_sent;
    if (phase_ == Phase::stop_copy || phase_ == Phase::completed) st_.downtime_bytes += payload_bytes;
    win_bytes_ += payload_bytes;
    close_window(now);
}

// Both walk only copies in flight that the entry names (InflightIndex):
// O(log n) per entry plus O(1) per copy it confirms or reports, whatever it says.
void Precopy::on_ack(Tick now, const AckEntry& a) {
    if (phase_ == Phase::queued) return;
    const std::uint64_t end = static_cast<std::uint64_t>(a.first_page) + a.count;
    if (a.round == 0 || a.round > pass_ || end > pages_) {
        ++st_.feedback_bad_round; // a round not sent yet (or a range decode lets through: never)
        return;
    }
    const std::uint32_t hit =
        index_.take_acked(a.round, a.first_page, static_cast<std::uint32_t>(end), [&](std::uint32_t p) {
            inflight_.clear(p);
            ++st_.acked_pages;
            // a page request for this very copy turned out spurious
            if (resend_.clear(p)) lost_.clear(p);
        });
    if (hit < a.count) st_.ack_pages_not_in_flight += a.count - hit;
    if (hit != 0) maybe_complete(now);
}

void Precopy::on_page_request(Tick /*now*/, const PageRequest& r) {
    if (phase_ != Phase::precopy && phase_ != Phase::stop_copy) return;
    if (r.first_page > r.last_page || r.last_page >= pages_ || r.channel >= cfg_.channels || r.round == 0 ||
        r.round > pass_) {
        ++st_.feedback_bad_round;
        return;
    }
    const std::uint32_t hit =
        index_.take_requested(r.round, r.channel, r.first_page, r.last_page, [&](std::uint32_t p) {
            if (send_.test(p)) return; // going out in this pass anyway
            if (resend_.set(p)) {
                lost_.set(p);
                ++st_.requested_pages;
            }
        });
    if (hit == 0) ++st_.request_entries_unmatched;
}

void Precopy::poll(Tick now) {
    if (phase_ == Phase::setup || phase_ == Phase::precopy) mem_.advance(vm_, now);
    maybe_complete(now);
}

MigrationStats Precopy::stats(Tick now) const {
    MigrationStats s = st_;
    s.phase = phase_;
    s.rounds = pass_;
    s.throttle = mem_.throttle(vm_);
    s.unconfirmed = inflight_.count();
    s.remaining = (static_cast<std::uint64_t>(send_.count()) + resend_.count()) * kPageSize;
    s.mbps = win_bw_ * 8.0 / 1e6;
    s.pages_per_second = win_pps_;
    if (!have_window_ && phase_ != Phase::queued) {
        const Tick t_end = phase_ == Phase::completed ? end_ : now;
        if (t_end > setup_end_) {
            const double dt = static_cast<double>(t_end - setup_end_) / static_cast<double>(mem_.tick_hz());
            s.mbps = static_cast<double>(st_.transferred) * 8.0 / 1e6 / dt;
            s.pages_per_second = static_cast<double>(st_.pages_sent) / dt;
        }
    }
    if (phase_ == Phase::queued) return s;
    const Tick t_end = phase_ == Phase::completed ? end_ : now;
    s.total_time_ns = t_end > start_ ? ns(t_end - start_) : 0;
    if (phase_ != Phase::setup)
        s.setup_time_ns = ns(setup_end_ - start_);
    else
        s.setup_time_ns = s.total_time_ns;
    if (phase_ == Phase::stop_copy || phase_ == Phase::completed)
        s.downtime_ns = t_end > stop_start_ ? ns(t_end - stop_start_) : 0;
    if (phase_ == Phase::setup || phase_ == Phase::precopy) s.precopy_bytes = st_.transferred;
    return s;
}

} // namespace flowteam::migration
