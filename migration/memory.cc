// SPDX-License-Identifier: BSD-3-Clause
#include "migration/memory.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <utility>

namespace flowteam::migration {

namespace {

constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr std::uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr std::uint64_t kP3 = 0x165667B19E3779F9ull;

inline std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline std::uint64_t lane(std::uint64_t acc, std::uint64_t w) {
    return std::rotl(acc + w * kP2, 31) * kP1;
}

// Compressible pages look like guest kernel/heap memory, built from 64-byte
// chunks: zero-filled (55 %), text from a small dictionary (25 %), small
// integers (10 %), kernel pointers with a few varying bits (9 %), random
// bytes (1 %). Deflate shrinks such a page ~3.3-4.5x (zlib level 1 ~4.4x;
// ISA-L, fixed or dynamic codes, ~3.3-3.7x): 0.9-1.3 KiB, so a compressed page
// fits one MTU-1500 frame (body <= 1408 bytes) — a real page compressing
// less than ~2.9x would go raw. Closer to guest memory than byte runs (8-9x).
constexpr const char* kWords[32] = {"page ",   "kernel ", "memory ", "struct ", "return ", "guest ", "the ",
                                    "buffer ", "NULL ",   "int ",    "migrate ", "dirty ", "static ", "void ",
                                    "if ",     "else ",   "for ",    "while ",  "long ",  "char ",   "const ",
                                    "count ",  "index ",  "value ",  "error ",  "list ",  "node ",   "next ",
                                    "prev\n",  "lock\n",  "free\n",  "data\n"};

void fill_compressible(std::uint8_t* page, std::uint64_t seed) {
    std::uint64_t s = seed;
    for (std::uint32_t off = 0; off < kPageSize; off += 64) {
        std::uint8_t* c = page + off;
        s = mix64(s);
        const std::uint32_t kind = static_cast<std::uint32_t>(s % 100u);
        std::uint64_t r = mix64(s ^ 0x5851F42D4C957F2Dull);
        if (kind < 55) {
            continue; // zero chunk (the image starts zeroed)
        } else if (kind < 80) {
            std::uint32_t pos = 0;
            while (pos < 64) {
                // Top 5 bits clear: true after any shift below, so every word
                // but (usually) the first draws a fresh value. Kept as is: the
                // generated pages, and the compression ratios quoted for them,
                // depend on it.
                if ((r >> 59) == 0) r = mix64(r);
                const char* w = kWords[r & 31u];
                r >>= 5;
                const std::uint32_t len = static_cast<std::uint32_t>(std::strlen(w));
                const std::uint32_t n = std::min(len, 64u - pos);
                std::memcpy(c + pos, w, n);
                pos += n;
            }
        } else if (kind < 90) {
            for (std::uint32_t i = 0; i < 64; i += 4) {
                r = mix64(r);
                const std::uint32_t v = static_cast<std::uint32_t>(r & 63u);
                std::memcpy(c + i, &v, 4);
            }
        } else if (kind < 99) {
            for (std::uint32_t i = 0; i < 64; i += 8) {
                r = mix64(r);
                const std::uint64_t v = 0xFFFF888000000000ull | ((r & 0xFFFu) << 6);
                std::memcpy(c + i, &v, 8);
            }
        } else {
            for (std::uint32_t i = 0; i < 64; i += 8) {
                r = mix64(r);
                std::memcpy(c + i, &r, 8);
            }
        }
    }
}

void fill_random(std::uint8_t* page, std::uint64_t seed) {
    std::uint64_t s = seed;
    for (std::uint32_t off = 0; off < kPageSize; off += 8) {
        s += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        std::memcpy(page + off, &z, 8);
    }
}

[[noreturn]] void bad(const std::string& msg) {
    throw std::invalid_argument("migration memory: " + msg);
}

} // namespace

std::uint64_t page_checksum(const std::uint8_t* page) noexcept {
    std::uint64_t a0 = kP1 + kP2, a1 = kP2, a2 = 0, a3 = 0 - kP1;
    for (std::uint32_t off = 0; off < kPageSize; off += 32) {
        a0 = lane(a0, load64(page + off));
        a1 = lane(a1, load64(page + off + 8));
        a2 = lane(a2, load64(page + off + 16));
        a3 = lane(a3, load64(page + off + 24));
    }
    std::uint64_t h = std::rotl(a0, 1) + std::rotl(a1, 7) + std::rotl(a2, 12) + std::rotl(a3, 18);
    for (std::uint64_t a : {a0, a1, a2, a3})
        h = (h ^ lane(0, a)) * kP1 + kP3;
    h += kPageSize;
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
}

bool page_is_zero(const std::uint8_t* page) noexcept {
    for (std::uint32_t off = 0; off < kPageSize; off += 64) {
        std::uint64_t acc = 0;
        for (std::uint32_t k = 0; k < 64; k += 8)
            acc |= load64(page + off + k);
        if (acc != 0) return false;
    }
    return true;
}

unsigned page_sample_distinct(const std::uint8_t* page) noexcept {
    std::uint64_t seen[4] = {0, 0, 0, 0};
    for (std::uint32_t i = 0; i < kPageSize / 64; ++i) {
        // a 4-byte word per 64-byte block, at a position that moves with i
        std::uint32_t w;
        std::memcpy(&w, page + i * 64u + ((i * 20u) & 60u), 4);
        for (int b = 0; b < 4; ++b) {
            const std::uint32_t v = (w >> (8 * b)) & 0xFFu;
            seen[v >> 6] |= 1ull << (v & 63u);
        }
    }
    return static_cast<unsigned>(std::popcount(seen[0]) + std::popcount(seen[1]) + std::popcount(seen[2]) +
                                 std::popcount(seen[3]));
}

// ---------------------------------------------------------------------------
PageImage::PageImage(std::uint32_t pages) : pages_(pages) {
    if (pages == 0) return;
    void* p = ::mmap(nullptr, static_cast<std::size_t>(pages) << kPageShift, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<std::uint8_t*>(p);
}

void PageImage::prefault() {
    if (data_ == nullptr) return;
    const std::size_t len = static_cast<std::size_t>(pages_) << kPageShift;
#ifdef MADV_HUGEPAGE
    (void)::madvise(data_, len, MADV_HUGEPAGE); // advisory: fewer faults and TLB misses
#endif
#ifdef MADV_POPULATE_WRITE
    if (::madvise(data_, len, MADV_POPULATE_WRITE) == 0) return;
#endif
    // Older kernels: write each page once (a read would map the shared zero page).
    for (std::uint32_t p = 0; p < pages_; ++p) {
        volatile std::uint8_t* b = page(p);
        *b = *b;
    }
}

PageImage::~PageImage() {
    if (data_ != nullptr) ::munmap(data_, static_cast<std::size_t>(pages_) << kPageShift);
}

PageImage::PageImage(PageImage&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), pages_(std::exchange(o.pages_, 0)) {}

PageImage& PageImage::operator=(PageImage&& o) noexcept {
    if (this != &o) {
        if (data_ != nullptr) ::munmap(data_, static_cast<std::size_t>(pages_) << kPageShift);
        data_ = std::exchange(o.data_, nullptr);
        pages_ = std::exchange(o.pages_, 0);
    }
    return *this;
}

// ---------------------------------------------------------------------------
VmMemory::VmMemory(const MemoryConfig& cfg) : cfg_(cfg), tick_hz_(cfg.tick_hz) {
    if (cfg.vms.empty() || cfg.vms.size() > 65535)
        bad("vms: need 1..65535 VMs, got " + std::to_string(cfg.vms.size()));
    if (cfg.tick_hz == 0) bad("tick_hz must be > 0");
    vms_.resize(cfg.vms.size());
    for (std::size_t i = 0; i < cfg.vms.size(); ++i) {
        const VmSpec& s = cfg.vms[i];
        const std::string who = "vms[" + std::to_string(i) + "].";
        if (s.mem_bytes == 0 || (s.mem_bytes % kPageSize) != 0)
            bad(who + "mem_bytes must be a positive multiple of 4096, got " + std::to_string(s.mem_bytes));
        if ((s.mem_bytes >> kPageShift) > 0xFFFFFFFFull) bad(who + "mem_bytes must be at most 2^32 pages");
        const double z = s.mix.zero, c = s.mix.compressible;
        if (!(z >= 0 && z <= 1) || !(c >= 0 && c <= 1) || z + c > 1.0 + 1e-9)
            bad(who + "mix: zero and compressible must be in 0..1 with zero + compressible <= 1");
        const std::uint64_t pages = s.mem_bytes >> kPageShift;
        if (s.workload.working_set_pages > pages)
            bad(who + "workload.working_set_pages must be <= the VM's pages (" + std::to_string(pages) + ")");
        if (!(s.workload.dirty_rate >= 0) || !std::isfinite(s.workload.dirty_rate))
            bad(who + "workload.dirty_rate must be a finite value >= 0");
        Vm& v = vms_[i];
        v.pages = static_cast<std::uint32_t>(pages);
        v.spec = s;
        v.dirty = PageBitmap(v.pages);
        const std::uint64_t h = mix64(cfg.seed ^ mix64(0xD1u + i));
        v.ws_first = static_cast<std::uint32_t>(h % v.pages);
        v.rng = mix64(h);
        if (cfg.with_source) {
            v.src = PageImage(v.pages);
            generate(static_cast<std::uint16_t>(i));
        }
        if (cfg.with_destination) v.dst = PageImage(v.pages);
    }
}

void VmMemory::prefault() {
    for (Vm& v : vms_) {
        v.src.prefault();
        v.dst.prefault();
    }
}

PageClass VmMemory::initial_class(std::uint16_t vm, std::uint32_t p) const {
    const ContentMix& m = vms_[vm].spec.mix;
    const std::uint64_t h = mix64(cfg_.seed ^ mix64((static_cast<std::uint64_t>(vm) << 32) | p));
    const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
    if (u < m.zero) return PageClass::zero;
    if (u < m.zero + m.compressible) return PageClass::compressible;
    return PageClass::incompressible;
}

void VmMemory::generate(std::uint16_t vm) {
    Vm& v = vms_[vm];
    for (std::uint32_t p = 0; p < v.pages; ++p) {
        const std::uint64_t s =
            mix64(cfg_.seed * 0x2545F4914F6CDD1Dull ^ mix64((static_cast<std::uint64_t>(vm) << 32) | p));
        switch (initial_class(vm, p)) {
        case PageClass::zero:
            break; // mmap gives zero pages
        case PageClass::compressible:
            fill_compressible(v.src.page(p), s);
            break;
        case PageClass::incompressible:
            fill_random(v.src.page(p), s);
            break;
        }
    }
}

void VmMemory::write_one(Vm& v) {
    const std::uint32_t ws = v.spec.workload.working_set_pages;
    v.rng = mix64(v.rng);
    std::uint64_t page = v.ws_first + (v.rng % ws);
    if (page >= v.pages) page -= v.pages;
    ++v.stamp;
    std::uint8_t* dst = v.src.page(static_cast<std::uint32_t>(page)) + ((v.stamp * 16u) & (kPageSize - 1));
    const std::uint64_t a = v.stamp, b = ~v.stamp ^ v.rng;
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + 8, &b, 8);
    ++v.counters.writes;
    if (v.dirty.set(static_cast<std::uint32_t>(page))) ++v.counters.newly_dirty;
}

void VmMemory::start_workload(std::uint16_t vm, Tick now) {
    Vm& v = vms_[vm];
    if (v.started) return;
    v.started = true;
    v.running = true;
    v.last = now;
}

void VmMemory::advance(std::uint16_t vm, Tick now) {
    Vm& v = vms_[vm];
    if (!v.running) return;
    if (now <= v.last) return;
    const Tick dt = now - v.last;
    v.last = now;
    if (!cfg_.with_source || v.spec.workload.working_set_pages == 0 || v.spec.workload.dirty_rate <= 0)
        return;
    const double due = v.spec.workload.dirty_rate * (1.0 - v.throttle) * static_cast<double>(dt) /
                           static_cast<double>(tick_hz_) +
                       v.carry;
    const double whole = std::floor(due);
    v.carry = due - whole;
    for (std::uint64_t n = static_cast<std::uint64_t>(whole); n > 0; --n)
        write_one(v);
}

void VmMemory::stop_workload(std::uint16_t vm, Tick now) {
    advance(vm, now);
    vms_[vm].running = false;
}

void VmMemory::set_throttle(std::uint16_t vm, double throttle) {
    if (!(throttle >= 0)) throttle = 0; // also NaN
    if (throttle > 1) throttle = 1;
    vms_[vm].throttle = throttle;
}

void VmMemory::write_pages(std::uint16_t vm, std::uint64_t n) {
    Vm& v = vms_[vm];
    if (!cfg_.with_source || v.spec.workload.working_set_pages == 0) return;
    for (; n > 0; --n)
        write_one(v);
}

void VmMemory::touch_page(std::uint16_t vm, std::uint32_t p) {
    Vm& v = vms_[vm];
    if (!cfg_.with_source || p >= v.pages) return;
    ++v.stamp;
    std::uint8_t* dst = v.src.page(p) + ((v.stamp * 16u) & (kPageSize - 1));
    const std::uint64_t a = v.stamp, b = ~v.stamp;
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + 8, &b, 8);
    ++v.counters.writes;
    if (v.dirty.set(p)) ++v.counters.newly_dirty;
}

std::uint32_t VmMemory::collect_dirty(std::uint16_t vm, PageBitmap& into) {
    Vm& v = vms_[vm];
    const std::uint32_t n = v.dirty.count();
    if (n != 0) {
        into.merge(v.dirty);
        v.dirty.clear_all();
    }
    v.counters.collected += n;
    return n;
}

void VmMemory::reset_dirty(std::uint16_t vm) {
    vms_[vm].dirty.clear_all();
}

std::vector<std::uint64_t> VmMemory::source_checksums(std::uint16_t vm) const {
    std::vector<std::uint64_t> out(vms_[vm].pages);
    for (std::uint32_t p = 0; p < vms_[vm].pages; ++p)
        out[p] = source_checksum(vm, p);
    return out;
}

} // namespace flowteam::migration
