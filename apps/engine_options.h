// SPDX-License-Identifier: BSD-3-Clause
// flowteam — options and report output shared by `run`, `tx` and `rx`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "dataplane/engine.h"

namespace flowteam::apps {

enum class EngineRole { run, tx, rx };

// --flowlet-gap's default: measured in the testbed (run, migrate, bridge,
// experiment); a fixed gap where nothing measures the members (tx).
inline constexpr const char* kFlowletGapDefault = "auto";
inline constexpr const char* kFlowletGapFixed = "500us";

// Adds the options of a role to `opts` (same names in an INI --config file).
void add_engine_options(po::options_description& opts, EngineRole role);

// Builds the engine options from parsed values. Throws UsageError naming the option.
dataplane::EngineOptions engine_options_from(const po::variables_map& vm, EngineRole role);

// Writes j (indented) to `path`, or to stdout when path is "-"; nothing when empty.
void write_json(const std::string& path, const nlohmann::json& j);
// Every parameter (as given and as derived) as JSON.
nlohmann::json parameters_json(const po::variables_map& vm, const dataplane::EngineOptions& o);
// Every counter as JSON.
nlohmann::json report_json(const dataplane::EngineReport& r);
// Flow completion times by size bucket (part of report_json's "rx").
nlohmann::json fct_json(const dataplane::EngineReport& r);

// Human table on stdout.
void print_report(const dataplane::EngineReport& r, const dataplane::EngineOptions& o);

// The common body of run/tx/rx: parse, start EAL, run, print, --json.
int run_engine_command(const std::string& cmd, EngineRole role, int argc, char** argv);

} // namespace flowteam::apps
