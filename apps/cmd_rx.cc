// SPDX-License-Identifier: BSD-3-Clause
// `flowteam rx`: receiving team over memif (server) or physical ports.
#include "apps/commands.h"
#include "apps/engine_options.h"

namespace flowteam::apps {

int cmd_rx(int argc, char** argv) { return run_engine_command("rx", EngineRole::rx, argc, argv); }

} // namespace flowteam::apps
