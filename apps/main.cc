// SPDX-License-Identifier: BSD-3-Clause
// flowteam — entry point: dispatch to a subcommand.
#include <cstring>
#include <iostream>
#include <string>

#include "apps/cli.h"
#include "apps/commands.h"

namespace {

struct Command {
    const char* name;
    int (*body)(int, char**);
    const char* summary;
};

constexpr Command kCommands[] = {
    {"report", flowteam::apps::cmd_report,
     "distribution report: how each mode spreads flows over the members, what a member failure remaps, "
     "RSS queue spread (no DPDK needed)"},
    {"rss", flowteam::apps::cmd_rss, "Toeplitz RSS hash, RETA slot and queue for one tuple"},
    {"run", flowteam::apps::cmd_run, "in-process testbed: team TX, emulated member links, switch, team RX (DPDK)"},
    {"tx", flowteam::apps::cmd_tx, "sending team over memif or physical ports (DPDK)"},
    {"rx", flowteam::apps::cmd_rx, "receiving team over memif or physical ports (DPDK)"},
    {"experiment", flowteam::apps::cmd_experiment, "run a scenario sweep of `run`s: results JSON/CSV, summary, plots"},
    {"migrate", flowteam::apps::cmd_migrate,
     "live migration of N VMs over the testbed, verified; no --mode: compare every mode (the main job)"},
    {"bridge", flowteam::apps::cmd_bridge, "the team as a bump in the wire between two tap interfaces (kernel TCP; DPDK)"},
};

void usage(std::ostream& os) {
    os << "usage: flowteam <command> [options]   (flowteam <command> --help for its options)\n\ncommands:\n";
    for (const auto& c : kCommands) os << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.summary << "\n";
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(std::cerr);
        return flowteam::apps::kExitUsage;
    }
    const std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
        usage(std::cout);
        return 0;
    }
    for (const auto& c : kCommands) {
        if (cmd == c.name) return flowteam::apps::run_guarded(c.name, c.body, argc - 2, argv + 2);
    }
    std::cerr << "flowteam: unknown command '" << cmd << "'\n";
    usage(std::cerr);
    return flowteam::apps::kExitUsage;
}
