// SPDX-License-Identifier: BSD-3-Clause
// flowteam — subcommands. Each lives in its own cmd_<name>.cc.
#pragma once

namespace flowteam::apps {

int cmd_rss(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_tx(int argc, char** argv);
int cmd_rx(int argc, char** argv);
int cmd_experiment(int argc, char** argv);
int cmd_migrate(int argc, char** argv);
int cmd_bridge(int argc, char** argv);

} // namespace flowteam::apps
