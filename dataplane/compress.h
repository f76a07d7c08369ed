// SPDX-License-Identifier: BSD-3-Clause
// flowteam — DEFLATE page compression over DPDK compressdev (public header:
// no rte_*.h, no rte_ types).
//
// What it is: a stateless DEFLATE engine (raw RFC 1951 stream, 32 KiB
// window, no checksum) for migration pages, on any compressdev that does
// DEFLATE: compress_isal (ISA-L, default), compress_zlib, or a device that
// is already probed (e.g. an mlx5 compress device on a real server).
//
// Shape:
//  * CompressEngine — one device: claimed (probed, or a vdev a previous
//    engine created) or created (rte_vdev_init), configured with one queue
//    pair per lcore that uses it, started; private xforms for compress and
//    decompress, an op pool and an mbuf pool. RAII: the destructor stops and
//    closes the device and frees everything, but leaves a vdev it created in
//    place for the next engine (DPDK 22.11 cannot re-create a compressdev id
//    once destroyed: its data memzone is never freed).
//  * CompressLane   — one queue pair, owned by ONE lcore (never shared):
//    preallocated ops + mbufs (slots), plain per-lane counters. The batch
//    calls enqueue/dequeue bursts with a bounded busy-poll.
//  * DeflateCodec   — adapter to migration::Compressor / Decompressor
//    (migration/codec.h): one page per call on one lane, so the pure
//    migration library compresses without knowing DPDK.
//
// Buffers (CompressBuffers): kExternal attaches the caller's page and output
// buffer to the op's mbufs (rte_pktmbuf_attach_extbuf, zero copy); kCopy
// copies the page into a pool mbuf and the result back out. kAuto picks
// kExternal for software PMDs (they finish every op inside enqueue, on
// virtual addresses) and kCopy for hardware PMDs (DMA needs registered
// memory, and an op that times out must not write into the caller's buffer
// later). Measured on the testbed (bench/compress, 4 KiB pages, ISA-L
// level 1): the copy is within run-to-run noise for compress and costs a few
// per cent on decompress, so external buffers are the software default.
//
// Results per page (PageOut::status): compress gives the compressed length
// or 0 with kNotShrunk (output would not be smaller than the input — the
// page is sent raw) or kNoRoom (smaller, but not within the caller's
// capacity). The output room handed to the PMD is min(cap, len - 1), so an
// incompressible page ends as RTE_COMP_OP_STATUS_OUT_OF_SPACE_TERMINATED
// (→ kNotShrunk) instead of an expanded stream or stored blocks. PMDs need a little room
// past the end of the stream (measured: ISA-L 7 bytes — it stores 8-byte
// words —, zlib 1 byte), so a stream of exactly `cap` bytes comes back
// kNoRoom: leave 8 bytes of slack in `cap`. Decompress gives the
// produced length or 0 with an error status (corrupt stream → kError,
// output larger than cap → kOutOfSpace, produced != expected → kLength).
// DEFLATE carries no checksum: the receiver's per-page checksum is what
// proves a page (a stream missing only its last byte may still inflate to
// the full, correct page on ISA-L). With kExternal the caller's output
// buffer holds unspecified bytes after any non-kOk status; with kCopy it is
// untouched. PMD reads stay within src+len and writes within dst+cap
// (tested with guard pages for both software PMDs).
//
// Threading: a lane is used by one thread at a time (the lcore it was made
// for); different lanes run in parallel. stats() sums plain per-lane
// counters: read it while lanes are idle for exact figures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "migration/codec.h"

namespace flowteam::dataplane {

// Run-time failure of the compress device (vdev creation, configure, pools):
// what() is one line with the DPDK error text and what to change.
class CompressError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class CompressBuffers : std::uint8_t { kAuto, kExternal, kCopy };
enum class CompressHuffman : std::uint8_t { kDynamic, kFixed, kDefault };

// The drivers the engine creates itself as virtual devices.
inline constexpr const char* kCompressIsal = "compress_isal";
inline constexpr const char* kCompressZlib = "compress_zlib";

struct CompressConfig {
    // compress_isal | compress_zlib (a free device of that driver, else a new vdev), or the
    // name of an already probed compress device or of its driver (e.g. an
    // mlx5 compress device probed from the EAL arguments).
    std::string driver = kCompressIsal;
    int level = 1;                          // 1..9 (isal: 1, 2, 3+ → ISA-L levels 1, 2, 3)
    CompressHuffman huffman = CompressHuffman::kDynamic;
    std::uint16_t queue_depth = 64;         // ops in flight per queue pair, 1..1024
    std::uint32_t max_page = 4096;          // largest input and largest output, 64..65407
    // lcores that call the engine, one queue pair each; empty → every enabled lcore.
    std::vector<unsigned> lcores;
    CompressBuffers buffers = CompressBuffers::kAuto;
    std::uint32_t poll_timeout_us = 100'000; // busy-poll budget without progress, 1..10'000'000
    // Silence the PMDs' per-op error logs (ISA-L logs every incompressible
    // page at ERR); every outcome is in the counters instead.
    bool quiet_pmd_log = true;
};

// Throws std::invalid_argument naming the field and what is allowed. Pure
// (no EAL): the driver name is resolved by the engine.
void validate(const CompressConfig& cfg);

// Option-string helpers: "dynamic" | "fixed" | "default", "auto" | "external" | "copy".
CompressHuffman parse_huffman(const std::string& s);   // throws std::invalid_argument
CompressBuffers parse_buffers(const std::string& s);   // throws std::invalid_argument
const char* to_string(CompressHuffman h);
const char* to_string(CompressBuffers b);

struct PageIn {
    const std::uint8_t* data = nullptr;
    std::uint32_t len = 0;                  // 1..max_page
};

enum class PageStatus : std::uint8_t {
    kOk = 0,        // len = produced bytes
    kNotShrunk,     // compress: output would be >= input: send raw
    kNoRoom,        // compress: smaller than input but larger than cap: send raw
    kOutOfSpace,    // decompress: output larger than cap (or max_page)
    kRejected,      // never submitted: null buffer, len 0 or > max_page, cap 0
    kInvalidArgs,   // PMD status INVALID_ARGS
    kError,         // PMD status ERROR (corrupt or truncated-with-garbage stream)
    kInvalidState,  // PMD status INVALID_STATE
    kLength,        // decompress: produced != the expected length
    kTimeout,       // no completion within poll_timeout_us
    kNoLane,        // the calling thread has no queue pair
    kOther,         // NOT_PROCESSED or a status this engine does not know
};
const char* to_string(PageStatus s);

struct PageOut {
    std::uint8_t* data = nullptr;           // caller's buffer
    std::uint32_t cap = 0;                  // its room
    std::uint32_t len = 0;                  // out: bytes produced, 0 unless kOk
    PageStatus status = PageStatus::kOk;    // out
};

// Counters of one direction. Invariant after every call:
//   pages_in == pages_ok + not_shrunk + no_room + rejected + errors()
//   bytes_in == bytes_in_ok + bytes_raw + bytes of rejected/error pages
struct CodecCounters {
    std::uint64_t calls = 0;                // batch calls
    std::uint64_t pages_in = 0;             // pages handed in
    std::uint64_t bytes_in = 0;
    std::uint64_t pages_ok = 0;             // pages that produced output (kOk)
    std::uint64_t bytes_in_ok = 0;          // their input bytes
    std::uint64_t bytes_out = 0;            // their output bytes
    std::uint64_t not_shrunk = 0;           // compress: sent raw
    std::uint64_t no_room = 0;              // compress: sent raw
    std::uint64_t bytes_raw = 0;            // compress: input bytes of not_shrunk + no_room
    std::uint64_t rejected = 0;
    std::uint64_t err_out_of_space = 0;     // decompress
    std::uint64_t err_invalid_args = 0;
    std::uint64_t err_error = 0;
    std::uint64_t err_invalid_state = 0;
    std::uint64_t err_length = 0;
    std::uint64_t err_timeout = 0;
    std::uint64_t err_other = 0;
    std::uint64_t enqueue_short = 0;        // enqueue took fewer ops than offered
    std::uint64_t empty_polls = 0;          // dequeue returned nothing
    std::uint64_t stale = 0;                // late completions of timed-out ops, released
    std::uint64_t cycles = 0;               // TSC cycles spent inside the batch calls

    std::uint64_t errors() const {
        return err_out_of_space + err_invalid_args + err_error + err_invalid_state + err_length +
               err_timeout + err_other;
    }
    // Compression ratio, >= 1: page bytes over wire bytes, raw pages
    // included — compress: (bytes_in_ok + bytes_raw) / (bytes_out +
    // bytes_raw); decompress: bytes_out / bytes_in_ok. 0 when nothing went through.
    double ratio() const;
    double compressed_ratio() const;        // bytes_in_ok / bytes_out (pages that shrank)
    double cycles_per_byte() const;         // cycles / bytes_in
    CodecCounters& operator+=(const CodecCounters& o);
};

struct CompressStats {
    CodecCounters compress;
    CodecCounters decompress;
    std::uint64_t tsc_hz = 0;
    CompressStats& operator+=(const CompressStats& o);
    // Input throughput of one core while inside the calls: bytes_in·8·hz / cycles.
    double compress_gbps() const;
    double decompress_gbps() const;         // over produced bytes (bytes_out)
};

struct CompressDeviceInfo {
    std::string name;                       // compressdev name, e.g. "compress_isal_ft0"
    std::string driver;                     // driver name
    unsigned dev_id = 0;
    bool created = false;                   // this engine created the vdev (it outlives the engine)
    bool hardware = false;                  // RTE_COMPDEV_FF_HW_ACCELERATED
    bool shareable_xform = false;           // RTE_COMP_FF_SHAREABLE_PRIV_XFORM
    CompressBuffers buffers = CompressBuffers::kCopy; // resolved (never kAuto)
    std::uint8_t window_log2 = 15;
    std::uint16_t queue_pairs = 0;
    std::uint16_t slots_per_lane = 0;       // ops in flight per lane
    std::vector<std::string> features;      // compressdev + DEFLATE feature names
};

class CompressEngine;

// One queue pair. Hot path: no allocation, no lock, no exception.
class alignas(64) CompressLane {
public:
    // Returns the number of pages with status kOk.
    std::size_t compress(const PageIn* in, std::size_t n, PageOut* out) noexcept;
    // expect_len != 0: a page that decompresses to another length is kLength.
    std::size_t decompress(const PageIn* in, std::size_t n, PageOut* out,
                           std::uint32_t expect_len = 0) noexcept;

    const CompressStats& stats() const { return stats_; }
    void reset_stats();
    unsigned lcore() const { return lcore_; }
    std::uint16_t queue_pair() const { return qp_; }

    struct State;                           // rte_* objects (compress.cc)
    ~CompressLane();
    CompressLane(const CompressLane&) = delete;
    CompressLane& operator=(const CompressLane&) = delete;

private:
    friend class CompressEngine;
    CompressLane(std::unique_ptr<State> st, unsigned lcore, std::uint16_t qp, std::uint64_t tsc_hz);
    std::size_t run(bool comp, const PageIn* in, std::size_t n, PageOut* out,
                    std::uint32_t expect_len) noexcept;

    std::unique_ptr<State> st_;
    CompressStats stats_{};
    unsigned lcore_ = 0;
    std::uint16_t qp_ = 0;
};

class CompressEngine {
public:
    // Needs a live dataplane::Eal. Throws std::invalid_argument for a bad
    // config (unknown driver: the message lists what is available) and
    // CompressError when DPDK refuses (with rte_strerror and the fix).
    explicit CompressEngine(const CompressConfig& cfg);
    ~CompressEngine();
    CompressEngine(const CompressEngine&) = delete;
    CompressEngine& operator=(const CompressEngine&) = delete;

    // Lane of the calling lcore (rte_lcore_id()); every page gets kNoLane
    // when the thread has none.
    std::size_t compress_batch(const PageIn* in, std::size_t n, PageOut* out) noexcept;
    std::size_t decompress_batch(const PageIn* in, std::size_t n, PageOut* out,
                                 std::uint32_t expect_len = 0) noexcept;

    std::size_t lane_count() const { return lanes_.size(); }
    CompressLane& lane(std::size_t i) { return *lanes_.at(i); }
    // The lane of `lcore`, or nullptr.
    CompressLane* lane_for_lcore(unsigned lcore) noexcept;
    CompressLane* current_lane() noexcept;  // of the calling thread

    const CompressDeviceInfo& device() const { return info_; }
    const CompressConfig& config() const { return cfg_; }
    CompressStats stats() const;            // sum over lanes
    void reset_stats();
    std::uint64_t no_lane_calls() const { return no_lane_calls_; }

private:
    void teardown() noexcept;

    CompressConfig cfg_;
    CompressDeviceInfo info_;
    std::vector<std::unique_ptr<CompressLane>> lanes_;
    std::vector<std::int16_t> lane_of_lcore_;   // RTE_MAX_LCORE entries, -1 = none
    void* op_pool_ = nullptr;               // rte_mempool*
    void* mbuf_pool_ = nullptr;             // rte_mempool*
    std::vector<void*> xforms_;             // every private xform created
    bool configured_ = false;
    bool started_ = false;
    std::uint64_t no_lane_calls_ = 0;
};

// migration/codec.h on one lane (one codec per thread, on that thread's
// lane — e.g. DeflateCodec(*engine.current_lane())): compress() returns the compressed length or
// 0 (send raw), decompress() the produced length or 0 on any error. Never
// reads past src+len nor writes past dst+cap (capped to max_page).
class DeflateCodec final : public migration::Compressor, public migration::Decompressor {
public:
    explicit DeflateCodec(CompressLane& lane) : lane_(&lane) {}
    std::size_t compress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                         std::size_t cap) override;
    std::size_t decompress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                           std::size_t cap) override;
    CompressLane& lane() { return *lane_; }
    PageStatus last_status() const { return last_; }

private:
    CompressLane* lane_;
    PageStatus last_ = PageStatus::kOk;
};

} // namespace flowteam::dataplane
