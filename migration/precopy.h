// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the pre-copy state machine of one VM's migration (QEMU model).
//
//   queued --start()--> setup --first next_pages()--> precopy
//          --switchover--> stop_copy --all acked--> completed
//
// setup      dirty logging starts (the dirty log is cleared), every page is
//            put in the send set (dirty-sync #1).
// precopy    passes ("rounds"): next_pages() hands out the pages of the
//            current pass in ascending page order, striped over the C
//            channels in round-robin batches of `batch_pages` (QEMU multifd
//            packs 128 pages). When a pass is exhausted, the next call does a
//            bitmap sync (dirty-sync): the pages the guest wrote since the
//            previous sync, plus the pages reported lost, become the next
//            pass. Switchover to stop-and-copy when
//                remaining bytes (pages of the next pass × 4096)
//                    <= bandwidth × downtime_limit
//            (bandwidth = transferred bytes over the last closed 100 ms
//            window, reported by on_sent()), or when `max_rounds` pre-copy
//            passes are done. With auto_converge, a sync at which the guest
//            had dirtied more than throttle_trigger (50 %) of the bytes sent
//            since the previous sync, or whose remaining set did not shrink,
//            raises the guest throttle (20 %, then +10 % per such sync, at
//            most 99 %: QEMU's cpu-throttle defaults).
// stop_copy  the guest is stopped (the blackout starts), the last dirty pages
//            are sent; lost pages go into a new pass as soon as the current
//            one is exhausted ("immediately"); completion only when every
//            page copy handed out has been acknowledged.
//
// Reliability: every page copy handed out stays "in flight" until an ack for
// exactly that copy (page, round) arrives.
// Back-channel entries are checked against what was sent: a round not sent
// yet is counted (feedback_bad_round) and dropped; an ack confirms only copies
// in flight of exactly that round (others: ack_pages_not_in_flight); a request
// reports only copies of that round sent on that channel still in flight. Both
// are looked up in an InflightIndex: O(log n) per entry plus O(1) per copy
// confirmed or reported, so a forged or replayed frame costs at most
// O(entries × channels × log n) (inflight.h). Without a MAC the sender cannot
// tell a forged ack for a copy in flight from a genuine one: that copy is then
// taken as delivered (the keyed MAC of issue #15 is what closes this).
//
// Content rounds: a copy re-sent while the page was not written since the
// previous copy carries that copy's base round (PageRef::base), so the
// receiver combines fragments of all copies of the same content. Copies reported lost by a
// page_request (round, channel, page range) are re-sent in the next pass;
// copies unconfirmed for `rto_ns` are re-sent too (checked at every pass end
// and, in stop-copy while waiting, every rto/4). A late ack for an old copy
// never confirms a newer one.
//
// The pass number is the `round` on the wire: it also counts the extra passes
// of stop-copy re-sends; `dirty_sync_count` counts bitmap syncs only.
//
// Not thread-safe: one thread drives a Precopy (the sender of its VM).
// next_pages/on_* do no allocation.
#pragma once

#include <cstdint>
#include <vector>

#include "common/types.h"
#include "migration/bitmap.h"
#include "migration/inflight.h"
#include "migration/memory.h"
#include "migration/wire.h"

namespace flowteam::migration {

enum class Phase : std::uint8_t { queued, setup, precopy, stop_copy, completed };
enum class Switchover : std::uint8_t { none, converged, max_rounds };
enum class PageKind : std::uint8_t { zero, raw, compressed };
const char* to_string(Phase p);
const char* to_string(Switchover s);

struct PrecopyConfig {
    std::uint16_t channels = 2;                    // flows per migration, 1..1024
    std::uint32_t batch_pages = 128;               // consecutive pages per channel batch, >= 1
    std::uint64_t downtime_limit_ns = 300'000'000; // QEMU downtime-limit, > 0
    std::uint64_t bandwidth_window_ns = 100'000'000;
    std::uint32_t max_rounds = 30; // pre-copy passes before a forced switchover, >= 1
    bool auto_converge = false;
    double throttle_initial = 0.20;   // 0 < initial <= max <= 1
    double throttle_increment = 0.10; // >= 0
    double throttle_max = 0.99;
    double throttle_trigger = 0.5;     // QEMU throttle-trigger-threshold 50 %, > 0
    std::uint64_t rto_ns = 20'000'000; // re-send a copy unconfirmed this long, > 0
};

// One page copy to send. Pages of a pass come in ascending order; every
// frame of one page must be sent before the next page of the same channel.
struct PageRef {
    std::uint32_t page = 0;
    std::uint32_t round = 0; // pass number, goes into the wire header
    std::uint16_t channel = 0;
    bool resend = false; // re-sent because a previous copy was lost
    // Round of the first copy with this content: the page was not written
    // since (== round unless this is a re-send of unchanged content). On the
    // wire in the page frame's `count`; lets the receiver combine fragments
    // of different copies of the same content.
    std::uint32_t base = 0;
};

// QEMU query-migrate names where one exists.
struct MigrationStats {
    Phase phase = Phase::queued;
    Switchover switchover = Switchover::none;
    std::uint64_t total_time_ns = 0; // start .. completion (or now)
    std::uint64_t setup_time_ns = 0;
    std::uint64_t downtime_ns = 0;          // stop-copy start .. completion (or now)
    std::uint64_t expected_downtime_ns = 0; // remaining / bandwidth at the last sync
    std::uint64_t transferred = 0;          // payload bytes (header + body) handed to on_sent
    std::uint64_t wire_bytes = 0;           // bytes on the wire, as the caller reported them
    std::uint64_t remaining = 0;            // bytes of pages still to hand out in this/next pass
    std::uint64_t duplicate = 0;            // zero pages sent (no body)
    std::uint64_t normal = 0;               // pages sent with a body (raw or compressed)
    std::uint64_t compressed_pages = 0;     // of `normal`, sent compressed
    std::uint64_t compressed_bytes = 0;     // compressed body bytes of those pages
    double dirty_pages_rate = 0;            // pages/s newly dirtied between the last two syncs
    double mbps = 0;                        // transferred rate of the last closed window, Mb/s
    double pages_per_second = 0;            // pages handed out per second, last closed window
    std::uint32_t dirty_sync_count = 0;     // bitmap syncs
    std::uint32_t rounds = 0;               // passes (= highest wire round)
    std::uint64_t precopy_bytes = 0;        // transferred before the switchover
    std::uint64_t downtime_bytes = 0;       // transferred during stop-copy
    std::uint64_t pages_sent = 0;           // page copies handed out (incl. re-sends)
    std::uint64_t frames_sent = 0;          // on_sent calls
    std::uint64_t resent_pages = 0;         // copies re-sent because a previous copy was lost
    std::uint64_t acked_pages = 0;          // copies confirmed
    std::uint64_t requested_pages = 0;      // in-flight copies matched by page requests
    std::uint64_t rto_pages = 0;            // in-flight copies declared lost by the timeout
    std::uint64_t dirtied_pages = 0;        // pages collected from the dirty log after setup
    std::uint64_t unconfirmed = 0;          // copies in flight now
    double throttle = 0;                    // cpu-throttle-percentage / 100
    std::uint32_t throttle_steps = 0;       // auto-converge raises
    std::uint64_t bandwidth_bps = 0;        // bytes/s used for the switchover decision
    // Back-channel entries dropped or matching nothing (forged, late or duplicated):
    std::uint64_t feedback_bad_round = 0;        // entries naming round 0 or a round not sent yet
    std::uint64_t ack_pages_not_in_flight = 0;   // acked pages with no copy of that round in flight
    std::uint64_t request_entries_unmatched = 0; // requests naming no copy in flight still unreported
};

class Precopy {
  public:
    // Throws std::invalid_argument naming the field on a bad config.
    Precopy(VmMemory& mem, std::uint16_t vm, const PrecopyConfig& cfg);

    // queued -> setup. No-op unless queued.
    void start(Tick now);
    // Up to `max` page copies of the current pass (never two passes in one
    // call). When the pass is exhausted on entry, this call ends it (sync,
    // switchover, re-sends, completion) and starts the next one. Returns 0
    // when there is nothing to send now (waiting for acks, or done).
    std::uint32_t next_pages(Tick now, std::uint32_t max, PageRef* out);
    // All pages of the current pass handed out (the sender then emits the
    // round_end markers of pass()).
    bool pass_exhausted() const { return pass_ != 0 && send_.empty(); }
    std::uint32_t pass() const { return pass_; }

    // Accounting from the sender: once per page copy, then per frame.
    void on_page_sent(PageKind kind, std::uint32_t body_bytes);
    void on_sent(Tick now, std::uint32_t payload_bytes, std::uint32_t wire_bytes);
    // Back channel.
    void on_ack(Tick now, const AckEntry& a);
    void on_page_request(Tick now, const PageRequest& r);
    // Advances the guest workload; completes a migration that is done.
    void poll(Tick now);

    Phase phase() const { return phase_; }
    bool active() const {
        return phase_ == Phase::setup || phase_ == Phase::precopy || phase_ == Phase::stop_copy;
    }
    bool done() const { return phase_ == Phase::completed; }
    std::uint16_t vm() const { return vm_; }
    std::uint16_t channels() const { return cfg_.channels; }
    const PrecopyConfig& config() const { return cfg_; }
    bool in_flight(std::uint32_t page) const { return inflight_.test(page); }
    // Snapshot; time fields are measured up to `now` while running.
    MigrationStats stats(Tick now) const;
    Tick start_tick() const { return start_; }
    Tick end_tick() const { return end_; }

  private:
    void begin(Tick now);
    void end_pass(Tick now);
    void enter_stop_copy(Tick now, Switchover why);
    void start_resend_pass();
    void rto_scan(Tick now);
    void maybe_complete(Tick now);
    void close_window(Tick now);
    double bandwidth(Tick now) const;
    std::uint64_t ns(Tick t) const;

    VmMemory& mem_;
    std::uint16_t vm_;
    PrecopyConfig cfg_;
    std::uint32_t pages_;
    Tick downtime_limit_ = 0, window_ = 0, rto_ = 0;

    Phase phase_ = Phase::queued;
    PageBitmap send_;     // current pass, not yet handed out
    PageBitmap resend_;   // lost copies, for the next pass
    PageBitmap inflight_; // handed out, not yet confirmed
    PageBitmap lost_;     // marked lost, not yet re-handed out (counts resent_pages)
    std::vector<std::uint32_t> sent_round_;
    std::vector<std::uint16_t> sent_channel_;
    std::vector<Tick> sent_tick_;
    std::vector<std::uint32_t> sent_base_; // round of the first copy with the page's current content
    PageBitmap changed_;                   // dirtied since the page was last handed out
    InflightIndex index_;                  // the copies in inflight_, by (channel, round, page)

    std::uint32_t cursor_ = 0;
    std::uint32_t pass_ = 0;
    std::uint16_t channel_ = 0;
    std::uint32_t batch_left_ = 0;

    Tick start_ = 0, setup_end_ = 0, stop_start_ = 0, end_ = 0;
    Tick last_sync_ = 0, next_rto_scan_ = 0;
    Tick win_start_ = 0;
    std::uint64_t win_bytes_ = 0, win_pages_ = 0;
    bool have_window_ = false;
    double win_bw_ = 0, win_pps_ = 0;
    std::uint64_t prev_remaining_pages_ = 0;
    std::uint64_t transferred_at_sync_ = 0;
    bool have_prev_remaining_ = false;
    std::uint32_t precopy_passes_ = 0;

    MigrationStats st_;
};

} // namespace flowteam::migration
