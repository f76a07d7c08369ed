// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the live-migration payload on the engine (public header: no
// rte_*.h, no rte_ types).
//
// A MigrationSession owns one process's whole migration: the VMs' memory
// (source and destination images: the testbed runs both ends), the
// Scheduler/Sender (TX lcore) and the Receiver (RX lcore), the optional
// deflate codecs (compressdev), and the back channel.
//
//   MigrationSource : FrameSource  Sender::next_frame -> Ethernet/IPv4/UDP
//        (198.18.0.0/15; UDP source port per (VM, channel) flow so the team
//        hash and RSS spread channels; source MAC per VM so vport pins a VM);
//        calls Scheduler::poll every burst; on_feedback parses the
//        back-channel frames and hands them to Sender::on_feedback (TX lcore).
//   MigrationSink : FrameSink      validates L2-L4, Receiver::on_frame,
//        per-channel reorder metrics (wire sequence) and receive-member
//        shares; Receiver::poll every `feedback_period_ns` (the engine calls
//        on_frames with n = 0 while nothing arrives), and take_feedback writes
//        Receiver::next_feedback as Ethernet/IPv4/UDP frames
//        (build_migrate_headers(..., reverse = true)).
//        Optional fault injection before the receiver (loss, corrupted
//        header byte, truncation), each counted.
//
// Back channel: over the team's reverse direction. The engine transmits the
// sink's frames on a receiving member port; they reach the sender's member
// port and FrameSource::on_feedback (see engine_source.h). No in-process
// queue: a frame the sink could not send is lost like any other, and the
// sender's re-send timer recovers.
//
// Threading: the source lives on the TX lcore, the sink on ONE RX lcore
// (EngineOptions::max_rx_lcores = 1; make_sink() throws on a second call).
// Results are read after run_testbed() returned.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/compress.h"
#include "dataplane/engine_source.h"
#include "dataplane/ext_segments.h"
#include "measure/reorder.h"
#include "migration/memory.h"
#include "migration/receiver.h"
#include "migration/scheduler.h"
#include "migration/sender.h"

namespace flowteam::dataplane {

class CompressEngine;
class DeflateCodec;

inline constexpr std::uint16_t kMigrateDstPort = 7700;   // UDP destination port (data and feedback)
inline constexpr std::uint16_t kMigrateSrcPortBase = 20000; // + flow index

enum class MigrateCompress : std::uint8_t { none, isal, zlib };
const char* to_string(MigrateCompress c);
bool parse_compress(const std::string& s, MigrateCompress& out);

struct MigrateFaults {
    std::uint32_t loss_ppm = 0;     // frames dropped before the receiver, per million
    std::uint32_t corrupt_ppm = 0;  // frames with one header byte flipped
    std::uint32_t truncate_ppm = 0; // frames cut short
    std::uint64_t seed = 1;
};

struct MigrateConfig {
    migration::MemoryConfig memory;     // tick_hz is set to the TSC rate
    migration::SchedulerConfig sched;   // channels = sched.precopy.channels
    migration::SenderConfig sender;     // mtu
    migration::ReceiverConfig receiver; // channels/mtu copied from the above
    MigrateCompress compress = MigrateCompress::none;
    // Deflate settings of the compressdev (CompressConfig). Fixed Huffman
    // codes (ISA-L level 0) are the default: with dynamic codes ISA-L builds a
    // Huffman tree for every 4 KiB page (level >= 1), which perf shows as
    // ~60 % of the compress time (build_huff_tree, create_hufftables_icf) —
    // measured 15-23 CPU cycles/byte dynamic vs 4-5 fixed, for about the same
    // ratio on page-sized inputs (3.7-3.9x on the compressible pages).
    CompressHuffman compress_huffman = CompressHuffman::kFixed;
    int compress_level = 1;
    MigrateFaults faults;
    std::uint64_t feedback_period_ns = 200'000; // Receiver::poll cadence, 0.2..1 ms
};

struct SourceCounters {
    std::uint64_t frames = 0, payload_bytes = 0;
    std::uint64_t buf_too_small = 0;    // engine buffer smaller than one frame (not sent)
    std::uint64_t feedback_frames = 0;  // back-channel payloads handed to the sender
    std::uint64_t feedback_not_migration = 0; // return-path frames that were not migration feedback
    std::uint64_t busy_cycles = 0;      // TSC cycles inside fill() (frame build incl. compression) + ext_engine_cycles
    std::uint64_t zero_copy_frames = 0; // page bodies handed to the engine as an external segment
    std::uint64_t zero_copy_bytes = 0;
    std::uint64_t ext_copied_frames = 0; // zero-copy asked, engine cannot chain (FrameBuf::ext_ok false): copied
    // What the engine did with the zero-copy bodies (FrameSource::on_ext_stats, at the end of the run).
    std::uint64_t ext_segments_attached = 0; // sent as a chained segment (no copy)
    std::uint64_t ext_segments_released = 0; // ... freed again (== attached after a full drain)
    std::uint64_t ext_pool_empty = 0;        // no segment free when asked
    std::uint64_t ext_engine_copied = 0;     // engine could not chain: copied behind the header
    std::uint64_t ext_engine_dropped = 0;    // engine could not chain nor copy: frame dropped
    std::uint64_t ext_engine_cycles = 0;     // TX lcore cycles chaining (also added to busy_cycles)
    // The TX lcore's share of a CPU over the run: thread CPU time over wall
    // time between the first and the last sample (a polling lcore always wants
    // the CPU; on a shared machine it gets less). busy_cycles x cpu_ns/wall_ns
    // estimates the cycles it really executed.
    std::uint64_t thread_cpu_ns = 0, thread_wall_ns = 0;
};

struct SinkCounters {
    std::uint64_t frames = 0;           // frames seen
    std::uint64_t not_migration = 0;    // not IPv4/UDP to kMigrateDstPort (or bad L3/L4 lengths)
    std::uint64_t oversize = 0;         // UDP payload beyond the largest MTU's (a chained frame): dropped
    std::uint64_t accepted = 0;         // Receiver said ok
    std::uint64_t rejected = 0;         // Receiver dropped (by reason: Receiver::drops())
    std::uint64_t injected_loss = 0, injected_corrupt = 0, injected_truncate = 0;
    std::uint64_t feedback_frames = 0;  // produced by the receiver (written into engine buffers)
    std::uint64_t feedback_buf_too_small = 0; // engine buffer smaller than one feedback frame (retried)
    std::uint64_t payload_bytes = 0;
    std::uint64_t busy_cycles = 0;      // TSC cycles inside on_frames()
    std::uint64_t thread_cpu_ns = 0, thread_wall_ns = 0; // the RX lcore's CPU share (see SourceCounters)
};

// Share of a CPU the calling thread got between two samples (see SourceCounters).
double cpu_share(std::uint64_t thread_cpu_ns, std::uint64_t thread_wall_ns) noexcept;

// Per channel (flow = vm × C + channel), what the receiver saw.
struct ChannelStats {
    std::uint16_t vm = 0, channel = 0;
    std::uint16_t udp_src_port = 0;
    measure::ReorderStats reorder{};
    std::array<std::uint64_t, kMaxMembers> rx_member{}; // accepted frames per receiving member
};

class MigrationSession {
public:
    // Needs a live Eal (compressdev). Throws std::invalid_argument on a bad
    // config, CompressError when compressdev refuses.
    MigrationSession(const MigrateConfig& cfg, std::uint64_t tsc_hz);
    ~MigrationSession();
    MigrationSession(const MigrationSession&) = delete;
    MigrationSession& operator=(const MigrationSession&) = delete;

    // Factories for EngineOptions (each once).
    std::unique_ptr<FrameSource> make_source();
    std::unique_ptr<FrameSink> make_sink();

    // ---- after the run
    const MigrateConfig& config() const { return cfg_; }
    migration::VmMemory& memory() { return *mem_; }
    const migration::Scheduler& scheduler() const { return *sched_; }
    const migration::Sender& sender() const { return *sender_; }
    const migration::Receiver& receiver() const { return *receiver_; }
    const SourceCounters& source_counters() const { return src_ctr_; }
    const SinkCounters& sink_counters() const { return sink_ctr_; }
    std::vector<ChannelStats> channel_stats() const; // reorder finished per flow
    bool has_compression() const { return compress_ != nullptr; }
    // compress (sender lane) / decompress (receiver lane) counters; zero without compression
    std::uint64_t compress_cycles() const;
    std::uint64_t compress_bytes_in() const;
    std::uint64_t decompress_cycles() const;
    std::uint64_t decompress_bytes_out() const;
    std::uint64_t tsc_hz() const { return hz_; }
    Tick first_tick() const { return first_tick_; }
    Tick last_tick() const { return last_tick_.load(std::memory_order_relaxed); }

private:
    friend class MigrationSource;
    friend class MigrationSink;
    MigrateConfig cfg_;
    std::uint64_t hz_;
    std::unique_ptr<migration::VmMemory> mem_;
    std::unique_ptr<migration::Scheduler> sched_;
    std::unique_ptr<CompressEngine> compress_;
    std::unique_ptr<DeflateCodec> tx_codec_, rx_codec_;
    std::unique_ptr<migration::Sender> sender_;
    std::unique_ptr<migration::Receiver> receiver_;
    SourceCounters src_ctr_;
    SinkCounters sink_ctr_;
    std::vector<measure::FlowReorder> reorder_;           // per flow
    std::vector<std::array<std::uint64_t, kMaxMembers>> rx_member_; // per flow
    bool source_made_ = false, sink_made_ = false;
    Tick first_tick_ = 0;
    std::atomic<Tick> last_tick_{0};
};

// ExtSegmentChainer (zero-copy segments): dataplane/ext_segments.h.

// Cost probe for copy vs zero-copy TX (bench/compress): builds `n` frames of
// header + `body` bytes taken from `src` (a guest image of `src_len` bytes,
// walked in order) either by copying the body into the mbuf or by chaining an
// external segment, then frees them (as the NIC would after transmission).
// Returns the bytes of body carried. EAL must be up.
class FrameBodyProbe {
public:
    FrameBodyProbe(const std::uint8_t* src, std::size_t src_len, std::uint32_t body);
    ~FrameBodyProbe();
    FrameBodyProbe(const FrameBodyProbe&) = delete;
    FrameBodyProbe& operator=(const FrameBodyProbe&) = delete;
    std::uint64_t run(unsigned n, bool zero_copy) noexcept;

private:
    const std::uint8_t* src_;
    std::size_t src_len_, pos_ = 0;
    std::uint32_t body_;
    void* pool_ = nullptr; // rte_mempool* of head mbufs
    std::unique_ptr<ExtSegmentChainer> chainer_;
};

// TSC rate of this process (EAL must be up): the tick of MigrationSession.
std::uint64_t migrate_tsc_hz() noexcept;

// Builds the Ethernet/IPv4/UDP headers (42 bytes) of a migration frame
// carrying `payload_len` UDP payload bytes for flow `flow` of VM `vm`.
void build_migrate_headers(std::uint8_t* frame, std::uint16_t vm, std::uint32_t flow, std::uint32_t payload_len,
                           bool reverse) noexcept;
// The UDP payload of a migration frame, or nullptr (not IPv4/UDP to the port, bad lengths).
const std::uint8_t* migrate_payload(const std::uint8_t* frame, std::uint32_t len, std::uint32_t& payload_len) noexcept;
// The same for a back-channel frame (IPv4/UDP FROM kMigrateDstPort, reverse = true).
const std::uint8_t* migrate_feedback_payload(const std::uint8_t* frame, std::uint32_t len,
                                             std::uint32_t& payload_len) noexcept;

} // namespace flowteam::dataplane
