// SPDX-License-Identifier: BSD-3-Clause
// flowteam — what the engine sends and what it hands received frames to
// (public header: no rte_*.h, no rte_ types).
//
// The contract a traffic producer implements to feed Team TX, and the one a
// consumer implements to see what Team RX received. Both are called ONCE PER
// BURST (one virtual call per burst, never per packet) from the lcore that
// owns the stage; they must not block, allocate, lock or throw on that path.
//
//   FrameSource::fill(now, bufs, n)   the engine allocated n mbufs; bufs[i]
//        points into mbuf i (data, cap = room in one segment). The source
//        writes k <= n complete Ethernet frames into bufs[0..k), sets each
//        bufs[i].len, and returns k. Unused buffers go back to the pool. The
//        engine is free NOT to call fill() while the team pushes back (member
//        TX rings full): a source sees backpressure as fewer calls.
//        With wants_ext() true the engine also sets bufs[i].ext_ok: the
//        source may then leave a tail in its own memory (FrameBuf::ext), sent
//        as a second segment without a copy. A receiving sink still sees
//        whole frames (the engine linearises chained frames for on_frames).
//   FrameSource::finished()           true once the source has nothing more to
//        send (a migration that completed, a fixed set of flows that ended):
//        the engine drains what is in flight and stops.
//   FrameSource::on_feedback(now, frames, n)  optional (default: ignore). The
//        frames the receiving application sent back over the team's reverse
//        direction (FrameSink::take_feedback), received on the sender's member
//        ports; only valid during the call. Called on the TX lcore, once per
//        received burst of one member port.
//
//   FrameSink::on_frames(now, frames, n)  called by an RX lcore with a burst of
//        received frames (after the team merged all members and queues, in the
//        order the receiving application sees them). The frames are only
//        valid during the call. The engine also calls it with n = 0 about
//        every kSinkIdleNs when nothing arrived, so a sink's timers keep
//        running when traffic stops.
//   FrameSink::take_feedback(now, bufs, n)  optional (default: 0). After
//        on_frames, the engine allocated n mbufs (as for FrameSource::fill);
//        the sink writes k <= n complete Ethernet frames to send back to the
//        sender and returns k. They leave on a receiving member port (the
//        reverse direction of the team; see RxStage in engine_stages.h for
//        which one). Only the first RX lcore's sink is asked.
//
// Factories are called once per TX (RX) lcore at start-up, on the control
// thread; each object then lives on its lcore only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/types.h"
#include "emulation/traffic.h"

namespace flowteam::dataplane {

struct FrameBuf {
    std::uint8_t* data = nullptr; // start of the frame (Ethernet header)
    std::uint32_t cap = 0;        // bytes available at data (one segment)
    std::uint32_t len = 0;        // set by the source: frame length without FCS
    // Zero-copy tail (optional). An engine that can chain an external segment
    // after this buffer sets ext_ok = true before fill(); the source may then
    // point `ext` at `ext_len` bytes that follow the `len` bytes on the wire and
    // are sent from that memory without a copy (an mbuf attached to it,
    // rte_pktmbuf_attach_extbuf). The memory must stay mapped until the frame
    // is freed (its content may change meanwhile: the migration re-sends pages
    // the guest wrote). With ext_ok false (the default) the source writes the
    // whole frame at `data` and leaves ext null. For a real NIC the memory must
    // also be DMA-mapped (rte_extmem_register + rte_dev_dma_map).
    bool ext_ok = false;
    const std::uint8_t* ext = nullptr;
    std::uint32_t ext_len = 0;
};

// What the engine did with FrameBuf::ext over a run (reported once, see
// FrameSource::on_ext_stats).
struct ExtTxStats {
    std::uint64_t attached = 0;   // frames sent with ext as a chained segment (no copy)
    std::uint64_t released = 0;   // ... of which freed again (== attached once everything drained)
    std::uint64_t pool_empty = 0; // no free segment when asked (then copied or dropped)
    std::uint64_t copied = 0;     // could not chain: ext copied behind the frame (it fit the buffer)
    std::uint64_t dropped = 0;    // could not chain nor copy (no room): frame freed, not sent
    std::uint64_t cycles = 0;     // TSC cycles the TX lcore spent chaining (outside fill())
};

struct RxFrame {
    const std::uint8_t* data = nullptr; // first segment
    std::uint32_t len = 0;              // bytes at data (first segment)
    std::uint32_t pkt_len = 0;          // whole frame
    std::uint8_t member = 0;            // receiving team member it arrived on
    std::uint16_t queue = 0;            // RX queue (after RSS, hardware or software)
};

class FrameSource {
public:
    virtual ~FrameSource() = default;
    // Write up to n frames; return how many were written (bufs[0..k) with len set).
    virtual std::uint16_t fill(Tick now, FrameBuf* bufs, std::uint16_t n) = 0;
    // Nothing more will come.
    virtual bool finished() const { return false; }
    // true: the source may use FrameBuf::ext; the engine then keeps a pool of
    // segments for it and sets ext_ok (asked once, at construction).
    virtual bool wants_ext() const { return false; }
    // Once, when the engine's stage that owns this source is torn down (after
    // the other stages freed what they held) -- only if wants_ext().
    virtual void on_ext_stats(const ExtTxStats& s) { (void)s; }
    // Frames sent back by the receiving application (reverse direction).
    virtual void on_feedback(Tick now, const RxFrame* frames, std::uint16_t n) {
        (void)now;
        (void)frames;
        (void)n;
    }
};

class FrameSink {
public:
    virtual ~FrameSink() = default;
    virtual void on_frames(Tick now, const RxFrame* frames, std::uint16_t n) = 0;
    // Write up to n frames to send back to the sender; return how many.
    virtual std::uint16_t take_feedback(Tick now, FrameBuf* bufs, std::uint16_t n) {
        (void)now;
        (void)bufs;
        (void)n;
        return 0;
    }
};

// The engine calls FrameSink::on_frames(now, _, 0) at least this often (TSC)
// while nothing arrives.
inline constexpr std::uint64_t kSinkIdleNs = 200'000;

using FrameSourceFactory = std::function<std::unique_ptr<FrameSource>(unsigned tx_index)>;
using FrameSinkFactory = std::function<std::unique_ptr<FrameSink>(unsigned rx_index)>;

// Synthetic probe traffic (emulation::TrafficGenerator + build_probe_frame):
// flow id, per-flow sequence and the TX tick ride in every frame so the
// receiver measures reordering and loss. `tick_hz` is the TSC rate.
class SyntheticSource final : public FrameSource {
public:
    SyntheticSource(const emulation::TrafficConfig& cfg, std::uint64_t tick_hz);
    std::uint16_t fill(Tick now, FrameBuf* bufs, std::uint16_t n) override;
    bool finished() const override;
    const emulation::TrafficGenerator& generator() const { return gen_; }
    std::uint64_t too_small() const { return too_small_; } // frames that did not fit a buffer (counted, not sent)

private:
    emulation::TrafficGenerator gen_;
    emulation::PacketDesc descs_[kBurstSize];
    std::uint64_t too_small_ = 0;
};

// MAC the synthetic frames are addressed to (the receiving team).
inline constexpr emulation::MacAddr kReceiverMac{0x02, 0x66, 0x74, 0xff, 0x00, 0x01};

} // namespace flowteam::dataplane
