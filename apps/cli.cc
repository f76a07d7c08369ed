// SPDX-License-Identifier: BSD-3-Clause
#include "apps/cli.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

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
        std::ifstream in(path);
        if (!in) throw UsageError("--config: cannot open '" + path + "'");
        po::store(po::parse_config_file(in, opts), vm);
    }
    po::notify(vm);
    // Before a run that may take minutes, not after it.
    if (vm.count("json") != 0)
        if (const auto* p = boost::any_cast<std::string>(&vm["json"].value())) check_output_file("--json", *p);
    return true;
}

int run_guarded(const std::string& cmd, int (*body)(int, char**), int argc, char** argv) {
    try {
        return body(argc, argv);
    } catch (const UsageError& e) {
        std::cerr << "flowteam " << cmd << ": " << e.what() << "\n";
        return kExitUsage;
    } catch (const po::error& e) {
        std::cerr << "flowteam " << cmd << ": " << e.what() << " (see 'flowteam " << cmd << " --help')\n";
        return kExitUsage;
    } catch (const std::invalid_argument& e) {
        std::cerr << "flowteam " << cmd << ": " << e.what() << "\n";
        return kExitUsage;
    } catch (const std::exception& e) {
        std::cerr << "flowteam " << cmd << ": error: " << e.what() << "\n";
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

static std::uint64_t parse_u64(const std::string& option, std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
        throw UsageError(option + ": '" + std::string(s) + "' is not a non-negative integer");
    return v;
}

std::vector<std::uint32_t> parse_uint_list(const std::string& option, const std::string& text) {
    std::vector<std::uint32_t> out;
    std::string_view s(text);
    while (!s.empty()) {
        auto comma = s.find(',');
        auto item = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
        if (item.empty()) throw UsageError(option + ": empty item in '" + text + "'");
        auto dash = item.find('-');
        if (dash == std::string_view::npos) {
            out.push_back(static_cast<std::uint32_t>(parse_u64(option, item)));
        } else {
            auto lo = parse_u64(option, item.substr(0, dash));
            auto hi = parse_u64(option, item.substr(dash + 1));
            if (hi < lo || hi - lo > 65535)
                throw UsageError(option + ": bad range '" + std::string(item) + "'");
            for (auto v = lo; v <= hi; ++v) out.push_back(static_cast<std::uint32_t>(v));
        }
    }
    if (out.empty()) throw UsageError(option + ": empty list");
    return out;
}

// "<number><suffix>" with a decimal number.
static double split_number(const std::string& option, const std::string& text, std::string& suffix,
                           const char* what) {
    std::size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) ++i;
    if (i == 0) throw UsageError(option + ": '" + text + "' is not " + what);
    double v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + i, v);
    if (ec != std::errc() || p != text.data() + i || !std::isfinite(v) || v < 0)
        throw UsageError(option + ": '" + text + "' is not " + what);
    suffix = text.substr(i);
    for (auto& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v;
}

std::uint64_t parse_rate_bps(const std::string& option, const std::string& text) {
    std::string suf;
    double v = split_number(option, text, suf, "a rate (e.g. 10G, 2.5G, 100M, 1000000)");
    if (suf.size() > 0 && suf.back() == 's') suf.pop_back();    // "10Gbps" -> "10gbp"
    if (suf.size() > 1 && suf.substr(suf.size() - 2) == "bp") suf.resize(suf.size() - 2);
    double mult = 1;
    if (suf.empty()) mult = 1;
    else if (suf == "k") mult = 1e3;
    else if (suf == "m") mult = 1e6;
    else if (suf == "g") mult = 1e9;
    else if (suf == "t") mult = 1e12;
    else throw UsageError(option + ": unknown rate unit in '" + text + "' (allowed: K, M, G, T, optional 'bps')");
    double bps = v * mult;
    if (bps < 1e3 || bps > 1e13) throw UsageError(option + ": '" + text + "' is outside 1 Kb/s .. 10 Tb/s");
    return static_cast<std::uint64_t>(bps);
}

std::uint64_t parse_duration_ns(const std::string& option, const std::string& text) {
    if (text == "inf" || text == "infinite" || text == "none")
        return UINT64_MAX;
    std::string suf;
    double v = split_number(option, text, suf, "a duration (e.g. 500us, 1ms, 2s, 0)");
    double mult;
    if (suf == "ns") mult = 1;
    else if (suf == "us") mult = 1e3;
    else if (suf == "ms") mult = 1e6;
    else if (suf == "s") mult = 1e9;
    else if (suf.empty() && v == 0) mult = 1;
    else throw UsageError(option + ": '" + text + "' needs a unit (ns, us, ms, s)");
    double ns = v * mult;
    if (ns > 1e15) throw UsageError(option + ": '" + text + "' is too long");
    return static_cast<std::uint64_t>(std::llround(ns));
}

} // namespace flowteam::apps
