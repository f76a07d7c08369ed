// SPDX-License-Identifier: BSD-3-Clause
#include "teaming/team.h"

#include <optional>
#include <stdexcept>
#include <string>

#include "teaming/members.h"

namespace flowteam::teaming {

// ---------------------------------------------------------------- names

bool parse_mode(std::string_view s, Mode& out) {
    if (s == "hash") out = Mode::hash;
    else if (s == "vport") out = Mode::vport;
    else if (s == "dynamic") out = Mode::dynamic;
    else if (s == "roundrobin") out = Mode::roundrobin;
    else if (s == "flowcell") out = Mode::flowcell;
    else if (s == "active-backup") out = Mode::active_backup;
    else return false;
    return true;
}

bool parse_teaming_mode(std::string_view s, TeamingMode& out) {
    if (s == "switch-independent") out = TeamingMode::switch_independent;
    else if (s == "static") out = TeamingMode::static_lag;
    else if (s == "lacp") out = TeamingMode::lacp;
    else return false;
    return true;
}

const char* to_string(Mode m) {
    switch (m) {
    case Mode::hash: return "hash";
    case Mode::vport: return "vport";
    case Mode::dynamic: return "dynamic";
    case Mode::roundrobin: return "roundrobin";
    case Mode::flowcell: return "flowcell";
    case Mode::active_backup: return "active-backup";
    }
    return "?";
}

const char* to_string(TeamingMode t) {
    switch (t) {
    case TeamingMode::switch_independent: return "switch-independent";
    case TeamingMode::static_lag: return "static";
    case TeamingMode::lacp: return "lacp";
    }
    return "?";
}

// ---------------------------------------------------------------- Team

struct alignas(64) Team::Impl { // per-lcore state: own cache lines
    Impl(const TeamConfig& c, const MemberInfo* members, std::uint8_t n)
        : cfg(c), set(members, n), table(c.buckets), ab(c.primary) {}

    TeamConfig cfg;
    MemberSet set;
    IndirectionTable table;
    TeamCounters counters{};
    std::optional<VportTable> vport;
    std::optional<Flowcell> flowcell;
    std::unique_ptr<flowlet::Dynamic> dynamic;
    RoundRobin rr;
    ActiveBackup ab;
};

Team::Team(const TeamConfig& cfg, const MemberInfo* members, std::uint8_t n_members) {
    if (cfg.primary >= n_members && n_members > 0)
        throw std::invalid_argument("primary: must name a configured member (0.." +
                                    std::to_string(int{n_members} - 1) + "), got " +
                                    std::to_string(cfg.primary));
    if (static_cast<std::uint8_t>(cfg.mode) > static_cast<std::uint8_t>(Mode::active_backup))
        throw std::invalid_argument("mode: unknown value " + std::to_string(static_cast<int>(cfg.mode)));
    if (static_cast<std::uint8_t>(cfg.teaming) > static_cast<std::uint8_t>(TeamingMode::lacp))
        throw std::invalid_argument("teaming: unknown value " + std::to_string(static_cast<int>(cfg.teaming)));
    if (cfg.flowcell_bytes == 0) throw std::invalid_argument("flowcell_bytes: must be >= 1, got 0");
    if (cfg.vport_slots == 0 || cfg.vport_slots > VportTable::kMaxCapacity)
        throw std::invalid_argument("vport_slots: must be in 1.." + std::to_string(VportTable::kMaxCapacity) +
                                    ", got " + std::to_string(cfg.vport_slots));
    auto impl = std::make_unique<Impl>(cfg, members, n_members);
    impl->table.build(impl->set.view());
    switch (cfg.mode) {
    case Mode::vport: impl->vport.emplace(cfg.vport_slots); break;
    case Mode::flowcell: impl->flowcell.emplace(cfg.buckets, cfg.flowcell_bytes); break;
    case Mode::dynamic: impl->dynamic = std::make_unique<flowlet::Dynamic>(cfg.dynamic); break;
    case Mode::hash:
    case Mode::roundrobin:
    case Mode::active_backup: break;
    }
    impl->ab.update(impl->set.view());
    impl_ = std::move(impl);
}

Team::~Team() = default;
Team::Team(Team&&) noexcept = default;
Team& Team::operator=(Team&&) noexcept = default;

void Team::assign(const BurstView& burst, std::uint8_t* out) { assign(burst, out, nullptr, 0); }

void Team::assign(const BurstView& burst, std::uint8_t* out, const std::uint32_t* next_hash,
                  std::uint16_t next_n) {
    Impl& s = *impl_;
    const MemberView& v = s.set.view(); // changes only in set_member_up (same lcore)
    switch (s.cfg.mode) {
    case Mode::hash: assign_hash(burst, s.table, out); break;
    case Mode::vport: s.vport->assign(burst, v, s.table, out, s.counters.vport_overflow); break;
    case Mode::dynamic:
        if (next_n != 0)
            s.dynamic->assign(burst, v, out, next_hash, next_n);
        else
            s.dynamic->assign(burst, v, out);
        break;
    case Mode::roundrobin: s.rr.assign(burst, v, out); break;
    case Mode::flowcell: s.flowcell->assign(burst, v, out); break;
    case Mode::active_backup: s.ab.assign(burst, v, out); break;
    }
    if (!s.cfg.count_packets) return;
    TeamCounters& c = s.counters;
    c.packets += burst.n;
    if (burst.bytes != nullptr) {
        for (std::uint16_t i = 0; i < burst.n; ++i) {
            const std::uint8_t m = out[i];
            const std::uint32_t b = burst.bytes[i];
            c.bytes += b;
            if (m < kMaxMembers) {
                ++c.per_member_packets[m];
                c.per_member_bytes[m] += b;
            } else {
                ++c.no_member;
            }
        }
    } else {
        for (std::uint16_t i = 0; i < burst.n; ++i) {
            const std::uint8_t m = out[i];
            if (m < kMaxMembers)
                ++c.per_member_packets[m];
            else
                ++c.no_member;
        }
    }
}

bool Team::set_member_up(std::uint8_t member, bool up) {
    Impl& s = *impl_;
    if (!s.set.set_up(member, up)) return false;
    const MemberView& v = s.set.view();
    if (up) {
        s.counters.bucket_moves += s.table.member_up(member, v);
    } else {
        s.counters.bucket_moves += s.table.member_down(member, v);
        if (s.vport) s.counters.vport_moves += s.vport->member_down(member, v);
    }
    s.rr.reset();
    if (s.flowcell) s.flowcell->reset();
    s.ab.update(v);
    s.counters.failovers = s.ab.failovers();
    // dynamic: flowlet::Dynamic sees the new view on its next burst and moves
    // the flows of a lost member itself (member_lost_moves).
    return true;
}

std::uint32_t Team::rebalance_vports() {
    if (!impl_->vport) return 0;
    const std::uint32_t moved = impl_->vport->rebalance(impl_->set.view());
    impl_->counters.vport_moves += moved;
    return moved;
}

const MemberView& Team::view() const { return impl_->set.view(); }
const TeamConfig& Team::config() const { return impl_->cfg; }
const TeamCounters& Team::counters() const { return impl_->counters; }
flowlet::EntryLocator Team::flowlet_locator() const {
    return impl_->dynamic ? impl_->dynamic->locator() : flowlet::EntryLocator{};
}

const flowlet::DynamicCounters* Team::dynamic_counters() const {
    return impl_->dynamic ? &impl_->dynamic->counters() : nullptr;
}
void Team::set_flowlet_delta(Tick delta) {
    if (impl_->dynamic) impl_->dynamic->set_delta(delta);
}
Tick Team::flowlet_delta() const { return impl_->dynamic ? impl_->dynamic->config().delta : 0; }
const std::uint8_t* Team::buckets() const { return impl_->table.data(); }
const IndirectionTable& Team::table() const { return impl_->table; }
const VportTable* Team::vports() const { return impl_->vport ? &*impl_->vport : nullptr; }
std::uint8_t Team::active_member() const {
    return impl_->cfg.mode == Mode::active_backup ? impl_->ab.current() : kNoMember;
}

// ---------------------------------------------------------------- receive side

namespace {
std::uint8_t primary_of(std::uint8_t primary, const MemberView& r) {
    if (r.is_up(primary)) return primary;
    return r.n_active > 0 ? r.active[0] : kNoMember;
}
std::uint8_t switch_hash(std::uint32_t flow_hash, const MemberView& r) {
    if (r.n_active == 0) return kNoMember;
    return r.active[mix32(flow_hash) % r.n_active];
}
} // namespace

std::uint8_t inbound_member(TeamingMode teaming, Mode mode, std::uint8_t sender_member,
                            std::uint32_t flow_hash, std::uint8_t receiver_primary,
                            const MemberView& receiver) {
    if (sender_member == kNoMember || receiver.n_active == 0) return kNoMember;
    switch (teaming) {
    case TeamingMode::switch_independent:
        switch (mode) {
        case Mode::vport:
        case Mode::dynamic:
            return receiver.is_up(sender_member) ? sender_member : switch_hash(flow_hash, receiver);
        case Mode::hash:
        case Mode::roundrobin:
        case Mode::flowcell:
        case Mode::active_backup: return primary_of(receiver_primary, receiver);
        }
        return kNoMember;
    case TeamingMode::static_lag:
    case TeamingMode::lacp: return switch_hash(flow_hash, receiver);
    }
    return kNoMember;
}

} // namespace flowteam::teaming
