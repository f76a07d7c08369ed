// SPDX-License-Identifier: BSD-3-Clause
// flowteam dpdk test suite: EAL is initialised ONCE for the whole binary
// with the embedded-testbed defaults (--no-huge --no-pci, unique
// --file-prefix, 2 lcores); virtual PMDs are hot-plugged by the tests.
#include "dpdk_env.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <memory>
#include <thread>

namespace flowteam::dptest {
namespace {

std::unique_ptr<dataplane::Eal> g_eal;

std::string self_exe() {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) return {};
    return std::string(buf, static_cast<std::size_t>(n));
}

} // namespace

const dataplane::EalInfo& eal() { return g_eal->info(); }

std::string scratch_path(const std::string& leaf) {
    return "/tmp/ft-dpdk-test-" + std::to_string(::getpid()) + "-" + leaf;
}

ChildHandle start_child(const std::string& mode, const std::vector<std::string>& args) {
    const std::string exe = self_exe();
    std::vector<std::string> all = {exe, "--ft-child", mode};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {};
    const pid_t pid = ::fork();
    if (pid == 0) {
        // Only async-signal-safe calls until exec.
        ::dup2(fds[1], STDOUT_FILENO);
        ::dup2(fds[1], STDERR_FILENO);
        ::execv(exe.c_str(), argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    if (pid < 0) {
        ::close(fds[0]);
        return {};
    }
    return {pid, fds[0], {}};
}

bool read_child_until(ChildHandle& h, const std::string& marker, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (h.output.find(marker) == std::string::npos) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || h.out_fd < 0) return false;
        pollfd pfd{h.out_fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 100))) > 0) {
            const ssize_t n = ::read(h.out_fd, buf, sizeof(buf));
            if (n > 0) h.output.append(buf, static_cast<std::size_t>(n));
            else if (n == 0) return h.output.find(marker) != std::string::npos;
        }
    }
    return true;
}

ChildResult wait_child(ChildHandle h, std::chrono::milliseconds timeout) {
    ChildResult r;
    r.output = std::move(h.output);
    if (h.pid <= 0) {
        r.output = "fork/pipe failed";
        return r;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    bool eof = false;
    while (!eof) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            ::kill(h.pid, SIGKILL);
            break;
        }
        pollfd pfd{h.out_fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 100))) > 0) {
            const ssize_t n = ::read(h.out_fd, buf, sizeof(buf));
            if (n > 0)
                r.output.append(buf, static_cast<std::size_t>(n));
            else if (n == 0)
                eof = true;
        }
    }
    ::close(h.out_fd);
    int status = 0;
    ::waitpid(h.pid, &status, 0);
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
    return r;
}

ChildResult run_child(const std::string& mode, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout) {
    return wait_child(start_child(mode, args), timeout);
}

} // namespace flowteam::dptest

int main(int argc, char** argv) {
    if (argc >= 3 && std::string(argv[1]) == "--ft-child") {
        std::vector<std::string> rest(argv + 3, argv + argc);
        return flowteam::dptest::child_main(argv[2], rest);
    }
    ::testing::InitGoogleTest(&argc, argv);
    try {
        flowteam::dptest::g_eal = std::make_unique<flowteam::dataplane::Eal>(flowteam::dataplane::EalOptions{});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dpdk_tests: %s\n", e.what());
        return 1;
    }
    const int rc = RUN_ALL_TESTS();
    flowteam::dptest::g_eal.reset();
    return rc;
}
