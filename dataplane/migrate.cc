// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the live-migration payload on the engine (see migrate.h).
#include "dataplane/migrate.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>

#include <time.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "common/bytes.h"
#include "dataplane/compress.h"

namespace flowteam::dataplane {

namespace mig = flowteam::migration;

const char* to_string(MigrateCompress c) {
    switch (c) {
    case MigrateCompress::none: return "none";
    case MigrateCompress::isal: return "isal";
    case MigrateCompress::zlib: return "zlib";
    }
    return "?";
}

bool parse_compress(const std::string& s, MigrateCompress& out) {
    if (s == "none") out = MigrateCompress::none;
    else if (s == "isal" || s == "deflate") out = MigrateCompress::isal;
    else if (s == "zlib") out = MigrateCompress::zlib;
    else return false;
    return true;
}

std::uint64_t migrate_tsc_hz() noexcept { return rte_get_tsc_hz(); }

double cpu_share(std::uint64_t thread_cpu_ns, std::uint64_t thread_wall_ns) noexcept {
    if (thread_wall_ns == 0) return 1.0;
    const double r = static_cast<double>(thread_cpu_ns) / static_cast<double>(thread_wall_ns);
    return r > 1.0 ? 1.0 : r;
}

// ------------------------------------------------------------ zero-copy probe

FrameBodyProbe::FrameBodyProbe(const std::uint8_t* src, std::size_t src_len, std::uint32_t body)
    : src_(src), src_len_(src_len), body_(body) {
    if (body_ == 0 || body_ > src_len_ || body_ + mig::kL2L4Headers + mig::kHeaderSize > RTE_MBUF_DEFAULT_DATAROOM)
        throw std::invalid_argument("zero-copy probe: body must be 1..min(source length, one mbuf)");
    static std::atomic<unsigned> seq{0};
    const std::string n = "ftzcp" + std::to_string(seq.fetch_add(1));
    chainer_ = std::make_unique<ExtSegmentChainer>(n + "_s", 1023);
    // Last: nothing after it may throw (the destructor does not run then).
    rte_mempool* mp = rte_pktmbuf_pool_create((n + "_h").c_str(), 1023, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (mp == nullptr) throw std::runtime_error("zero-copy probe: mbuf pool failed: " + std::string(rte_strerror(rte_errno)));
    pool_ = mp;
}

FrameBodyProbe::~FrameBodyProbe() {
    chainer_.reset();
    rte_mempool_free(static_cast<rte_mempool*>(pool_));
}

std::uint64_t FrameBodyProbe::run(unsigned n, bool zero_copy) noexcept {
    rte_mbuf* m[kBurstSize];
    std::uint64_t carried = 0;
    constexpr std::uint32_t hdr = mig::kL2L4Headers + mig::kHeaderSize;
    while (n > 0) {
        const unsigned k = std::min<unsigned>(n, kBurstSize);
        if (rte_pktmbuf_alloc_bulk(static_cast<rte_mempool*>(pool_), m, k) != 0) return carried;
        for (unsigned i = 0; i < k; ++i) {
            if (pos_ + body_ > src_len_) pos_ = 0;
            std::uint8_t* d = rte_pktmbuf_mtod(m[i], std::uint8_t*);
            std::memset(d, 0, hdr);
            FrameBuf b;
            b.data = d;
            b.ext = src_ + pos_;
            b.ext_len = body_;
            if (zero_copy) {
                m[i]->data_len = hdr;
                m[i]->pkt_len = hdr;
                if (!chainer_->chain(m[i], b)) continue;
            } else {
                rte_memcpy(d + hdr, b.ext, body_);
                m[i]->data_len = static_cast<std::uint16_t>(hdr + body_);
                m[i]->pkt_len = hdr + body_;
            }
            pos_ += body_;
            carried += body_;
        }
        rte_pktmbuf_free_bulk(m, k);
        n -= k;
    }
    return carried;
}

// ------------------------------------------------------------ headers

namespace {

constexpr std::uint32_t kL2L4 = mig::kL2L4Headers; // 42

std::uint16_t le16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

std::uint16_t ip_checksum(const std::uint8_t* h) noexcept {
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += static_cast<std::uint32_t>((h[i] << 8) | h[i + 1]);
    while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

// Thread CPU time vs wall time of the calling lcore, sampled now and then
// (clock_gettime of a thread CPU clock is a system call: never per frame).
class CpuClock {
public:
    void sample(std::uint64_t& cpu_ns, std::uint64_t& wall_ns) noexcept {
        timespec c{}, w{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
        clock_gettime(CLOCK_MONOTONIC, &w);
        const std::uint64_t cn = static_cast<std::uint64_t>(c.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(c.tv_nsec);
        const std::uint64_t wn = static_cast<std::uint64_t>(w.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(w.tv_nsec);
        if (!started_) {
            started_ = true;
            cpu0_ = cn;
            wall0_ = wn;
        }
        cpu_ns = cn - cpu0_;
        wall_ns = wn - wall0_;
    }
    bool due() noexcept { return (++calls_ & 255u) == 1u; } // the first call, then every 256th

private:
    bool started_ = false;
    std::uint64_t cpu0_ = 0, wall0_ = 0, calls_ = 0;
};

// SplitMix-based PRNG for fault injection (deterministic from the seed).
struct Prng {
    std::uint64_t s;
    std::uint64_t next() noexcept {
        s = mig::mix64(s);
        return s;
    }
    std::uint32_t below(std::uint32_t n) noexcept { return static_cast<std::uint32_t>(next() % n); }
};

} // namespace

void build_migrate_headers(std::uint8_t* f, std::uint16_t vm, std::uint32_t flow, std::uint32_t payload_len,
                           bool reverse) noexcept {
    // Ethernet: receiver team MAC <- per-VM source MAC (vport pinning).
    const std::uint8_t vm_mac[6] = {0x02, 0x66, 0x74, 0x4d, static_cast<std::uint8_t>(vm >> 8),
                                    static_cast<std::uint8_t>(vm)};
    std::memcpy(f, reverse ? vm_mac : kReceiverMac.data(), 6);
    std::memcpy(f + 6, reverse ? kReceiverMac.data() : vm_mac, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    // IPv4: 198.18.<vm>.1 (source host of VM vm) -> 198.19.0.1 (destination host).
    std::uint8_t* ip = f + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + 2, static_cast<std::uint16_t>(20 + 8 + payload_len));
    store_be16(ip + 4, 0);
    store_be16(ip + 6, 0x4000); // DF
    ip[8] = 64;
    ip[9] = 17;
    store_be16(ip + 10, 0);
    const std::uint8_t a[4] = {198, 18, static_cast<std::uint8_t>(vm & 0xFF), static_cast<std::uint8_t>(1 + (vm >> 8))};
    const std::uint8_t b[4] = {198, 19, 0, 1};
    std::memcpy(ip + 12, reverse ? b : a, 4);
    std::memcpy(ip + 16, reverse ? a : b, 4);
    store_be16(ip + 10, ip_checksum(ip));
    // UDP: one source port per (VM, channel) flow; checksum 0 (the wire header has its CRC).
    std::uint8_t* udp = ip + 20;
    const auto port = static_cast<std::uint16_t>(kMigrateSrcPortBase + flow);
    store_be16(udp, reverse ? kMigrateDstPort : port);
    store_be16(udp + 2, reverse ? port : kMigrateDstPort);
    store_be16(udp + 4, static_cast<std::uint16_t>(8 + payload_len));
    store_be16(udp + 6, 0);
}

namespace {
// port_at: 2 = destination port (forward frames), 0 = source port (feedback).
const std::uint8_t* udp_payload_at(const std::uint8_t* f, std::uint32_t len, std::uint32_t& payload_len,
                                   unsigned port_at) noexcept {
    if (len < kL2L4 || f[12] != 0x08 || f[13] != 0x00) return nullptr;
    const std::uint8_t* ip = f + 14;
    if ((ip[0] >> 4) != 4) return nullptr;
    const std::uint32_t ihl = (ip[0] & 0x0Fu) * 4u;
    if (ihl < 20 || ip[9] != 17 || 14 + ihl + 8 > len) return nullptr;
    const std::uint32_t ip_len = load_be16(ip + 2);
    if (ip_len < ihl + 8 || 14 + ip_len > len) return nullptr;
    const std::uint8_t* udp = ip + ihl;
    if (load_be16(udp + port_at) != kMigrateDstPort) return nullptr;
    const std::uint32_t udp_len = load_be16(udp + 4);
    if (udp_len < 8 || udp_len > ip_len - ihl) return nullptr;
    payload_len = udp_len - 8;
    return udp + 8;
}
} // namespace

const std::uint8_t* migrate_payload(const std::uint8_t* f, std::uint32_t len, std::uint32_t& payload_len) noexcept {
    return udp_payload_at(f, len, payload_len, 2);
}

const std::uint8_t* migrate_feedback_payload(const std::uint8_t* f, std::uint32_t len,
                                             std::uint32_t& payload_len) noexcept {
    return udp_payload_at(f, len, payload_len, 0);
}

// ------------------------------------------------------------ source

class MigrationSource final : public FrameSource {
public:
    explicit MigrationSource(MigrationSession& s) : s_(s), need_(kL2L4 + mig::udp_payload_capacity(s.cfg_.sender.mtu)) {}

    std::uint16_t fill(Tick now, FrameBuf* bufs, std::uint16_t n) override {
        const Tick t0 = rte_rdtsc();
        auto& sched = *s_.sched_;
        auto& snd = *s_.sender_;
        if (!sched.started()) {
            sched.start(now);
            s_.first_tick_ = now;
        }
        sched.poll(now);
        std::uint16_t k = 0;
        for (; k < n; ++k) {
            FrameBuf& b = bufs[k];
            if (b.cap < need_) [[unlikely]] {
                ++s_.src_ctr_.buf_too_small;
                break;
            }
            mig::TxFrame tf;
            const std::size_t w = snd.next_frame(now, b.data + kL2L4, b.cap - kL2L4, tf);
            if (w == 0) break;
            build_migrate_headers(b.data, tf.vm, tf.flow, tf.payload_len, false);
            if (tf.ext != nullptr) {            // zero-copy body from guest memory
                if (b.ext_ok) {
                    b.len = kL2L4 + static_cast<std::uint32_t>(w);
                    b.ext = tf.ext;
                    b.ext_len = tf.ext_len;
                    ++s_.src_ctr_.zero_copy_frames;
                    s_.src_ctr_.zero_copy_bytes += tf.ext_len;
                } else {                        // the engine cannot chain: the measured copy
                    std::memcpy(b.data + kL2L4 + w, tf.ext, tf.ext_len);
                    b.len = kL2L4 + tf.payload_len;
                    ++s_.src_ctr_.ext_copied_frames;
                }
            } else {
                b.len = kL2L4 + tf.payload_len;
            }
            s_.src_ctr_.payload_bytes += tf.payload_len;
        }
        s_.src_ctr_.frames += k;
        if (k == 0 && sched.done()) finished_ = true;
        if (clock_.due() || finished_) clock_.sample(s_.src_ctr_.thread_cpu_ns, s_.src_ctr_.thread_wall_ns);
        if (!sched.done()) s_.last_tick_.store(now, std::memory_order_relaxed);
        s_.src_ctr_.busy_cycles += rte_rdtsc() - t0;
        return k;
    }
    bool finished() const override { return finished_; }
    bool wants_ext() const override { return s_.cfg_.sender.zero_copy; }
    void on_ext_stats(const ExtTxStats& st) override {
        auto& c = s_.src_ctr_;
        c.ext_segments_attached += st.attached;
        c.ext_segments_released += st.released;
        c.ext_pool_empty += st.pool_empty;
        c.ext_engine_copied += st.copied;
        c.ext_engine_dropped += st.dropped;
        c.ext_engine_cycles += st.cycles;
        c.busy_cycles += st.cycles; // the chaining replaces the copy fill() would do: same budget
    }

    void on_feedback(Tick now, const RxFrame* frames, std::uint16_t n) override {
        auto& snd = *s_.sender_;
        for (std::uint16_t i = 0; i < n; ++i) {
            std::uint32_t plen = 0;
            const std::uint8_t* p = migrate_feedback_payload(frames[i].data, frames[i].len, plen);
            if (p == nullptr) {
                ++s_.src_ctr_.feedback_not_migration;
                continue;
            }
            snd.on_feedback(now, p, plen);
            ++s_.src_ctr_.feedback_frames;
        }
    }

private:
    MigrationSession& s_;
    std::uint32_t need_;
    bool finished_ = false;
    CpuClock clock_;
};

// ------------------------------------------------------------ sink

class MigrationSink final : public FrameSink {
public:
    explicit MigrationSink(MigrationSession& s)
        : s_(s), rng_{s.cfg_.faults.seed}, period_(s.hz_ * s.cfg_.feedback_period_ns / 1'000'000'000ull),
          channels_(s.cfg_.sched.precopy.channels), fb_cap_(mig::udp_payload_capacity(s.cfg_.sender.mtu)) {}

    void on_frames(Tick now, const RxFrame* frames, std::uint16_t n) override {
        const Tick t0 = rte_rdtsc();
        auto& rx = *s_.receiver_;
        auto& c = s_.sink_ctr_;
        const MigrateFaults& fl = s_.cfg_.faults;
        for (std::uint16_t i = 0; i < n; ++i) {
            ++c.frames;
            std::uint32_t plen = 0;
            const std::uint8_t* p = migrate_payload(frames[i].data, frames[i].len, plen);
            if (p == nullptr) {
                ++c.not_migration;
                continue;
            }
            if (plen > sizeof scratch_) [[unlikely]] { // no valid frame is this long; scratch_ could not hold it
                ++c.oversize;
                continue;
            }
            if (fl.loss_ppm != 0 && rng_.below(1'000'000) < fl.loss_ppm) {
                ++c.injected_loss;
                continue;
            }
            if (fl.corrupt_ppm != 0 && plen > 0 && rng_.below(1'000'000) < fl.corrupt_ppm) {
                std::memcpy(scratch_, p, plen);
                const std::uint32_t at = rng_.below(std::min<std::uint32_t>(plen, mig::kHeaderSize));
                scratch_[at] ^= static_cast<std::uint8_t>(1u << rng_.below(8));
                p = scratch_;
                ++c.injected_corrupt;
            } else if (fl.truncate_ppm != 0 && plen > 0 && rng_.below(1'000'000) < fl.truncate_ppm) {
                plen = rng_.below(plen);
                ++c.injected_truncate;
            }
            const mig::WireStatus st = rx.on_frame(now, p, plen);
            if (st != mig::WireStatus::ok) {
                ++c.rejected;
                continue;
            }
            ++c.accepted;
            c.payload_bytes += plen;
            const std::uint16_t vm = le16(p + 8), ch = le16(p + 10);
            const std::uint32_t flow = static_cast<std::uint32_t>(vm) * channels_ + ch;
            s_.reorder_[flow].on_packet(load_le32(p + 28));
            ++s_.rx_member_[flow][frames[i].member & (kMaxMembers - 1)];
        }
        if (now - last_poll_ >= period_) {
            last_poll_ = now;
            rx.poll(now);
            feedback_due_ = true;
        }
        if (clock_.due()) clock_.sample(c.thread_cpu_ns, c.thread_wall_ns);
        c.busy_cycles += rte_rdtsc() - t0;
    }

    std::uint16_t take_feedback(Tick now, FrameBuf* bufs, std::uint16_t n) override {
        if (!feedback_due_) return 0;
        const Tick t0 = rte_rdtsc();
        auto& rx = *s_.receiver_;
        auto& c = s_.sink_ctr_;
        std::uint16_t k = 0;
        for (; k < n; ++k) {
            FrameBuf& b = bufs[k];
            if (b.cap < kL2L4 + fb_cap_) [[unlikely]] {
                ++c.feedback_buf_too_small;   // stays due: asked again with the next buffers
                break;
            }
            mig::FeedbackFrame ff;
            const std::size_t w = rx.next_feedback(now, b.data + kL2L4, fb_cap_, ff);
            if (w == 0) {
                feedback_due_ = false;
                break;
            }
            build_migrate_headers(b.data, ff.vm, ff.flow, static_cast<std::uint32_t>(w), true);
            b.len = kL2L4 + static_cast<std::uint32_t>(w);
            ++c.feedback_frames;
        }
        c.busy_cycles += rte_rdtsc() - t0;
        return k;
    }

private:
    MigrationSession& s_;
    Prng rng_;
    Tick period_;
    Tick last_poll_ = 0;
    bool feedback_due_ = false; // Receiver::poll ran; next_feedback may have frames
    std::uint16_t channels_;
    std::uint32_t fb_cap_;
    CpuClock clock_;
    alignas(64) std::uint8_t scratch_[mig::udp_payload_capacity(mig::kMaxMtu)];
};

// ------------------------------------------------------------ session

MigrationSession::MigrationSession(const MigrateConfig& cfg, std::uint64_t tsc_hz) : cfg_(cfg), hz_(tsc_hz) {
    if (hz_ == 0) throw std::invalid_argument("migrate: tsc_hz must be > 0");
    if (cfg_.feedback_period_ns == 0) throw std::invalid_argument("migrate: feedback_period_ns must be > 0");
    cfg_.memory.tick_hz = hz_;
    cfg_.memory.with_source = true;
    cfg_.memory.with_destination = true;
    cfg_.receiver.channels = cfg_.sched.precopy.channels;
    cfg_.receiver.mtu = cfg_.sender.mtu;
    mem_ = std::make_unique<mig::VmMemory>(cfg_.memory);
    mem_->prefault(); // before traffic: no first-touch page faults in the measured migration
    sched_ = std::make_unique<mig::Scheduler>(*mem_, cfg_.sched);
    if (cfg_.compress != MigrateCompress::none) {
        CompressConfig cc;
        cc.driver = cfg_.compress == MigrateCompress::zlib ? kCompressZlib : kCompressIsal;
        cc.huffman = cfg_.compress_huffman;
        cc.level = cfg_.compress_level;
        compress_ = std::make_unique<CompressEngine>(cc);
        if (compress_->lane_count() < 2)
            throw std::invalid_argument("migrate: compression needs two compressdev lanes (give EAL at least 2 lcores)");
        tx_codec_ = std::make_unique<DeflateCodec>(compress_->lane(0));
        rx_codec_ = std::make_unique<DeflateCodec>(compress_->lane(1));
    }
    sender_ = std::make_unique<mig::Sender>(*mem_, *sched_, cfg_.sender, tx_codec_.get());
    receiver_ = std::make_unique<mig::Receiver>(*mem_, cfg_.receiver, rx_codec_.get());
    const std::uint32_t flows = static_cast<std::uint32_t>(mem_->vm_count()) * cfg_.sched.precopy.channels;
    measure::ReorderConfig rc;
    rc.first_seq = 0;
    reorder_.assign(flows, measure::FlowReorder(rc));
    rx_member_.assign(flows, {});
}

MigrationSession::~MigrationSession() = default;

std::unique_ptr<FrameSource> MigrationSession::make_source() {
    if (source_made_) throw std::invalid_argument("migrate: one TX lcore only (the source was already made)");
    source_made_ = true;
    return std::make_unique<MigrationSource>(*this);
}

std::unique_ptr<FrameSink> MigrationSession::make_sink() {
    if (sink_made_) throw std::invalid_argument("migrate: one RX lcore only (set max_rx_lcores = 1)");
    sink_made_ = true;
    return std::make_unique<MigrationSink>(*this);
}

std::vector<ChannelStats> MigrationSession::channel_stats() const {
    std::vector<ChannelStats> out;
    const std::uint16_t C = cfg_.sched.precopy.channels;
    for (std::uint32_t f = 0; f < reorder_.size(); ++f) {
        ChannelStats cs;
        cs.vm = static_cast<std::uint16_t>(f / C);
        cs.channel = static_cast<std::uint16_t>(f % C);
        cs.udp_src_port = static_cast<std::uint16_t>(kMigrateSrcPortBase + f);
        measure::FlowReorder r = reorder_[f];
        r.finish();
        cs.reorder = r.stats();
        cs.rx_member = rx_member_[f];
        out.push_back(cs);
    }
    return out;
}

std::uint64_t MigrationSession::compress_cycles() const { return tx_codec_ ? tx_codec_->lane().stats().compress.cycles : 0; }
std::uint64_t MigrationSession::compress_bytes_in() const {
    return tx_codec_ ? tx_codec_->lane().stats().compress.bytes_in : 0;
}
std::uint64_t MigrationSession::decompress_cycles() const {
    return rx_codec_ ? rx_codec_->lane().stats().decompress.cycles : 0;
}
std::uint64_t MigrationSession::decompress_bytes_out() const {
    return rx_codec_ ? rx_codec_->lane().stats().decompress.bytes_out : 0;
}

} // namespace flowteam::dataplane
