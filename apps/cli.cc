// SPDX-License-Identifier: BSD-3-Clause
#include "apps/cli.h"

#include "dataplane/eal.h"

#include <unistd.h>

#include <cctype>
#include <climits>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace flowteam::apps {

void check_output_file(const std::string& option, const std::string& path) {
    if (path.empty() || path == "-") return;
    namespace fs = std::filesystem;
    const fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) throw UsageError(option + ": '" + path + "' is a directory; give a file name");
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec)) throw UsageError(option + ": directory '" + dir.string() + "' does not exist");
    if (::access(dir.c_str(), W_OK) != 0)
        throw UsageError(option + ": directory '" + dir.string() + "' is not writable");
    if (fs::exists(p, ec) && ::access(p.c_str(), W_OK) != 0)
        throw UsageError(option + ": '" + path + "' is not writable");
}

namespace {

// One line whatever the text: control bytes escaped, at most 600 characters.
std::string one_line(const std::string& s) {
    std::string o;
    for (unsigned char c : s) {
        if (o.size() >= 600) {
            o += "...";
            break;
        }
        if (c == '\n' || c == '\r' || c == '\t') o += ' ';
        else if (c < 0x20 || c == 0x7f) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            o += b;
        } else {
            o += static_cast<char>(c);
        }
    }
    return o;
}

// Every line of a config file is `name = value`, `[section]`, a comment or
// blank, with a plain option name: anything else is reported with its line
// number (Boost would echo the whole offending text).
void check_config_lines(const std::string& path, const std::string& text) {
    std::size_t pos = 0;
    int no = 0;
    while (pos < text.size()) {
        ++no;
        auto nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        if (const auto h = line.find('#'); h != std::string::npos) line.resize(h);
        const auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos) continue;
        line = line.substr(b, line.find_last_not_of(" \t\r") + 1 - b);
        const std::string where = "--config: " + opt::quote(path) + " line " + std::to_string(no) + ": ";
        if (line.front() == '[' && line.back() == ']') continue;
        const auto eq = line.find('=');
        std::string key = eq == std::string::npos ? line : line.substr(0, eq);
        key = key.substr(0, key.find_last_not_of(" \t") + 1);
        const bool plain = !key.empty() && key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == std::string::npos;
        if (eq == std::string::npos || !plain)
            throw UsageError(where + opt::quote(line) + " is not `name = value` (allowed: option names of this command, " +
                             "`# comments`, [sections])");
        if (!opt::is_utf8(line)) throw UsageError(where + "not valid UTF-8");
    }
}

// Every text value (command line and config) is valid UTF-8: it goes into the
// JSON reports, which cannot hold anything else.
void check_utf8(const po::variables_map& vm) {
    for (const auto& [name, v] : vm) {
        const auto& val = v.value();
        auto check = [&](const std::string& s) {
            if (!opt::is_utf8(s))
                throw UsageError("--" + name + ": " + opt::quote(s) + " is not valid UTF-8 (allowed: UTF-8 text)");
        };
        if (const auto* s = boost::any_cast<std::string>(&val)) check(*s);
        else if (const auto* vs = boost::any_cast<std::vector<std::string>>(&val))
            for (const auto& x : *vs) check(x);
    }
}

} // namespace

void check_input_file(const std::string& option, const std::string& path, std::uintmax_t max_bytes) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) throw UsageError(option + ": " + opt::quote(path) + " does not exist");
    if (fs::is_directory(st)) throw UsageError(option + ": " + opt::quote(path) + " is a directory; give a file");
    if (!fs::is_regular_file(st)) throw UsageError(option + ": " + opt::quote(path) + " is not a regular file");
    const auto size = fs::file_size(path, ec);
    if (ec || ::access(path.c_str(), R_OK) != 0) throw UsageError(option + ": " + opt::quote(path) + " cannot be read");
    if (size > max_bytes)
        throw UsageError(option + ": " + opt::quote(path) + " is " + std::to_string(size) + " bytes (allowed: up to " +
                         std::to_string(max_bytes) + ")");
}

CheckedValue<std::uint32_t>* u32_value(std::uint32_t lo, std::uint32_t hi) {
    return new CheckedValue<std::uint32_t>([lo, hi](const std::string& o, const std::string& t) {
        return static_cast<std::uint32_t>(opt::parse_uint(o, t, lo, hi));
    });
}

CheckedValue<std::uint64_t>* u64_value(std::uint64_t lo, std::uint64_t hi) {
    return new CheckedValue<std::uint64_t>(
        [lo, hi](const std::string& o, const std::string& t) { return opt::parse_uint(o, t, lo, hi); });
}

CheckedValue<double>* real_value(double lo, double hi) {
    return new CheckedValue<double>(
        [lo, hi](const std::string& o, const std::string& t) { return opt::parse_real(o, t, lo, hi); });
}

bool parse_command_line(const std::string& cmd, const std::string& summary, int argc, char** argv,
                        po::options_description& opts, po::variables_map& vm,
                        std::vector<std::string>* passthrough,
                        const po::positional_options_description* positional) {
    po::options_description common("General");
    common.add_options()("help,h", "show this help and exit")(
        "config", po::value<std::string>()->value_name("FILE"),
        "read options from an INI file (same names as the long options; the command line wins)");

    // Split off "-- EAL args".
    std::vector<std::string> own;
    int i = 0;
    for (; i < argc; ++i) {
        if (std::string(argv[i]) == "--") break;
        own.emplace_back(argv[i]);
    }
    if (i < argc) {
        if (passthrough == nullptr)
            throw UsageError("'--' given but this command takes no EAL arguments");
        for (++i; i < argc; ++i) passthrough->emplace_back(argv[i]);
        // Before EAL: it would answer with its whole usage text.
        if (const std::string p = dataplane::eal_args_problem(*passthrough); !p.empty())
            throw UsageError("-- (EAL arguments): " + p);
    }

    po::options_description all;
    all.add(opts).add(common);
    auto parser = po::command_line_parser(own).options(all);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), vm);

    if (vm.count("help") != 0) {
        std::cout << "usage: flowteam " << cmd << " [options]"
                  << (passthrough != nullptr ? " [-- EAL arguments]" : "") << "\n\n"
                  << summary << "\n\n"
                  << all << "\n";
        return false;
    }
    if (vm.count("config") != 0) {
        const auto path = vm["config"].as<std::string>();
        check_input_file("--config", path);
        std::ifstream in(path);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in && !in.eof()) throw UsageError("--config: cannot read " + opt::quote(path));
        check_config_lines(path, text);
        std::istringstream cin(text);
        try {
            po::store(po::parse_config_file(cin, opts), vm);
        } catch (const po::error& e) {
            throw UsageError("--config " + opt::quote(path) + ": " + e.what());
        }
    }
    po::notify(vm);
    check_utf8(vm);
    // Before a run that may take minutes, not after it.
    if (vm.count("json") != 0)
        if (const auto* p = boost::any_cast<std::string>(&vm["json"].value())) check_output_file("--json", *p);
    return true;
}

int run_guarded(const std::string& cmd, int (*body)(int, char**), int argc, char** argv) {
    try {
        return body(argc, argv);
    } catch (const UsageError& e) {
        std::cerr << "flowteam " << cmd << ": " << one_line(e.what()) << "\n";
        return kExitUsage;
    } catch (const BadOptionValue& e) {
        std::cerr << "flowteam " << cmd << ": " << one_line(e.what()) << "\n";
        return kExitUsage;
    } catch (const po::error& e) {
        std::cerr << "flowteam " << cmd << ": " << one_line(e.what()) << " (see 'flowteam " << cmd << " --help')\n";
        return kExitUsage;
    } catch (const std::invalid_argument& e) {
        std::cerr << "flowteam " << cmd << ": " << one_line(e.what()) << "\n";
        return kExitUsage;
    } catch (const std::bad_alloc&) {
        std::cerr << "flowteam " << cmd << ": error: out of memory\n";
        return kExitFailure;
    } catch (const std::exception& e) {
        std::cerr << "flowteam " << cmd << ": error: " << one_line(e.what()) << "\n";
        return kExitFailure;
    }
}

packet::ToeplitzKey parse_rss_key(const std::string& option, const std::string& text) {
    if (text == "symmetric") return packet::ToeplitzKey::symmetric();
    try {
        return packet::ToeplitzKey::from_hex(text);
    } catch (const std::invalid_argument& e) {
        throw UsageError(option + ": " + e.what() + "; or 'symmetric'");
    }
}

static std::uint64_t parse_u64(const std::string& option, std::string_view s, std::uint32_t max) {
    return opt::parse_uint(option, s, 0, max);
}

std::vector<std::uint32_t> parse_uint_list(const std::string& option, const std::string& text, std::uint32_t max) {
    std::vector<std::uint32_t> out;
    std::string_view s(text);
    while (!s.empty()) {
        auto comma = s.find(',');
        auto item = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
        if (item.empty())
            throw UsageError(option + ": " + opt::quote(text) + " has an empty item (allowed: a list like 0,1,4-7)");
        auto dash = item.find('-');
        if (dash == std::string_view::npos) {
            out.push_back(static_cast<std::uint32_t>(parse_u64(option, item, max)));
        } else {
            auto lo = parse_u64(option, item.substr(0, dash), max);
            auto hi = parse_u64(option, item.substr(dash + 1), max);
            if (hi < lo || hi - lo > 65535)
                throw UsageError(option + ": " + opt::quote(item) + " is a bad range (allowed: LO-HI, LO <= HI, at most 65536 values)");
            for (auto v = lo; v <= hi; ++v) out.push_back(static_cast<std::uint32_t>(v));
        }
    }
    if (out.empty()) throw UsageError(option + ": empty list (allowed: a list like 0,1,4-7)");
    return out;
}

std::uint64_t parse_rate_bps(const std::string& option, const std::string& text) {
    return opt::parse_rate_bps(option, text);
}

std::uint64_t parse_duration_ns(const std::string& option, const std::string& text, bool allow_inf,
                                std::uint64_t max_ns) {
    return opt::parse_duration_ns(option, text, opt::DurationSpec{0, max_ns, allow_inf});
}

std::string self_executable() {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) throw std::runtime_error("cannot find my own executable (/proc/self/exe)");
    return std::string(buf, static_cast<std::size_t>(n));
}

} // namespace flowteam::apps
