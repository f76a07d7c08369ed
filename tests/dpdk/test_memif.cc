// SPDX-License-Identifier: BSD-3-Clause
// memif links: server and client in one process (one EAL), and across two
// processes (this binary re-executed as an echo peer with its own EAL).
#include "dataplane/port.h"
#include "dataplane/port_io.h"
#include "dataplane/testbed.h"
#include "dpdk_env.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <filesystem>
#include <list>
#include <thread>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;
using std::chrono::milliseconds;

dp::PortConfig memif_cfg(std::uint16_t q) {
    dp::PortConfig c;
    c.rx_queues = c.tx_queues = q;
    c.rx_desc = c.tx_desc = 512;
    return c;
}

// Sends n frames from one port and receives them on the other, polling
// both sides in one loop the way an engine does: a memif client hands its
// free buffers to the server only from its RX path, so the server can
// transmit only while the client polls.
void exchange(std::uint16_t from_port, std::uint16_t to_port, std::uint16_t q, std::uint32_t n, rte_mempool* mp,
              std::uint32_t len) {
    std::vector<rte_mbuf*> out;
    for (std::uint32_t i = 0; i < n; ++i) out.push_back(make_frame(mp, len, 1000 * q + i));
    const dp::EthQueue tx{from_port, q}, rx{to_port, q};
    std::vector<rte_mbuf*> in;
    std::array<rte_mbuf*, 32> burst{};
    std::size_t sent = 0;
    const auto deadline = std::chrono::steady_clock::now() + milliseconds(5000);
    while (in.size() < n && std::chrono::steady_clock::now() < deadline) {
        if (sent < out.size())
            sent += tx.tx_burst(out.data() + sent, static_cast<std::uint16_t>(std::min<std::size_t>(32, out.size() - sent)));
        const std::uint16_t k = rx.rx_burst(burst.data(), 32);
        in.insert(in.end(), burst.begin(), burst.begin() + k);
    }
    for (std::size_t i = sent; i < out.size(); ++i) rte_pktmbuf_free(out[i]);
    ASSERT_EQ(sent, n) << "port " << from_port << " → " << to_port << " queue " << q;
    ASSERT_EQ(in.size(), n) << "port " << from_port << " → " << to_port << " queue " << q;
    for (std::uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(frame_seq(in[i]), 1000 * q + i);
        EXPECT_TRUE(frame_intact(in[i], len));
    }
    free_all(in);
}

// memif 22.11: when one side of a link stops, the PMD disconnects the peer
// device from the EAL interrupt thread. Stopping that peer from this thread
// at the same moment races with it, and the interrupt thread can panic
// ("Error adding fd N epoll_ctl, Bad file descriptor"). So: stop one side,
// let the other side's disconnect finish, then stop the other. Declared
// after the two Ports, the guard does this on every exit path.
void wait_link_down(std::uint16_t port) {
    const auto deadline = std::chrono::steady_clock::now() + milliseconds(3000);
    while (dp::read_link(port).up && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(milliseconds(5));
    std::this_thread::sleep_for(milliseconds(100));   // the disconnect finishes after the link flag drops
}

struct StopInOrder {
    dp::Port& first;
    dp::Port& second;
    ~StopInOrder() {
        if (first.started()) {
            first.stop();
            wait_link_down(second.id());
        }
        second.stop();
    }
};

class MemifInProcess : public ::testing::TestWithParam<std::uint16_t> {};

TEST_P(MemifInProcess, ServerAndClientInOneEalExchangePackets) {
    const std::uint16_t nq = GetParam();
    dp::MbufPools pools({4095, 64});
    const std::string sock = scratch_path("memif-" + std::to_string(nq) + ".sock");
    auto srv = dp::make_memif_port({dp::MemifRole::Server, sock, 0, 10, 2048, ""});
    auto cli = dp::make_memif_port({dp::MemifRole::Client, sock, 0, 10, 2048, ""});
    EXPECT_TRUE(std::filesystem::is_socket(sock));
    dp::Port ps(srv.port_id(), memif_cfg(nq), pools);
    dp::Port pc(cli.port_id(), memif_cfg(nq), pools);
    StopInOrder guard{pc, ps};
    ps.start();
    pc.start();
    ASSERT_TRUE(dp::wait_link_up(srv.port_id(), 5000).up) << "memif server link did not come up";
    ASSERT_TRUE(dp::wait_link_up(cli.port_id(), 5000).up) << "memif client link did not come up";
    rte_mempool* mp = dp::lookup_pool(ps.setup().pool_name);
    for (std::uint16_t q = 0; q < nq; ++q) {
        exchange(cli.port_id(), srv.port_id(), q, 64, mp, 200);    // client → server
        exchange(srv.port_id(), cli.port_id(), q, 64, mp, 1400);   // server → client
    }
    // A 4000-byte frame is chained over 2048-byte memif buffers and mbufs.
    {
        std::vector<rte_mbuf*> out{make_frame(mp, 4000, 4242, 2048)};
        ASSERT_EQ(tx_all({cli.port_id(), 0}, out, milliseconds(2000)), 1u);
        std::vector<rte_mbuf*> in;
        rx_until({srv.port_id(), 0}, in, 1, milliseconds(5000));
        ASSERT_EQ(in.size(), 1u);
        EXPECT_TRUE(frame_intact(in[0], 4000));
        EXPECT_GE(in[0]->nb_segs, 2);
        free_all(in);
    }
    const auto ss = ps.stats();
    const auto cs = pc.stats();
    EXPECT_EQ(cs.tx_packets, 64u * nq + 1);
    EXPECT_EQ(ss.rx_packets, cs.tx_packets) << "counters agree";
    EXPECT_EQ(ss.tx_packets, 64u * nq);
    EXPECT_EQ(cs.rx_packets, ss.tx_packets);
    EXPECT_EQ(ss.rx_bytes, cs.tx_bytes);
}

INSTANTIATE_TEST_SUITE_P(Queues, MemifInProcess, ::testing::Values(1, 2));

// Two processes: this one is the server (rx side), the child is the client
// (tx side) running its own EAL; the child echoes what it receives. Order
// as `flowteam rx` then `flowteam tx`: the server is started before the
// client connects (a client that connects to a probed-but-not-started
// server is rejected; see Port::start_until_link_up).
TEST(MemifTwoProcesses, EchoThroughAChildProcess) {
    dp::MbufPools pools({4095, 64});
    const std::string sock = scratch_path("memif-2p.sock");
    constexpr std::uint32_t kN = 256;
    auto srv = dp::make_memif_port({dp::MemifRole::Server, sock, 3, 10, 2048, ""});
    dp::Port ps(srv.port_id(), memif_cfg(1), pools);
    ps.start();
    auto child = start_child("memif-echo", {sock, "3", std::to_string(kN), "30000"});
    ASSERT_GT(child.pid, 0);
    const auto link = dp::wait_link_up(srv.port_id(), 30000);
    if (!link.up) {
        const auto r = wait_child(child, milliseconds(1000));
        FAIL() << "memif link to the child did not come up; child said:\n" << r.output;
    }
    rte_mempool* mp = dp::lookup_pool(ps.setup().pool_name);
    std::vector<rte_mbuf*> out;
    for (std::uint32_t i = 0; i < kN; ++i) out.push_back(make_frame(mp, 64 + i, i));
    EXPECT_EQ(tx_all({srv.port_id(), 0}, out, milliseconds(5000)), kN);
    std::vector<rte_mbuf*> in;
    rx_until({srv.port_id(), 0}, in, kN, milliseconds(20000));
    // Counters are read while the link is up (memif reports nothing once
    // disconnected).
    const auto st = ps.stats();
    // Shutdown without racing memif 22.11 (see MemifFin in test_util.h):
    // FIN, then no more polling here; the child stops its port, our EAL
    // interrupt thread handles the disconnect, then we stop.
    std::vector<rte_mbuf*> fin{make_frame(mp, 64, kMemifFin)};
    EXPECT_EQ(tx_all({srv.port_id(), 0}, fin, milliseconds(5000)), 1u);
    read_child_until(child, "STATS-DONE", milliseconds(20000));
    wait_link_down(srv.port_id());
    ps.stop();
    const auto r = wait_child(std::move(child), milliseconds(30000));
    ASSERT_EQ(in.size(), kN) << r.output;
    for (std::uint32_t i = 0; i < kN; ++i) {
        EXPECT_EQ(frame_seq(in[i]), i);
        EXPECT_TRUE(frame_intact(in[i], 64 + i));
    }
    free_all(in);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("ECHOED " + std::to_string(kN)), std::string::npos) << r.output;
    EXPECT_EQ(st.tx_packets, kN);
    EXPECT_EQ(st.rx_packets, kN);
    // The child's own counters, printed as "CLIENT rx=<n> tx=<n>", agree
    // (its rx includes the FIN).
    EXPECT_NE(r.output.find("CLIENT rx=" + std::to_string(kN + 1) + " tx=" + std::to_string(kN)), std::string::npos)
        << r.output;
}

// One socket, one id per member: client member m talks to server member m.
TEST(Memif, MembersPairByIdOnOneSocket) {
    dp::MbufPools pools({4095, 64});
    const std::string sock = scratch_path("memif-team.sock");
    auto srv = dp::make_memif_members(dp::MemifRole::Server, 3, sock);
    auto cli = dp::make_memif_members(dp::MemifRole::Client, 3, sock);
    ASSERT_EQ(srv.size(), 3u);
    std::vector<std::unique_ptr<dp::Port>> ports;
    for (auto* side : {&srv, &cli})
        for (auto& vp : *side) ports.push_back(std::make_unique<dp::Port>(vp.port_id(), memif_cfg(1), pools));
    std::list<StopInOrder> guards;   // no copies: a copy would stop the ports when destroyed
    for (unsigned m = 0; m < 3; ++m) guards.emplace_back(*ports[3 + m], *ports[m]);
    for (auto& p : ports) p->start(2000);
    for (auto& p : ports) ASSERT_TRUE(dp::wait_link_up(p->id(), 5000).up) << p->info().name;
    rte_mempool* mp = dp::lookup_pool(ports[0]->setup().pool_name);
    for (unsigned m = 0; m < 3; ++m) exchange(cli[m].port_id(), srv[m].port_id(), 0, 8 + m, mp, 100);
    for (unsigned m = 0; m < 3; ++m) EXPECT_EQ(dp::read_port_stats(srv[m].port_id()).rx_packets, 8u + m);
    EXPECT_THROW(dp::make_memif_members(dp::MemifRole::Server, 17, sock), std::invalid_argument);
}

// memif 22.11 does not retry: a client started before its server fails,
// with a hint. (In ONE process the server must also be created first: memif
// keeps one socket object per path, and a server added to a path a client
// created never listens. Across processes start(retry_ms) covers the
// order — see MemifTwoProcesses.)
TEST(Memif, ClientWithoutServerFailsClearly) {
    dp::MbufPools pools({4095, 64});
    const std::string sock = scratch_path("memif-order.sock");
    auto cli = dp::make_memif_port({dp::MemifRole::Client, sock, 0, 10, 2048, ""});
    dp::Port pc(cli.port_id(), memif_cfg(1), pools);
    try {
        pc.start(300);
        FAIL() << "no server is listening";
    } catch (const dp::PortError& e) {
        EXPECT_NE(std::string(e.what()).find("start the rx side (server) first"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(pc.started());
}

// The server goes away and comes back (e.g. `flowteam rx` restarted): the
// client sees the link drop and start_until_link_up brings it back.
TEST(Memif, ClientReconnectsAfterTheServerRestarts) {
    dp::MbufPools pools({4095, 64});
    const std::string sock = scratch_path("memif-restart.sock");
    auto srv = dp::make_memif_port({dp::MemifRole::Server, sock, 0, 10, 2048, ""});
    auto cli = dp::make_memif_port({dp::MemifRole::Client, sock, 0, 10, 2048, ""});
    dp::Port ps(srv.port_id(), memif_cfg(1), pools);
    dp::Port pc(cli.port_id(), memif_cfg(1), pools);
    StopInOrder guard{pc, ps};
    ps.start();
    ASSERT_TRUE(pc.start_until_link_up(5000));
    ps.stop();
    wait_link_down(cli.port_id());
    EXPECT_FALSE(pc.link().up) << "the client sees the server go";
    ps.start();
    ASSERT_TRUE(pc.start_until_link_up(5000, 500));
    rte_mempool* mp = dp::lookup_pool(ps.setup().pool_name);
    exchange(cli.port_id(), srv.port_id(), 0, 16, mp, 300);
    exchange(srv.port_id(), cli.port_id(), 0, 16, mp, 300);
}

// A socket file left by a server that died (nobody listens) is replaced;
// without that the new server fails with "Address already in use".
TEST(Memif, StaleServerSocketFileIsReplaced) {
    const std::string sock = scratch_path("memif-stale.sock");
    {
        const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
        ASSERT_GE(fd, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, sock.c_str(), sock.size());
        ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
        ::close(fd);   // the file stays, nobody listens
    }
    ASSERT_TRUE(std::filesystem::is_socket(sock));
    auto srv = dp::make_memif_port({dp::MemifRole::Server, sock, 0, 10, 2048, ""});
    EXPECT_TRUE(std::filesystem::is_socket(sock));
}

TEST(Memif, BadArgumentsNameTheField) {
    EXPECT_THROW(dp::make_memif_port({dp::MemifRole::Server, "relative.sock", 0, 10, 2048, ""}),
                 std::invalid_argument);
    EXPECT_THROW(dp::make_memif_port({dp::MemifRole::Server, "/tmp/a,b.sock", 0, 10, 2048, ""}),
                 std::invalid_argument);
    EXPECT_THROW(dp::make_memif_port({dp::MemifRole::Server, "/tmp/x.sock", 0, 15, 2048, ""}), std::invalid_argument);
    EXPECT_THROW(dp::make_memif_port({dp::MemifRole::Server, "/tmp/x.sock", 0, 10, 2048, "has space"}),
                 std::invalid_argument);
}

TEST(Memif, DefaultSocketDirectoryExists) {
    const std::string dir = dp::default_memif_dir();
    EXPECT_TRUE(std::filesystem::is_directory(dir));
    EXPECT_EQ(dp::default_memif_socket("t1"), dir + "/t1.sock");
}

} // namespace
} // namespace flowteam::dptest
