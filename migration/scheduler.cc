// SPDX-License-Identifier: BSD-3-Clause
#include "migration/scheduler.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace flowteam::migration {

Scheduler::Scheduler(VmMemory& mem, const SchedulerConfig& cfg) : mem_(mem), cfg_(cfg) {
    if (cfg.max_concurrent == 0)
        throw std::invalid_argument("migration scheduler: max_concurrent must be >= 1");
    const std::uint16_t n = mem.vm_count();
    migs_.reserve(n);
    for (std::uint16_t v = 0; v < n; ++v)
        migs_.emplace_back(mem, v, cfg.precopy);
    if (cfg.order.empty()) {
        for (std::uint16_t v = 0; v < n; ++v)
            order_.push_back(v);
    } else {
        std::vector<bool> seen(n, false);
        if (cfg.order.size() != n)
            throw std::invalid_argument("migration scheduler: order must list each of the " +
                                        std::to_string(n) + " VMs exactly once");
        for (std::uint16_t v : cfg.order) {
            if (v >= n || seen[v])
                throw std::invalid_argument("migration scheduler: order must list each of the " +
                                            std::to_string(n) + " VMs exactly once");
            seen[v] = true;
        }
        order_ = cfg.order;
    }
    active_.reserve(std::min<std::size_t>(cfg.max_concurrent, n));
    completed_.reserve(n);
}

void Scheduler::start(Tick now) {
    if (started_) return;
    started_ = true;
    start_ = now;
    for (std::uint16_t v = 0; v < vm_count(); ++v)
        mem_.start_workload(v, now);
    poll(now);
}

void Scheduler::poll(Tick now) {
    if (!started_) return;
    for (std::uint16_t v = 0; v < vm_count(); ++v) {
        if (migs_[v].active())
            migs_[v].poll(now);
        else if (migs_[v].phase() == Phase::queued)
            mem_.advance(v, now);
    }
    for (std::uint16_t v : active_)
        if (migs_[v].done()) completed_.push_back(v);
    std::erase_if(active_, [&](std::uint16_t v) { return migs_[v].done(); });
    while (active_.size() < cfg_.max_concurrent && next_ < order_.size()) {
        const std::uint16_t v = order_[next_++];
        migs_[v].start(now);
        active_.push_back(v);
    }
    max_active_ = std::max<std::uint16_t>(max_active_, static_cast<std::uint16_t>(active_.size()));
}

bool Scheduler::done() const {
    if (!started_ || next_ < order_.size()) return false;
    for (const Precopy& m : migs_)
        if (!m.done()) return false;
    return true;
}

SchedulerTotals Scheduler::totals(Tick now) const {
    SchedulerTotals t;
    t.vms = vm_count();
    t.max_active = max_active_;
    Tick last = started_ ? start_ : now;
    bool all_done = true;
    for (const Precopy& m : migs_) {
        const MigrationStats s = m.stats(now);
        if (m.done()) {
            ++t.completed;
            last = std::max(last, m.end_tick());
        } else {
            all_done = false;
            if (m.active())
                ++t.active;
            else
                ++t.queued;
        }
        t.max_downtime_ns = std::max(t.max_downtime_ns, s.downtime_ns);
        t.transferred += s.transferred;
        t.wire_bytes += s.wire_bytes;
        t.precopy_bytes += s.precopy_bytes;
        t.downtime_bytes += s.downtime_bytes;
        t.duplicate += s.duplicate;
        t.normal += s.normal;
        t.compressed_pages += s.compressed_pages;
        t.compressed_bytes += s.compressed_bytes;
        t.pages_sent += s.pages_sent;
        t.resent_pages += s.resent_pages;
        t.acked_pages += s.acked_pages;
        t.max_rounds = std::max(t.max_rounds, s.dirty_sync_count);
    }
    if (!all_done) last = now;
    if (started_ && last > start_)
        t.total_time_ns = static_cast<std::uint64_t>(
            (static_cast<unsigned __int128>(last - start_) * 1'000'000'000u) / mem_.tick_hz());
    return t;
}

} // namespace flowteam::migration
