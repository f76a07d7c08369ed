// SPDX-License-Identifier: BSD-3-Clause
// flowteam — a team's outbound distribution: one object per TX lcore that
// turns a burst of flow hashes into a member per packet, whatever the mode.
//
// The mode is chosen once per burst (a switch), never per packet; each mode
// is a function over the whole burst (STYLE §3).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/types.h"
#include "flowlet/dynamic.h"
#include "packet/hash.h"
#include "teaming/indirection.h"
#include "teaming/modes.h"

namespace flowteam::teaming {

// Load-balancing algorithm: how outbound packets pick a member.
enum class Mode : std::uint8_t { hash, vport, dynamic, roundrobin, flowcell, active_backup };
// Teaming mode: how the team relates to the switch (drives the receive side).
enum class TeamingMode : std::uint8_t { switch_independent, static_lag, lacp };

bool parse_mode(std::string_view s, Mode& out);                 // "hash","vport","dynamic","roundrobin","flowcell","active-backup"
bool parse_teaming_mode(std::string_view s, TeamingMode& out);  // "switch-independent","static","lacp"
const char* to_string(Mode m);
const char* to_string(TeamingMode t);

struct TeamConfig {
    Mode mode = Mode::hash;
    TeamingMode teaming = TeamingMode::switch_independent;
    // The flow hash the caller computes for BurstView.hash (packet::flow_hash);
    // the Team itself only ever sees hashes.
    packet::HashPolicy hash_policy = packet::HashPolicy::l34;
    std::uint32_t buckets = kDefaultBuckets;      // indirection table size (power of two, 256..2^20);
                                                  // also the flowcell per-flow table size
    flowlet::DynamicConfig dynamic{};             // used when mode == dynamic
    std::uint32_t flowcell_bytes = 64 * 1024;     // Presto flowcell size (mode == flowcell), >= 1
    std::uint8_t primary = 0;                     // active-backup primary / switch-independent primary
    std::uint32_t vport_slots = 4096;             // vport pinning table capacity, 1..2^22
    // Per-packet counters in TeamCounters (packets, bytes, no_member,
    // per_member_*). A caller that counts the same itself while it moves the
    // packets (the engine's TX stage) turns them off: one pass less per burst.
    bool count_packets = true;
};

struct TeamCounters {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    std::uint64_t no_member = 0;                      // packets with no member up (dropped by caller, counted)
                                                      // (these four only with TeamConfig::count_packets)
                                                      // packets/bytes count every packet, per_member_* the
                                                      // assigned ones (bytes only when BurstView.bytes is set)
    std::uint64_t bucket_moves = 0;                   // indirection buckets moved by membership changes
    std::uint64_t vport_moves = 0;                    // vports re-pinned by membership changes
    std::uint64_t vport_overflow = 0;                 // packets of vports that found no slot (vport_slots
                                                      // full): sent by the indirection table instead
    std::uint64_t failovers = 0;                      // active-backup switches
    std::uint64_t per_member_packets[kMaxMembers] = {};
    std::uint64_t per_member_bytes[kMaxMembers] = {};
};

class Team {
public:
    // Throws std::invalid_argument with a one-line message on bad config.
    Team(const TeamConfig& cfg, const MemberInfo* members, std::uint8_t n_members);
    ~Team();
    Team(Team&&) noexcept;
    Team& operator=(Team&&) noexcept;

    // Member per packet (kNoMember when none is up). Hot path. The member
    // view is read once per burst; the mode is dispatched once per burst.
    // burst.bytes is used by flowcell (nullptr: 1500 B per packet), dynamic
    // (nullptr: balance by packets) and the byte counters; burst.vport is read by vport only (nullptr: the flow hash is
    // the vport id).
    void assign(const BurstView& burst, std::uint8_t* out);

    // Same, with the flow hashes of the burst that comes next (look-ahead):
    // dynamic mode passes them to flowlet::Dynamic so its table lines are
    // prefetched; the other modes ignore them. Same results as assign() above.
    // next_hash may be nullptr when next_n == 0.
    void assign(const BurstView& burst, std::uint8_t* out, const std::uint32_t* next_hash,
                std::uint16_t next_n);

    // Membership change (link down/up). Moves only the affected buckets /
    // vports / flowlets. Not on the per-packet path; no allocation. Returns
    // true when the state changed. Throws std::invalid_argument when `member`
    // is not a configured member. Not thread-safe: call it from the lcore
    // that owns this Team (one Team per TX lcore).
    bool set_member_up(std::uint8_t member, bool up);

    // vport mode: move the fewest vports so that each up member holds its
    // weighted share (vports are NOT rebalanced automatically when a member
    // joins). Returns the vports moved (also added to vport_moves); 0 in
    // other modes.
    std::uint32_t rebalance_vports();

    const MemberView& view() const;
    const TeamConfig& config() const;
    const TeamCounters& counters() const;
    const flowlet::DynamicCounters* dynamic_counters() const;   // nullptr unless mode == dynamic
    // Dynamic mode, sender timing: a new flowlet gap (ticks) from the next
    // burst on (a measured one). No-op in other modes. Throws when >= 2^54.
    void set_flowlet_delta(Tick delta);
    Tick flowlet_delta() const;   // the flowlet gap in effect (0 unless mode == dynamic)
    // Flowlet table locator for prefetching (base == nullptr unless mode == dynamic).
    flowlet::EntryLocator flowlet_locator() const;
    // Bucket -> member map of the indirection table (size = config().buckets).
    const std::uint8_t* buckets() const;
    const IndirectionTable& table() const;
    const VportTable* vports() const;            // nullptr unless mode == vport
    // Member carrying the traffic in active_backup mode (kNoMember otherwise
    // or when none is up).
    std::uint8_t active_member() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Receive-side model of the teaming mode: on which of the *receiving* team's
// members does a packet arrive, given how the sender chose its member.
//   switch-independent + hash/roundrobin/flowcell/active-backup -> the
//       receiver's primary member (the switch learned its MAC there only);
//   switch-independent + vport/dynamic -> the member the sender used (each
//       vport's MAC is advertised on its own member);
//   static / lacp -> the switch hashes the flow over the receiver's up members.
// Details: "primary" is receiver_primary if it is up, else the receiver's
// lowest up member (the MAC moves on failover). In the vport/dynamic case,
// when the receiver's member with the sender's index is down (or does not
// exist) the switch-learned MAC has moved: modelled as the flow hash over
// the receiver's up members. The switch hash is mix32(flow_hash) % n_active
// (a switch does not use the sender's hash function). kNoMember when the
// sender sent nothing (sender_member == kNoMember) or no receiver member is up.
std::uint8_t inbound_member(TeamingMode teaming, Mode mode, std::uint8_t sender_member,
                            std::uint32_t flow_hash, std::uint8_t receiver_primary,
                            const MemberView& receiver);

} // namespace flowteam::teaming
