// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the migration receiver: wire frames -> destination memory,
// back-channel messages, final verification.
//
// Pages. Per page the receiver keeps the round of the newest copy seen, its
// base round (the round of the first copy with that content, sent in the
// page frame's `count`) and a 64-bit mask of the 64-byte units already
// written. A frame with the same base as the page's holds the same content:
// its units combine with those already written, whatever its round (so under
// heavy loss the fragments of successive re-sends of an unchanged page add up
// instead of each copy having to arrive whole). A frame with another base
// restarts the page when its round is newer and is stale (dropped, counted)
// when it is not. Fragments may come in any order and twice (a unit already
// present is a duplicate). A page is acknowledged with the newest round seen
// for it; a frame of a newer copy of a page already whole is acknowledged at
// once (the sender only takes acks for the copy it has in flight).
//
// Rounds. A frame whose round is more than kMaxRoundAhead beyond the highest
// round seen for its VM is dropped and counted (round_ahead): the sender
// numbers passes 1, 2, 3, … and every pass ends with a round_end marker per
// channel, so such a jump needs kMaxRoundAhead consecutive passes with every
// frame lost (< 1e-14 at 90 % loss for 1-page passes of 3 frames and 2
// markers). A forged frame can thus move a page at most kMaxRoundAhead rounds
// ahead of the genuine copies; they are stale until the sender's passes catch
// up (the copy stays unconfirmed, so the sender re-sends it in a new pass at
// least every rto): one forged frame delays a page, it cannot block it. Only
// a keyed MAC keeps forged frames out altogether (their content too). Zero pages are written as zeros (skipped
// when the destination is already zero), compressed pages go through the
// Decompressor straight into the destination page. A page copy that becomes
// complete is acknowledged.
//
// Acks. Per flow (VM, channel) completed copies of consecutive pages of one
// round coalesce into a run {round, first, count}; a run is closed when the
// next page does not extend it, at a round_end marker, and by poll(). Closed
// runs queue per VM and go out as `ack` frames (up to max_ack_entries(mtu)
// per frame) when a frame is full or after poll().
//
// Losses. Per flow the receiver tracks sequence numbers in a window of
// `window` frames: all seqs below `cum` are received or declared lost. A gap
// at cum is declared lost once `reorder_frames` frames beyond it have arrived
// or the first frame after it is `reorder_timeout_ns` old (checked on arrival
// and in poll()). Because a pass hands pages to a channel in ascending order
// and every frame says (round, page), the gap lies between the frame before it
// (round ra, page pa) and the frame after it (round rb, page pb): the
// receiver requests, on that channel, every page after pa in round ra up to
// before pb in round rb (boundary pages too when their copy is incomplete;
// at most 8 rounds per gap). The sender re-sends only what it sent there and
// has not seen acknowledged. A gap at the very end of a flow has no frame
// after it: the sender's timeout covers that case.
//
// Frames with a seq older than `cum` are still applied (late arrivals).
//
// Not thread-safe (one RX thread). No allocation after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/types.h"
#include "migration/codec.h"
#include "migration/memory.h"
#include "migration/wire.h"

namespace flowteam::migration {

struct ReceiverConfig {
    std::uint16_t channels = 2;         // per migration, 1..1024 (as the sender's)
    std::uint32_t mtu = 1500;           // sizes back-channel frames
    std::uint32_t window = 4096;        // per-flow seq window, power of two, 64..65536
    std::uint32_t reorder_frames = 256; // >= 1
    std::uint64_t reorder_timeout_ns = 2'000'000;
    std::uint32_t max_pending = 4096; // queued ack runs / page requests per VM, >= 1
};

struct RxVmCounters {
    std::uint64_t frames = 0; // valid frames of this VM
    std::uint64_t page_frames = 0;
    std::uint64_t payload_bytes = 0;    // UDP payload bytes of valid frames
    std::uint64_t completed_copies = 0; // page copies completed (incl. newer rounds of a page)
    std::uint64_t zero_pages = 0;
    std::uint64_t compressed_pages = 0;
    std::uint64_t duplicate_frames = 0; // nothing new (fragment or seq already seen)
    std::uint64_t stale_frames = 0;     // older round than the page's newest copy, other content
    std::uint64_t combined_frames = 0;  // page frames of another copy of the content held (combined with it)
    std::uint64_t late_frames = 0;      // seq below cum (arrived after being declared lost, or duplicated)
    std::uint64_t lost_frames = 0;      // seqs declared lost
    std::uint64_t gaps = 0;             // loss declarations
    std::uint64_t request_entries = 0;  // page-request ranges queued
    std::uint64_t ack_entries = 0;      // ack runs queued
    std::uint64_t dropped_entries = 0; // runs/requests not queued: queue full (the sender's timeout recovers)
    std::uint64_t markers = 0;
    std::uint64_t feedback_frames = 0;
    bool end_seen = false;
};

struct VerifyResult {
    std::uint32_t pages = 0;
    std::uint32_t matched = 0;
    std::uint32_t mismatched = 0;                // includes never_received pages whose source is not zero
    std::uint32_t never_received = 0;            // no complete copy of the page ever arrived
    std::uint32_t incomplete = 0;                // newest copy incomplete
    std::vector<std::uint32_t> first_mismatches; // up to 16 page numbers
    bool ok() const { return pages != 0 && matched == pages; }
};

struct FeedbackFrame {
    std::uint16_t vm = 0;
    std::uint16_t channel = 0;
    std::uint32_t flow = 0; // vm × channels + channel (reverse direction)
    FrameType type = FrameType::ack;
    std::uint32_t entries = 0;
};

class Receiver {
  public:
    static constexpr std::uint32_t kMaxRoundAhead = 64;

    // Writes destination images of `mem` (with_destination). Throws
    // std::invalid_argument naming the field on a bad config.
    Receiver(VmMemory& mem, const ReceiverConfig& cfg, Decompressor* decompressor = nullptr);

    // One received UDP payload. Returns ok, or why it was dropped (counted).
    WireStatus on_frame(Tick now, const std::uint8_t* buf, std::size_t len);
    // Closes ack runs, declares timed-out gaps, makes queued entries due.
    void poll(Tick now);
    // Next back-channel frame (requests first) into buf; 0 when none is due.
    std::size_t next_feedback(Tick now, std::uint8_t* buf, std::size_t cap, FeedbackFrame& out);

    // Destination == source for every page of `vm` (per-page checksums)?
    VerifyResult verify(std::uint16_t vm) const;
    // Against checksums sent by the other side (expected[p], n == pages).
    VerifyResult verify(std::uint16_t vm, const std::uint64_t* expected, std::size_t n) const;

    const WireDropCounters& drops() const { return drops_; }
    std::uint64_t dropped_total() const;
    const RxVmCounters& vm_counters(std::uint16_t vm) const { return vms_[vm].ctr; }
    const WireLimits& limits() const { return lim_; }
    // Round of the newest copy of a page seen (0 = none), and whether it is complete.
    std::uint32_t page_round(std::uint16_t vm, std::uint32_t p) const { return vms_[vm].round[p]; }
    bool page_complete(std::uint16_t vm, std::uint32_t p) const { return vms_[vm].mask[p] == kFullMask; }

  private:
    static constexpr std::uint64_t kFullMask = ~std::uint64_t{0};
    static constexpr std::uint32_t kEndPage = 0xFFFFFFFFu; // marker / end / flow start position

    struct Flow {
        std::uint32_t cum = 0;        // next seq in order
        std::uint32_t highest = 0;    // 1 + highest seq received (== cum when no frame beyond)
        std::uint32_t prev_round = 0; // position of seq cum-1 (round 0 + kEndPage: flow start)
        std::uint32_t prev_page = kEndPage;
        std::uint32_t run_round = 0, run_first = 0, run_count = 0;
    };
    struct Vm {
        std::vector<std::uint32_t> round; // per page
        std::vector<std::uint32_t> base;  // per page: base round of the content held
        std::uint32_t max_round = 0;      // highest round accepted
        std::vector<std::uint64_t> mask;  // per page
        std::vector<AckEntry> acks;
        std::vector<PageRequest> reqs;
        std::size_t ack_head = 0, ack_n = 0, req_head = 0, req_n = 0;
        bool due = false;               // poll() made the queued acks due
        std::uint16_t back_channel = 0; // round-robin over channels for feedback
        std::vector<std::uint32_t> back_seq;
        RxVmCounters ctr;
    };

    WireStatus apply_page(const FrameView& f, std::uint32_t flow);
    void track_seq(Tick now, std::uint32_t flow, std::uint32_t seq, std::uint32_t round, std::uint32_t page,
                   bool first_fragment);
    void advance_cum(std::uint32_t flow);
    void check_gap(Tick now, std::uint32_t flow);
    // Seqs between the frame at cum-1 and the frame B (round, page) are lost: queue page requests.
    void declare_gap(std::uint32_t flow, std::uint32_t b_round, std::uint32_t b_page, bool b_first);
    bool slot_set(std::uint32_t flow, std::uint32_t seq) const;
    // First received seq in [from, to), or `to`.
    std::uint32_t next_received(std::uint32_t flow, std::uint32_t from, std::uint32_t to) const;
    void add_ack(std::uint32_t flow, std::uint32_t round, std::uint32_t page);
    void close_run(std::uint32_t flow);
    void add_request(std::uint16_t vm, const PageRequest& r);
    bool copy_incomplete(std::uint16_t vm, std::uint32_t round, std::uint32_t page) const;

    VmMemory& mem_;
    ReceiverConfig cfg_;
    Decompressor* decomp_;
    WireLimits lim_;
    std::uint32_t wmask_;
    Tick reorder_timeout_ = 0;
    std::uint32_t max_acks_, max_reqs_;
    std::vector<Vm> vms_;
    std::vector<Flow> flows_;
    std::vector<std::uint64_t> bits_;       // flows × window/64
    std::vector<std::uint32_t> slot_round_; // flows × window
    std::vector<std::uint32_t> slot_page_;
    std::vector<std::uint8_t> slot_first_; // frame was the first (or only) fragment of its page copy
    std::vector<Tick> slot_time_;
    std::vector<AckEntry> scratch_acks_;
    std::vector<PageRequest> scratch_reqs_;
    std::size_t fb_rr_ = 0;
    WireDropCounters drops_{};
};

} // namespace flowteam::migration
