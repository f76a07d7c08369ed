// SPDX-License-Identifier: BSD-3-Clause
// flowteam — DEFLATE page compression over DPDK compressdev.
//
// compressdev is still an experimental API in 22.11: every rte_compressdev_*
// and rte_comp_* call needs ALLOW_EXPERIMENTAL_API (else -Werror trips on
// the deprecation attribute). Only this file includes those headers.
#define ALLOW_EXPERIMENTAL_API 1

#include "dataplane/compress.h"

#include <rte_bus_vdev.h>
#include <rte_comp.h>
#include <rte_compressdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "common/types.h"
#include "dataplane/eal.h"

namespace flowteam::dataplane {

// ---------------------------------------------------------------- tunables

namespace {

constexpr std::uint16_t kLaneBurst = kBurstSize;      // ops per enqueue/dequeue call
constexpr std::uint16_t kMaxQueueDepth = 1024;
constexpr std::uint32_t kMinPage = 64;
constexpr std::uint32_t kMaxPage = UINT16_MAX - RTE_PKTMBUF_HEADROOM; // 16-bit mbuf data room
constexpr std::uint32_t kMaxPollTimeoutUs = 10'000'000;
// Without RTE_COMP_FF_SHAREABLE_PRIV_XFORM every op in flight needs its own
// private xform (compress_zlib keeps a whole z_stream in each, ~300 KiB);
// software PMDs finish ops inside enqueue, so a short queue loses nothing.
constexpr std::uint16_t kNonShareableSlots = 16;
constexpr std::uint8_t kWindowLog2 = 15;             // 32 KiB: what every inflater accepts
constexpr unsigned kMaxDevs = RTE_COMPRESS_MAX_DEVS;

static_assert(kMaxPage + RTE_PKTMBUF_HEADROOM <= UINT16_MAX, "mbuf data room is 16-bit");

std::mutex g_claim_mu;
bool g_claimed[kMaxDevs] = {};                       // devices an engine of this process owns
std::atomic<unsigned> g_engine_seq{0};

std::string errtext(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

const char* kSoftDrivers[] = {kCompressIsal, kCompressZlib};

bool is_soft_driver(const std::string& d) {
    return std::any_of(std::begin(kSoftDrivers), std::end(kSoftDrivers),
                       [&](const char* s) { return d == s; });
}

// "name (driver)" of every probed compress device, comma separated.
// rte_compressdev_name_get() does not check that an id is attached (it
// dereferences the empty slot), rte_compressdev_socket_id() does: -1 for a
// free id — and for an attached device on SOCKET_ID_ANY, counted as "more".
std::string probed_devices() {
    std::string out;
    unsigned listed = 0;
    for (unsigned id = 0; id < kMaxDevs; ++id) {
        const auto dev_id = static_cast<std::uint8_t>(id);
        if (rte_compressdev_socket_id(dev_id) < 0) continue;
        rte_compressdev_info info{};
        rte_compressdev_info_get(dev_id, &info);
        const char* name = rte_compressdev_name_get(dev_id);
        if (!out.empty()) out += ", ";
        out += std::string(name ? name : "?") + " (" + (info.driver_name ? info.driver_name : "?") + ")";
        ++listed;
    }
    const unsigned total = rte_compressdev_count();
    if (total > listed) out += (out.empty() ? "" : ", ") + std::to_string(total - listed) + " more";
    return out.empty() ? "none" : out;
}

bool claim(unsigned id) {
    std::lock_guard<std::mutex> lk(g_claim_mu);
    if (g_claimed[id]) return false;
    g_claimed[id] = true;
    return true;
}

void unclaim(unsigned id) {
    std::lock_guard<std::mutex> lk(g_claim_mu);
    g_claimed[id] = false;
}

void noop_free(void*, void*) {}

} // namespace

// ------------------------------------------------------------------ config

void validate(const CompressConfig& cfg) {
    const std::string allowed_drivers =
        std::string("allowed: ") + kCompressIsal + ", " + kCompressZlib + ", or a probed compress device/driver";
    if (cfg.driver.empty())
        throw std::invalid_argument("compress driver: empty (" + allowed_drivers + ")");
    if (cfg.driver.size() > 63)
        throw std::invalid_argument("compress driver: '" + cfg.driver + "' is longer than 63 characters");
    for (const char ch : cfg.driver) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '_' || ch == '-' || ch == '.' || ch == ':';
        if (!ok)
            throw std::invalid_argument("compress driver: '" + cfg.driver +
                                        "' has a character outside [A-Za-z0-9_.:-] (" + allowed_drivers + ")");
    }
    if (cfg.level < 1 || cfg.level > 9)
        throw std::invalid_argument("compress level: " + std::to_string(cfg.level) +
                                    " not allowed; allowed: 1..9 (1 = fastest)");
    if (cfg.huffman != CompressHuffman::kDynamic && cfg.huffman != CompressHuffman::kFixed &&
        cfg.huffman != CompressHuffman::kDefault)
        throw std::invalid_argument("compress huffman: unknown value; allowed: dynamic, fixed, default");
    if (cfg.queue_depth < 1 || cfg.queue_depth > kMaxQueueDepth)
        throw std::invalid_argument("compress queue-depth: " + std::to_string(cfg.queue_depth) +
                                    " not allowed; allowed: 1.." + std::to_string(kMaxQueueDepth));
    if (cfg.max_page < kMinPage || cfg.max_page > kMaxPage)
        throw std::invalid_argument("compress max-page: " + std::to_string(cfg.max_page) + " not allowed; allowed: " +
                                    std::to_string(kMinPage) + ".." + std::to_string(kMaxPage) +
                                    " bytes (a 16-bit mbuf data room)");
    if (cfg.buffers != CompressBuffers::kAuto && cfg.buffers != CompressBuffers::kExternal &&
        cfg.buffers != CompressBuffers::kCopy)
        throw std::invalid_argument("compress buffers: unknown value; allowed: auto, external, copy");
    if (cfg.poll_timeout_us < 1 || cfg.poll_timeout_us > kMaxPollTimeoutUs)
        throw std::invalid_argument("compress poll-timeout-us: " + std::to_string(cfg.poll_timeout_us) +
                                    " not allowed; allowed: 1.." + std::to_string(kMaxPollTimeoutUs));
    for (std::size_t i = 0; i < cfg.lcores.size(); ++i) {
        if (cfg.lcores[i] >= RTE_MAX_LCORE)
            throw std::invalid_argument("compress lcores: " + std::to_string(cfg.lcores[i]) +
                                        " not allowed; allowed: 0.." + std::to_string(RTE_MAX_LCORE - 1));
        for (std::size_t j = 0; j < i; ++j)
            if (cfg.lcores[j] == cfg.lcores[i])
                throw std::invalid_argument("compress lcores: lcore " + std::to_string(cfg.lcores[i]) +
                                            " listed twice (one queue pair per lcore)");
    }
}

CompressHuffman parse_huffman(const std::string& s) {
    if (s == "dynamic") return CompressHuffman::kDynamic;
    if (s == "fixed") return CompressHuffman::kFixed;
    if (s == "default") return CompressHuffman::kDefault;
    throw std::invalid_argument("compress huffman: '" + s + "' not allowed; allowed: dynamic, fixed, default");
}

CompressBuffers parse_buffers(const std::string& s) {
    if (s == "auto") return CompressBuffers::kAuto;
    if (s == "external") return CompressBuffers::kExternal;
    if (s == "copy") return CompressBuffers::kCopy;
    throw std::invalid_argument("compress buffers: '" + s + "' not allowed; allowed: auto, external, copy");
}

const char* to_string(CompressHuffman h) {
    switch (h) {
    case CompressHuffman::kDynamic: return "dynamic";
    case CompressHuffman::kFixed: return "fixed";
    case CompressHuffman::kDefault: return "default";
    }
    return "?";
}

const char* to_string(CompressBuffers b) {
    switch (b) {
    case CompressBuffers::kAuto: return "auto";
    case CompressBuffers::kExternal: return "external";
    case CompressBuffers::kCopy: return "copy";
    }
    return "?";
}

const char* to_string(PageStatus s) {
    switch (s) {
    case PageStatus::kOk: return "ok";
    case PageStatus::kNotShrunk: return "not-shrunk";
    case PageStatus::kNoRoom: return "no-room";
    case PageStatus::kOutOfSpace: return "out-of-space";
    case PageStatus::kRejected: return "rejected";
    case PageStatus::kInvalidArgs: return "invalid-args";
    case PageStatus::kError: return "error";
    case PageStatus::kInvalidState: return "invalid-state";
    case PageStatus::kLength: return "length-mismatch";
    case PageStatus::kTimeout: return "timeout";
    case PageStatus::kNoLane: return "no-lane";
    case PageStatus::kOther: return "other";
    }
    return "?";
}

// ---------------------------------------------------------------- counters

double CodecCounters::ratio() const {
    // Larger over smaller of page bytes and wire bytes: compress counters
    // produce less than they take, decompress counters more.
    const std::uint64_t a = bytes_in_ok + bytes_raw;
    const std::uint64_t b = bytes_out + bytes_raw;
    const std::uint64_t lo = std::min(a, b);
    return lo ? static_cast<double>(std::max(a, b)) / static_cast<double>(lo) : 0.0;
}

double CodecCounters::compressed_ratio() const {
    return bytes_out ? static_cast<double>(bytes_in_ok) / static_cast<double>(bytes_out) : 0.0;
}

double CodecCounters::cycles_per_byte() const {
    return bytes_in ? static_cast<double>(cycles) / static_cast<double>(bytes_in) : 0.0;
}

CodecCounters& CodecCounters::operator+=(const CodecCounters& o) {
    calls += o.calls;
    pages_in += o.pages_in;
    bytes_in += o.bytes_in;
    pages_ok += o.pages_ok;
    bytes_in_ok += o.bytes_in_ok;
    bytes_out += o.bytes_out;
    not_shrunk += o.not_shrunk;
    no_room += o.no_room;
    bytes_raw += o.bytes_raw;
    rejected += o.rejected;
    err_out_of_space += o.err_out_of_space;
    err_invalid_args += o.err_invalid_args;
    err_error += o.err_error;
    err_invalid_state += o.err_invalid_state;
    err_length += o.err_length;
    err_timeout += o.err_timeout;
    err_other += o.err_other;
    enqueue_short += o.enqueue_short;
    empty_polls += o.empty_polls;
    stale += o.stale;
    cycles += o.cycles;
    return *this;
}

CompressStats& CompressStats::operator+=(const CompressStats& o) {
    compress += o.compress;
    decompress += o.decompress;
    if (tsc_hz == 0) tsc_hz = o.tsc_hz;
    return *this;
}

double CompressStats::compress_gbps() const {
    if (compress.cycles == 0) return 0.0;
    return static_cast<double>(compress.bytes_in) * 8.0 * static_cast<double>(tsc_hz) /
           static_cast<double>(compress.cycles) / 1e9;
}

double CompressStats::decompress_gbps() const {
    if (decompress.cycles == 0) return 0.0;
    return static_cast<double>(decompress.bytes_out) * 8.0 * static_cast<double>(tsc_hz) /
           static_cast<double>(decompress.cycles) / 1e9;
}

// -------------------------------------------------------------------- lane

// One op in flight: its op, its two mbufs (attached to the caller's buffers
// or holding copies), and where its result goes.
struct Slot {
    rte_comp_op* op = nullptr;
    rte_mbuf* src = nullptr;
    rte_mbuf* dst = nullptr;
    void* cxf = nullptr;                    // private xforms this slot uses
    void* dxf = nullptr;
    rte_mbuf_ext_shared_info src_sh{};
    rte_mbuf_ext_shared_info dst_sh{};
    std::size_t index = 0;                  // page index in the current call
    std::uint32_t gen = 0;                  // call generation; 0 = orphan (timed out)
    std::uint32_t in_len = 0;
    std::uint32_t room = 0;
    bool busy = false;
    bool attached = false;
};

struct CompressLane::State {
    std::uint8_t dev = 0;
    std::uint16_t qp = 0;
    bool external = false;
    bool iova_va = false;
    std::uint32_t max_page = 0;
    std::uint64_t timeout_cycles = 0;
    std::uint32_t gen = 0;
    std::vector<Slot> slots;
    std::vector<std::uint16_t> free;        // stack of free slot indices
    std::uint16_t nfree = 0;
};

namespace {

inline std::uint32_t& slot_tag(rte_comp_op* op) {
    // The op pool has sizeof(uint32_t) bytes of user data right after each op.
    return *reinterpret_cast<std::uint32_t*>(op + 1);
}

inline rte_iova_t ext_iova(const CompressLane::State& s, const void* p) {
    return s.iova_va ? static_cast<rte_iova_t>(reinterpret_cast<std::uintptr_t>(p)) : RTE_BAD_IOVA;
}

void release(CompressLane::State& s, Slot& sl) {
    if (sl.attached) {
        rte_pktmbuf_detach(sl.src);
        rte_pktmbuf_detach(sl.dst);
        sl.attached = false;
    }
    sl.busy = false;
    sl.gen = 0;
    s.free[s.nfree++] = static_cast<std::uint16_t>(&sl - s.slots.data());
}

void prepare(CompressLane::State& s, Slot& sl, bool comp, const PageIn& pi, const PageOut& po,
             std::uint32_t room) {
    rte_mbuf* src = sl.src;
    rte_mbuf* dst = sl.dst;
    if (s.external) {
        rte_mbuf_ext_refcnt_set(&sl.src_sh, 1);
        rte_mbuf_ext_refcnt_set(&sl.dst_sh, 1);
        void* in_addr = const_cast<std::uint8_t*>(pi.data); // the PMD only reads m_src
        rte_pktmbuf_attach_extbuf(src, in_addr, ext_iova(s, in_addr), static_cast<std::uint16_t>(pi.len),
                                  &sl.src_sh);
        rte_pktmbuf_attach_extbuf(dst, po.data, ext_iova(s, po.data), static_cast<std::uint16_t>(room),
                                  &sl.dst_sh);
        sl.attached = true;
    } else {
        rte_memcpy(rte_pktmbuf_mtod(src, void*), pi.data, pi.len);
    }
    src->data_len = static_cast<std::uint16_t>(pi.len);
    src->pkt_len = pi.len;
    dst->data_len = static_cast<std::uint16_t>(room);
    dst->pkt_len = room;

    rte_comp_op* op = sl.op;
    op->op_type = RTE_COMP_OP_STATELESS;
    op->private_xform = comp ? sl.cxf : sl.dxf;
    op->m_src = src;
    op->m_dst = dst;
    op->src.offset = 0;
    op->src.length = pi.len;
    op->dst.offset = 0;
    op->flush_flag = RTE_COMP_FLUSH_FINAL;
    op->input_chksum = 0;
    op->output_chksum = 0;
    op->consumed = 0;
    op->produced = 0;   // compress_zlib adds to it
    op->debug_status = 0;
    op->status = RTE_COMP_OP_STATUS_NOT_PROCESSED;
    sl.in_len = pi.len;
    sl.room = room;
    sl.busy = true;
}

// Writes the result of a completed op into `po` and counts it.
bool finish(CompressLane::State& s, Slot& sl, bool comp, PageOut& po, CodecCounters& c, std::uint32_t expect) {
    const rte_comp_op* op = sl.op;
    po.len = 0;
    bool ok = false;
    switch (op->status) {
    case RTE_COMP_OP_STATUS_SUCCESS: {
        const std::uint32_t produced = op->produced;
        if (comp && produced >= sl.in_len) {
            po.status = PageStatus::kNotShrunk;   // defensive: the room is < in_len
            ++c.not_shrunk;
            c.bytes_raw += sl.in_len;
        } else if (produced > sl.room) {
            po.status = PageStatus::kOther;       // a PMD that overran its room
            ++c.err_other;
        } else if (!comp && expect != 0 && produced != expect) {
            po.status = PageStatus::kLength;
            ++c.err_length;
        } else {
            if (!s.external) rte_memcpy(po.data, rte_pktmbuf_mtod(sl.dst, const void*), produced);
            po.len = produced;
            po.status = PageStatus::kOk;
            ++c.pages_ok;
            c.bytes_in_ok += sl.in_len;
            c.bytes_out += produced;
            ok = true;
        }
        break;
    }
    case RTE_COMP_OP_STATUS_OUT_OF_SPACE_TERMINATED:
    case RTE_COMP_OP_STATUS_OUT_OF_SPACE_RECOVERABLE:
        if (comp) {
            // The room is min(cap, in_len - 1): when the caller's cap allowed
            // in_len - 1, the stream simply did not shrink.
            if (sl.room + 1 == sl.in_len) {
                po.status = PageStatus::kNotShrunk;
                ++c.not_shrunk;
            } else {
                po.status = PageStatus::kNoRoom;
                ++c.no_room;
            }
            c.bytes_raw += sl.in_len;
        } else {
            po.status = PageStatus::kOutOfSpace;
            ++c.err_out_of_space;
        }
        break;
    case RTE_COMP_OP_STATUS_INVALID_ARGS:
        po.status = PageStatus::kInvalidArgs;
        ++c.err_invalid_args;
        break;
    case RTE_COMP_OP_STATUS_ERROR:
        po.status = PageStatus::kError;
        ++c.err_error;
        break;
    case RTE_COMP_OP_STATUS_INVALID_STATE:
        po.status = PageStatus::kInvalidState;
        ++c.err_invalid_state;
        break;
    default:
        po.status = PageStatus::kOther;
        ++c.err_other;
        break;
    }
    release(s, sl);
    return ok;
}

} // namespace

CompressLane::CompressLane(std::unique_ptr<State> st, unsigned lcore, std::uint16_t qp, std::uint64_t tsc_hz)
    : st_(std::move(st)), lcore_(lcore), qp_(qp) {
    stats_.tsc_hz = tsc_hz;
}

CompressLane::~CompressLane() = default;

void CompressLane::reset_stats() {
    const std::uint64_t hz = stats_.tsc_hz;
    stats_ = {};
    stats_.tsc_hz = hz;
}

std::size_t CompressLane::compress(const PageIn* in, std::size_t n, PageOut* out) noexcept {
    return run(true, in, n, out, 0);
}

std::size_t CompressLane::decompress(const PageIn* in, std::size_t n, PageOut* out,
                                     std::uint32_t expect_len) noexcept {
    return run(false, in, n, out, expect_len);
}

std::size_t CompressLane::run(bool comp, const PageIn* in, std::size_t n, PageOut* out,
                              std::uint32_t expect) noexcept {
    State& s = *st_;
    CodecCounters& c = comp ? stats_.compress : stats_.decompress;
    const std::uint64_t t0 = rte_rdtsc();
    ++c.calls;
    if (++s.gen == 0) s.gen = 1;           // 0 marks orphans
    const std::uint32_t gen = s.gen;

    rte_comp_op* pend[kLaneBurst];
    rte_comp_op* done[kLaneBurst];
    std::uint16_t npend = 0;
    std::uint32_t inflight = 0;
    std::size_t next = 0;
    std::size_t ok = 0;
    std::uint64_t idle_since = 0;

    while (next < n || npend > 0 || inflight > 0) {
        bool progress = false;
        // 1. Prepare pages into free slots, up to one burst pending.
        while (next < n && npend < kLaneBurst) {
            const PageIn& pi = in[next];
            PageOut& po = out[next];
            po.len = 0;
            if (pi.data == nullptr || po.data == nullptr || pi.len == 0 || pi.len > s.max_page || po.cap == 0) {
                ++c.pages_in;
                c.bytes_in += pi.len;
                po.status = PageStatus::kRejected;
                ++c.rejected;
                ++next;
                progress = true;
                continue;
            }
            const std::uint32_t cap = std::min(po.cap, s.max_page);
            const std::uint32_t room = comp ? std::min(cap, pi.len - 1) : cap;
            if (room == 0) {                   // a 1-byte page cannot shrink
                ++c.pages_in;
                c.bytes_in += pi.len;
                po.status = PageStatus::kNotShrunk;
                ++c.not_shrunk;
                c.bytes_raw += pi.len;
                ++next;
                progress = true;
                continue;
            }
            if (s.nfree == 0) break;
            ++c.pages_in;
            c.bytes_in += pi.len;
            Slot& sl = s.slots[s.free[--s.nfree]];
            prepare(s, sl, comp, pi, po, room);
            sl.index = next;
            sl.gen = gen;
            pend[npend++] = sl.op;
            ++next;
        }
        // 2. Enqueue what is pending; the device may take fewer.
        if (npend > 0) {
            const std::uint16_t k = rte_compressdev_enqueue_burst(s.dev, s.qp, pend, npend);
            if (k < npend) {
                ++c.enqueue_short;
                std::memmove(pend, pend + k, static_cast<std::size_t>(npend - k) * sizeof(pend[0]));
            }
            npend = static_cast<std::uint16_t>(npend - k);
            inflight += k;
            if (k > 0) progress = true;
        }
        // 3. Dequeue completions.
        if (inflight > 0) {
            const std::uint16_t got = rte_compressdev_dequeue_burst(s.dev, s.qp, done, kLaneBurst);
            for (std::uint16_t i = 0; i < got; ++i) {
                const std::uint32_t idx = slot_tag(done[i]);
                Slot& sl = s.slots[idx];
                if (sl.gen != gen) {            // completion of an op a previous call gave up on
                    ++c.stale;
                    release(s, sl);
                    continue;
                }
                --inflight;
                if (finish(s, sl, comp, out[sl.index], c, expect)) ++ok;
            }
            if (got > 0) progress = true;
            else ++c.empty_polls;
        }
        // 4. Bounded busy-poll: give up after poll_timeout_us without progress.
        if (progress) {
            idle_since = 0;
            continue;
        }
        const std::uint64_t now = rte_rdtsc();
        if (idle_since == 0) {
            idle_since = now;
        } else if (now - idle_since > s.timeout_cycles) {
            for (std::uint16_t i = 0; i < npend; ++i) {     // never accepted: take back
                Slot& sl = s.slots[slot_tag(pend[i])];
                out[sl.index].status = PageStatus::kTimeout;
                ++c.err_timeout;
                release(s, sl);
            }
            npend = 0;
            for (Slot& sl : s.slots) {                       // accepted, never returned: orphan
                if (sl.busy && sl.gen == gen) {
                    out[sl.index].status = PageStatus::kTimeout;
                    ++c.err_timeout;
                    sl.gen = 0;
                }
            }
            for (; next < n; ++next) {                       // never prepared
                ++c.pages_in;
                c.bytes_in += in[next].len;
                out[next].len = 0;
                out[next].status = PageStatus::kTimeout;
                ++c.err_timeout;
            }
            break;
        }
        rte_pause();
    }
    c.cycles += rte_rdtsc() - t0;
    return ok;
}

// ------------------------------------------------------------------ engine

CompressEngine::CompressEngine(const CompressConfig& cfg) : cfg_(cfg), lane_of_lcore_(RTE_MAX_LCORE, -1) {
    validate(cfg_);
    if (!Eal::initialised())
        throw CompressError("compress: EAL is not running; construct dataplane::Eal before the compress engine");
    if (cfg_.quiet_pmd_log) rte_log_set_level_pattern("pmd.compress.*", RTE_LOG_CRIT);

    const unsigned seq = g_engine_seq.fetch_add(1);

    // ---- lcores → lanes
    std::vector<unsigned> lcores = cfg_.lcores;
    if (lcores.empty()) {
        unsigned lc = 0;
        RTE_LCORE_FOREACH(lc) lcores.push_back(lc);
    }
    for (const unsigned lc : lcores) {
        if (!rte_lcore_is_enabled(lc)) {
            std::string en;
            unsigned e = 0;
            RTE_LCORE_FOREACH(e) en += (en.empty() ? "" : ",") + std::to_string(e);
            throw std::invalid_argument("compress lcores: lcore " + std::to_string(lc) +
                                        " is not enabled in EAL (enabled: " + en + ")");
        }
    }

    // ---- resolve the device: exact device name, probed device of that
    // driver, or a virtual device we create.
    int dev = rte_compressdev_get_dev_id(cfg_.driver.c_str());
    if (dev >= 0 && !claim(static_cast<unsigned>(dev)))
        throw std::invalid_argument("compress driver: device " + cfg_.driver +
                                    " is already used by another compress engine of this process");
    if (dev < 0) {
        std::uint8_t ids[kMaxDevs];
        const std::uint8_t k = rte_compressdev_devices_get(cfg_.driver.c_str(), ids, kMaxDevs);
        for (std::uint8_t i = 0; i < k && dev < 0; ++i)
            if (claim(ids[i])) dev = ids[i];
    }
    if (dev < 0 && is_soft_driver(cfg_.driver)) {
        std::string name;
        for (unsigned n = seq;; ++n) {
            name = cfg_.driver + "_ft" + std::to_string(n);
            if (rte_compressdev_get_dev_id(name.c_str()) < 0) break;
        }
        const int rc = rte_vdev_init(name.c_str(), nullptr);
        if (rc != 0)
            throw CompressError("compress driver: rte_vdev_init(" + name + ") failed: " + errtext(rc) + "; is lib" +
                                "rte_" + cfg_.driver + ".so in the EAL PMD path (RTE_EAL_PMD_PATH or -d)?");
        dev = rte_compressdev_get_dev_id(name.c_str());
        if (dev < 0) {
            rte_vdev_uninit(name.c_str());
            throw CompressError("compress driver: " + name + " was created but is not a compress device");
        }
        claim(static_cast<unsigned>(dev));
        info_.created = true;
    }
    if (dev < 0)
        throw std::invalid_argument("compress driver: '" + cfg_.driver + "' is neither a compress device nor a driver " +
                                    "(allowed: " + kCompressIsal + ", " + kCompressZlib +
                                    ", or a probed device or its driver; probed: " + probed_devices() + ")");
    info_.dev_id = static_cast<unsigned>(dev);
    const auto dev_id = static_cast<std::uint8_t>(dev);
    info_.name = rte_compressdev_name_get(dev_id);

    try {
        rte_compressdev_info dinfo{};
        rte_compressdev_info_get(dev_id, &dinfo);
        info_.driver = dinfo.driver_name ? dinfo.driver_name : "?";
        info_.hardware = (dinfo.feature_flags & RTE_COMPDEV_FF_HW_ACCELERATED) != 0;
        for (unsigned b = 0; b < 64; ++b)
            if ((dinfo.feature_flags >> b) & 1u)
                if (const char* f = rte_compressdev_get_feature_name(1ull << b)) info_.features.emplace_back(f);

        const rte_compressdev_capabilities* cap = rte_compressdev_capability_get(dev_id, RTE_COMP_ALGO_DEFLATE);
        if (cap == nullptr)
            throw std::invalid_argument("compress driver: " + info_.name + " (" + info_.driver +
                                        ") does not do DEFLATE; probed: " + probed_devices());
        for (unsigned b = 0; b < 64; ++b)
            if ((cap->comp_feature_flags >> b) & 1u)
                if (const char* f = rte_comp_get_feature_name(1ull << b)) info_.features.emplace_back(f);
        info_.shareable_xform = (cap->comp_feature_flags & RTE_COMP_FF_SHAREABLE_PRIV_XFORM) != 0;
        if (cfg_.huffman == CompressHuffman::kDynamic && !(cap->comp_feature_flags & RTE_COMP_FF_HUFFMAN_DYNAMIC))
            throw std::invalid_argument("compress huffman: " + info_.name +
                                        " has no dynamic Huffman codes; allowed here: fixed, default");
        if (cfg_.huffman == CompressHuffman::kFixed && !(cap->comp_feature_flags & RTE_COMP_FF_HUFFMAN_FIXED))
            throw std::invalid_argument("compress huffman: " + info_.name +
                                        " has no fixed Huffman codes; allowed here: dynamic, default");
        info_.window_log2 = kWindowLog2;
        if (cap->window_size.max != 0 && cap->window_size.max < kWindowLog2)
            info_.window_log2 = cap->window_size.max; // inflaters with a 32 KiB window still read it

        info_.buffers = cfg_.buffers;
        if (info_.buffers == CompressBuffers::kAuto)
            info_.buffers = info_.hardware ? CompressBuffers::kCopy : CompressBuffers::kExternal;

        if (dinfo.max_nb_queue_pairs != 0 && lcores.size() > dinfo.max_nb_queue_pairs)
            throw std::invalid_argument("compress lcores: " + std::to_string(lcores.size()) + " lcores but " +
                                        info_.name + " has at most " + std::to_string(dinfo.max_nb_queue_pairs) +
                                        " queue pairs; list fewer lcores");
        info_.queue_pairs = static_cast<std::uint16_t>(lcores.size());
        info_.slots_per_lane = info_.shareable_xform ? cfg_.queue_depth
                                                     : std::min<std::uint16_t>(cfg_.queue_depth, kNonShareableSlots);
        const unsigned xforms_per_lane = info_.shareable_xform ? 2u : 2u * info_.slots_per_lane;
        if (xforms_per_lane * lcores.size() > UINT16_MAX)
            throw std::invalid_argument("compress queue-depth: too many private xforms for " +
                                        std::to_string(lcores.size()) + " lcores; lower it");

        // ---- configure, queue pairs, start
        int socket = rte_compressdev_socket_id(dev_id);
        if (socket < 0) socket = SOCKET_ID_ANY;
        rte_compressdev_config dc{};
        dc.socket_id = socket;
        dc.nb_queue_pairs = info_.queue_pairs;
        dc.max_nb_priv_xforms = static_cast<std::uint16_t>(xforms_per_lane * lcores.size());
        dc.max_nb_streams = 0;
        int rc = rte_compressdev_configure(dev_id, &dc);
        if (rc < 0)
            throw CompressError("compress: rte_compressdev_configure(" + info_.name + ", " +
                                std::to_string(dc.nb_queue_pairs) + " queue pairs) failed: " + errtext(rc) +
                                "; list fewer lcores or lower queue-depth");
        configured_ = true;
        for (std::uint16_t q = 0; q < info_.queue_pairs; ++q) {
            rc = rte_compressdev_queue_pair_setup(dev_id, q, cfg_.queue_depth, socket);
            if (rc < 0)
                throw CompressError("compress: queue pair " + std::to_string(q) + " of " + info_.name +
                                    " (depth " + std::to_string(cfg_.queue_depth) + ") failed: " + errtext(rc) +
                                    "; lower queue-depth or give EAL more memory (-m)");
        }
        rc = rte_compressdev_start(dev_id);
        if (rc < 0) throw CompressError("compress: rte_compressdev_start(" + info_.name + ") failed: " + errtext(rc));
        started_ = true;

        // ---- private xforms
        rte_comp_xform cx{};
        cx.type = RTE_COMP_COMPRESS;
        cx.compress.algo = RTE_COMP_ALGO_DEFLATE;
        cx.compress.deflate.huffman = cfg_.huffman == CompressHuffman::kFixed     ? RTE_COMP_HUFFMAN_FIXED
                                      : cfg_.huffman == CompressHuffman::kDefault ? RTE_COMP_HUFFMAN_DEFAULT
                                                                                  : RTE_COMP_HUFFMAN_DYNAMIC;
        cx.compress.level = cfg_.level;
        cx.compress.window_size = info_.window_log2;
        cx.compress.chksum = RTE_COMP_CHECKSUM_NONE;
        cx.compress.hash_algo = RTE_COMP_HASH_ALGO_NONE;
        rte_comp_xform dx{};
        dx.type = RTE_COMP_DECOMPRESS;
        dx.decompress.algo = RTE_COMP_ALGO_DEFLATE;
        dx.decompress.chksum = RTE_COMP_CHECKSUM_NONE;
        dx.decompress.window_size = kWindowLog2;
        dx.decompress.hash_algo = RTE_COMP_HASH_ALGO_NONE;
        auto make_xform = [&](const rte_comp_xform& x) {
            void* p = nullptr;
            const int r = rte_compressdev_private_xform_create(dev_id, &x, &p);
            if (r < 0 || p == nullptr)
                throw CompressError(std::string("compress level: ") + info_.name + " refused the " +
                                    (x.type == RTE_COMP_COMPRESS ? "compress" : "decompress") + " xform (level " +
                                    std::to_string(cfg_.level) + ", huffman " + to_string(cfg_.huffman) +
                                    ", window 2^" + std::to_string(info_.window_log2) + "): " + errtext(r));
            xforms_.push_back(p);
            return p;
        };

        // ---- pools
        const unsigned total_slots = info_.slots_per_lane * static_cast<unsigned>(lcores.size());
        const std::string op_name = "ftcz" + std::to_string(seq) + "_op";
        const std::string mb_name = "ftcz" + std::to_string(seq) + "_mb";
        rte_mempool* op_pool =
            rte_comp_op_pool_create(op_name.c_str(), total_slots, 0, sizeof(std::uint32_t), socket);
        if (op_pool == nullptr)
            throw CompressError("compress: op pool " + op_name + " (" + std::to_string(total_slots) +
                                " ops) failed: " + errtext(rte_errno) + "; give EAL more memory (-m)");
        op_pool_ = op_pool;
        const bool external = info_.buffers == CompressBuffers::kExternal;
        // External buffers need only the mbuf headers; copies need the page room.
        const std::uint32_t room = external ? RTE_PKTMBUF_HEADROOM : cfg_.max_page + RTE_PKTMBUF_HEADROOM;
        rte_mempool* mb_pool = rte_pktmbuf_pool_create(mb_name.c_str(), 2 * total_slots, 0, 0,
                                                       static_cast<std::uint16_t>(room), socket);
        if (mb_pool == nullptr)
            throw CompressError("compress: mbuf pool " + mb_name + " (" + std::to_string(2 * total_slots) + " x " +
                                std::to_string(room) + " B) failed: " + errtext(rte_errno) +
                                "; give EAL more memory (-m) or lower queue-depth/max-page");
        mbuf_pool_ = mb_pool;

        // ---- lanes
        const std::uint64_t hz = rte_get_tsc_hz();
        for (std::size_t i = 0; i < lcores.size(); ++i) {
            auto st = std::make_unique<CompressLane::State>();
            st->dev = dev_id;
            st->qp = static_cast<std::uint16_t>(i);
            st->external = external;
            st->iova_va = rte_eal_iova_mode() == RTE_IOVA_VA;
            st->max_page = cfg_.max_page;
            st->timeout_cycles = ticks_from_us(cfg_.poll_timeout_us, hz);
            st->slots.resize(info_.slots_per_lane);
            st->free.resize(info_.slots_per_lane);
            void* lane_cxf = info_.shareable_xform ? make_xform(cx) : nullptr;
            void* lane_dxf = info_.shareable_xform ? make_xform(dx) : nullptr;
            for (std::uint16_t k = 0; k < info_.slots_per_lane; ++k) {
                Slot& sl = st->slots[k];
                sl.op = rte_comp_op_alloc(op_pool);
                sl.src = rte_pktmbuf_alloc(mb_pool);
                sl.dst = rte_pktmbuf_alloc(mb_pool);
                if (sl.op == nullptr || sl.src == nullptr || sl.dst == nullptr) {
                    lanes_.push_back(std::unique_ptr<CompressLane>(
                        new CompressLane(std::move(st), lcores[i], static_cast<std::uint16_t>(i), hz)));
                    throw CompressError("compress: op/mbuf pools ran dry while filling lane " + std::to_string(i));
                }
                slot_tag(sl.op) = k;
                sl.cxf = info_.shareable_xform ? lane_cxf : make_xform(cx);
                sl.dxf = info_.shareable_xform ? lane_dxf : make_xform(dx);
                sl.src_sh.free_cb = noop_free;
                sl.src_sh.fcb_opaque = nullptr;
                sl.dst_sh.free_cb = noop_free;
                sl.dst_sh.fcb_opaque = nullptr;
                st->free[k] = k;
            }
            st->nfree = info_.slots_per_lane;
            lane_of_lcore_[lcores[i]] = static_cast<std::int16_t>(i);
            lanes_.push_back(std::unique_ptr<CompressLane>(
                new CompressLane(std::move(st), lcores[i], static_cast<std::uint16_t>(i), hz)));
        }
    } catch (...) {
        teardown();
        throw;
    }
}

CompressEngine::~CompressEngine() { teardown(); }

void CompressEngine::teardown() noexcept {
    const auto dev_id = static_cast<std::uint8_t>(info_.dev_id);
    if (info_.name.empty()) return;         // never resolved a device
    // Give ops still in the device a moment to come back (hardware only).
    if (started_) {
        for (auto& lp : lanes_) {
            CompressLane::State& s = *lp->st_;
            const std::uint64_t end = rte_rdtsc() + s.timeout_cycles;
            auto busy = [&] {
                return std::any_of(s.slots.begin(), s.slots.end(), [](const Slot& sl) { return sl.busy; });
            };
            while (busy() && rte_rdtsc() < end) {
                rte_comp_op* done[kLaneBurst];
                const std::uint16_t got = rte_compressdev_dequeue_burst(s.dev, s.qp, done, kLaneBurst);
                for (std::uint16_t i = 0; i < got; ++i) release(s, s.slots[slot_tag(done[i])]);
                if (got == 0) rte_pause();
            }
        }
        rte_compressdev_stop(dev_id);
        started_ = false;
    }
    for (void* x : xforms_) rte_compressdev_private_xform_free(dev_id, x);
    xforms_.clear();
    if (configured_) {
        rte_compressdev_close(dev_id);
        configured_ = false;
    }
    for (auto& lp : lanes_) {
        for (Slot& sl : lp->st_->slots) {
            if (sl.attached) {
                rte_pktmbuf_detach(sl.src);
                rte_pktmbuf_detach(sl.dst);
                sl.attached = false;
            }
            rte_pktmbuf_free(sl.src);
            rte_pktmbuf_free(sl.dst);
            rte_comp_op_free(sl.op);
            sl = Slot{};
        }
    }
    lanes_.clear();
    std::fill(lane_of_lcore_.begin(), lane_of_lcore_.end(), std::int16_t{-1});
    rte_mempool_free(static_cast<rte_mempool*>(mbuf_pool_));
    rte_mempool_free(static_cast<rte_mempool*>(op_pool_));
    mbuf_pool_ = op_pool_ = nullptr;
    // A virtual device we created stays (stopped and closed) for the next
    // engine of this process: DPDK 22.11 never frees the memzone
    // "rte_compressdev_data_<id>" of a destroyed compressdev, so after
    // rte_vdev_uninit the id can never be created again (the PMD's
    // rte_compressdev_pmd_create fails, EFAULT/ENODEV). rte_eal_cleanup
    // removes it at exit.
    unclaim(info_.dev_id);
    info_.name.clear();
}

CompressLane* CompressEngine::lane_for_lcore(unsigned lcore) noexcept {
    if (lcore >= lane_of_lcore_.size()) return nullptr;
    const std::int16_t i = lane_of_lcore_[lcore];
    return i < 0 ? nullptr : lanes_[static_cast<std::size_t>(i)].get();
}

CompressLane* CompressEngine::current_lane() noexcept { return lane_for_lcore(rte_lcore_id()); }

std::size_t CompressEngine::compress_batch(const PageIn* in, std::size_t n, PageOut* out) noexcept {
    if (CompressLane* l = current_lane()) return l->compress(in, n, out);
    for (std::size_t i = 0; i < n; ++i) {
        out[i].len = 0;
        out[i].status = PageStatus::kNoLane;
    }
    ++no_lane_calls_;
    return 0;
}

std::size_t CompressEngine::decompress_batch(const PageIn* in, std::size_t n, PageOut* out,
                                             std::uint32_t expect_len) noexcept {
    if (CompressLane* l = current_lane()) return l->decompress(in, n, out, expect_len);
    for (std::size_t i = 0; i < n; ++i) {
        out[i].len = 0;
        out[i].status = PageStatus::kNoLane;
    }
    ++no_lane_calls_;
    return 0;
}

CompressStats CompressEngine::stats() const {
    CompressStats sum;
    sum.tsc_hz = rte_get_tsc_hz();
    for (const auto& l : lanes_) sum += l->stats();
    return sum;
}

void CompressEngine::reset_stats() {
    for (auto& l : lanes_) l->reset_stats();
    no_lane_calls_ = 0;
}

// ----------------------------------------------------------------- adapter

std::size_t DeflateCodec::compress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst, std::size_t cap) {
    PageIn in{src, static_cast<std::uint32_t>(std::min<std::size_t>(len, UINT32_MAX))};
    PageOut out{dst, static_cast<std::uint32_t>(std::min<std::size_t>(cap, UINT32_MAX)), 0, PageStatus::kOk};
    lane_->compress(&in, 1, &out);
    last_ = out.status;
    return out.status == PageStatus::kOk ? out.len : 0;
}

std::size_t DeflateCodec::decompress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                                     std::size_t cap) {
    PageIn in{src, static_cast<std::uint32_t>(std::min<std::size_t>(len, UINT32_MAX))};
    PageOut out{dst, static_cast<std::uint32_t>(std::min<std::size_t>(cap, UINT32_MAX)), 0, PageStatus::kOk};
    lane_->decompress(&in, 1, &out, 0);
    last_ = out.status;
    return out.status == PageStatus::kOk ? out.len : 0;
}

} // namespace flowteam::dataplane
