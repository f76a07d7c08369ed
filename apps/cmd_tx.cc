// SPDX-License-Identifier: BSD-3-Clause
// `flowteam tx`: sending team over memif (client) or physical ports.
#include "apps/commands.h"
#include "apps/engine_options.h"

namespace flowteam::apps {

int cmd_tx(int argc, char** argv) { return run_engine_command("tx", EngineRole::tx, argc, argv); }

} // namespace flowteam::apps
