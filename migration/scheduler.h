// SPDX-License-Identifier: BSD-3-Clause
// flowteam — several VMs' migrations: at most M at once, the rest queued
// (Hyper-V "simultaneous live migrations", default 2).
//
// start(now) starts every guest's workload (the VMs run while they wait)
// and the first M migrations in `order`; poll(now) advances the guests and
// starts the next queued migration whenever one completes. Each migration
// uses C channels; flow_index(vm, channel) = vm × C + channel is the
// 5-tuple index the data plane maps to UDP ports, so RSS spreads a migration
// over queues and the team over members.
#pragma once

#include <cstdint>
#include <vector>

#include "common/types.h"
#include "migration/memory.h"
#include "migration/precopy.h"

namespace flowteam::migration {

struct SchedulerConfig {
    std::uint16_t max_concurrent = 2; // M, >= 1
    PrecopyConfig precopy;            // C = precopy.channels
    std::vector<std::uint16_t> order; // start order (a permutation of the VMs); empty = 0..N-1
};

// Aggregate over VMs: sums of counters, total_time = first start .. last
// completion (or now), downtime = the longest blackout.
struct SchedulerTotals {
    std::uint16_t vms = 0, completed = 0, active = 0, queued = 0;
    std::uint16_t max_active = 0; // high-water mark of simultaneous migrations
    std::uint64_t total_time_ns = 0;
    std::uint64_t max_downtime_ns = 0;
    std::uint64_t transferred = 0, wire_bytes = 0, precopy_bytes = 0, downtime_bytes = 0;
    std::uint64_t duplicate = 0, normal = 0, compressed_pages = 0, compressed_bytes = 0;
    std::uint64_t pages_sent = 0, resent_pages = 0, acked_pages = 0;
    std::uint32_t max_rounds = 0; // most dirty syncs of any VM
};

class Scheduler {
  public:
    // Throws std::invalid_argument naming the field on a bad config.
    Scheduler(VmMemory& mem, const SchedulerConfig& cfg);

    void start(Tick now);
    void poll(Tick now);

    std::uint16_t vm_count() const { return static_cast<std::uint16_t>(migs_.size()); }
    std::uint16_t channels() const { return cfg_.precopy.channels; }
    std::uint32_t flow_index(std::uint16_t vm, std::uint16_t channel) const {
        return static_cast<std::uint32_t>(vm) * cfg_.precopy.channels + channel;
    }
    Precopy& migration(std::uint16_t vm) { return migs_[vm]; }
    const Precopy& migration(std::uint16_t vm) const { return migs_[vm]; }
    // VMs whose migration is running (setup, precopy, stop_copy); a VM that
    // completed stays listed until the next poll().
    const std::vector<std::uint16_t>& active() const { return active_; }
    std::uint16_t queued() const { return static_cast<std::uint16_t>(order_.size() - next_); }
    bool started() const { return started_; }
    bool done() const;
    std::uint16_t max_active() const { return max_active_; }
    // VMs in the order poll() saw their migration complete (for the sender's end frames).
    const std::vector<std::uint16_t>& completion_log() const { return completed_; }
    SchedulerTotals totals(Tick now) const;

  private:
    VmMemory& mem_;
    SchedulerConfig cfg_;
    std::vector<Precopy> migs_;
    std::vector<std::uint16_t> order_;
    std::vector<std::uint16_t> active_;
    std::vector<std::uint16_t> completed_;
    std::size_t next_ = 0;
    std::uint16_t max_active_ = 0;
    bool started_ = false;
    Tick start_ = 0;
};

} // namespace flowteam::migration
