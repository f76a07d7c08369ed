// SPDX-License-Identifier: BSD-3-Clause
// `flowteam run`: in-process testbed run: sending team, emulated member links, switch, receiving team.
#include "apps/commands.h"
#include "apps/engine_options.h"

namespace flowteam::apps {

int cmd_run(int argc, char** argv) { return run_engine_command("run", EngineRole::run, argc, argv); }

} // namespace flowteam::apps
