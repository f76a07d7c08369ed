// SPDX-License-Identifier: BSD-3-Clause
// flowteam experiment — scenario files: reading, validation, expansion into runs.
//
// A scenario is a Boost.Program_options INI file (`key = value`, `[section]`,
// `#` comments; a key may repeat). Sections:
//
//   [scenario]        name, title, source, published (repeatable: one line of
//                     the published result each), description (repeatable),
//                     duration (shortcut for run.duration), repetitions N or
//                     seeds = 1;2;3, metrics (columns of the summary's run table),
//                     skip (repeatable: CONDS; matching combinations are not run),
//                     run-timeout (wall limit of one run), command (run |
//                     migrate: each run is a `flowteam run` or a `flowteam
//                     migrate --mode M` child; default run).
//                     Keys before the first section belong here.
//   [run]             base options of the command, same names as on its command
//                     line (`fail` may repeat). Not allowed: json, config, quiet,
//                     compare-compression. Switches (no-measure, auto-converge)
//                     take true / false.
//   [sweep]           swept parameters, one key each, values separated by ';'
//                     (or one line per value: a repeated key appends). ';' is used
//                     because option values themselves contain ',' (rates, delays).
//                     A swept key is
//                       * a `flowteam run` option: mode = hash ; dynamic
//                       * members = 2 ; 4   the team size: `rates` (one rate, or
//                         one per member) is replicated to N members
//                       * skew = 0 ; 100us  the member delay spread: `delays`
//                         becomes 0 .. skew evenly over the members (member 0
//                         fastest); `delays` may then not be set elsewhere
//                       * a profile: any other name P whose every value V has a
//                         section [P=V] listing the run options it sets.
//                     Any option value may be written `K*skew` (e.g. flowlet-gap =
//                     0.25*skew): K times the run's skew, as a duration.
//   [P=V]             profile: run options applied when swept P has value V.
//   [plot:NAME]       a PNG (scripts/plot_results.py): x, y, lines, panels, where,
//                     xcat, hlines, xlabel, ylabel, yscale, ypct, title.
//   [table:NAME]      a pivot table in summary.md: rows, cols (comma lists of
//                     fields), value (AGG FIELD), where, format (pct | int | N
//                     decimals), title.
//   [check:NAME]      a claim checked against the published result: claim (text),
//                     value (EXPR), expect (OP EXPR). EXPR is a number or
//                     `[K *] AGG FIELD [where CONDS] [+|- N]`, AGG one of mean,
//                     max, min, sum, count, median.
// CONDS: `field OP value` joined by ` and `, OP one of = != < <= > >=; numbers
// may carry a unit (ns us ms s, K M G) and `inf`; `field` is a swept or derived
// parameter, a run option or a metric.
//
// Expansion: the cross product of the swept values, in file order (the first
// key is the outermost loop), with the seed as the outermost loop of all so
// that an interrupted sweep has covered the grid once before repeating it.
// A combination is dropped when a skip rule matches. Parameters that the mode
// does not use are cleared (flowlet-gap, flowlet-timing and policy unless mode = dynamic,
// flowcell-bytes unless mode = flowcell) and shown as empty; combinations that
// then give the same `flowteam run` command collapse into one run (e.g. every
// K*skew gap is 0 when skew = 0).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/cli.h"
#include "apps/engine_options.h"
#include "apps/migrate_options.h"

namespace flowteam::apps::experiment {

using ojson = nlohmann::ordered_json;

// ---------------------------------------------------------------- helpers

inline std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

inline std::vector<std::string> split_on(const std::string& s, const std::string& sep) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    for (;;) {
        const auto at = s.find(sep, pos);
        out.push_back(s.substr(pos, at == std::string::npos ? std::string::npos : at - pos));
        if (at == std::string::npos) break;
        pos = at + sep.size();
    }
    return out;
}

inline std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
    return out;
}

// Exact, parseable by parse_duration_ns: 1ms, 250us, 2500ns, 0.
inline std::string format_ns(std::uint64_t ns) {
    if (ns == 0) return "0";
    if (ns % 1'000'000'000ull == 0) return std::to_string(ns / 1'000'000'000ull) + "s";
    if (ns % 1'000'000ull == 0) return std::to_string(ns / 1'000'000ull) + "ms";
    if (ns % 1'000ull == 0) return std::to_string(ns / 1'000ull) + "us";
    return std::to_string(ns) + "ns";
}

// For display: 12.5us, 2ms, 750ns (not necessarily exact).
inline std::string pretty_ns(std::uint64_t ns) {
    char b[32];
    const double v = static_cast<double>(ns);
    if (ns == 0) return "0";
    if (ns >= 1'000'000'000ull) std::snprintf(b, sizeof b, "%gs", v / 1e9);
    else if (ns >= 1'000'000ull) std::snprintf(b, sizeof b, "%gms", v / 1e6);
    else if (ns >= 1'000ull) std::snprintf(b, sizeof b, "%gus", v / 1e3);
    else std::snprintf(b, sizeof b, "%lluns", static_cast<unsigned long long>(ns));
    return b;
}

// Shortest round-trip decimal of a double ("0.25", "4", "1e-05").
inline std::string format_num(double v) {
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (std::isnan(v)) return "nan";
    char b[40];
    for (int prec = 6; prec <= 17; ++prec) {
        std::snprintf(b, sizeof b, "%.*g", prec, v);
        if (std::strtod(b, nullptr) == v) break;
    }
    return b;
}

// A number as written in conditions and parameters: plain, "inf", or with a
// unit: ns us ms s (→ ns), K M G T (→ ×1e3 …), optional "bps"/"b" suffix.
inline std::optional<double> parse_num(const std::string& text) {
    const std::string t = trim(text);
    if (t.empty()) return std::nullopt;
    if (t == "inf" || t == "+inf" || t == "infinite") return HUGE_VAL;
    if (t == "-inf") return -HUGE_VAL;
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (end == t.c_str()) return std::nullopt;
    std::string suf(end);
    for (auto& c : suf) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (suf.empty()) return v;
    if (suf == "ns") return v;
    if (suf == "us") return v * 1e3;
    if (suf == "ms") return v * 1e6;
    if (suf == "s") return v * 1e9;
    if (suf.size() > 3 && suf.substr(suf.size() - 3) == "bps") suf.resize(suf.size() - 3);
    else if (suf.size() > 1 && suf.back() == 'b') suf.pop_back();
    if (suf == "k") return v * 1e3;
    if (suf == "m") return v * 1e6;
    if (suf == "g") return v * 1e9;
    if (suf == "t") return v * 1e12;
    return std::nullopt;
}

// FNV-1a 64.
inline std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

inline std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

inline std::string did_you_mean(const std::string& name, const std::vector<std::string>& known) {
    std::string best;
    std::size_t bd = 3;
    for (const auto& k : known) {
        const auto d = edit_distance(name, k);
        if (d < bd) {
            bd = d;
            best = k;
        }
    }
    return best.empty() ? std::string() : " — did you mean '" + best + "'?";
}

// ---------------------------------------------------------------- origins

// Where a value came from: "scenarios/e1.ini:12 [sweep] flowlet-gap".
struct Origin {
    std::string file;   // scenario file, or "command line"
    int line = 0;       // 0 on the command line
    std::string section;
    std::string key;
    std::string str() const {
        std::string s = file;
        if (line > 0) s += ":" + std::to_string(line);
        s += ": ";
        if (!section.empty()) s += "[" + section + "] ";
        return s + key;
    }
};

[[noreturn]] inline void fail_at(const Origin& at, const std::string& what) { throw UsageError(at.str() + ": " + what); }

// ---------------------------------------------------------------- INI

struct IniEntry {
    std::string section; // "" before the first section
    std::string key;
    std::string value;
    Origin at;
};

// Boost.Program_options config-file syntax, kept with line numbers (Boost's
// own parser is run afterwards too, so anything it rejects is rejected here).
inline std::vector<IniEntry> read_ini(const std::string& path) {
    check_input_file("scenario", path);
    std::ifstream in(path);
    if (!in) throw UsageError("scenario: " + opt::quote(path) + " cannot be read");
    std::vector<IniEntry> out;
    std::string line, prefix;
    int no = 0;
    while (std::getline(in, line)) {
        ++no;
        if (const auto h = line.find('#'); h != std::string::npos) line.resize(h);
        line = trim(line);
        if (line.empty()) continue;
        if (line.front() == '[' && line.back() == ']') {
            prefix = trim(line.substr(1, line.size() - 2));
            if (!prefix.empty() && prefix.back() == '.') prefix.pop_back();
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string::npos)
            throw UsageError(path + ":" + std::to_string(no) + ": " + opt::quote(line) +
                             " is not `key = value` or `[section]` (allowed: INI lines, # comments)");
        if (!opt::is_utf8(line)) throw UsageError(path + ":" + std::to_string(no) + ": not valid UTF-8 (allowed: UTF-8 text)");
        // Boost joins the section and key with '.': "sweep.mode" at top level
        // is the same key as `mode` under [sweep]. Keys never contain '.'.
        const std::string full = (prefix.empty() ? "" : prefix + ".") + trim(line.substr(0, eq));
        IniEntry e;
        const auto dot = full.rfind('.');
        e.section = dot == std::string::npos ? "" : full.substr(0, dot);
        e.key = dot == std::string::npos ? full : full.substr(dot + 1);
        e.value = trim(line.substr(eq + 1));
        e.at = {path, no, e.section, e.key};
        if (e.key.empty()) throw UsageError(path + ":" + std::to_string(no) + ": empty key");
        out.push_back(std::move(e));
    }
    in.clear();
    in.seekg(0);
    try {
        po::options_description none;
        (void)po::parse_config_file(in, none, true);
    } catch (const po::error& e) {
        throw UsageError(path + ": " + e.what());
    }
    return out;
}

// ---------------------------------------------------------------- conditions

struct Cond {
    std::string field, op, value;
};

inline std::vector<Cond> parse_conds(const std::string& text, const Origin& at) {
    std::vector<Cond> out;
    const std::string t = trim(text);
    if (t.empty()) return out;
    for (auto part : split_on(t, " and ")) {
        part = trim(part);
        const auto p = part.find_first_of("<>=!");
        if (p == std::string::npos || p == 0)
            fail_at(at, "'" + part + "' is not a condition `field OP value` (OP: = != < <= > >=; join with ' and ')");
        std::string op = part.substr(p, 1);
        if (p + 1 < part.size() && part[p + 1] == '=') op += "=";
        if (op == "!") fail_at(at, "'" + part + "': '!' must be '!='");
        Cond c{trim(part.substr(0, p)), op, trim(part.substr(p + op.size()))};
        if (c.field.empty() || c.value.empty()) fail_at(at, "'" + part + "' is not a condition `field OP value`");
        out.push_back(std::move(c));
    }
    return out;
}

// `lookup(name)` returns the field's text ("" or nullopt when absent / not applicable).
template <class Lookup>
bool cond_holds(const Cond& c, const Lookup& lookup) {
    const std::optional<std::string> have = lookup(c.field);
    if (!have || have->empty()) return c.op == "!=";
    const auto a = parse_num(*have), b = parse_num(c.value);
    if (a && b) {
        if (c.op == "=") return *a == *b;
        if (c.op == "!=") return *a != *b;
        if (c.op == "<") return *a < *b;
        if (c.op == "<=") return *a <= *b;
        if (c.op == ">") return *a > *b;
        return *a >= *b;
    }
    if (c.op == "=") return *have == c.value;
    if (c.op == "!=") return *have != c.value;
    return false;
}

template <class Lookup>
bool conds_hold(const std::vector<Cond>& cs, const Lookup& lookup) {
    for (const auto& c : cs)
        if (!cond_holds(c, lookup)) return false;
    return true;
}

// ---------------------------------------------------------------- scenario

struct Value {
    std::string text;
    Origin at;
};

enum class ParamKind { option, members, skew, profile };

struct SweepParam {
    std::string name;
    ParamKind kind = ParamKind::option;
    std::vector<Value> values;
    Origin at;
};

struct Section {  // plot / table / check: key → value, in file order
    std::string name;
    Origin at;
    std::vector<std::pair<std::string, Value>> kv;
    const Value* get(const std::string& k) const {
        for (const auto& [key, v] : kv)
            if (key == k) return &v;
        return nullptr;
    }
};

struct Scenario {
    std::string file;
    std::string name, title, source;
    std::vector<std::string> published, description;
    std::map<std::string, std::vector<Value>> base; // run options
    std::vector<SweepParam> sweep;                  // file order; the seed sweep is added last
    std::map<std::string, std::vector<std::pair<std::string, Value>>> profiles; // "P=V" → options
    std::vector<std::pair<std::vector<Cond>, Origin>> skips;
    std::vector<std::string> metrics;
    std::optional<Value> repetitions, seeds, run_timeout;
    std::vector<Section> plots, tables, checks;
    std::string command = "run";                    // the child: `flowteam run` or `flowteam migrate`
    Origin command_at;
};

// ---------------------------------------------------------------- commands
//
// Each run is a child `flowteam <command>`: `run` (the default) or `migrate`
// (`[scenario] command = migrate`). The options a scenario may set are the
// command's own: `run`'s from add_engine_options; `migrate`'s are read from
// `flowteam migrate --help` of this very binary (so options added to migrate
// are accepted without a change here). Switch options (no value, e.g.
// no-measure, auto-converge) take true/false in a scenario.

struct CommandInfo {
    std::string name;
    std::vector<std::string> options;          // long names, in help order
    std::set<std::string> switches;            // options without a value
    std::set<std::string> engine;              // of those, `flowteam run` options (validated by engine_options_from)
    bool has(const std::string& n) const { return std::find(options.begin(), options.end(), n) != options.end(); }
};

inline std::string& current_command() {
    static std::string c = "run";
    return c;
}
inline const std::vector<std::string>& known_commands() {
    static const std::vector<std::string> k = {"run", "migrate"};
    return k;
}

// Long option names and switches from a Boost.Program_options help text:
// lines "  --name arg (=x)   text", "  --name FILE   text", "  --name    text".
inline void parse_help_options(const std::string& help, CommandInfo& ci) {
    std::istringstream in(help);
    for (std::string line; std::getline(in, line);) {
        std::size_t p = line.find_first_not_of(' ');
        if (p == std::string::npos || p < 2 || line.compare(p, 2, "--") != 0) continue;
        p += 2;
        std::size_t e = p;
        while (e < line.size() && (std::isalnum(static_cast<unsigned char>(line[e])) != 0 || line[e] == '-')) ++e;
        if (e == p) continue;
        const std::string name = line.substr(p, e - p);
        // A value follows after exactly one space ("arg", "FILE", "HEX"); a switch has
        // two or more spaces (the description column) or nothing after its name.
        const bool value = e + 1 < line.size() && line[e] == ' ' && line[e + 1] != ' ';
        if (!ci.has(name)) ci.options.push_back(name);
        if (!value) ci.switches.insert(name);
    }
}

inline const CommandInfo& command_info(const std::string& cmd) {
    static std::map<std::string, CommandInfo> cache;
    if (auto it = cache.find(cmd); it != cache.end()) return it->second;
    CommandInfo ci;
    ci.name = cmd;
    po::options_description d;
    add_engine_options(d, EngineRole::run);
    for (const auto& o : d.options()) {
        ci.options.push_back(o->long_name());
        ci.engine.insert(o->long_name());
        if (o->semantic()->max_tokens() == 0) ci.switches.insert(o->long_name());
    }
    if (cmd == "migrate") {
        std::string help;
        std::string q = self_executable();
        std::string quoted = "'";
        for (char c : q) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
        quoted += "'";
        if (FILE* f = ::popen((quoted + " migrate --help 2>/dev/null").c_str(), "r"); f != nullptr) {
            char b[4096];
            for (std::size_t k; (k = std::fread(b, 1, sizeof b, f)) > 0;) help.append(b, k);
            ::pclose(f);
        }
        const std::size_t before = ci.options.size();
        parse_help_options(help, ci);
        if (ci.options.size() == before)
            throw std::runtime_error("cannot read the options of `flowteam migrate` (" + q + " migrate --help)");
    } else if (cmd != "run") {
        throw UsageError("command '" + cmd + "' (allowed: run, migrate)");
    }
    return cache.emplace(cmd, std::move(ci)).first->second;
}

// Options of the scenario's command (the current one while a file is read).
inline const std::vector<std::string>& run_option_names() { return command_info(current_command()).options; }
inline bool is_run_option(const std::string& n) { return command_info(current_command()).has(n); }
inline bool is_switch_option(const std::string& n) { return command_info(current_command()).switches.count(n) != 0; }
// Set by `flowteam experiment` itself, or not a single run (migrate's
// --compare-compression starts children of its own).
inline bool is_reserved_option(const std::string& n) {
    return n == "json" || n == "config" || n == "quiet" || n == "help" || n == "compare-compression";
}
inline std::string command_words() { return "`flowteam " + current_command() + "`"; }

inline const std::vector<std::string>& scenario_keys() {
    static const std::vector<std::string> k = {"name",  "title",   "source",  "published",   "description", "duration",
                                               "repetitions", "seeds", "metrics", "skip", "run-timeout",
                                               "command"};
    return k;
}

inline std::string allowed_run_options() {
    std::vector<std::string> v;
    for (const auto& n : run_option_names())
        if (!is_reserved_option(n)) v.push_back(n);
    return join(v, ", ");
}

inline void add_base(Scenario& s, const std::string& key, const Value& v) {
    if (is_reserved_option(key)) fail_at(v.at, "'" + key + "' is set by `flowteam experiment` itself");
    if (!is_run_option(key))
        fail_at(v.at, "unknown " + command_words() + " option '" + key + "'" + did_you_mean(key, run_option_names()) +
                          " (allowed: " + allowed_run_options() + ")");
    auto& slot = s.base[key];
    if (!slot.empty() && key != "fail") {
        if (v.at.line == 0) slot.clear(); // command-line --set overrides the file
        else fail_at(v.at, "given twice (first at line " + std::to_string(slot.front().at.line) + ")");
    }
    slot.push_back(v);
}

inline void set_scenario_key(Scenario& s, const std::string& key, const Value& v) {
    if (key == "name") s.name = v.text;
    else if (key == "title") s.title = v.text;
    else if (key == "source") s.source = v.text;
    else if (key == "published") s.published.push_back(v.text);
    else if (key == "description") s.description.push_back(v.text);
    else if (key == "duration") {
        s.base.erase("duration");
        add_base(s, "duration", v);
    } else if (key == "repetitions") s.repetitions = v;
    else if (key == "seeds") s.seeds = v;
    else if (key == "run-timeout") s.run_timeout = v;
    else if (key == "command") {
        if (std::find(known_commands().begin(), known_commands().end(), v.text) == known_commands().end())
            fail_at(v.at, "command '" + v.text + "' (allowed: " + join(known_commands(), ", ") + ")");
        s.command = v.text;
        s.command_at = v.at;
        current_command() = v.text;
    }
    else if (key == "metrics") {
        s.metrics.clear();
        for (auto& m : split_on(v.text, ",")) {
            m = trim(m);
            if (!m.empty()) s.metrics.push_back(m);
        }
    } else if (key == "skip") s.skips.emplace_back(parse_conds(v.text, v.at), v.at);
    else
        fail_at(v.at, "unknown scenario key '" + key + "'" + did_you_mean(key, scenario_keys()) +
                          " (allowed: " + join(scenario_keys(), ", ") + ")");
}

inline std::vector<Value> split_values(const Value& v) {
    std::vector<Value> out;
    for (auto& t : split_on(v.text, ";")) {
        t = trim(t);
        if (t.empty()) fail_at(v.at, "empty value in '" + v.text + "' (values are separated by ';')");
        out.push_back({t, v.at});
    }
    return out;
}

inline void add_sweep(Scenario& s, const std::string& key, const Value& v, bool replace) {
    auto it = std::find_if(s.sweep.begin(), s.sweep.end(), [&](const SweepParam& p) { return p.name == key; });
    if (it == s.sweep.end()) {
        SweepParam p;
        p.name = key;
        p.at = v.at;
        s.sweep.push_back(p);
        it = s.sweep.end() - 1;
    } else if (replace) {
        it->values.clear();
        it->at = v.at;
    }
    for (auto& x : split_values(v)) it->values.push_back(x);
}

inline Scenario load_scenario(const std::string& path) {
    Scenario s;
    s.file = path;
    current_command() = "run";
    if (path.empty()) return s;
    const std::vector<IniEntry> entries = read_ini(path);
    // The command decides which options the rest of the file may set: read it first.
    for (const auto& e : entries)
        if ((e.section.empty() || e.section == "scenario") && e.key == "command") set_scenario_key(s, e.key, {e.value, e.at});
    for (const auto& e : entries) {
        if ((e.section.empty() || e.section == "scenario") && e.key == "command") continue;
        const Value v{e.value, e.at};
        const std::string& sec = e.section;
        if (sec.empty() || sec == "scenario") set_scenario_key(s, e.key, v);
        else if (sec == "run") add_base(s, e.key, v);
        else if (sec == "sweep") add_sweep(s, e.key, v, false);
        else if (sec.rfind("plot:", 0) == 0 || sec.rfind("table:", 0) == 0 || sec.rfind("check:", 0) == 0) {
            auto& list = sec[0] == 'p' ? s.plots : sec[0] == 't' ? s.tables : s.checks;
            const std::string nm = sec.substr(sec.find(':') + 1);
            auto it = std::find_if(list.begin(), list.end(), [&](const Section& x) { return x.name == nm; });
            if (it == list.end()) {
                list.push_back({nm, e.at, {}});
                it = list.end() - 1;
            }
            it->kv.emplace_back(e.key, v);
        } else if (sec.find('=') != std::string::npos) {
            if (is_reserved_option(e.key) || !is_run_option(e.key))
                fail_at(e.at, "a profile section sets " + command_words() + " options; '" + e.key + "' is not one" +
                                  did_you_mean(e.key, run_option_names()));
            s.profiles[sec].emplace_back(e.key, v);
        } else {
            fail_at(e.at, "unknown section [" + sec +
                              "] (allowed: scenario, run, sweep, plot:NAME, table:NAME, check:NAME, PARAM=VALUE)");
        }
    }
    return s;
}

// Applies `--set KEY=VALUE` and `--sweep KEY=V1;V2` (command line wins).
inline void apply_overrides(Scenario& s, const std::vector<std::string>& sets, const std::vector<std::string>& sweeps) {
    for (const auto& kv : sets) {   // the command first: it decides which options the others may set
        const auto eq = kv.find('=');
        if (eq != std::string::npos && (trim(kv.substr(0, eq)) == "command" || trim(kv.substr(0, eq)) == "scenario.command"))
            set_scenario_key(s, "command", {trim(kv.substr(eq + 1)), {"command line", 0, "", "--set command"}});
    }
    for (const auto& kv : sets) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw UsageError("--set: '" + kv + "' is not KEY=VALUE");
        std::string key = trim(kv.substr(0, eq));
        if (key == "command" || key == "scenario.command") continue;
        const Value v{trim(kv.substr(eq + 1)), {"command line", 0, "", "--set " + key}};
        if (key.rfind("run.", 0) == 0) add_base(s, key.substr(4), v);
        else if (key.rfind("scenario.", 0) == 0) set_scenario_key(s, key.substr(9), v);
        else if (is_run_option(key)) add_base(s, key, v);
        else set_scenario_key(s, key, v);
    }
    for (const auto& kv : sweeps) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw UsageError("--sweep: '" + kv + "' is not KEY=V1;V2;...");
        const std::string key = trim(kv.substr(0, eq));
        add_sweep(s, key, {trim(kv.substr(eq + 1)), {"command line", 0, "", "--sweep " + key}}, true);
    }
}

// Classifies swept keys, adds the seed sweep, checks what can be checked
// before expansion. Throws UsageError (one line, with file:line).
inline void finish_scenario(Scenario& s) {
    current_command() = s.command;
    // Options given before a `--set command=...` are checked against the final command.
    for (const auto& [k, vs] : s.base)
        if (!is_run_option(k))
            fail_at(vs.front().at, "unknown " + command_words() + " option '" + k + "'" + did_you_mean(k, run_option_names()));
    for (const auto& [sec, kv] : s.profiles)
        for (const auto& [k, v] : kv)
            if (!is_run_option(k))
                fail_at(v.at, "a profile section sets " + command_words() + " options; '" + k + "' is not one" +
                                  did_you_mean(k, run_option_names()));
    std::set<std::string> touched; // run options set by a sweep
    std::set<std::string> profile_params;
    for (auto& p : s.sweep) {
        if (p.values.empty()) fail_at(p.at, "no values");
        std::set<std::string> seen;
        for (const auto& v : p.values)
            if (!seen.insert(v.text).second) fail_at(v.at, "value '" + v.text + "' listed twice");
        std::vector<std::string> sets;
        if (p.name == "members") {
            p.kind = ParamKind::members;
            for (const auto& v : p.values) {
                const auto n = parse_num(v.text);
                if (!n || *n < 1 || *n > kMaxMembers || *n != std::floor(*n))
                    fail_at(v.at, "members '" + v.text + "' (allowed: 1.." + std::to_string(kMaxMembers) + ")");
            }
            sets = {"rates"};
        } else if (p.name == "skew") {
            p.kind = ParamKind::skew;
            for (const auto& v : p.values) {
                try {
                    if (parse_duration_ns("skew", v.text) == UINT64_MAX) throw UsageError("skew: 'inf' is not a skew");
                } catch (const UsageError& e) {
                    fail_at(v.at, e.what());
                }
            }
            sets = {"delays"};
            if (s.base.count("delays") != 0)
                fail_at(s.base["delays"].front().at, "'delays' cannot be set when 'skew' is swept (skew sets it)");
        } else if (is_run_option(p.name) && !is_reserved_option(p.name)) {
            p.kind = ParamKind::option;
            sets = {p.name};
        } else {
            bool any = false;
            for (const auto& [sec, kv] : s.profiles) any = any || sec.rfind(p.name + "=", 0) == 0;
            if (!any)
                fail_at(p.at, "unknown parameter '" + p.name + "'" + did_you_mean(p.name, run_option_names()) +
                                  " (allowed: a " + command_words() + " option (" + allowed_run_options() +
                                  "), members, skew, or a profile with a [" + p.name + "=VALUE] section per value)");
            p.kind = ParamKind::profile;
            profile_params.insert(p.name);
            for (const auto& v : p.values) {
                const auto it = s.profiles.find(p.name + "=" + v.text);
                if (it == s.profiles.end())
                    fail_at(v.at, "profile value '" + v.text + "' has no [" + p.name + "=" + v.text + "] section");
                for (const auto& [k, x] : it->second) sets.push_back(k);
            }
        }
        std::sort(sets.begin(), sets.end());
        sets.erase(std::unique(sets.begin(), sets.end()), sets.end());
        for (const auto& o : sets)
            if (!touched.insert(o).second)
                fail_at(p.at, "'" + p.name + "' sets '" + o + "', which another swept parameter sets too");
    }
    for (const auto& [sec, kv] : s.profiles) {
        const std::string pname = sec.substr(0, sec.find('='));
        if (profile_params.count(pname) == 0)
            fail_at(kv.front().second.at, "profile section [" + sec + "] but '" + pname + "' is not swept");
    }
    // Repetitions: a seed sweep, added last (it becomes the outermost loop).
    const bool seed_swept = std::any_of(s.sweep.begin(), s.sweep.end(), [](const SweepParam& p) { return p.name == "seed"; });
    if (s.repetitions && s.seeds) fail_at(s.seeds->at, "give either repetitions or seeds, not both");
    if ((s.repetitions || s.seeds) && seed_swept)
        fail_at((s.repetitions ? s.repetitions : s.seeds)->at, "'seed' is swept in [sweep] already");
    if (s.repetitions) {
        const auto n = parse_num(s.repetitions->text);
        if (!n || *n < 1 || *n > 1000 || *n != std::floor(*n))
            fail_at(s.repetitions->at, "repetitions '" + s.repetitions->text + "' (allowed: 1..1000)");
        std::uint64_t first = 1;
        if (auto it = s.base.find("seed"); it != s.base.end()) {
            try {
                first = opt::parse_uint("seed", it->second.front().text);
            } catch (const UsageError& e) {
                fail_at(it->second.front().at, e.what());
            }
            if (first > UINT64_MAX - static_cast<std::uint64_t>(*n) + 1)
                fail_at(it->second.front().at, "seed " + std::to_string(first) + " + repetitions " + s.repetitions->text +
                                                   " passes 2^64 - 1 (allowed: seed + repetitions - 1 <= 18446744073709551615)");
        }
        SweepParam p{"seed", ParamKind::option, {}, s.repetitions->at};
        for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(*n); ++i)
            p.values.push_back({std::to_string(first + i), s.repetitions->at});
        s.base.erase("seed");
        s.sweep.push_back(p);
    } else if (s.seeds) {
        SweepParam p{"seed", ParamKind::option, {}, s.seeds->at};
        for (auto& v : split_values(*s.seeds)) {
            for (auto& w : split_on(v.text, ",")) {
                w = trim(w);
                try {
                    (void)opt::parse_uint("seed", w);
                } catch (const UsageError& e) {
                    fail_at(v.at, e.what());
                }
                p.values.push_back({w, v.at});
            }
        }
        s.base.erase("seed");
        s.sweep.push_back(p);
    }
    if (s.name.empty()) {
        std::string stem = s.file.empty() ? "experiment" : s.file;
        if (const auto sl = stem.rfind('/'); sl != std::string::npos) stem = stem.substr(sl + 1);
        if (const auto d = stem.rfind('.'); d != std::string::npos) stem = stem.substr(0, d);
        s.name = stem;
    }
    if (s.metrics.empty()) s.metrics = {"goodput_gbps", "reordered_ratio", "reordered_ge3", "share_error", "lost"};
    for (const auto& sec : s.plots)
        for (const char* k : {"x", "y"})
            if (sec.get(k) == nullptr) fail_at(sec.at, std::string("plot '") + sec.name + "' needs '" + k + "'");
    for (const auto& sec : s.tables)
        for (const char* k : {"rows", "value"})
            if (sec.get(k) == nullptr) fail_at(sec.at, std::string("table '") + sec.name + "' needs '" + k + "'");
    for (const auto& sec : s.checks)
        for (const char* k : {"claim", "value", "expect"})
            if (sec.get(k) == nullptr) fail_at(sec.at, std::string("check '") + sec.name + "' needs '" + k + "'");
}

// ---------------------------------------------------------------- expansion

struct RunPlan {
    std::string id;
    std::size_t index = 0;                                      // position in the sweep
    std::vector<std::pair<std::string, std::string>> swept;    // name → value shown ("" = not used by this mode)
    std::vector<std::pair<std::string, std::string>> derived;  // members, skew_ns, flowlet_gap_ns, gap_over_skew
    std::vector<std::string> args;                              // after `flowteam run`, without --json/--quiet
    ojson options;                                              // every run option in effect (defaults included)
    std::uint64_t duration_ns = 0, drain_ns = 0;
    std::size_t duplicates = 0;                                 // other combinations that gave the same run
};

// Combinations one scenario may hold (each is validated and listed up front).
inline constexpr std::uint64_t kMaxCombinations = 100'000;

struct Expansion {
    std::vector<RunPlan> runs;
    std::size_t combinations = 0, skipped = 0, collapsed = 0;
};

namespace detail {

struct Opt {
    std::vector<std::string> values;
    Origin at;
};

inline std::string slug(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-') out += c;
        else if (c == '*') out += 'x';
        else if (!out.empty() && out.back() != '_') out += '_';
    }
    return out;
}

// "--name: ..." / "... option '--name' ..." → name.
inline std::string option_in_message(const std::string& msg) {
    for (std::size_t p = msg.find("--"); p != std::string::npos; p = msg.find("--", p + 2)) {
        std::size_t e = p + 2;
        while (e < msg.size() && (std::isalnum(static_cast<unsigned char>(msg[e])) != 0 || msg[e] == '-')) ++e;
        const std::string n = msg.substr(p + 2, e - p - 2);
        if (is_run_option(n)) return n;
    }
    return {};
}

} // namespace detail

// Builds every run. Validates each one exactly as `flowteam run` would parse it
// (engine_options_from), so a bad value fails here, before anything runs.
inline Expansion expand(const Scenario& s) {
    using detail::Opt;
    Expansion ex;
    // Loop order: seed outermost, then the sweep in file order.
    std::vector<const SweepParam*> order;
    for (const auto& p : s.sweep)
        if (p.name == "seed") order.push_back(&p);
    for (const auto& p : s.sweep)
        if (p.name != "seed") order.push_back(&p);
    std::vector<std::size_t> idx(order.size(), 0);
    std::map<std::string, std::size_t> by_id;
    // Every combination is validated and listed: refuse a grid that could only
    // grow without limit, before any of it is built.
    {
        std::uint64_t combos = 1;
        for (const auto* p : order) {
            if (__builtin_mul_overflow(combos, static_cast<std::uint64_t>(p->values.size()), &combos) ||
                combos > kMaxCombinations) {
                std::string sizes;
                for (const auto* q : order) sizes += (sizes.empty() ? "" : " x ") + std::to_string(q->values.size());
                fail_at(order.front()->at, "the sweep has " + sizes + " combinations, more than " +
                                               std::to_string(kMaxCombinations) +
                                               " (allowed: at most " + std::to_string(kMaxCombinations) +
                                               " combinations; split the scenario)");
            }
        }
    }

    for (bool more = true; more;) {
        ++ex.combinations;
        std::map<std::string, Opt> opts;
        for (const auto& [k, vs] : s.base) {
            Opt o;
            o.at = vs.front().at;
            for (const auto& v : vs) o.values.push_back(v.text);
            opts[k] = o;
        }
        std::optional<std::uint64_t> members, skew;
        Origin members_at, skew_at;
        std::vector<std::pair<std::string, std::string>> swept;
        for (std::size_t i = 0; i < order.size(); ++i) {
            const SweepParam& p = *order[i];
            const Value& v = p.values[idx[i]];
            swept.emplace_back(p.name, v.text);
            switch (p.kind) {
            case ParamKind::option: opts[p.name] = {{v.text}, v.at}; break;
            case ParamKind::members:
                members = static_cast<std::uint64_t>(*parse_num(v.text));
                members_at = v.at;
                break;
            case ParamKind::skew:
                skew = parse_duration_ns("skew", v.text);
                skew_at = v.at;
                break;
            case ParamKind::profile:
                for (const auto& [k, x] : s.profiles.at(p.name + "=" + v.text)) {
                    auto& o = opts[k];
                    if (o.at.section != x.at.section) o.values.clear(); // a profile replaces the base value
                    o.values.push_back(x.text);
                    o.at = x.at;
                }
                break;
            }
        }

        // members → rates
        // (without `rates`, members replicate the engine's default member rate)
        std::vector<std::string> rates =
            split_on(opts.count("rates") ? opts["rates"].values.front() : members ? "10G" : "10G,10G", ",");
        if (members) {
            if (rates.size() == 1) rates.assign(*members, rates.front());
            else if (rates.size() != *members)
                fail_at(opts["rates"].at, "members = " + std::to_string(*members) + " but rates lists " +
                                               std::to_string(rates.size()) + " rates (give one rate to replicate, or one per member)");
            opts["rates"] = {{join(rates, ",")}, members_at};
        }
        const std::size_t n = rates.size();
        // skew → delays
        if (skew) {
            std::vector<std::string> d;
            for (std::size_t m = 0; m < n; ++m)
                d.push_back(format_ns(n == 1 ? 0 : static_cast<std::uint64_t>(std::llround(static_cast<double>(*skew) *
                                                                                                  static_cast<double>(m) /
                                                                                                  static_cast<double>(n - 1)))));
            opts["delays"] = {{join(d, ",")}, skew_at};
        }
        // K*skew
        for (auto& [k, o] : opts) {
            for (auto& val : o.values) {
                const auto star = val.find('*');
                if (star == std::string::npos) continue;
                const std::string rhs = trim(val.substr(star + 1));
                const auto factor = parse_num(trim(val.substr(0, star)));
                if (rhs != "skew" || !factor || *factor < 0)
                    fail_at(o.at, "'" + val + "' (write K*skew with a number K >= 0)");
                if (!skew) fail_at(o.at, "'" + val + "' needs 'skew' in [sweep]");
                if (*factor * static_cast<double>(*skew) > static_cast<double>(opt::kMaxDurationNs))
                    fail_at(o.at, opt::quote(val) + " is too long (allowed: K*skew up to " +
                                      opt::format_duration(opt::kMaxDurationNs) + ")");
                val = format_ns(static_cast<std::uint64_t>(std::llround(*factor * static_cast<double>(*skew))));
            }
        }
        // `flowteam migrate` without --mode is the main job (one run per mode): always name the mode.
        if (s.command == "migrate" && opts.count("mode") == 0) opts["mode"] = {{"hash"}, Origin{s.file, 0, "", "mode"}};
        // Parameters the mode does not use.
        const std::string mode = opts.count("mode") ? opts["mode"].values.front() : "hash";
        std::set<std::string> unused;
        if (mode != "dynamic") unused.insert({"flowlet-gap", "flowlet-timing", "policy"});
        if (mode != "flowcell") unused.insert("flowcell-bytes");
        for (const auto& u : unused) opts.erase(u);
        for (auto& [name, val] : swept) {
            if (unused.count(name) != 0) val.clear();
            else if (val.find('*') != std::string::npos && opts.count(name) != 0) val = opts[name].values.front();
        }
        // Run ids use the exact values; K*skew values are shown rounded (12.5us).
        const auto exact = swept;
        for (auto& [name, val] : swept)
            if (const auto ns = parse_num(val); ns && !std::isinf(*ns) && val.size() > 2 &&
                                                val.compare(val.size() - 2, 2, "ns") == 0 && *ns >= 1000)
                val = pretty_ns(static_cast<std::uint64_t>(*ns));

        // Derived parameters.
        std::vector<std::pair<std::string, std::string>> derived;
        if (!members) derived.emplace_back("members", std::to_string(n));
        std::optional<double> gap_ns;
        if (mode == "dynamic") {
            const std::string g = opts.count("flowlet-gap") ? opts["flowlet-gap"].values.front() : kFlowletGapDefault;
            try {
                if (g != "auto") {   // measured during the run: no gap/skew ratio up front
                    const auto ns = parse_duration_ns("--flowlet-gap", g, true);
                    gap_ns = ns == UINT64_MAX ? HUGE_VAL : static_cast<double>(ns);
                }
            } catch (const UsageError& e) {
                fail_at(opts.count("flowlet-gap") ? opts["flowlet-gap"].at : Origin{s.file, 0, "", "flowlet-gap"}, e.what());
            }
        }
        derived.emplace_back("skew_ns", skew ? std::to_string(*skew) : "");
        derived.emplace_back("flowlet_gap_ns", gap_ns ? format_num(*gap_ns) : "");
        derived.emplace_back("gap_over_skew",
                             gap_ns && skew && *skew > 0 ? format_num(*gap_ns / static_cast<double>(*skew)) : "");

        // Skip rules see swept and derived values.
        auto lookup = [&](const std::string& f) -> std::optional<std::string> {
            for (const auto& [k, v] : swept)
                if (k == f) return v;
            for (const auto& [k, v] : derived)
                if (k == f) return v;
            if (auto it = opts.find(f); it != opts.end()) return it->second.values.front();
            return std::nullopt;
        };
        bool skip = false;
        for (const auto& [cs, at] : s.skips) skip = skip || conds_hold(cs, lookup);

        if (skip) {
            ++ex.skipped;
        } else {
            std::vector<std::string> args;
            for (const auto& [k, o] : opts)
                for (const auto& v : o.values) {
                    if (is_switch_option(k)) {   // true: the bare flag; false: left out
                        std::string b = v;
                        for (auto& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                        if (b == "true" || b == "1" || b == "yes" || b == "on") args.push_back("--" + k);
                        else if (!(b == "false" || b == "0" || b == "no" || b == "off"))
                            fail_at(o.at, "'" + v + "' (a switch: allowed true or false)");
                        continue;
                    }
                    args.push_back("--" + k);
                    args.push_back(v);
                }
            std::string key = join(args, "\x1f");
            if (s.command != "run") key = s.command + "\x1f" + key;
            if (auto it = by_id.find(key); it != by_id.end()) {
                ++ex.collapsed;
                ++ex.runs[it->second].duplicates;
            } else {
                // Validate exactly as the child will parse it.
                po::options_description d;
                add_engine_options(d, EngineRole::run);
                // migrate's own options: syntax here, values below with migrate's definitions.
                const CommandInfo& ci = command_info(s.command);
                for (const auto& on : ci.options) {
                    if (ci.engine.count(on) != 0 || on == "help" || on == "config") continue;
                    if (ci.switches.count(on) != 0) d.add_options()(on.c_str(), po::bool_switch());
                    else d.add_options()(on.c_str(), po::value<std::string>());
                }
                po::variables_map vm;
                dataplane::EngineOptions eo;
                std::vector<std::string> full = args;
                full.push_back("--quiet");
                try {
                    po::store(po::command_line_parser(full).options(d).run(), vm);
                    po::notify(vm);
                    eo = engine_options_from(vm, EngineRole::run);
                    if (s.command == "migrate") {   // migrate's own values too, with their real definitions
                        po::options_description md;
                        add_engine_options(md, EngineRole::run);
                        add_migrate_options(md);
                        po::variables_map mvm;
                        po::store(po::command_line_parser(full).options(md).run(), mvm);
                        po::notify(mvm);
                        check_migrate_options(mvm, eo.mtu);
                    }
                } catch (const std::exception& e) {
                    const std::string oname = detail::option_in_message(e.what());
                    Origin at = oname.empty() || !opts.count(oname) ? Origin{s.file, 0, "", "run"} : opts[oname].at;
                    std::string combo;
                    for (const auto& [k, v] : swept) combo += (combo.empty() ? "" : " ") + k + "=" + v;
                    fail_at(at, std::string(e.what()) + (combo.empty() ? "" : " (in the run " + combo + ")"));
                }
                RunPlan r;
                r.index = ex.runs.size();
                r.swept = swept;
                r.derived = derived;
                r.args = args;
                const ojson pj = ojson::parse(parameters_json(vm, eo).dump());
                r.options = pj.contains("options") ? pj["options"] : ojson::object();
                r.options.erase("quiet");
                for (const auto& u : unused) r.options[u] = nullptr;
                r.duration_ns = eo.duration_ns;
                if (s.command == "migrate") {   // migrate runs until done, at most --timeout (90 s by default)
                    const std::string to = opts.count("timeout") ? opts["timeout"].values.front() : "90s";
                    try {
                        r.duration_ns = parse_duration_ns("--timeout", to);
                    } catch (const UsageError& e) {
                        fail_at(opts["timeout"].at, e.what());
                    }
                }
                r.drain_ns = eo.drain_timeout_ns;
                std::string sl;
                for (const auto& [k, v] : exact)
                    if (!v.empty()) sl += (sl.empty() ? "" : "_") + detail::slug(v);
                if (sl.size() > 64) sl.resize(64);
                char h[20];
                std::snprintf(h, sizeof h, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
                r.id = (sl.empty() ? std::string("run") : sl) + "-" + std::string(h, 10);
                by_id[key] = ex.runs.size();
                ex.runs.push_back(std::move(r));
            }
        }
        // Next combination (the last loop varies fastest).
        more = false;
        for (std::size_t i = order.size(); i-- > 0;) {
            if (++idx[i] < order[i]->values.size()) {
                more = true;
                break;
            }
            idx[i] = 0;
        }
    }
    return ex;
}

} // namespace flowteam::apps::experiment
