// SPDX-License-Identifier: BSD-3-Clause
// flowteam — command-line plumbing shared by every subcommand: --help,
// --config FILE (INI, same option names), one-line errors with exit code 2.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "packet/toeplitz.h"

namespace flowteam::apps {

namespace po = boost::program_options;

inline constexpr int kExitUsage = 2;   // bad option or value
inline constexpr int kExitFailure = 1; // run-time failure

// A bad value: what() is the one line printed after "flowteam <cmd>: ".
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Parse argv (after the subcommand name) into `vm`. Adds --help and
// --config. Returns false when --help was printed (exit 0). Throws
// UsageError on bad options. Arguments after a literal "--" are returned
// in `passthrough` untouched (EAL arguments for the data-plane commands).
// An output file named by `option` can be written: its directory exists and
// is writable, and it is not a directory ("" and "-" = stdout pass). Throws
// UsageError naming the option. parse_command_line checks --json with it.
void check_output_file(const std::string& option, const std::string& path);

bool parse_command_line(const std::string& cmd, const std::string& summary, int argc, char** argv,
                        po::options_description& opts, po::variables_map& vm,
                        std::vector<std::string>* passthrough = nullptr,
                        const po::positional_options_description* positional = nullptr);

// Run a subcommand body, turning UsageError / po errors into one line + exit 2
// and other exceptions into one line + exit 1.
int run_guarded(const std::string& cmd, int (*body)(int, char**), int argc, char** argv);

// Small value parsers shared by subcommands (each throws UsageError naming the option).
// An RSS key: hex (packet::ToeplitzKey::from_hex formats) or "symmetric".
packet::ToeplitzKey parse_rss_key(const std::string& option, const std::string& text);
std::vector<std::uint32_t> parse_uint_list(const std::string& option, const std::string& text); // "0,1,4-7"
std::uint64_t parse_rate_bps(const std::string& option, const std::string& text);             // "10G", "1g", "2.5G", "100M"
std::uint64_t parse_duration_ns(const std::string& option, const std::string& text);          // "500us", "1ms", "2s", "0"

} // namespace flowteam::apps
