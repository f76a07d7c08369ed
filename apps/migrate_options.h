// SPDX-License-Identifier: BSD-3-Clause
// flowteam — `flowteam migrate`'s own options (besides the engine's), for
// the command itself and for `flowteam experiment` scenarios with
// `command = migrate`, so a bad value in a scenario is refused with its
// file and line before any run starts.
#pragma once

#include <cstdint>

#include "apps/cli.h"

namespace flowteam::apps {

// The Migration option group (same names in an INI --config file).
void add_migrate_options(po::options_description& opts);

// Checks every migration value in `vm` (parsed with add_migrate_options and
// the engine's options), including VM memory against the machine's memory.
// Throws UsageError naming the option.
void check_migrate_options(const po::variables_map& vm, std::uint32_t mtu);

} // namespace flowteam::apps
