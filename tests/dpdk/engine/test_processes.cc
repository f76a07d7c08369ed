// SPDX-License-Identifier: BSD-3-Clause
// The flowteam binary in separate processes: `rx` (memif server) and `tx`
// (memif client) agree on their counters; `run` stops cleanly on SIGINT.
// The binary is found through FLOWTEAM_BIN (set by meson).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace flowteam::enginetest {
namespace {

namespace fs = std::filesystem;

std::string flowteam_bin() {
    const char* b = std::getenv("FLOWTEAM_BIN");
    return b != nullptr ? b : "";
}

struct Proc {
    pid_t pid = -1;
    std::string log;
};

Proc spawn(const std::vector<std::string>& args, const std::string& log) {
    Proc p;
    p.log = log;
    std::vector<std::string> all = {flowteam_bin()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    p.pid = ::fork();
    if (p.pid == 0) {
        // EAL pinned this thread to one CPU; the child's EAL picks its own lcores.
        cpu_set_t cpus;
        CPU_ZERO(&cpus);
        const long ncpu = ::sysconf(_SC_NPROCESSORS_CONF);
        for (long c = 0; c < ncpu && c < CPU_SETSIZE; ++c) CPU_SET(static_cast<int>(c), &cpus);
        ::sched_setaffinity(0, sizeof(cpus), &cpus);
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return p;
}

// Exit code, or -1 after SIGKILL at the deadline.
int wait_for(const Proc& p, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(p.pid, &status, WNOHANG);
        if (r == p.pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(p.pid, SIGKILL);
            ::waitpid(p.pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

nlohmann::json load_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) return {};
    try {
        return nlohmann::json::parse(in);
    } catch (const std::exception&) {
        return {};
    }
}

class Scratch {
public:
    Scratch() : dir_("/tmp/ft-engine-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++)) {
        fs::create_directories(dir_);
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string path(const std::string& leaf) const { return dir_ + "/" + leaf; }
    const std::string& dir() const { return dir_; }

private:
    static inline int counter_ = 0;
    std::string dir_;
};

TEST(EngineProcesses, TxAndRxOverMemifAgreeOnTheirCounters) {
    ASSERT_FALSE(flowteam_bin().empty()) << "FLOWTEAM_BIN is not set";
    Scratch s;
    Proc rx = spawn({"rx", "--socket-dir", s.dir(), "--rates", "10G,10G", "--idle-timeout", "1500ms", "--duration",
                     "60s", "--quiet", "--json", s.path("rx.json")},
                    s.path("rx.log"));
    ASSERT_GT(rx.pid, 0);
    // The server sockets appear when rx is up.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!(fs::exists(s.path("team-m0.sock")) && fs::exists(s.path("team-m1.sock"))) &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Proc tx = spawn({"tx", "--socket-dir", s.dir(), "--rates", "10G,10G", "--flows", "12", "--duration", "1s",
                     "--quiet", "--json", s.path("tx.json")},
                    s.path("tx.log"));
    const int tx_rc = wait_for(tx, std::chrono::seconds(120));
    const int rx_rc = wait_for(rx, std::chrono::seconds(120));
    ASSERT_EQ(tx_rc, 0) << slurp(s.path("tx.log"));
    ASSERT_EQ(rx_rc, 0) << slurp(s.path("rx.log"));
    const auto tj = load_json(s.path("tx.json"));
    const auto rj = load_json(s.path("rx.json"));
    ASSERT_TRUE(tj.contains("report")) << slurp(s.path("tx.log"));
    ASSERT_TRUE(rj.contains("report")) << slurp(s.path("rx.log"));
    const auto sent = tj["report"]["tx"]["packets"].get<std::uint64_t>();
    const auto received = rj["report"]["rx"]["packets"].get<std::uint64_t>();
    EXPECT_GT(sent, 0u);
    EXPECT_EQ(sent, received) << "tx sent = rx received";
    EXPECT_EQ(tj["report"]["tx"]["unsent_at_stop"].get<std::uint64_t>(), 0u);
    // Per member, what member m sent is what member m received (memif: one cable each).
    for (std::size_t m = 0; m < 2; ++m)
        EXPECT_EQ(tj["report"]["members"][m]["tx_packets"].get<std::uint64_t>(),
                  rj["report"]["members"][m]["rx_packets"].get<std::uint64_t>())
            << "member " << m;
    EXPECT_EQ(rj["report"]["rx"]["probe"]["ok"].get<std::uint64_t>(), received);
    EXPECT_EQ(rj["report"]["rx"]["reorder"]["dropped"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(rj["report"]["stop_reason"].get<std::string>(), "idle timeout");
    EXPECT_EQ(rj["parameters"]["members"].size(), 2u);
}

// Queue timing on a sender alone: member pings measure each member's path
// (half round trip), `flowteam rx` answers them, and --flowlet-gap auto uses
// them. The pings are not data: sent = received still holds.
TEST(EngineProcesses, MemberPingsMeasureTheMembersForAuto) {
    ASSERT_FALSE(flowteam_bin().empty()) << "FLOWTEAM_BIN is not set";
    Scratch s;
    Proc rx = spawn({"rx", "--socket-dir", s.dir(), "--rates", "10G,10G", "--idle-timeout", "1500ms", "--duration",
                     "60s", "--quiet", "--json", s.path("rx.json")},
                    s.path("rx.log"));
    ASSERT_GT(rx.pid, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!(fs::exists(s.path("team-m0.sock")) && fs::exists(s.path("team-m1.sock"))) &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Proc tx = spawn({"tx", "--socket-dir", s.dir(), "--rates", "10G,10G", "--flows", "12", "--pace", "20M",
                     "--duration", "1s", "--mode", "dynamic", "--flowlet-gap", "auto", "--quiet", "--json",
                     s.path("tx.json")},
                    s.path("tx.log"));
    const int tx_rc = wait_for(tx, std::chrono::seconds(120));
    const int rx_rc = wait_for(rx, std::chrono::seconds(120));
    ASSERT_EQ(tx_rc, 0) << slurp(s.path("tx.log"));
    ASSERT_EQ(rx_rc, 0) << slurp(s.path("rx.log"));
    const auto tj = load_json(s.path("tx.json"));
    const auto rj = load_json(s.path("rx.json"));
    ASSERT_TRUE(tj.contains("report")) << slurp(s.path("tx.log"));
    ASSERT_TRUE(rj.contains("report")) << slurp(s.path("rx.log"));
    const auto& pings = tj["report"]["tx"]["member_pings"];
    EXPECT_GT(pings["sent"].get<std::uint64_t>(), 100u) << "one per member per ms while idle";
    EXPECT_GT(pings["answered"].get<std::uint64_t>(), 100u);
    // Every answer the sender counted was echoed by rx; the last few may still be on their way back at the stop.
    const auto echoed = rj["report"]["rx"]["member_pings"]["echoed"].get<std::uint64_t>();
    EXPECT_GE(echoed, pings["answered"].get<std::uint64_t>());
    EXPECT_LE(echoed, pings["answered"].get<std::uint64_t>() + 8);
    for (std::size_t m = 0; m < 2; ++m)
        EXPECT_GE(tj["report"]["members"][m]["path_delay_min_us"].get<double>(), 0.0) << "member " << m << " measured";
    EXPECT_EQ(tj["report"]["tx"]["dynamic"]["timing"].get<std::string>(), "queue");
    EXPECT_TRUE(tj["report"]["tx"]["dynamic"]["gap_auto"].get<bool>());
    // Data only on both sides: the pings are counted apart.
    EXPECT_EQ(tj["report"]["tx"]["packets"].get<std::uint64_t>(), rj["report"]["rx"]["packets"].get<std::uint64_t>());
    EXPECT_EQ(rj["report"]["rx"]["probe"]["ok"].get<std::uint64_t>(), rj["report"]["rx"]["packets"].get<std::uint64_t>());
    EXPECT_EQ(rj["report"]["rx"]["reorder"]["reordered"].get<std::uint64_t>(), 0u);
    // auto without the pings: one line, exit 2.
    Proc bad = spawn({"tx", "--socket-dir", s.dir(), "--mode", "dynamic", "--flowlet-gap", "auto", "--member-ping", "off"},
                     s.path("bad.log"));
    EXPECT_EQ(wait_for(bad, std::chrono::seconds(30)), 2);
    EXPECT_NE(slurp(s.path("bad.log")).find("--flowlet-gap: auto"), std::string::npos) << slurp(s.path("bad.log"));
}

TEST(EngineProcesses, RunStopsCleanlyOnSigint) {
    ASSERT_FALSE(flowteam_bin().empty()) << "FLOWTEAM_BIN is not set";
    Scratch s;
    Proc run = spawn({"run", "--duration", "60s", "--quiet", "--json", s.path("run.json")}, s.path("run.log"));
    ASSERT_GT(run.pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    ::kill(run.pid, SIGINT);
    const int rc = wait_for(run, std::chrono::seconds(60));
    ASSERT_EQ(rc, 0) << slurp(s.path("run.log"));
    const auto j = load_json(s.path("run.json"));
    ASSERT_TRUE(j.contains("report")) << slurp(s.path("run.log"));
    EXPECT_EQ(j["report"]["stop_reason"].get<std::string>(), "signal");
    EXPECT_TRUE(j["report"]["stopped_by_signal"].get<bool>());
    EXPECT_GT(j["report"]["tx"]["packets"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(j["report"]["accounting"]["unaccounted"].get<std::uint64_t>(), 0u);
    EXPECT_NE(slurp(s.path("run.log")).find("accounting:"), std::string::npos) << "final table printed";
}

TEST(EngineProcesses, BadOptionIsOneLineAndExitTwo) {
    ASSERT_FALSE(flowteam_bin().empty()) << "FLOWTEAM_BIN is not set";
    Scratch s;
    Proc p = spawn({"run", "--mode", "bogus"}, s.path("bad.log"));
    EXPECT_EQ(wait_for(p, std::chrono::seconds(30)), 2);
    const std::string out = slurp(s.path("bad.log"));
    EXPECT_NE(out.find("--mode"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

// An unwritable --json is refused before the run (not after minutes of it).
TEST(EngineProcesses, UnwritableJsonIsRefusedBeforeTheRun) {
    ASSERT_FALSE(flowteam_bin().empty()) << "FLOWTEAM_BIN is not set";
    Scratch s;
    const std::string missing_dir = s.path("no-such-dir") + "/out.json";
    const std::vector<std::vector<std::string>> cases = {
        {"migrate", "--json", missing_dir},
        {"run", "--duration", "30s", "--json", missing_dir},
        {"tx", "--json", s.path("")},   // a directory
    };
    int k = 0;
    for (const auto& args : cases) {
        const std::string log = s.path("json" + std::to_string(k++) + ".log");
        Proc p = spawn(args, log);
        EXPECT_EQ(wait_for(p, std::chrono::seconds(20)), 2) << args[0];
        const std::string out = slurp(log);
        EXPECT_NE(out.find("--json"), std::string::npos) << out;
        EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    }
}

} // namespace
} // namespace flowteam::enginetest
