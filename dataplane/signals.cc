// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace flowteam::dataplane {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
std::atomic<int> g_count{0};

static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "signal handler needs lock-free atomics");

void write_all(const char* s) {
    std::size_t n = std::strlen(s);
    while (n > 0) {
        const ssize_t w = ::write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= static_cast<std::size_t>(w);
    }
}

extern "C" void flowteam_stop_handler(int sig) {
    const int saved_errno = errno;
    if (g_count.fetch_add(1, std::memory_order_relaxed) == 0) {
        g_signal.store(sig, std::memory_order_relaxed);
        g_stop.store(true, std::memory_order_release);
        write_all(sig == SIGINT ? "\nflowteam: SIGINT received, stopping (again to exit at once)\n"
                                : "\nflowteam: SIGTERM received, stopping (again to exit at once)\n");
        errno = saved_errno;
        return;
    }
    write_all("\nflowteam: second signal, exiting immediately without clean-up\n");
    ::_exit(128 + sig);
}

void set_handler(int sig, void (*fn)(int)) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, nullptr);
}

} // namespace

void install_stop_signal_handlers() {
    set_handler(SIGINT, flowteam_stop_handler);
    set_handler(SIGTERM, flowteam_stop_handler);
}

void restore_default_signal_handlers() {
    set_handler(SIGINT, SIG_DFL);
    set_handler(SIGTERM, SIG_DFL);
}

bool stop_requested() noexcept { return g_stop.load(std::memory_order_relaxed); }

int stop_signal() noexcept { return g_signal.load(std::memory_order_relaxed); }

void request_stop() noexcept { g_stop.store(true, std::memory_order_release); }

void reset_stop() noexcept {
    g_count.store(0, std::memory_order_relaxed);
    g_signal.store(0, std::memory_order_relaxed);
    g_stop.store(false, std::memory_order_release);
}

} // namespace flowteam::dataplane
