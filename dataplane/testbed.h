// SPDX-License-Identifier: BSD-3-Clause
// flowteam — virtual member ports for the embedded testbed (public header:
// no rte_*.h, no rte_ types).
//
// How ports are created: after rte_eal_init, by hot-plugging virtual
// devices with rte_vdev_init(name, args) (same effect as `--vdev=name,args`
// on the EAL command line, but driven by program options, created and
// removed at run time, and without the multi-process IPC that
// rte_dev_probe adds). Ring pairs use rte_eth_from_rings. Every object here
// is RAII: its destructor removes the device (rte_vdev_uninit closes the
// ethdev). Destroy Port objects (dataplane/port.h) configured on them first,
// and keep MbufPools alive until after them (rings may still hold mbufs).
//
//  (a) RingPair    one process: two ethdevs back to back over rte_rings,
//                  like a cable: a's TX queue q lands in ring a→b[q], which
//                  is b's RX queue q (and the other way round). The engine
//                  can also dequeue the ring directly (dataplane/ring_io.h).
//  (b) memif       two processes: one net_memif port per member, role
//                  server (rx side) or client (tx side), unix socket under
//                  /run/flowteam/ (socket-abstract=no), id = member index.
//  (c) net_null    benchmarks: RX makes packets of a fixed size, TX frees.
//  (d) net_pcap    replay: rx_pcap=<file>, infinite_rx=1.
//  (e) net_tap     kernel interface for the kernel-TCP scenario (creation only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flowteam::dataplane {

// ------------------------------------------------------------ ring pairs

struct RingPairConfig {
    std::string name;                 // 1..16 characters [A-Za-z0-9_]; ports are net_ring_<name>a/b
    std::uint16_t queues = 1;         // RX = TX queues on both ends (<= 16)
    std::uint32_t ring_size = 1024;   // power of two, >= 32; a ring holds ring_size - 1 packets
    int socket = -1;                  // -1: socket of the calling lcore
};

class RingPair {
public:
    explicit RingPair(const RingPairConfig& cfg);
    ~RingPair();
    RingPair(RingPair&& other) noexcept;
    RingPair& operator=(RingPair&&) = delete;
    RingPair(const RingPair&) = delete;
    RingPair& operator=(const RingPair&) = delete;

    std::uint16_t port_a() const { return port_a_; }
    std::uint16_t port_b() const { return port_b_; }
    const std::string& device_a() const { return dev_a_; }
    const std::string& device_b() const { return dev_b_; }
    std::uint16_t queues() const { return queues_; }
    std::uint32_t ring_size() const { return ring_size_; }
    // Ring names (rte_ring_lookup-able): a's TX queue q → b's RX queue q, and back.
    const std::string& ring_a_to_b(std::uint16_t q) const { return a_to_b_.at(q); }
    const std::string& ring_b_to_a(std::uint16_t q) const { return b_to_a_.at(q); }

private:
    void destroy() noexcept;
    std::string dev_a_, dev_b_;
    std::uint16_t port_a_ = 0, port_b_ = 0;
    std::uint16_t queues_ = 0;
    std::uint32_t ring_size_ = 0;
    std::vector<std::string> a_to_b_, b_to_a_;
    bool owned_ = false;
};

// ---------------------------------------------------- vdev-backed ports

// One hot-plugged virtual device (rte_vdev_init / rte_vdev_uninit).
class VirtualPort {
public:
    // name must start with the driver name, e.g. "net_null3"; args as in --vdev.
    VirtualPort(std::string name, std::string args);
    ~VirtualPort();
    VirtualPort(VirtualPort&& other) noexcept;
    VirtualPort& operator=(VirtualPort&&) = delete;
    VirtualPort(const VirtualPort&) = delete;
    VirtualPort& operator=(const VirtualPort&) = delete;

    std::uint16_t port_id() const { return port_; }
    const std::string& name() const { return name_; }
    const std::string& args() const { return args_; }

private:
    std::string name_, args_;
    std::uint16_t port_ = 0;
    bool owned_ = false;
};

// "<driver><k>" with k unique in this process, e.g. "net_null0", "net_null1".
std::string next_vdev_name(std::string_view driver);

// (b) memif. What the 22.11 PMD requires (found the hard way, see
// tests/dpdk/test_memif.cc):
//  * order: the server port must be STARTED before a client connects; a
//    client that connects to a probed-but-not-started server, or finds no
//    server, is not retried by the PMD: use Port::start_until_link_up on the
//    client (it restarts the port). In ONE process, create the server before
//    the client on a path (one socket object per path).
//  * shutdown: no synchronisation between the data path and a disconnect
//    handled by the EAL interrupt thread (regions are unmapped under a
//    polling lcore: SEGV), nor between two threads disconnecting one device
//    (the interrupt thread panics: "Error adding fd N epoll_ctl"). So: stop
//    polling on both sides before either side stops its port; stop one side
//    only, let the other see its link go down (~100 ms), then stop that one.
//  * counters: rte_eth_stats read 0 once the link is down: read them first.
//  * MTU: max_rx_pktlen is 1518 (MTU <= 1500); larger frames are not
//    accepted by ethdev even though memif chains buffers.
enum class MemifRole : std::uint8_t { Server, Client };

struct MemifConfig {
    MemifRole role = MemifRole::Server;
    std::string socket_path;          // empty → default_memif_socket(<"team">)
    std::uint32_t id = 0;             // pairs a client with the server interface of the same id
    std::uint8_t ring_size_log2 = 10; // rsize: 1..14
    std::uint16_t buffer_size = 2048; // bsize: bytes per memif buffer (larger frames are chained)
    std::string secret;               // optional, <= 24 characters, must match the peer
};
VirtualPort make_memif_port(const MemifConfig& cfg);

// One memif port per member on one socket, id = member index: the rx
// process is the server (start it first), the tx process the client.
std::vector<VirtualPort> make_memif_members(MemifRole role, unsigned members, const std::string& socket_path = {});

// /run/flowteam (root) or $XDG_RUNTIME_DIR/flowteam or /tmp/flowteam-<uid>;
// created (0755) when missing.
std::string default_memif_dir();
std::string default_memif_socket(std::string_view team = "team");

// (c) net_null
struct NullPortConfig {
    std::uint32_t packet_size = 64;   // size of RX packets
    bool copy = false;                // copy packet data on RX/TX (costs like a real NIC's DMA)
    bool no_rx = false;               // RX returns nothing (TX-only benchmark)
};
VirtualPort make_null_port(const NullPortConfig& cfg = {});

// (d) net_pcap
struct PcapPortConfig {
    std::string rx_pcap;              // file to replay ("" → none)
    std::string tx_pcap;              // file to write ("" → none)
    bool infinite_rx = false;         // loop over rx_pcap forever (TX is then dropped)
};
VirtualPort make_pcap_port(const PcapPortConfig& cfg);

// (e) net_tap
struct TapPortConfig {
    std::string iface;                // kernel interface name (<= 15 characters); "" → dtap<k>
};
VirtualPort make_tap_port(const TapPortConfig& cfg = {});

} // namespace flowteam::dataplane
