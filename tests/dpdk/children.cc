// SPDX-License-Identifier: BSD-3-Clause
// Child-process modes of dpdk_tests (`dpdk_tests --ft-child <mode> ...`).
// Each runs its own EAL (its own file prefix) and prints what the parent
// test checks. Exit codes: 0 ok, 77 skipped (environment), others failures.
#include "dataplane/eal.h"
#include "dataplane/port.h"
#include "dataplane/port_io.h"
#include "dataplane/testbed.h"
#include "dpdk_env.h"
#include "test_util.h"

#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;

// EAL without --no-huge on a machine without hugepages: one clear line.
int child_eal_hugepages() {
    const std::string prefix = "ft-hp-" + std::to_string(::getpid());
    dp::EalOptions o;
    o.user_args = {"--no-pci", "-l", "0", "--file-prefix=" + prefix, "--log-level=error"};
    int rc = 0;
    try {
        dp::Eal eal(o);
        std::printf("EAL-OK\n");
    } catch (const dp::EalError& e) {
        std::printf("EALERROR: %s\n", e.what());
        rc = 3;
    }
    // EAL left its runtime directory for the prefix we chose: remove it.
    std::error_code ec;
    std::filesystem::remove_all("/var/run/dpdk/" + prefix, ec);
    return rc;
}

// Testbed EAL up and down: prints its runtime directory.
int child_eal_testbed() {
    dp::EalOptions o;
    o.memory_mb = 128;
    dp::Eal eal(o);
    std::printf("RUNTIME %s\n", eal.info().runtime_dir.c_str());
    return 0;
}

// memif client with id <id> on <socket>: echoes <count> packets back, bounded by <timeout_ms>.
int child_memif_echo(const std::vector<std::string>& args) {
    if (args.size() != 4) return 2;
    const std::string sock = args[0];
    const auto id = static_cast<std::uint32_t>(std::stoul(args[1]));
    const auto count = std::stoull(args[2]);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::stoul(args[3]));
    dp::EalOptions o;
    o.memory_mb = 256;
    dp::Eal eal(o);
    std::uint64_t echoed = 0;
    {
        dp::MbufPools pools({4095, 64});
        auto cli = dp::make_memif_port({dp::MemifRole::Client, sock, id, 10, 2048, ""});
        dp::PortConfig pc;
        pc.rx_desc = pc.tx_desc = 512;
        dp::Port port(cli.port_id(), pc, pools);
        std::printf("CLIENT-STARTING\n");
        std::fflush(stdout);
        // The server may not listen, or not be started, yet.
        if (!port.start_until_link_up(static_cast<unsigned>(std::stoul(args[3])))) {
            std::printf("CLIENT-LINK-DOWN\n");
            return 7;
        }
        std::printf("CLIENT-UP\n");
        std::fflush(stdout);
        const dp::EthQueue q{cli.port_id(), 0};
        std::array<rte_mbuf*, 32> burst{};
        bool fin = false;
        while (!fin && std::chrono::steady_clock::now() < deadline) {
            std::uint16_t n = q.rx_burst(burst.data(), 32);
            if (n == 0) {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
                continue;
            }
            if (frame_seq(burst[n - 1]) == kMemifFin) {   // the server is done (see test_util.h)
                rte_pktmbuf_free(burst[--n]);
                fin = true;
            }
            std::uint16_t sent = 0;
            while (sent < n && std::chrono::steady_clock::now() < deadline)
                sent = static_cast<std::uint16_t>(sent + q.tx_burst(burst.data() + sent, n - sent));
            for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(burst[i]);
            echoed += sent;
        }
        // Counters while connected (memif reports nothing once disconnected).
        const auto st = port.stats();
        std::printf("ECHOED %llu\nCLIENT rx=%llu tx=%llu\nSTATS-DONE\n", static_cast<unsigned long long>(echoed),
                    static_cast<unsigned long long>(st.rx_packets), static_cast<unsigned long long>(st.tx_packets));
        std::fflush(stdout);
        // Leave first (the port stops here, in this thread): the server stops
        // once it saw this side go.
    }
    return echoed == count ? 0 : 4;
}

// net_tap <iface> inside a private network namespace.
int child_tap(const std::vector<std::string>& args) {
    if (args.size() != 1) return 2;
    if (::unshare(CLONE_NEWNET) != 0) {
        std::printf("cannot create a network namespace (unshare: %s)\n", std::strerror(errno));
        return 77;
    }
    dp::EalOptions o;
    o.memory_mb = 256;
    dp::Eal eal(o);
    try {
        auto tap = dp::make_tap_port({args[0]});
        const unsigned idx = if_nametoindex(args[0].c_str());
        const auto info = dp::query_port_info(tap.port_id());
        std::printf("TAP %s ifindex=%u port=%u driver=%s max_rxq=%u\n", args[0].c_str(), idx, tap.port_id(),
                    info.driver.c_str(), info.max_rx_queues);
        return idx != 0 ? 0 : 5;
    } catch (const std::exception& e) {
        std::printf("tap failed: %s\n", e.what());
        return 6;
    }
}

} // namespace

int child_main(const std::string& mode, const std::vector<std::string>& args) {
    try {
        if (mode == "eal-hugepages") return child_eal_hugepages();
        if (mode == "eal-testbed") return child_eal_testbed();
        if (mode == "memif-echo") return child_memif_echo(args);
        if (mode == "tap") return child_tap(args);
        std::printf("unknown child mode %s\n", mode.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::printf("child %s: %s\n", mode.c_str(), e.what());
        return 9;
    }
}

} // namespace flowteam::dptest
