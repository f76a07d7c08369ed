// SPDX-License-Identifier: BSD-3-Clause
// flowteam — command-line plumbing shared by every subcommand: --help,
// --config FILE (INI, same option names), one-line errors with exit code 2.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/option_value.h"
#include "packet/toeplitz.h"

namespace flowteam::apps {

namespace po = boost::program_options;

inline constexpr int kExitUsage = 2;   // bad option or value
inline constexpr int kExitFailure = 1; // run-time failure

// The running flowteam binary (/proc/self/exe), to start child processes or
// find data next to it. Throws std::runtime_error (one line) when unreadable.
std::string self_executable();

// A bad value: what() is the one line printed after "flowteam <cmd>: ".
// The same type as the value parser's error (common/option_value.h).
using UsageError = flowteam::opt::OptionError;

// A value refused while Boost stores it; Boost puts the option's name in
// (%canonical_option%: "--flows" on the command line, "flows" in a config).
struct BadOptionValue : po::error_with_option_name {
    explicit BadOptionValue(const std::string& message) : po::error_with_option_name(message) {}
};

// A typed option whose text is parsed by flowteam::opt when Boost stores it,
// so a bad value is refused with one line naming the option and what is
// allowed, whether it comes from the command line or a --config file.
template <class T>
class CheckedValue final : public po::typed_value<T> {
public:
    using Parse = std::function<T(const std::string& option, const std::string& text)>;
    explicit CheckedValue(Parse parse) : po::typed_value<T>(nullptr), parse_(std::move(parse)) {}
    void xparse(boost::any& store, const std::vector<std::string>& tokens) const override {
        try {
            store = boost::any(parse_("%canonical_option%", tokens.empty() ? std::string() : tokens.front()));
        } catch (const UsageError& e) {
            throw BadOptionValue(e.what());
        }
    }

private:
    Parse parse_;
};

// Integer options: decimal digits only, lo..hi (no sign, no wrap, no truncation).
CheckedValue<std::uint32_t>* u32_value(std::uint32_t lo = 0, std::uint32_t hi = UINT32_MAX);
CheckedValue<std::uint64_t>* u64_value(std::uint64_t lo = 0, std::uint64_t hi = UINT64_MAX);
// Real options: finite, lo..hi (give default_value(v, "text") for a readable --help).
CheckedValue<double>* real_value(double lo, double hi);

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
std::vector<std::uint32_t> parse_uint_list(const std::string& option, const std::string& text,
                                           std::uint32_t max = UINT32_MAX);   // "0,1,4-7", each 0..max
std::uint64_t parse_rate_bps(const std::string& option, const std::string& text);             // "10G", "1g", "2.5G", "100M"
// "500us", "1ms", "2s", "0"; "inf" only where `allow_inf` (returns UINT64_MAX); at most `max_ns`.
std::uint64_t parse_duration_ns(const std::string& option, const std::string& text, bool allow_inf = false,
                                std::uint64_t max_ns = opt::kMaxDurationNs);

// A config file (--config) or scenario file: a regular, readable file of
// reasonable size. Throws UsageError naming `option`.
void check_input_file(const std::string& option, const std::string& path, std::uintmax_t max_bytes = 1u << 20);

} // namespace flowteam::apps
