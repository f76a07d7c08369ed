// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/signals.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace flowteam::dptest {
namespace {

namespace dp = flowteam::dataplane;

class Signals : public ::testing::Test {
protected:
    void SetUp() override {
        dp::reset_stop();
        dp::install_stop_signal_handlers();
    }
    void TearDown() override {
        dp::restore_default_signal_handlers();
        dp::reset_stop();
    }
};

TEST_F(Signals, FirstSignalSetsTheFlag) {
    EXPECT_FALSE(dp::stop_requested());
    ASSERT_EQ(::raise(SIGINT), 0);
    EXPECT_TRUE(dp::stop_requested());
    EXPECT_EQ(dp::stop_signal(), SIGINT);
    dp::reset_stop();
    EXPECT_FALSE(dp::stop_requested());
    ASSERT_EQ(::raise(SIGTERM), 0);
    EXPECT_TRUE(dp::stop_requested());
    EXPECT_EQ(dp::stop_signal(), SIGTERM);
}

TEST_F(Signals, ProgrammaticStop) {
    dp::request_stop();
    EXPECT_TRUE(dp::stop_requested());
    EXPECT_EQ(dp::stop_signal(), 0);
}

// The second signal exits at once with 128 + signal and says so. Runs in a
// forked child: it only raises signals and writes, then _exits.
TEST_F(Signals, SecondSignalExitsImmediately) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::dup2(fds[1], STDERR_FILENO);
        ::raise(SIGTERM);
        if (!dp::stop_requested()) ::_exit(2);
        ::raise(SIGINT);
        ::_exit(3);   // not reached
    }
    ::close(fds[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << out;
    EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << out;
    EXPECT_NE(out.find("SIGTERM received, stopping"), std::string::npos) << out;
    EXPECT_NE(out.find("second signal, exiting immediately"), std::string::npos) << out;
}

} // namespace
} // namespace flowteam::dptest
