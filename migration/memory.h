// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the guest memory model of a live migration.
//
// N VMs, each with a source image (what the guest runs on, generated
// deterministically from a seed) and a destination image (what the receiver
// writes). Pages are 4 KiB. The initial content of every page is one of three
// classes, drawn from the configured mix by a hash of (seed, vm, page):
//   zero           — all bytes 0 (QEMU "duplicate" pages: flagged, no body)
//   compressible   — 64-byte chunks of zeros, dictionary text, small integers,
//                    kernel pointers and a little noise (deflate ~3.3-4.5x per page)
//   incompressible — PRNG bytes (encrypted or already compressed data)
// The default mix (25 % zero, 60 % compressible, 15 % incompressible) gives a
// stream that deflate shrinks ~2.3-2.5x over the non-zero pages: the seeds'
// "migration compresses well, 2-3x".
//
// The dirtying workload really writes the source: advance(vm, now) performs
// every page write due since the previous call (rate × elapsed × (1 −
// throttle), fractional writes carried over), each one stamping a unique
// 16-byte counter at a rotating offset of a page picked uniformly from the
// working set, and sets the page's bit in the dirty log. collect_dirty() is
// the bitmap sync: it hands the log to the migration and clears it.
// The working set is `working_set_pages` consecutive pages starting at a
// seed-derived page (wrapping at the end of memory).
//
// Time is in ticks (ns in tests, TSC in the data plane): MemoryConfig::tick_hz.
// Images are anonymous mmaps: untouched pages cost no RAM, so zero pages and
// the destination stay cheap until written.
//
// Threading: one thread per VM drives advance/collect_dirty (the sender);
// the receiver writes only destination images. No locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/types.h"
#include "migration/bitmap.h"

namespace flowteam::migration {

inline constexpr std::uint32_t kPageSize = 4096;
inline constexpr std::uint32_t kPageShift = 12;
static_assert((1u << kPageShift) == kPageSize);

enum class PageClass : std::uint8_t { zero, compressible, incompressible };

struct ContentMix {
    double zero = 0.25;         // fraction of zero pages, 0..1
    double compressible = 0.60; // fraction of compressible pages, 0..1; zero + compressible <= 1
    // the rest is incompressible
};

struct DirtyWorkload {
    std::uint32_t working_set_pages = 0; // pages the guest keeps writing (0 = idle guest); <= VM pages
    double dirty_rate = 0;               // page writes per second at throttle 0, >= 0
};

struct VmSpec {
    std::uint64_t mem_bytes = 64ull << 20; // > 0, multiple of 4096, at most 2^32 pages
    ContentMix mix;
    DirtyWorkload workload;
};

struct MemoryConfig {
    std::vector<VmSpec> vms; // 1..65535 VMs
    std::uint64_t seed = 1;
    std::uint64_t tick_hz = 1'000'000'000; // ticks per second, > 0
    bool with_source = true;               // allocate + generate source images (sender side)
    bool with_destination = true;          // allocate destination images (receiver side)
};

// 64-bit hash of one 4 KiB page (4 independent multiply-rotate lanes, final
// avalanche). Not cryptographic; collisions of distinct pages ~2^-64.
std::uint64_t page_checksum(const std::uint8_t* page) noexcept;
// True when the 4 KiB page holds only zero bytes.
bool page_is_zero(const std::uint8_t* page) noexcept;
// Cheap "do not bother compressing" test a real sender can afford (like the
// btrfs compression heuristic): samples 256 bytes of the page (a 4-byte word
// every 64 bytes) and counts the distinct byte values. Uniformly random data
// shows ~162 distinct values in 256 samples (sd ~4), text or structured data
// far fewer; a page above `kIncompressibleDistinct` is judged incompressible.
// ~0.1 cycles per page byte. A page half random, half structured stays below
// the threshold (and is compressed).
inline constexpr unsigned kIncompressibleDistinct = 136;
unsigned page_sample_distinct(const std::uint8_t* page) noexcept;
inline bool page_looks_incompressible(const std::uint8_t* page) noexcept {
    return page_sample_distinct(page) > kIncompressibleDistinct;
}

// SplitMix64 step: the seed mixer used everywhere in this module.
constexpr std::uint64_t mix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// A page-aligned, lazily zero-filled array of pages.
class PageImage {
  public:
    PageImage() = default;
    explicit PageImage(std::uint32_t pages); // throws std::bad_alloc
    ~PageImage();
    PageImage(const PageImage&) = delete;
    PageImage& operator=(const PageImage&) = delete;
    PageImage(PageImage&& o) noexcept;
    PageImage& operator=(PageImage&& o) noexcept;

    std::uint32_t pages() const { return pages_; }
    std::uint64_t bytes() const { return static_cast<std::uint64_t>(pages_) << kPageShift; }
    std::uint8_t* page(std::uint32_t p) { return data_ + (static_cast<std::size_t>(p) << kPageShift); }
    const std::uint8_t* page(std::uint32_t p) const {
        return data_ + (static_cast<std::size_t>(p) << kPageShift);
    }
    bool allocated() const { return data_ != nullptr; }
    // Backs every page with memory now (transparent huge pages where the
    // kernel allows): a destination that pre-allocates guest RAM, as QEMU's
    // -mem-prealloc does, instead of a page fault per first write during the
    // migration. Contents are unchanged.
    void prefault();

  private:
    std::uint8_t* data_ = nullptr;
    std::uint32_t pages_ = 0;
};

struct WorkloadCounters {
    std::uint64_t writes = 0;      // page writes performed (a page may be written many times)
    std::uint64_t newly_dirty = 0; // writes that set a clear dirty-log bit
    std::uint64_t collected = 0;   // pages handed out by collect_dirty
};

class VmMemory {
  public:
    // Throws std::invalid_argument naming the field on a bad config.
    explicit VmMemory(const MemoryConfig& cfg);

    std::uint16_t vm_count() const { return static_cast<std::uint16_t>(vms_.size()); }
    std::uint32_t pages(std::uint16_t vm) const { return vms_[vm].pages; }
    std::uint64_t bytes(std::uint16_t vm) const {
        return static_cast<std::uint64_t>(vms_[vm].pages) << kPageShift;
    }
    std::uint64_t tick_hz() const { return tick_hz_; }
    const MemoryConfig& config() const { return cfg_; }

    const std::uint8_t* source_page(std::uint16_t vm, std::uint32_t p) const { return vms_[vm].src.page(p); }
    std::uint8_t* source_page(std::uint16_t vm, std::uint32_t p) { return vms_[vm].src.page(p); }
    const std::uint8_t* dest_page(std::uint16_t vm, std::uint32_t p) const { return vms_[vm].dst.page(p); }
    std::uint8_t* dest_page(std::uint16_t vm, std::uint32_t p) { return vms_[vm].dst.page(p); }
    bool has_source() const { return cfg_.with_source; }
    bool has_destination() const { return cfg_.with_destination; }
    // Pre-faults every source and destination image (PageImage::prefault).
    void prefault();

    // Class the page was generated with (the workload may have written it since).
    PageClass initial_class(std::uint16_t vm, std::uint32_t p) const;

    // --- dirtying workload -------------------------------------------------
    // Begins counting time at `now` (the guest runs from here). Idempotent.
    void start_workload(std::uint16_t vm, Tick now);
    // Performs the writes due up to `now` (no-op when stopped or now went back).
    void advance(std::uint16_t vm, Tick now);
    // Advances to `now`, then stops the guest (stop-and-copy: the blackout).
    void stop_workload(std::uint16_t vm, Tick now);
    bool workload_running(std::uint16_t vm) const { return vms_[vm].running; }
    // Auto-converge throttle: fraction of the dirty rate removed, clamped to 0..1.
    void set_throttle(std::uint16_t vm, double throttle);
    double throttle(std::uint16_t vm) const { return vms_[vm].throttle; }
    // Writes `n` pages now (tests: deterministic dirtying without time).
    void write_pages(std::uint16_t vm, std::uint64_t n);
    // Stamps one page now and marks it dirty (tests).
    void touch_page(std::uint16_t vm, std::uint32_t p);

    // --- dirty log (bitmap sync) -------------------------------------------
    // ORs the pages written since the previous collect into `into`
    // (size pages(vm)), clears the log, returns the number of pages that were
    // in the log.
    std::uint32_t collect_dirty(std::uint16_t vm, PageBitmap& into);
    // Clears the log without handing it out (migration setup).
    void reset_dirty(std::uint16_t vm);
    std::uint32_t dirty_count(std::uint16_t vm) const { return vms_[vm].dirty.count(); }
    const WorkloadCounters& workload_counters(std::uint16_t vm) const { return vms_[vm].counters; }

    // Per-page checksums of the source / destination image.
    std::uint64_t source_checksum(std::uint16_t vm, std::uint32_t p) const {
        return page_checksum(source_page(vm, p));
    }
    std::uint64_t dest_checksum(std::uint16_t vm, std::uint32_t p) const {
        return page_checksum(dest_page(vm, p));
    }
    std::vector<std::uint64_t> source_checksums(std::uint16_t vm) const;

  private:
    struct Vm {
        std::uint32_t pages = 0;
        PageImage src;
        PageImage dst;
        PageBitmap dirty;
        VmSpec spec;
        std::uint32_t ws_first = 0; // first page of the working set
        std::uint64_t rng = 0;      // workload PRNG state
        std::uint64_t stamp = 0;    // write counter
        Tick last = 0;              // time of the last advance
        double carry = 0;           // fractional writes carried over
        double throttle = 0;
        bool running = false;
        bool started = false;
        WorkloadCounters counters;
    };
    void write_one(Vm& v);
    void generate(std::uint16_t vm);

    MemoryConfig cfg_;
    std::uint64_t tick_hz_;
    std::vector<Vm> vms_;
};

} // namespace flowteam::migration
