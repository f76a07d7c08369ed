// SPDX-License-Identifier: BSD-3-Clause
// flowteam — SIGINT/SIGTERM → stop flag polled by the loops.
//
// First SIGINT or SIGTERM sets the stop flag: loops see stop_requested()
// and wind down, so final counters are printed and EAL is cleaned up.
// A second one exits at once (_exit(128 + signal)) after writing one line to
// stderr — for a loop that does not stop. Async-signal-safe: the handler
// only touches lock-free atomics and calls write(2) and _exit(2).
#pragma once

namespace flowteam::dataplane {

// Installs the handlers (idempotent). Call once at start-up, before
// launching lcores, so workers inherit nothing unexpected.
void install_stop_signal_handlers();

// Restores the default dispositions (for tests and clean-up).
void restore_default_signal_handlers();

// Polled by every loop; one relaxed load.
bool stop_requested() noexcept;

// The signal that requested the stop (0 when none, or when request_stop()).
int stop_signal() noexcept;

// Programmatic stop (tests, --duration timers).
void request_stop() noexcept;

// Clears the flag and the signal count (tests; a new run in one process).
void reset_stop() noexcept;

} // namespace flowteam::dataplane
