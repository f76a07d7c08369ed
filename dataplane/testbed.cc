// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/testbed.h"

#include "common/types.h"
#include "dataplane/port.h"

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace flowteam::dataplane {
namespace {

constexpr std::size_t kMaxRingPairName = 16;
constexpr std::uint16_t kMaxRingQueues = 16;      // RTE_PMD_RING_MAX_{RX,TX}_RINGS
constexpr std::size_t kUnixPathMax = sizeof(sockaddr_un{}.sun_path) - 1;

std::atomic<unsigned> g_vdev_counter{0};

int resolve_socket(int socket) {
    if (socket >= 0) return socket;
    const unsigned s = rte_socket_id();
    return s == static_cast<unsigned>(SOCKET_ID_ANY) ? 0 : static_cast<int>(s);
}

bool valid_token(std::string_view s) {
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

void drain_and_free(rte_ring* r) {
    if (r == nullptr) return;
    std::array<void*, 64> objs{};
    for (;;) {
        const unsigned n = rte_ring_dequeue_burst(r, objs.data(), objs.size(), nullptr);
        if (n == 0) break;
        for (unsigned i = 0; i < n; ++i) rte_pktmbuf_free(static_cast<rte_mbuf*>(objs[i]));
    }
    rte_ring_free(r);
}

// True when some socket listens on `path` (/proc/net/unix: flag
// __SO_ACCEPTCON 0x10000). Deliberately not a connect() probe: connecting to
// a live memif listener makes it accept a control channel that hangs up at
// once, which the 22.11 PMD mishandles (its interrupt thread later panics
// with "Error adding fd N epoll_ctl").
bool unix_socket_listening(const std::string& path) {
    std::ifstream in("/proc/net/unix");
    std::string line;
    std::getline(in, line);   // header
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string num, refcount, protocol, flags, type, state, inode, p;
        ls >> num >> refcount >> protocol >> flags >> type >> state >> inode >> p;
        if (p != path) continue;
        const unsigned long f = std::strtoul(flags.c_str(), nullptr, 16);
        if ((f & 0x10000ul) != 0) return true;
    }
    return false;
}

// A server socket file left by a process that died (nobody listens on it)
// would make the new server fail with "Address already in use".
void remove_stale_socket(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return;
    if (!unix_socket_listening(path)) ::unlink(path.c_str());
}

} // namespace

// ------------------------------------------------------------ RingPair

RingPair::RingPair(const RingPairConfig& cfg) {
    if (cfg.name.empty() || cfg.name.size() > kMaxRingPairName || !valid_token(cfg.name))
        throw std::invalid_argument("ring pair name: \"" + cfg.name + "\" not allowed; allowed: 1.." +
                                    std::to_string(kMaxRingPairName) + " characters of [A-Za-z0-9_]");
    if (cfg.queues == 0 || cfg.queues > kMaxRingQueues)
        throw std::invalid_argument("ring pair queues: " + std::to_string(cfg.queues) + " not allowed; allowed: 1.." +
                                    std::to_string(kMaxRingQueues));
    if (cfg.ring_size < 32 || (cfg.ring_size & (cfg.ring_size - 1)) != 0 || cfg.ring_size > (1u << 20))
        throw std::invalid_argument("ring size: " + std::to_string(cfg.ring_size) +
                                    " not allowed; allowed: a power of two in 32..1048576");
    queues_ = cfg.queues;
    ring_size_ = cfg.ring_size;
    const int socket = resolve_socket(cfg.socket);
    owned_ = true;   // destroy() tolerates a half-built pair

    std::vector<rte_ring*> ab, ba;
    try {
        for (std::uint16_t q = 0; q < cfg.queues; ++q) {
            for (int dir = 0; dir < 2; ++dir) {
                const std::string rn = cfg.name + (dir == 0 ? "_ab" : "_ba") + std::to_string(q);
                rte_ring* r = rte_ring_create(rn.c_str(), cfg.ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
                if (r == nullptr) {
                    const int err = rte_errno;
                    throw PortError("ring pair " + cfg.name + ": rte_ring_create(" + rn + ") failed: " +
                                    rte_strerror(err) +
                                    (err == EEXIST ? "; the name is already used, pick another"
                                                   : "; give EAL more memory (-m)"));
                }
                (dir == 0 ? a_to_b_ : b_to_a_).push_back(rn);
                (dir == 0 ? ab : ba).push_back(r);
            }
        }
        // a: RX from b→a, TX into a→b; b: the mirror image.
        const std::string na = cfg.name + "a", nb = cfg.name + "b";
        const int pa = rte_eth_from_rings(na.c_str(), ba.data(), cfg.queues, ab.data(), cfg.queues,
                                          static_cast<unsigned>(socket));
        if (pa < 0)
            throw PortError("ring pair " + cfg.name + ": rte_eth_from_rings(" + na + ") failed: " +
                            rte_strerror(rte_errno) + "; is the net_ring PMD available?");
        dev_a_ = "net_ring_" + na;
        port_a_ = static_cast<std::uint16_t>(pa);
        const int pb = rte_eth_from_rings(nb.c_str(), ab.data(), cfg.queues, ba.data(), cfg.queues,
                                          static_cast<unsigned>(socket));
        if (pb < 0)
            throw PortError("ring pair " + cfg.name + ": rte_eth_from_rings(" + nb + ") failed: " +
                            rte_strerror(rte_errno));
        dev_b_ = "net_ring_" + nb;
        port_b_ = static_cast<std::uint16_t>(pb);
    } catch (...) {
        destroy();
        throw;
    }
}

RingPair::RingPair(RingPair&& o) noexcept
    : dev_a_(std::move(o.dev_a_)), dev_b_(std::move(o.dev_b_)), port_a_(o.port_a_), port_b_(o.port_b_),
      queues_(o.queues_), ring_size_(o.ring_size_), a_to_b_(std::move(o.a_to_b_)), b_to_a_(std::move(o.b_to_a_)),
      owned_(o.owned_) {
    o.owned_ = false;
}

RingPair::~RingPair() { destroy(); }

void RingPair::destroy() noexcept {
    if (!owned_) return;
    owned_ = false;
    for (const auto* dev : {&dev_a_, &dev_b_})
        if (!dev->empty()) rte_vdev_uninit(dev->c_str());   // stops, closes and releases the ethdev
    for (const auto* names : {&a_to_b_, &b_to_a_})
        for (const auto& n : *names) drain_and_free(rte_ring_lookup(n.c_str()));
}

// ---------------------------------------------------------- VirtualPort

std::string next_vdev_name(std::string_view driver) {
    for (;;) {
        std::string name = std::string(driver) + std::to_string(g_vdev_counter.fetch_add(1));
        std::uint16_t p = 0;
        if (rte_eth_dev_get_port_by_name(name.c_str(), &p) != 0) return name;
    }
}

VirtualPort::VirtualPort(std::string name, std::string args) : name_(std::move(name)), args_(std::move(args)) {
    const int rc = rte_vdev_init(name_.c_str(), args_.empty() ? nullptr : args_.c_str());
    if (rc != 0) {
        const int err = rc < 0 ? -rc : rte_errno;
        throw PortError("virtual device " + name_ + (args_.empty() ? "" : "," + args_) +
                        ": rte_vdev_init failed: " + rte_strerror(err) +
                        (err == EEXIST ? "; the name is taken, use another" : "; check the device arguments (EAL log above)"));
    }
    if (rte_eth_dev_get_port_by_name(name_.c_str(), &port_) != 0) {
        rte_vdev_uninit(name_.c_str());
        throw PortError("virtual device " + name_ + " was created but has no ethdev port");
    }
    owned_ = true;
}

VirtualPort::VirtualPort(VirtualPort&& o) noexcept
    : name_(std::move(o.name_)), args_(std::move(o.args_)), port_(o.port_), owned_(o.owned_) {
    o.owned_ = false;
}

VirtualPort::~VirtualPort() {
    if (owned_) rte_vdev_uninit(name_.c_str());
}

// ---------------------------------------------------------------- memif

std::string default_memif_dir() {
    std::string dir;
    if (getuid() == 0) {
        dir = "/run/flowteam";
    } else if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
        dir = std::string(xdg) + "/flowteam";
    } else {
        dir = "/tmp/flowteam-" + std::to_string(getuid());
    }
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        throw PortError("cannot create the memif socket directory " + dir + ": " + std::strerror(errno));
    return dir;
}

std::string default_memif_socket(std::string_view team) {
    return default_memif_dir() + "/" + std::string(team) + ".sock";
}

VirtualPort make_memif_port(const MemifConfig& cfg) {
    const std::string path = cfg.socket_path.empty() ? default_memif_socket() : cfg.socket_path;
    if (path.size() > kUnixPathMax || path.find_first_of(",=") != std::string::npos || path.front() != '/')
        throw std::invalid_argument("memif socket: \"" + path + "\" not allowed; allowed: an absolute path of at most " +
                                    std::to_string(kUnixPathMax) + " characters without ',' or '='");
    if (cfg.ring_size_log2 < 1 || cfg.ring_size_log2 > 14)
        throw std::invalid_argument("memif rsize: " + std::to_string(cfg.ring_size_log2) + " not allowed; allowed: 1..14");
    if (cfg.buffer_size < 64)
        throw std::invalid_argument("memif bsize: " + std::to_string(cfg.buffer_size) + " not allowed; allowed: >= 64");
    if (cfg.secret.size() > 24 || !valid_token(cfg.secret))
        throw std::invalid_argument("memif secret: at most 24 characters of [A-Za-z0-9_]");
    if (cfg.role == MemifRole::Server) remove_stale_socket(path);

    std::string args = std::string("role=") + (cfg.role == MemifRole::Server ? "server" : "client") +
                       ",id=" + std::to_string(cfg.id) + ",socket=" + path + ",socket-abstract=no" +
                       ",rsize=" + std::to_string(cfg.ring_size_log2) + ",bsize=" + std::to_string(cfg.buffer_size);
    if (!cfg.secret.empty()) args += ",secret=" + cfg.secret;
    return VirtualPort(next_vdev_name("net_memif"), std::move(args));
}

std::vector<VirtualPort> make_memif_members(MemifRole role, unsigned members, const std::string& socket_path) {
    if (members == 0 || members > kMaxMembers)
        throw std::invalid_argument("memif members: " + std::to_string(members) + " not allowed; allowed: 1.." +
                                    std::to_string(kMaxMembers));
    const std::string path = socket_path.empty() ? default_memif_socket() : socket_path;
    std::vector<VirtualPort> ports;
    ports.reserve(members);
    for (unsigned m = 0; m < members; ++m) {
        MemifConfig c;
        c.role = role;
        c.socket_path = path;
        c.id = m;
        ports.push_back(make_memif_port(c));
    }
    return ports;
}

// ----------------------------------------------------------- null, pcap, tap

VirtualPort make_null_port(const NullPortConfig& cfg) {
    if (cfg.packet_size < 14 || cfg.packet_size > 9018)
        throw std::invalid_argument("null port packet size: " + std::to_string(cfg.packet_size) +
                                    " not allowed; allowed: 14..9018");
    return VirtualPort(next_vdev_name("net_null"), "size=" + std::to_string(cfg.packet_size) +
                                                       ",copy=" + (cfg.copy ? "1" : "0") +
                                                       ",no-rx=" + (cfg.no_rx ? "1" : "0"));
}

VirtualPort make_pcap_port(const PcapPortConfig& cfg) {
    if (cfg.rx_pcap.empty() && cfg.tx_pcap.empty())
        throw std::invalid_argument("pcap port: give rx_pcap (replay) and/or tx_pcap (capture)");
    if (cfg.infinite_rx && cfg.rx_pcap.empty())
        throw std::invalid_argument("pcap infinite_rx: needs rx_pcap");
    for (const auto* f : {&cfg.rx_pcap, &cfg.tx_pcap})
        if (f->find_first_of(",=") != std::string::npos)
            throw std::invalid_argument("pcap file: \"" + *f + "\" not allowed; no ',' or '=' in the path");
    if (!cfg.rx_pcap.empty() && ::access(cfg.rx_pcap.c_str(), R_OK) != 0)
        throw std::invalid_argument("rx_pcap: cannot read \"" + cfg.rx_pcap + "\": " + std::strerror(errno));
    std::string args;
    if (!cfg.rx_pcap.empty()) args += "rx_pcap=" + cfg.rx_pcap;
    if (!cfg.tx_pcap.empty()) args += std::string(args.empty() ? "" : ",") + "tx_pcap=" + cfg.tx_pcap;
    if (cfg.infinite_rx) args += ",infinite_rx=1";
    return VirtualPort(next_vdev_name("net_pcap"), std::move(args));
}

VirtualPort make_tap_port(const TapPortConfig& cfg) {
    std::string iface = cfg.iface;
    if (iface.empty()) iface = "dtap" + std::to_string(g_vdev_counter.load());
    if (iface.size() > 15 || !valid_token(iface))
        throw std::invalid_argument("tap iface: \"" + iface + "\" not allowed; allowed: 1..15 characters of [A-Za-z0-9_]");
    return VirtualPort(next_vdev_name("net_tap"), "iface=" + iface);
}

} // namespace flowteam::dataplane
