// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the live-migration payload on the engine (see migrate.h).
#include "dataplane/migrate.h"

#include <rte_cycles.h>

#include <cstring>
#include <stdexcept>

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

// ------------------------------------------------------------ headers

namespace {

constexpr std::uint32_t kL2L4 = mig::kL2L4Headers; // 42

void put16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
std::uint16_t get16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t le32(const std::uint8_t* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint16_t le16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

std::uint16_t ip_checksum(const std::uint8_t* h) noexcept {
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += static_cast<std::uint32_t>((h[i] << 8) | h[i + 1]);
    while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

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
    put16(ip + 2, static_cast<std::uint16_t>(20 + 8 + payload_len));
    put16(ip + 4, 0);
    put16(ip + 6, 0x4000); // DF
    ip[8] = 64;
    ip[9] = 17;
    put16(ip + 10, 0);
    const std::uint8_t a[4] = {198, 18, static_cast<std::uint8_t>(vm & 0xFF), static_cast<std::uint8_t>(1 + (vm >> 8))};
    const std::uint8_t b[4] = {198, 19, 0, 1};
    std::memcpy(ip + 12, reverse ? b : a, 4);
    std::memcpy(ip + 16, reverse ? a : b, 4);
    put16(ip + 10, ip_checksum(ip));
    // UDP: one source port per (VM, channel) flow; checksum 0 (the wire header has its CRC).
    std::uint8_t* udp = ip + 20;
    const auto port = static_cast<std::uint16_t>(kMigrateSrcPortBase + flow);
    put16(udp, reverse ? kMigrateDstPort : port);
    put16(udp + 2, reverse ? port : kMigrateDstPort);
    put16(udp + 4, static_cast<std::uint16_t>(8 + payload_len));
    put16(udp + 6, 0);
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
    const std::uint32_t ip_len = get16(ip + 2);
    if (ip_len < ihl + 8 || 14 + ip_len > len) return nullptr;
    const std::uint8_t* udp = ip + ihl;
    if (get16(udp + port_at) != kMigrateDstPort) return nullptr;
    const std::uint32_t udp_len = get16(udp + 4);
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
            b.len = kL2L4 + tf.payload_len;
            s_.src_ctr_.payload_bytes += tf.payload_len;
        }
        s_.src_ctr_.frames += k;
        if (k == 0 && sched.done()) finished_ = true;
        if (!sched.done()) s_.last_tick_.store(now, std::memory_order_relaxed);
        s_.src_ctr_.busy_cycles += rte_rdtsc() - t0;
        return k;
    }
    bool finished() const override { return finished_; }

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
            s_.reorder_[flow].on_packet(le32(p + 28));
            ++s_.rx_member_[flow][frames[i].member & (kMaxMembers - 1)];
        }
        if (now - last_poll_ >= period_) {
            last_poll_ = now;
            rx.poll(now);
            feedback_due_ = true;
        }
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
    sched_ = std::make_unique<mig::Scheduler>(*mem_, cfg_.sched);
    if (cfg_.compress != MigrateCompress::none) {
        CompressConfig cc;
        cc.driver = cfg_.compress == MigrateCompress::zlib ? kCompressZlib : kCompressIsal;
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
