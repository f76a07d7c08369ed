// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/eal.h"
#include "dataplane/lcores.h"
#include "dpdk_env.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;
namespace fs = std::filesystem;

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Eal, TestbedDefaultsAreInEffect) {
    const auto& info = eal();
    EXPECT_TRUE(info.testbed);
    EXPECT_TRUE(info.no_huge);
    EXPECT_EQ(info.file_prefix, "flowteam-" + std::to_string(::getpid()));
    EXPECT_EQ(fs::path(info.runtime_dir).filename(), info.file_prefix);
    EXPECT_TRUE(fs::is_directory(info.runtime_dir));
    EXPECT_TRUE(fs::is_socket(info.telemetry_socket)) << info.telemetry_socket;
    // rte_eal_init pinned this (main) thread to the main lcore; EAL saw the
    // full set before. The lcore count is min(2, CPUs) by construction.
    EXPECT_GE(info.lcore_count, 1u);
    EXPECT_LE(info.lcore_count, 2u);
    EXPECT_EQ(info.worker_lcores.size() + 1, info.lcore_count);
    EXPECT_GT(info.tsc_hz, 0u);
    EXPECT_TRUE(contains(info.argv, "--no-huge"));
    EXPECT_TRUE(contains(info.argv, "--no-pci"));
}

TEST(Eal, SecondInstanceIsRefused) {
    EXPECT_TRUE(dp::Eal::initialised());
    EXPECT_THROW(dp::Eal{dp::EalOptions{}}, std::logic_error);
    EXPECT_TRUE(dp::Eal::initialised());
}

TEST(EalArgs, TestbedDefaults) {
    dp::EalOptions o;
    o.lcores = "0-1";
    const auto a = dp::build_eal_args(o, 4242);
    const std::vector<std::string> want = {"--no-huge", "--no-pci", "--file-prefix=flowteam-4242", "-m", "1024",
                                           "-l", "0-1", "--log-level=warning",
                                           "--log-level=lib.telemetry:error"};
    EXPECT_EQ(a, want);
}

TEST(EalArgs, TestbedOptionsAppendVdevsAndTelemetrySwitch) {
    dp::EalOptions o;
    o.lcores = "3";
    o.memory_mb = 256;
    o.file_prefix = "mine";
    o.telemetry = false;
    o.log_level = "";
    o.vdevs = {"net_null0,size=128", "net_ring0"};
    const auto a = dp::build_eal_args(o, 1);
    const std::vector<std::string> want = {"--no-huge", "--no-pci", "--file-prefix=mine", "-m", "256", "-l", "3",
                                           "--no-telemetry", "--vdev=net_null0,size=128", "--vdev=net_ring0"};
    EXPECT_EQ(a, want);
}

TEST(EalArgs, DefaultLcoresFitThisMachine) {
    const auto cpus = dp::allowed_cpus();
    ASSERT_FALSE(cpus.empty());
    const auto a = dp::build_eal_args(dp::EalOptions{}, 1);
    const auto it = std::find(a.begin(), a.end(), "-l");
    ASSERT_NE(it, a.end());
    ASSERT_NE(it + 1, a.end());
    const std::string want =
        cpus.size() > 1 ? std::to_string(cpus[0]) + "," + std::to_string(cpus[1]) : std::to_string(cpus[0]);
    EXPECT_EQ(*(it + 1), want);
}

// EAL arguments are checked before rte_eal_init (which answers a bad one with
// ~100 lines of usage): one line naming the argument.
TEST(EalArgs, CheckedBeforeInit) {
    for (const std::vector<std::string>& ok :
         {std::vector<std::string>{}, {"-l", "2-6", "-a", "0000:3b:00.0", "-a", "0000:3b:00.1"}, {"-l2-3", "-n4"},
          {"--no-huge", "--no-pci", "-m", "1024", "--file-prefix=ftt1"}, {"--lcores", "0@0,1@1"},
          {"--log-level=lib.telemetry:error", "--vdev=net_ring0", "--in-memory"}, {"--huge-unlink"},
          {"--huge-unlink=never"}, {"--no-hug"}, {"-hv"}, {"--no-huge", "--", "app-arg"}})
        EXPECT_EQ(dp::eal_args_problem(ok), "") << ok.size();
    for (const auto& [bad, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--bogus-eal-flag"}, "--bogus-eal-flag"},
             {{"-l"}, "-l"},
             {{"--file-prefix"}, "--file-prefix"},
             {{"--no-huge=1"}, "--no-huge"},
             {{"--no"}, "ambiguous"},
             {{"stray"}, "stray"},
             {{"-x"}, "-x"},
             {{"-hx"}, "-hx"}}) {
        const std::string msg = dp::eal_args_problem(bad);
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

TEST(EalArgs, UserArgumentsPassThroughUntouched) {
    dp::EalOptions o;
    o.user_args = {"-l", "2-9", "-a", "0000:3b:00.0", "-a", "0000:3b:00.1"};
    o.vdevs = {"net_null0"};   // testbed-only knobs are ignored
    o.memory_mb = 1;
    EXPECT_EQ(dp::build_eal_args(o, 7), o.user_args);
}

TEST(EalArgs, SplitAtFirstSeparator) {
    const char* argv[] = {"flowteam", "tx", "--mode", "dynamic", "--", "-l", "2-9", "--", "-a", "x"};
    const auto s = dp::split_command_line(10, argv);
    EXPECT_TRUE(s.has_separator);
    EXPECT_EQ(s.app, (std::vector<std::string>{"tx", "--mode", "dynamic"}));
    EXPECT_EQ(s.eal, (std::vector<std::string>{"-l", "2-9", "--", "-a", "x"}));
    const char* argv2[] = {"flowteam", "rx"};
    const auto s2 = dp::split_command_line(2, argv2);
    EXPECT_FALSE(s2.has_separator);
    EXPECT_TRUE(s2.eal.empty());
    EXPECT_EQ(s2.app, (std::vector<std::string>{"rx"}));
}

class FakeSysfs : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = scratch_path("sysfs-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::create_directories(root_ + "/hp");
    }
    void TearDown() override { fs::remove_all(root_); }
    void pages(const std::string& size_kb, unsigned nr, unsigned free) {
        const std::string d = root_ + "/hp/hugepages-" + size_kb + "kB";
        fs::create_directories(d);
        std::ofstream(d + "/nr_hugepages") << nr << "\n";
        std::ofstream(d + "/free_hugepages") << free << "\n";
    }
    void mounts(const std::string& text) { std::ofstream(root_ + "/mounts") << text; }
    dp::HugepageStatus probe() { return dp::probe_hugepages(root_ + "/hp", root_ + "/mounts"); }
    std::string root_;
};

TEST_F(FakeSysfs, NoHugepagesGivesTheFix) {
    pages("2048", 0, 0);
    pages("1048576", 0, 0);
    mounts("proc /proc proc rw 0 0\n");
    const auto hp = probe();
    EXPECT_EQ(hp.free_bytes, 0u);
    EXPECT_FALSE(hp.hugetlbfs_mounted);
    const std::string msg = dp::hugepage_problem({"-l", "0"}, hp);
    EXPECT_NE(msg.find("no free hugepages"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dpdk-hugepages.py --setup 2G"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--no-huge"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line";
    EXPECT_EQ(dp::hugepage_problem({"-l", "0", "--no-huge"}, hp), "");
}

TEST_F(FakeSysfs, CountsFreeBytesAcrossSizesAndSeesTheMount) {
    pages("2048", 1024, 512);       // 2 GiB reserved, 1 GiB free
    pages("1048576", 2, 1);         // 2 GiB reserved, 1 GiB free
    mounts("proc /proc proc rw 0 0\nnodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n");
    const auto hp = probe();
    EXPECT_EQ(hp.free_bytes, 512ull * 2 * 1024 * 1024 + 1024ull * 1024 * 1024);    // 2 GiB
    EXPECT_EQ(hp.total_bytes, 1024ull * 2 * 1024 * 1024 + 2ull * 1024 * 1024 * 1024); // 4 GiB
    EXPECT_TRUE(hp.hugetlbfs_mounted);
    EXPECT_EQ(dp::hugepage_problem({"-l", "0"}, hp), "");
}

TEST_F(FakeSysfs, ReservedButUnmounted) {
    pages("2048", 16, 16);
    mounts("");
    const auto hp = probe();
    const std::string msg = dp::hugepage_problem({}, hp);
    EXPECT_NE(msg.find("no hugetlbfs is mounted"), std::string::npos) << msg;
    EXPECT_EQ(dp::hugepage_problem({"--in-memory"}, hp), "");
}

// A process that asks for hugepages (no --no-huge) on a machine without any
// gets one clear line with the fix instead of EAL's "Permission denied".
TEST(EalChild, MissingHugepagesAreExplained) {
    if (dp::probe_hugepages().free_bytes != 0) GTEST_SKIP() << "this machine has free hugepages";
    const auto r = run_child("eal-hugepages", {}, std::chrono::seconds(60));
    ASSERT_FALSE(r.timed_out) << r.output;
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_NE(r.output.find("EALERROR: EAL initialisation failed: no free hugepages"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("dpdk-hugepages.py --setup 2G"), std::string::npos) << r.output;
}

// A testbed process removes its runtime directory at exit, and sweeps the
// ones left by testbed processes that died (pid gone) when it starts.
TEST(EalChild, RuntimeDirectoriesAreCleanedUp) {
    const pid_t dead = ::fork();
    ASSERT_GE(dead, 0);
    if (dead == 0) ::_exit(0);
    ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
    const fs::path base = fs::path(eal().runtime_dir).parent_path();
    const fs::path stale = base / ("flowteam-" + std::to_string(dead));
    fs::create_directories(stale);
    std::ofstream(stale / "config") << "left by a crash";
    const fs::path other = base / "flowteam-notapid";
    fs::create_directories(other);

    const auto r = run_child("eal-testbed", {}, std::chrono::seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto pos = r.output.find("RUNTIME ");
    ASSERT_NE(pos, std::string::npos) << r.output;
    const std::string child_dir = r.output.substr(pos + 8, r.output.find('\n', pos) - pos - 8);
    EXPECT_EQ(fs::path(child_dir).parent_path(), base);
    EXPECT_FALSE(fs::exists(child_dir)) << "removed at exit";
    EXPECT_FALSE(fs::exists(stale)) << "swept at start";
    EXPECT_TRUE(fs::exists(other)) << "not ours: left alone";
    EXPECT_TRUE(fs::exists(eal().runtime_dir)) << "a live process's directory is left alone";
    fs::remove_all(other);
}

TEST(Lcores, LaunchOnWorkerAndCollectResult) {
    const auto& info = eal();
    if (info.worker_lcores.empty()) GTEST_SKIP() << "no worker lcore";
    std::atomic<int> ran{0};
    dp::LcoreGroup g;
    g.launch(info.worker_lcores[0], [&] {
        ran.fetch_add(1);
        return 7;
    });
    EXPECT_EQ(g.wait(), 7);
    EXPECT_EQ(ran.load(), 1);
    EXPECT_THROW(g.launch(info.main_lcore, [] { return 0; }), std::runtime_error);
    g.launch(info.worker_lcores[0], []() -> int { throw std::runtime_error("boom"); });
    EXPECT_EQ(g.wait(), -1);
}

} // namespace
} // namespace flowteam::dptest
