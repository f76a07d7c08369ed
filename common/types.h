// SPDX-License-Identifier: BSD-3-Clause
// flowteam — shared vocabulary of the pure (DPDK-free) libraries.
//
// Everything here is plain C++20: no rte_*.h, no allocation, no exceptions.
// Time is an opaque monotonic tick count (TSC cycles in the data plane,
// nanoseconds in unit tests); callers convert durations to ticks once at
// initialisation (see ticks_from_us()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace flowteam {

using Tick = std::uint64_t;

// Tunables tied together by static_asserts (STYLE §5).
inline constexpr std::uint16_t kBurstSize = 32;       // packets per burst
inline constexpr std::uint8_t kMaxMembers = 16;       // members in one team
inline constexpr std::uint8_t kNoMember = 0xFF;       // "no active member": drop, counted
inline constexpr std::uint32_t kMinBuckets = 256;     // indirection table, at least
inline constexpr std::uint32_t kDefaultBuckets = 1024;

static_assert((kBurstSize & (kBurstSize - 1)) == 0, "burst size must be a power of two");
static_assert(kMaxMembers < kNoMember, "member index must not collide with kNoMember");
static_assert((kDefaultBuckets & (kDefaultBuckets - 1)) == 0, "bucket count must be a power of two");
static_assert(kDefaultBuckets >= kMinBuckets);

// Convert a duration to ticks given the tick rate (Hz). Done once at init.
constexpr Tick ticks_from_ns(std::uint64_t ns, std::uint64_t hz) {
    return static_cast<Tick>((static_cast<unsigned __int128>(ns) * hz) / 1'000'000'000u);
}
constexpr Tick ticks_from_us(std::uint64_t us, std::uint64_t hz) { return ticks_from_ns(us * 1000u, hz); }

// One member as the distribution logic sees it.
struct MemberInfo {
    std::uint64_t capacity_bps = 10'000'000'000ull; // link rate, used for weights/load
    std::uint32_t weight = 1;                        // relative share (derived from capacity by default)
    bool up = true;
};

// Active-member view, copied once per burst (STYLE §3): a dense list of the
// members that are up, plus per-member weights. Modes never look at a
// member that is not in `active`.
struct MemberView {
    std::uint8_t n_members = 0;                        // configured members (up or down)
    std::uint8_t n_active = 0;                         // members that are up
    std::array<std::uint8_t, kMaxMembers> active{};    // indices of up members, ascending
    std::array<std::uint32_t, kMaxMembers> weight{};   // per member index
    std::array<std::uint64_t, kMaxMembers> capacity_bps{};
    std::uint32_t active_mask = 0;                     // bit m set when member m is up

    bool is_up(std::uint8_t m) const { return m < n_members && ((active_mask >> m) & 1u) != 0; }
};

// Queue-aware flowlet timing (dynamic mode, flowlet::Timing::queue): where
// each member's packet stream stands, as of one burst. Packets handed to a
// member are numbered 1, 2, 3, ... in the order the member sends them (its
// "positions"); see flowlet/drain.h, which fills this once per burst.
struct DrainView {
    // Positions handed out so far: member m's next packet gets handed[m] + 1.
    std::array<std::uint64_t, kMaxMembers> handed{};
    // Safe-to-leave mark: every packet of member m up to this position has
    // left m long enough ago that a packet sent now on any member arrives
    // after it (gap[m] before now, see below). A flow whose last packet on m
    // is at a position <= drained[m] may move; 0 = nothing is safe yet.
    std::array<std::uint64_t, kMaxMembers> drained{};
    // The time between a departure from m and the earliest safe move (the
    // member's delay skew + delta), in ticks: only used to count moves held
    // back (a flow idle at the sender for the smallest of these whose
    // packets had not left).
    std::array<Tick, kMaxMembers> gap{};
    // Packets handed to member m that have not left it yet, as far as known
    // now (a known flow never moves to a member that holds more than its own:
    // it could not leave a queue that stays full).
    std::array<std::uint64_t, kMaxMembers> backlog{};
};

// A burst as the distribution modes see it: structure of arrays, one entry
// per packet. `hash` is the flow hash under the configured policy (see
// packet/hash.h), `bytes` the frame length on the wire, `vport` the virtual
// port / VM id (only read by the vport mode; may be nullptr otherwise),
// `drain` the members' queue state (only read by the dynamic mode with queue
// timing; nullptr there means no member has drained anything yet).
struct BurstView {
    const std::uint32_t* hash = nullptr;
    const std::uint32_t* bytes = nullptr;
    const std::uint32_t* vport = nullptr;
    std::uint16_t n = 0;
    Tick now = 0;
    const DrainView* drain = nullptr;
};

} // namespace flowteam
