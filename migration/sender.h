// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the migration sender: page copies -> wire frames, back channel
// -> pre-copy state.
//
// next_frame() produces one frame (the UDP payload) at a time, round-robin
// over the VMs the scheduler runs, in this order per VM: the remaining
// fragments of the current page, the next page of the fetched batch, the
// round_end markers of an exhausted pass (one per channel), the end frame of
// a completed migration, else it asks Precopy::next_pages for more.
//   zero page        -> one frame, kFlagZero, no body
//   compressible     -> one frame, kFlagCompressed, when a Compressor is set, the
//                       page's sample does not look random (compress_sample), the
//                       page shrinks to fit one frame's body and the copy is not a
//                       re-send (re-sent copies go raw, so a receiver that failed to
//                       decompress — e.g. a codec mismatch — still gets the page)
//   otherwise        -> raw fragments of page_fragment_bytes(mtu)
// Each frame carries the per-(VM, channel) sequence number; every frame is
// reported to Precopy::on_sent (payload, payload + wire_overhead).
//
// Zero-copy: with `zero_copy`, a raw fragment's body is not copied; only the
// header goes into the buffer and TxFrame::ext points into source memory
// (attach it as an external mbuf segment). The pointer stays valid for the
// life of VmMemory; if the guest writes the page meanwhile the page is dirty
// and its next copy goes out in a later pass (same as QEMU).
//
// Not thread-safe (one TX thread). No allocation after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/types.h"
#include "migration/codec.h"
#include "migration/memory.h"
#include "migration/precopy.h"
#include "migration/scheduler.h"
#include "migration/wire.h"

namespace flowteam::migration {

struct SenderConfig {
    std::uint32_t mtu = 1500; // kMinMtu..kMaxMtu; sets the fragment size
    bool zero_copy = false;
    bool detect_zero = true; // send zero pages flagged, without a body
    // Bytes a frame costs on the wire beyond its UDP payload: Ethernet 14 +
    // IPv4 20 + UDP 8 + FCS 4 + preamble 8 + inter-frame gap 12.
    std::uint32_t wire_overhead = kL2L4Headers + 24;
    std::uint32_t fetch_pages = 32; // page copies fetched per Precopy::next_pages call, 1..256
    // With a Compressor: skip pages whose 256-byte sample looks random
    // (page_looks_incompressible) — they go raw without a compress attempt.
    bool compress_sample = true;
};

struct TxFrame {
    std::uint16_t vm = 0;
    std::uint16_t channel = 0;
    std::uint32_t flow = 0; // Scheduler::flow_index(vm, channel)
    FrameType type = FrameType::page;
    std::uint32_t page = 0;
    std::uint32_t round = 0;
    std::uint32_t seq = 0;
    std::uint32_t payload_len = 0;     // UDP payload bytes (header + body, incl. ext)
    const std::uint8_t* ext = nullptr; // zero-copy body (after the bytes in the buffer)
    std::uint32_t ext_len = 0;
};

struct SenderCounters {
    std::uint64_t frames = 0;
    std::uint64_t page_frames = 0;
    std::uint64_t markers = 0;
    std::uint64_t end_frames = 0;
    std::uint64_t zero_copy_frames = 0;
    std::uint64_t compress_calls = 0;
    std::uint64_t compress_rejects = 0; // compressor said "does not shrink / fit": sent raw
    std::uint64_t compress_skipped = 0; // sample looked incompressible: sent raw, not tried
    std::uint64_t buffer_too_small = 0; // next_frame called with cap < udp_payload_capacity(mtu)
    std::uint64_t feedback_frames = 0;  // valid back-channel frames
    std::uint64_t ack_entries = 0;
    std::uint64_t request_entries = 0;
    WireDropCounters drops{}; // invalid back-channel frames, by reason
};

class Sender {
  public:
    // Throws std::invalid_argument naming the field on a bad config.
    Sender(VmMemory& mem, Scheduler& sched, const SenderConfig& cfg, Compressor* compressor = nullptr);

    // Next frame of any running migration into buf (cap >= udp_payload_capacity(mtu)).
    // Returns the bytes written to buf (header + body, or the header only
    // when out.ext is set), 0 when there is nothing to send now.
    std::size_t next_frame(Tick now, std::uint8_t* buf, std::size_t cap, TxFrame& out);
    // Same, for one VM only (e.g. one TX lcore per VM).
    std::size_t next_frame_for(std::uint16_t vm, Tick now, std::uint8_t* buf, std::size_t cap, TxFrame& out);

    // A back-channel frame (ack / page_request). Invalid frames are counted
    // by reason and dropped. Returns the decode status.
    WireStatus on_feedback(Tick now, const std::uint8_t* buf, std::size_t len);

    const SenderCounters& counters() const { return ctr_; }
    const WireLimits& limits() const { return lim_; }
    const SenderConfig& config() const { return cfg_; }
    std::uint32_t seq(std::uint16_t vm, std::uint16_t channel) const { return vms_[vm].seq[channel]; }

  private:
    struct VmTx {
        PageRef refs[256];
        std::uint32_t n_refs = 0, next_ref = 0;
        bool in_page = false;
        PageRef cur;
        std::uint32_t offset = 0;         // next raw fragment offset of `cur`
        std::uint32_t marked_pass = 0;    // last pass whose markers went out (or are going)
        std::uint16_t marker_channel = 0; // next channel to mark
        bool marker_pending = false;
        bool end_pending = false, end_sent = false;
        std::vector<std::uint32_t> seq;         // per channel
        std::vector<std::uint32_t> pass_frames; // data frames in the current pass, per channel
        std::uint32_t pass_of_frames = 0;       // pass pass_frames counts
    };
    std::size_t emit(std::uint16_t vm, Tick now, std::uint8_t* buf, std::size_t cap, TxFrame& out);
    std::size_t emit_fragment(std::uint16_t vm, VmTx& t, Tick now, std::uint8_t* buf, std::size_t cap,
                              TxFrame& out);
    std::size_t start_page(std::uint16_t vm, VmTx& t, Tick now, std::uint8_t* buf, std::size_t cap,
                           TxFrame& out);
    std::size_t emit_end(std::uint16_t vm, Tick now, std::uint8_t* buf, std::size_t cap, TxFrame& out);
    std::size_t finish(std::uint16_t vm, Tick now, const FrameHeader& h, std::size_t written,
                       std::uint32_t body_len, const std::uint8_t* ext, TxFrame& out);
    void note_done(std::uint16_t vm);

    VmMemory& mem_;
    Scheduler& sched_;
    SenderConfig cfg_;
    Compressor* comp_;
    WireLimits lim_;
    std::uint32_t frag_;
    std::uint32_t body_cap_;
    std::vector<VmTx> vms_;
    std::vector<std::uint16_t> end_queue_; // completed migrations whose end frame is due
    std::size_t log_seen_ = 0;             // entries of Scheduler::completion_log() noted
    std::size_t rr_ = 0;
    SenderCounters ctr_;
};

} // namespace flowteam::migration
