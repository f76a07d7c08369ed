// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/port.h"

#include "dataplane/port_io.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace flowteam::dataplane {
namespace {

constexpr std::uint32_t kMinMtu = 68;
constexpr std::uint32_t kMaxMtu = 9000;
constexpr std::uint32_t kDefaultRssKeySize = 40;
constexpr std::uint32_t kVlanTags = 2 * 4;   // room for QinQ in the data room
constexpr std::uint64_t kChecksumRx =
    RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
constexpr std::uint64_t kChecksumTx =
    RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
constexpr std::uint64_t kRssTypes = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;

std::atomic<unsigned> g_pool_instances{0};

std::string port_label(std::uint16_t port_id, const std::string& name, const std::string& driver) {
    return "port " + std::to_string(port_id) + " (" + name + ", " + driver + ")";
}

std::string port_label(const PortInfo& info) { return port_label(info.port_id, info.name, info.driver); }

[[noreturn]] void fail(const PortInfo& info, const char* call, int rc, const std::string& what_to_change) {
    throw PortError(port_label(info) + ": " + call + " failed: " + rte_strerror(rc < 0 ? -rc : rc) + "; " +
                    what_to_change);
}

std::vector<std::string> offload_names(std::uint64_t mask, bool rx) {
    std::vector<std::string> names;
    for (unsigned bit = 0; bit < 64; ++bit) {
        const std::uint64_t f = std::uint64_t{1} << bit;
        if ((mask & f) == 0) continue;
        names.emplace_back(rx ? rte_eth_dev_rx_offload_name(f) : rte_eth_dev_tx_offload_name(f));
    }
    return names;
}

// L2 overhead the way ethdev computes it in 22.11 (eth_dev_get_overhead_len).
std::uint32_t l2_overhead(std::uint32_t max_rx_pktlen, std::uint16_t max_mtu) {
    if (max_mtu != UINT16_MAX && max_rx_pktlen > max_mtu) return max_rx_pktlen - max_mtu;
    return RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
}

void require_valid(std::uint16_t port_id) {
    if (rte_eth_dev_is_valid_port(port_id) == 0)
        throw PortError("port " + std::to_string(port_id) + " does not exist (" +
                        std::to_string(rte_eth_dev_count_avail()) +
                        " ports available); check the -a/--vdev EAL arguments or the testbed set-up");
}

std::string hex(std::uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

int lcore_socket_or_zero() {
    const unsigned s = rte_socket_id();
    return s == static_cast<unsigned>(SOCKET_ID_ANY) ? 0 : static_cast<int>(s);
}

} // namespace

// ---------------------------------------------------------------- mempools

rte_mempool* lookup_pool(const std::string& name) { return rte_mempool_lookup(name.c_str()); }

rte_mempool* pool_for(MbufPools& pools, int socket, std::uint16_t data_room) {
    return lookup_pool(pools.ensure(socket, data_room));
}

MbufPools::MbufPools(const MbufPoolConfig& cfg) : impl_(std::make_unique<Impl>()) {
    if (cfg.mbufs < 64)
        throw std::invalid_argument("mbufs: " + std::to_string(cfg.mbufs) + " is too small; allowed: >= 64");
    if (cfg.cache > RTE_MEMPOOL_CACHE_MAX_SIZE || std::uint64_t{cfg.cache} * 3 > std::uint64_t{cfg.mbufs} * 2)
        throw std::invalid_argument("mbuf cache: " + std::to_string(cfg.cache) + " not allowed; allowed: <= " +
                                    std::to_string(RTE_MEMPOOL_CACHE_MAX_SIZE) + " and <= mbufs / 1.5");
    impl_->cfg = cfg;
    impl_->instance = g_pool_instances.fetch_add(1);
}

MbufPools::~MbufPools() {
    for (auto& [key, mp] : impl_->pools) rte_mempool_free(mp);
}

const MbufPoolConfig& MbufPools::config() const { return impl_->cfg; }

std::string MbufPools::ensure(int socket, std::uint16_t data_room) {
    if (socket < 0) socket = lcore_socket_or_zero();
    const auto key = std::make_pair(socket, data_room);
    const std::string name = "ft" + std::to_string(impl_->instance) + "_s" + std::to_string(socket) + "_" +
                             std::to_string(data_room);
    if (impl_->pools.count(key) != 0) return name;
    rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), impl_->cfg.mbufs, impl_->cfg.cache, 0, data_room, socket);
    if (mp == nullptr) {
        const int err = rte_errno;
        throw PortError("mbuf pool " + name + " (" + std::to_string(impl_->cfg.mbufs) + " x " +
                        std::to_string(data_room) + " B on socket " + std::to_string(socket) +
                        "): rte_pktmbuf_pool_create failed: " + rte_strerror(err) +
                        "; give EAL more memory (-m, or more hugepages) or use fewer/smaller mbufs");
    }
    impl_->pools.emplace(key, mp);
    return name;
}

std::vector<MbufPoolInfo> MbufPools::pools() const {
    std::vector<MbufPoolInfo> out;
    for (const auto& [key, mp] : impl_->pools) {
        MbufPoolInfo pi;
        pi.name = mp->name;
        pi.socket = key.first;
        pi.data_room = key.second;
        pi.size = mp->size;
        pi.cache = mp->cache_size;
        pi.available = rte_mempool_avail_count(mp);
        pi.in_use = rte_mempool_in_use_count(mp);
        out.push_back(std::move(pi));
    }
    return out;
}

// ------------------------------------------------------------------ queries

std::optional<std::uint64_t> PortStats::xstat(std::string_view name) const {
    for (const auto& [n, v] : xstats)
        if (n == name) return v;
    return std::nullopt;
}

std::vector<std::uint16_t> port_ids() {
    std::vector<std::uint16_t> ids;
    std::uint16_t p = 0;
    RTE_ETH_FOREACH_DEV(p) { ids.push_back(p); }
    return ids;
}

std::optional<std::uint16_t> find_port(std::string_view device_name) {
    std::uint16_t p = 0;
    const std::string n(device_name);
    if (rte_eth_dev_get_port_by_name(n.c_str(), &p) != 0) return std::nullopt;
    return p;
}

PortInfo query_port_info(std::uint16_t port_id) {
    require_valid(port_id);
    rte_eth_dev_info di;
    std::memset(&di, 0, sizeof(di));
    PortInfo info;
    info.port_id = port_id;
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    if (rte_eth_dev_get_name_by_port(port_id, name) == 0) info.name = name;
    const int rc = rte_eth_dev_info_get(port_id, &di);
    if (rc != 0) {
        info.driver = "?";
        fail(info, "rte_eth_dev_info_get", rc, "the device is not usable");
    }
    info.driver = di.driver_name != nullptr ? di.driver_name : "?";
    info.socket = rte_eth_dev_socket_id(port_id);
    info.max_rx_queues = di.max_rx_queues;
    info.max_tx_queues = di.max_tx_queues;
    info.reta_size = di.reta_size;
    info.hash_key_size = di.hash_key_size;
    info.flow_type_rss_offloads = di.flow_type_rss_offloads;
    info.min_mtu = di.min_mtu;
    info.max_mtu = di.max_mtu;
    info.max_rx_pktlen = di.max_rx_pktlen;
    const std::uint32_t ovh = l2_overhead(di.max_rx_pktlen, di.max_mtu);
    const std::uint64_t by_pktlen = di.max_rx_pktlen > ovh ? di.max_rx_pktlen - ovh : 0;
    info.effective_max_mtu = static_cast<std::uint32_t>(std::min<std::uint64_t>(di.max_mtu, by_pktlen));
    info.min_rx_bufsize = di.min_rx_bufsize;
    info.rx_desc_min = di.rx_desc_lim.nb_min;
    info.rx_desc_max = di.rx_desc_lim.nb_max;
    info.rx_desc_align = di.rx_desc_lim.nb_align;
    info.tx_desc_min = di.tx_desc_lim.nb_min;
    info.tx_desc_max = di.tx_desc_lim.nb_max;
    info.tx_desc_align = di.tx_desc_lim.nb_align;
    info.rx_offload_capa = di.rx_offload_capa;
    info.tx_offload_capa = di.tx_offload_capa;
    info.rx_offload_names = offload_names(di.rx_offload_capa, true);
    info.tx_offload_names = offload_names(di.tx_offload_capa, false);
    info.rx_scatter_capable = (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0;
    info.tx_multi_segs_capable = (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
    info.rss_capable = di.reta_size > 0 && (di.flow_type_rss_offloads & kRssTypes) != 0;
    return info;
}

PortStats read_port_stats(std::uint16_t port_id) {
    require_valid(port_id);
    PortStats s;
    rte_eth_stats st;
    std::memset(&st, 0, sizeof(st));
    if (rte_eth_stats_get(port_id, &st) == 0) {
        s.rx_packets = st.ipackets;
        s.tx_packets = st.opackets;
        s.rx_bytes = st.ibytes;
        s.tx_bytes = st.obytes;
        s.rx_missed = st.imissed;
        s.rx_errors = st.ierrors;
        s.tx_errors = st.oerrors;
        s.rx_nombuf = st.rx_nombuf;
        rte_eth_dev_info di;
        std::memset(&di, 0, sizeof(di));
        std::uint16_t nrx = 0, ntx = 0;
        if (rte_eth_dev_info_get(port_id, &di) == 0) {
            nrx = std::min<std::uint16_t>(di.nb_rx_queues, RTE_ETHDEV_QUEUE_STAT_CNTRS);
            ntx = std::min<std::uint16_t>(di.nb_tx_queues, RTE_ETHDEV_QUEUE_STAT_CNTRS);
        }
        for (std::uint16_t q = 0; q < nrx; ++q) {
            s.rx_queue_packets.push_back(st.q_ipackets[q]);
            s.rx_queue_bytes.push_back(st.q_ibytes[q]);
            s.rx_queue_errors.push_back(st.q_errors[q]);
        }
        for (std::uint16_t q = 0; q < ntx; ++q) {
            s.tx_queue_packets.push_back(st.q_opackets[q]);
            s.tx_queue_bytes.push_back(st.q_obytes[q]);
        }
    }
    const int n = rte_eth_xstats_get_names(port_id, nullptr, 0);
    if (n > 0) {
        std::vector<rte_eth_xstat_name> names(static_cast<std::size_t>(n));
        std::vector<rte_eth_xstat> vals(static_cast<std::size_t>(n));
        const int nn = rte_eth_xstats_get_names(port_id, names.data(), static_cast<unsigned>(n));
        const int nv = rte_eth_xstats_get(port_id, vals.data(), static_cast<unsigned>(n));
        if (nn == n && nv == n) {
            s.xstats.reserve(static_cast<std::size_t>(n));
            for (const auto& v : vals)
                if (v.id < names.size()) s.xstats.emplace_back(names[v.id].name, v.value);
        }
    }
    return s;
}

void reset_port_stats(std::uint16_t port_id) {
    require_valid(port_id);
    rte_eth_stats_reset(port_id);
    rte_eth_xstats_reset(port_id);
}

LinkStatus read_link(std::uint16_t port_id) {
    require_valid(port_id);
    rte_eth_link l;
    std::memset(&l, 0, sizeof(l));
    LinkStatus out;
    if (rte_eth_link_get_nowait(port_id, &l) != 0) return out;
    out.up = l.link_status == RTE_ETH_LINK_UP;
    out.speed_mbps = l.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : l.link_speed;
    out.full_duplex = l.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
    out.autoneg = l.link_autoneg == RTE_ETH_LINK_AUTONEG;
    return out;
}

LinkStatus wait_link_up(std::uint16_t port_id, unsigned timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const LinkStatus l = read_link(port_id);
        if (l.up || std::chrono::steady_clock::now() >= deadline) return l;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// ------------------------------------------------------------------- Port

Port::Port(std::uint16_t port_id, const PortConfig& cfg, MbufPools& pools) : id_(port_id), cfg_(cfg) {
    if (cfg.rx_queues == 0 || cfg.tx_queues == 0)
        throw std::invalid_argument("queues: RX and TX queue counts must be >= 1");
    if (cfg.rx_desc == 0 || cfg.tx_desc == 0)
        throw std::invalid_argument("descriptors: RX and TX descriptor counts must be >= 1");
    if (cfg.mtu < kMinMtu || cfg.mtu > kMaxMtu)
        throw std::invalid_argument("mtu: " + std::to_string(cfg.mtu) + " not allowed; allowed: " +
                                    std::to_string(kMinMtu) + ".." + std::to_string(kMaxMtu));
    info_ = query_port_info(port_id);
    const std::string label = port_label(info_);

    if (cfg.rx_queues > info_.max_rx_queues || cfg.tx_queues > info_.max_tx_queues)
        throw PortError(label + ": " + std::to_string(cfg.rx_queues) + " RX / " + std::to_string(cfg.tx_queues) +
                        " TX queues asked, the device has at most " + std::to_string(info_.max_rx_queues) + " / " +
                        std::to_string(info_.max_tx_queues) + "; lower the queue count");
    if (cfg.mtu > info_.effective_max_mtu || cfg.mtu < info_.min_mtu)
        throw PortError(label + ": MTU " + std::to_string(cfg.mtu) + " is outside what the device accepts (" +
                        std::to_string(info_.min_mtu) + ".." + std::to_string(info_.effective_max_mtu) +
                        ", max_rx_pktlen " + std::to_string(info_.max_rx_pktlen) +
                        "); use an MTU within that range for this port");

    // ---- buffers: one segment per frame unless scatter was asked for.
    const std::uint32_t frame =
        cfg.mtu + l2_overhead(info_.max_rx_pktlen, static_cast<std::uint16_t>(info_.max_mtu)) + kVlanTags;
    std::uint32_t data_room = RTE_MBUF_DEFAULT_BUF_SIZE;
    bool scatter = false;
    if (frame + RTE_PKTMBUF_HEADROOM > RTE_MBUF_DEFAULT_BUF_SIZE) {
        if (cfg.jumbo == JumboBuffers::Scatter) {
            if (!info_.rx_scatter_capable)
                throw PortError(label + ": MTU " + std::to_string(cfg.mtu) +
                                " with scattered RX asked, but the PMD has no RX SCATTER offload; use large mbufs");
            scatter = true;
            setup_.notes.push_back("MTU " + std::to_string(cfg.mtu) + ": multi-segment RX in " +
                                   std::to_string(RTE_MBUF_DEFAULT_DATAROOM) + "-byte segments");
        } else {
            const std::uint32_t need = (frame + 1023u) & ~1023u;
            data_room = RTE_PKTMBUF_HEADROOM + need;
            setup_.notes.push_back("MTU " + std::to_string(cfg.mtu) + ": " + std::to_string(need) +
                                   "-byte mbufs, one segment per frame");
        }
    }
    if (data_room - RTE_PKTMBUF_HEADROOM < info_.min_rx_bufsize)
        data_room = RTE_PKTMBUF_HEADROOM + info_.min_rx_bufsize;
    if (data_room > UINT16_MAX)
        throw PortError(label + ": a " + std::to_string(data_room) + "-byte mbuf is too large");
    setup_.mbuf_data_room = static_cast<std::uint16_t>(data_room);
    setup_.rx_scatter = scatter;

    // ---- RSS
    setup_.hw_rss = false;
    if (cfg.rss && cfg.rx_queues > 1) {
        if (info_.rss_capable) {
            setup_.hw_rss = true;
            setup_.rss_hash_types = kRssTypes & info_.flow_type_rss_offloads;
        } else {
            setup_.notes.push_back("no hardware RSS on " + info_.driver +
                                   ": the RETA plan is applied in software");
        }
    }

    // ---- offloads, only those the PMD has
    std::uint64_t rx_off = 0, tx_off = 0;
    if (cfg.checksum_offload) {
        rx_off |= kChecksumRx & info_.rx_offload_capa;
        tx_off |= kChecksumTx & info_.tx_offload_capa;
        if ((info_.tx_offload_capa & kChecksumTx) != kChecksumTx)
            setup_.notes.push_back("checksum offload incomplete on " + info_.driver + ": missing ones are done in software");
    }
    if (scatter) rx_off |= RTE_ETH_RX_OFFLOAD_SCATTER;
    if (setup_.hw_rss) rx_off |= RTE_ETH_RX_OFFLOAD_RSS_HASH & info_.rx_offload_capa;
    if (cfg.tx_multi_segs || scatter) {
        if (info_.tx_multi_segs_capable)
            tx_off |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
        else
            setup_.notes.push_back("TX MULTI_SEGS not offered by " + info_.driver + ": send single-segment frames only");
    }
    if (cfg.fast_free) tx_off |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE & info_.tx_offload_capa;
    setup_.tx_multi_segs = (tx_off & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;

    rte_eth_conf conf;
    std::memset(&conf, 0, sizeof(conf));
    conf.rxmode.mtu = cfg.mtu;
    conf.rxmode.offloads = rx_off;
    conf.txmode.offloads = tx_off;
    if (setup_.hw_rss) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = nullptr;   // device default until program_rss
        conf.rx_adv_conf.rss_conf.rss_hf = setup_.rss_hash_types;
    }
    int rc = rte_eth_dev_configure(port_id, cfg.rx_queues, cfg.tx_queues, &conf);
    if (rc != 0) fail(info_, "rte_eth_dev_configure", rc, "check queue counts, MTU and offloads for this device");

    std::uint16_t nrx = cfg.rx_desc, ntx = cfg.tx_desc;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nrx, &ntx);
    if (rc != 0) fail(info_, "rte_eth_dev_adjust_nb_rx_tx_desc", rc, "check the descriptor counts");
    if (nrx != cfg.rx_desc || ntx != cfg.tx_desc)
        setup_.notes.push_back("descriptors clamped to the device: RX " + std::to_string(nrx) + ", TX " +
                               std::to_string(ntx));

    setup_.socket = info_.socket >= 0 ? info_.socket : lcore_socket_or_zero();
    setup_.pool_name = pools.ensure(setup_.socket, setup_.mbuf_data_room);
    rte_mempool* mp = lookup_pool(setup_.pool_name);
    const std::uint64_t rx_need = std::uint64_t{cfg.rx_queues} * nrx;
    if (mp == nullptr || rx_need >= mp->size)
        throw PortError(label + ": pool " + setup_.pool_name + " has " + std::to_string(mp != nullptr ? mp->size : 0) +
                        " mbufs, the RX rings alone need " + std::to_string(rx_need) +
                        "; raise the mbuf count or lower --rx-desc / RX queues");

    rte_eth_dev_info di;
    std::memset(&di, 0, sizeof(di));
    rc = rte_eth_dev_info_get(port_id, &di);
    if (rc != 0) fail(info_, "rte_eth_dev_info_get", rc, "the device is not usable");
    for (std::uint16_t q = 0; q < cfg.rx_queues; ++q) {
        rte_eth_rxconf rxc = di.default_rxconf;
        rxc.offloads = rx_off;
        rc = rte_eth_rx_queue_setup(port_id, q, nrx, static_cast<unsigned>(setup_.socket), &rxc, mp);
        if (rc != 0) fail(info_, "rte_eth_rx_queue_setup", rc, "check RX descriptors, mbuf size and offloads");
    }
    for (std::uint16_t q = 0; q < cfg.tx_queues; ++q) {
        rte_eth_txconf txc = di.default_txconf;
        txc.offloads = tx_off;
        rc = rte_eth_tx_queue_setup(port_id, q, ntx, static_cast<unsigned>(setup_.socket), &txc);
        if (rc != 0) fail(info_, "rte_eth_tx_queue_setup", rc, "check TX descriptors and offloads");
    }

    std::uint16_t mtu = 0;
    setup_.mtu = rte_eth_dev_get_mtu(port_id, &mtu) == 0 ? mtu : cfg.mtu;
    setup_.rx_queues = cfg.rx_queues;
    setup_.tx_queues = cfg.tx_queues;
    setup_.rx_desc = nrx;
    setup_.tx_desc = ntx;
    setup_.rx_offloads = rx_off;
    setup_.tx_offloads = tx_off;
    setup_.rx_offload_names = offload_names(rx_off, true);
    setup_.tx_offload_names = offload_names(tx_off, false);
}

Port::~Port() {
    if (rte_eth_dev_is_valid_port(id_) == 0) return;
    if (started_) rte_eth_dev_stop(id_);
    if (cfg_.close_on_destroy) rte_eth_dev_close(id_);
}

void Port::start(unsigned retry_ms) {
    if (started_) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
    int rc = rte_eth_dev_start(id_);
    while (rc != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        rc = rte_eth_dev_start(id_);
    }
    if (rc != 0)
        fail(info_, "rte_eth_dev_start", rc,
             info_.driver == "net_memif"
                 ? "a memif client starts only once its server listens: start the rx side (server) first, or retry longer"
                 : "the device refused to start with this configuration");
    after_start();
}

bool Port::start_until_link_up(unsigned timeout_ms, unsigned attempt_ms) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (!started_ && rte_eth_dev_start(id_) == 0) after_start();
        if (started_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            const auto wait = std::min<long long>(std::max<long long>(left.count(), 0), attempt_ms);
            if (wait_link_up(id_, static_cast<unsigned>(wait)).up) return true;
        }
        if (clock::now() >= deadline) return false;
        if (started_) {
            rte_eth_dev_stop(id_);
            started_ = false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

void Port::after_start() {
    started_ = true;
    if (cfg_.promiscuous) {
        const int prc = rte_eth_promiscuous_enable(id_);
        if (prc != 0 && prc != -ENOTSUP)
            setup_.notes.push_back("promiscuous mode not enabled: " + std::string(rte_strerror(-prc)));
    }
}

void Port::stop() {
    if (!started_) return;
    const int rc = rte_eth_dev_stop(id_);
    started_ = false;
    if (rc != 0) fail(info_, "rte_eth_dev_stop", rc, "the device may still be running");
}

RssProgramResult Port::program_rss(std::span<const std::uint8_t> key, std::span<const std::uint16_t> reta) {
    const std::string label = port_label(info_);
    if (!info_.rss_capable)
        return {RssMode::Software, "software RSS: " + info_.driver + " has no RSS (reta_size " +
                                       std::to_string(info_.reta_size) + ", hash types " +
                                       hex(info_.flow_type_rss_offloads) + ")"};
    if (!setup_.hw_rss)
        return {RssMode::Software, "software RSS: port configured without RSS (" +
                                       std::to_string(setup_.rx_queues) + " RX queue(s) or rss disabled)"};
    const std::size_t key_size = info_.hash_key_size != 0 ? info_.hash_key_size : kDefaultRssKeySize;
    if (key.size() != key_size)
        throw std::invalid_argument("rss key: " + std::to_string(key.size()) + " bytes given, " + label + " needs " +
                                    std::to_string(key_size) + "; build the key with PortInfo::hash_key_size");
    if (reta.size() != info_.reta_size)
        throw std::invalid_argument("reta: " + std::to_string(reta.size()) + " entries given, " + label + " has " +
                                    std::to_string(info_.reta_size) + "; build the plan with PortInfo::reta_size");
    for (std::size_t i = 0; i < reta.size(); ++i)
        if (reta[i] >= setup_.rx_queues)
            throw std::invalid_argument("reta[" + std::to_string(i) + "]: queue " + std::to_string(reta[i]) +
                                        " not allowed; allowed: 0.." + std::to_string(setup_.rx_queues - 1));

    std::vector<std::uint8_t> key_copy(key.begin(), key.end());
    rte_eth_rss_conf rss;
    std::memset(&rss, 0, sizeof(rss));
    rss.rss_key = key_copy.data();
    rss.rss_key_len = static_cast<std::uint8_t>(key_copy.size());
    rss.rss_hf = setup_.rss_hash_types;
    int rc = rte_eth_dev_rss_hash_update(id_, &rss);
    if (rc == -ENOTSUP)
        return {RssMode::Software, "software RSS: " + info_.driver + " cannot take an RSS key"};
    if (rc != 0) fail(info_, "rte_eth_dev_rss_hash_update", rc, "check the key length and hash types");

    std::vector<rte_eth_rss_reta_entry64> groups(reta.size() / RTE_ETH_RETA_GROUP_SIZE +
                                                 (reta.size() % RTE_ETH_RETA_GROUP_SIZE != 0 ? 1 : 0));
    std::memset(groups.data(), 0, groups.size() * sizeof(groups[0]));
    for (std::size_t i = 0; i < reta.size(); ++i) {
        auto& g = groups[i / RTE_ETH_RETA_GROUP_SIZE];
        g.mask |= std::uint64_t{1} << (i % RTE_ETH_RETA_GROUP_SIZE);
        g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = reta[i];
    }
    rc = rte_eth_dev_rss_reta_update(id_, groups.data(), static_cast<std::uint16_t>(reta.size()));
    if (rc == -ENOTSUP)
        return {RssMode::Software, "software RSS: " + info_.driver + " cannot take a RETA"};
    if (rc != 0) fail(info_, "rte_eth_dev_rss_reta_update", rc, "check the RETA size and queue numbers");
    return {RssMode::Hardware, "hardware RSS: " + std::to_string(key.size()) + "-byte key, " +
                                   std::to_string(reta.size()) + "-entry RETA over " +
                                   std::to_string(setup_.rx_queues) + " queues"};
}

std::vector<std::uint16_t> Port::query_reta() const {
    std::vector<std::uint16_t> out;
    if (info_.reta_size == 0) return out;
    const std::size_t n = info_.reta_size;
    std::vector<rte_eth_rss_reta_entry64> groups(n / RTE_ETH_RETA_GROUP_SIZE + (n % RTE_ETH_RETA_GROUP_SIZE != 0 ? 1 : 0));
    std::memset(groups.data(), 0, groups.size() * sizeof(groups[0]));
    for (std::size_t i = 0; i < n; ++i)
        groups[i / RTE_ETH_RETA_GROUP_SIZE].mask |= std::uint64_t{1} << (i % RTE_ETH_RETA_GROUP_SIZE);
    if (rte_eth_dev_rss_reta_query(id_, groups.data(), info_.reta_size) != 0) return out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(groups[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE]);
    return out;
}

} // namespace flowteam::dataplane
