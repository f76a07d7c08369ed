// SPDX-License-Identifier: BSD-3-Clause
// flowteam — member-port set-up (public header: no rte_*.h, no rte_ types).
//
// A Port configures one ethdev for use as a team member: N RX/TX queues,
// descriptor counts clamped to the device (rte_eth_dev_adjust_nb_rx_tx_desc),
// MTU up to 9000 with large mbufs or multi-segment RX/TX when the PMD can,
// offloads only when the PMD has them, RSS programming (key + RETA) or a
// "software RSS" verdict so the engine applies the same plan itself.
// Everything here is control path: it may allocate and throw. The per-packet
// path lives in dataplane/port_io.h (internal to dataplane/).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowteam::dataplane {

// A DPDK call failed at set-up: what() names the port, the call, the
// rte_strerror text and what to change.
class PortError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------- mempools

struct MbufPoolConfig {
    std::uint32_t mbufs = 16383;   // per pool; 2^n - 1 is the ring-friendly size
    std::uint32_t cache = 256;     // per-lcore cache, <= 512 and <= mbufs / 1.5
};

struct MbufPoolInfo {
    std::string name;
    int socket = 0;
    std::uint16_t data_room = 0;   // bytes per mbuf including headroom
    std::uint32_t size = 0;
    std::uint32_t cache = 0;
    std::uint32_t available = 0;   // free mbufs (ring + caches)
    std::uint32_t in_use = 0;
};

// pktmbuf pools, one per (NUMA socket, data room), created on first use with
// rte_pktmbuf_pool_create. Must outlive every port and ring holding mbufs.
class MbufPools {
public:
    explicit MbufPools(const MbufPoolConfig& cfg = {});
    ~MbufPools();
    MbufPools(const MbufPools&) = delete;
    MbufPools& operator=(const MbufPools&) = delete;

    const MbufPoolConfig& config() const;
    std::vector<MbufPoolInfo> pools() const;

    // Ensures a pool exists; returns its name. socket < 0 → the socket of
    // the calling lcore (0 if unknown).
    std::string ensure(int socket, std::uint16_t data_room);

    struct Impl;                   // defined in dataplane/port_io.h
    Impl& impl() { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

// ------------------------------------------------------------------ ports

// How frames larger than a default mbuf (2048 B of data) are received.
enum class JumboBuffers : std::uint8_t {
    Auto,        // large mbufs (one segment per frame): simplest for header access
    LargeMbufs,  // same, explicitly
    Scatter,     // default-size mbufs + RX scatter (multi-segment); needs the PMD's SCATTER offload
};

struct PortConfig {
    std::uint16_t rx_queues = 1;
    std::uint16_t tx_queues = 1;
    std::uint16_t rx_desc = 1024;    // clamped to the device limits
    std::uint16_t tx_desc = 1024;
    std::uint32_t mtu = 1500;        // 68..9000 (and within the device's limits)
    JumboBuffers jumbo = JumboBuffers::Auto;
    bool rss = true;                 // RSS across RX queues when rx_queues > 1 and the PMD has it
    bool checksum_offload = true;    // IPv4/UDP/TCP checksum offloads the PMD has (RX check, TX insert)
    bool tx_multi_segs = false;      // chained mbufs on TX (forced on with Scatter)
    bool fast_free = false;          // MBUF_FAST_FREE: one pool, refcnt 1, no indirect mbufs
    bool promiscuous = true;
    bool close_on_destroy = false;   // rte_eth_dev_close in ~Port (PCI ports; vdevs are closed by their owner)
};

// What rte_eth_dev_info_get reports, as plain values. Offload masks are the
// RTE_ETH_{RX,TX}_OFFLOAD_* bit values; names are spelled out alongside.
struct PortInfo {
    std::uint16_t port_id = 0;
    std::string name;                // device name, e.g. "net_ring_m0a" or "0000:3b:00.0"
    std::string driver;              // e.g. "net_ring", "net_mlx5"
    int socket = -1;                 // NUMA socket (-1: any)
    std::uint16_t max_rx_queues = 0;
    std::uint16_t max_tx_queues = 0;
    std::uint16_t reta_size = 0;     // 0: no RSS redirection table
    std::uint8_t hash_key_size = 0;  // 0: unspecified (40 assumed)
    std::uint64_t flow_type_rss_offloads = 0;
    std::uint32_t min_mtu = 0;
    std::uint32_t max_mtu = 0;       // as reported (65535 when the PMD does not say)
    std::uint32_t max_rx_pktlen = 0;
    std::uint32_t effective_max_mtu = 0;  // min(max_mtu, max_rx_pktlen - L2 overhead)
    std::uint32_t min_rx_bufsize = 0;
    std::uint16_t rx_desc_min = 0, rx_desc_max = 0, rx_desc_align = 1;
    std::uint16_t tx_desc_min = 0, tx_desc_max = 0, tx_desc_align = 1;
    std::uint64_t rx_offload_capa = 0;
    std::uint64_t tx_offload_capa = 0;
    std::vector<std::string> rx_offload_names;
    std::vector<std::string> tx_offload_names;
    bool rx_scatter_capable = false;
    bool tx_multi_segs_capable = false;
    bool rss_capable = false;        // reta_size > 0 and some RSS hash types
};

// What a Port ended up with after clamping and capability checks.
struct PortSetup {
    std::uint16_t rx_queues = 0, tx_queues = 0;
    std::uint16_t rx_desc = 0, tx_desc = 0;   // after rte_eth_dev_adjust_nb_rx_tx_desc
    std::uint32_t mtu = 0;                    // as read back with rte_eth_dev_get_mtu
    std::uint16_t mbuf_data_room = 0;         // incl. headroom
    bool rx_scatter = false;
    bool tx_multi_segs = false;
    bool hw_rss = false;                      // RX multi-queue mode is RSS
    std::uint64_t rss_hash_types = 0;         // RTE_ETH_RSS_* actually requested
    std::uint64_t rx_offloads = 0, tx_offloads = 0;
    std::vector<std::string> rx_offload_names, tx_offload_names;
    std::string pool_name;
    int socket = 0;
    std::vector<std::string> notes;           // decisions worth telling the user
};

struct LinkStatus {
    bool up = false;
    std::uint32_t speed_mbps = 0;             // 0 when unknown
    bool full_duplex = false;
    bool autoneg = false;
};

enum class RssMode : std::uint8_t { Hardware, Software };

struct RssProgramResult {
    RssMode mode = RssMode::Software;
    std::string reason;                       // why software, or what was programmed
};

struct PortStats {
    std::uint64_t rx_packets = 0, tx_packets = 0;
    std::uint64_t rx_bytes = 0, tx_bytes = 0;
    std::uint64_t rx_missed = 0;              // imissed: dropped by the NIC, RX queue full
    std::uint64_t rx_errors = 0, tx_errors = 0;
    std::uint64_t rx_nombuf = 0;              // RX mbuf allocation failures
    // Per queue, for the first min(queues, 16) queues (RTE_ETHDEV_QUEUE_STAT_CNTRS).
    std::vector<std::uint64_t> rx_queue_packets, rx_queue_bytes, rx_queue_errors;
    std::vector<std::uint64_t> tx_queue_packets, tx_queue_bytes;
    std::vector<std::pair<std::string, std::uint64_t>> xstats;  // every extended stat, by name

    std::optional<std::uint64_t> xstat(std::string_view name) const;
};

// Port enumeration and queries (any port, configured or not).
std::vector<std::uint16_t> port_ids();
std::optional<std::uint16_t> find_port(std::string_view device_name);
PortInfo query_port_info(std::uint16_t port_id);
PortStats read_port_stats(std::uint16_t port_id);
void reset_port_stats(std::uint16_t port_id);
LinkStatus read_link(std::uint16_t port_id);          // no wait
// Polls every 10 ms until the link is up or timeout_ms passed.
LinkStatus wait_link_up(std::uint16_t port_id, unsigned timeout_ms);

class Port {
public:
    // Configures the device and its queues (not started). Throws PortError /
    // std::invalid_argument with the reason and what to change.
    Port(std::uint16_t port_id, const PortConfig& cfg, MbufPools& pools);
    ~Port();
    Port(const Port&) = delete;
    Port& operator=(const Port&) = delete;

    std::uint16_t id() const { return id_; }
    const PortInfo& info() const { return info_; }
    const PortSetup& setup() const { return setup_; }
    bool started() const { return started_; }

    // rte_eth_dev_start; when it fails and retry_ms > 0, retries every
    // 100 ms until retry_ms passed (a memif client whose server is not
    // listening yet fails to start: 22.11 does not retry by itself, nor does
    // it reconnect after the server went away — stop() and start() again).
    void start(unsigned retry_ms = 0);
    void stop();
    // For links that need a peer (memif): starts the port and waits for the
    // link; while it stays down for attempt_ms, stops and starts again (a
    // memif client that connected before its server was started is
    // rejected and never retried by the PMD). True when up within
    // timeout_ms; the port is left started either way when start succeeded.
    bool start_until_link_up(unsigned timeout_ms, unsigned attempt_ms = 1000);

    LinkStatus link() const { return read_link(id_); }
    PortStats stats() const { return read_port_stats(id_); }
    void reset_stats() { reset_port_stats(id_); }

    // Programs RSS: key (hash_key_size bytes, 40 when the device does not
    // say) and a RETA with exactly info().reta_size entries, each a queue
    // < setup().rx_queues. Hardware when the PMD supports RSS and the port
    // was configured for it; otherwise {Software, reason} and nothing is
    // programmed: the engine applies the same plan in software.
    RssProgramResult program_rss(std::span<const std::uint8_t> key, std::span<const std::uint16_t> reta);
    // Reads the RETA back (empty when the PMD has none).
    std::vector<std::uint16_t> query_reta() const;

private:
    void after_start();
    std::uint16_t id_;
    PortConfig cfg_;
    PortInfo info_;
    PortSetup setup_;
    bool started_ = false;
};

} // namespace flowteam::dataplane
