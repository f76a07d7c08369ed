// SPDX-License-Identifier: BSD-3-Clause
// `flowteam experiment`: run a scenario (a sweep of `flowteam run` or
// `flowteam migrate` options) and
// write a results directory:
//   DIR/runs/<id>.json       each run's `flowteam run --json` report (written
//                            only when the run finished normally: its presence
//                            means "done", so re-running the command resumes)
//   DIR/runs/<id>.out|.err   each run's stdout / stderr
//   DIR/runs/<id>.failed.json  a run that failed: exit status and stderr tail
//   DIR/results.jsonl        one record per run: every parameter and metric
//   DIR/results.csv          the same, flat
//   DIR/summary.md           published result, checks, key tables, plots, all runs
//   DIR/experiment.json      the scenario's plot specs and check results (read by
//                            scripts/plot_results.py)
//   DIR/plots/<name>.png     scripts/plot_results.py (python3-matplotlib)
// Every run is its own child process (EAL starts once per process).
// Scenario format: apps/experiment_scenario.h. Metrics: apps/experiment_results.h.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <climits>
#include <cstring>
#include <iostream>
#include <thread>

#include "apps/commands.h"
#include "apps/experiment_results.h"

extern char** environ;

namespace flowteam::apps {
namespace {

namespace fs = std::filesystem;
namespace ex = flowteam::apps::experiment;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_stop_signal(int s) { g_signal = s; }

std::string shell_quote(const std::string& s) {
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=@+%") ==
                          std::string::npos)
        return s;
    std::string o = "'";
    for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return o + "'";
}

std::string hms(double s) {
    const auto t = static_cast<long long>(s + 0.5);
    char b[32];
    if (t >= 3600) std::snprintf(b, sizeof b, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    else std::snprintf(b, sizeof b, "%lld:%02lld", t / 60, t % 60);
    return b;
}

std::string tail_lines(const std::string& path, std::size_t n) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) {
        lines.push_back(l);
        if (lines.size() > n) lines.erase(lines.begin());
    }
    return ex::join(lines, "\n");
}

std::optional<nlohmann::json> load_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        return nlohmann::json::parse(in);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// A run's report is complete when it parses, carries a report and the run was
// not cut short by a signal.
// `flowteam migrate --json` carries the engine's report under "engine" and the
// migration's under "total".
bool complete(const std::optional<nlohmann::json>& j) {
    if (!j || !j->is_object() || !j->contains("parameters")) return false;
    if (j->contains("report")) return !(*j)["report"].value("stopped_by_signal", false);
    return j->contains("total") && j->contains("engine") && (*j)["engine"].is_object() &&
           !(*j)["engine"].value("stopped_by_signal", false);
}

struct Spawned {
    int exit_code = -1;   // when exited
    int term_signal = 0;  // when killed
    bool timed_out = false;
    bool interrupted = false;
};

pid_t spawn(const std::string& exe, const std::vector<std::string>& args, const std::string& out,
            const std::string& err, bool search_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!out.empty()) posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!err.empty()) posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all;
    all.push_back(exe);
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = search_path ? posix_spawnp(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ)
                               : posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return pid;
}

// Waits for `pid`; on a stop signal passes SIGINT on, after `timeout` sends
// SIGTERM, and SIGKILL 10 s after either if it is still there.
Spawned wait_child(pid_t pid, double timeout_s) {
    Spawned r;
    const auto start = Clock::now();
    std::optional<Clock::time_point> asked;
    for (;;) {
        int status = 0;
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
            else if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
            return r;
        }
        if (w < 0 && errno != EINTR) return r;
        const auto now = Clock::now();
        if (!asked && g_signal != 0) {
            ::kill(pid, SIGINT);
            r.interrupted = true;
            asked = now;
        } else if (!asked && std::chrono::duration<double>(now - start).count() > timeout_s) {
            ::kill(pid, SIGTERM);
            r.timed_out = true;
            asked = now;
        } else if (asked && now - *asked > std::chrono::seconds(10)) {
            ::kill(pid, SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string find_script(const char* name) {
    std::vector<fs::path> dirs;
    if (const char* d = std::getenv("FLOWTEAM_SCRIPTS_DIR"); d != nullptr && *d != '\0') dirs.emplace_back(d);
    const fs::path ed = fs::path(self_executable()).parent_path();
    dirs.push_back(ed / "../../scripts");
    dirs.push_back(ed / "../scripts");
    dirs.emplace_back("scripts");
    dirs.emplace_back("/usr/share/flowteam/scripts");
    for (const auto& d : dirs) {
        const fs::path p = d / name;
        std::error_code ec;
        if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
    }
    return {};
}

// A scenario whose first section is [tcp] is the real-TCP scenario: it needs
// namespaces, tap interfaces and iperf3, which scripts/tcp_experiment.py
// drives (one `flowteam bridge` per mode).
bool is_tcp_scenario(const std::string& file) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        const auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos || line[b] == '#' || line[b] == ';') continue;
        return line.compare(b, 5, "[tcp]") == 0;
    }
    return false;
}

[[noreturn]] void exec_tcp_scenario(const std::string& file, const po::variables_map& vm) {
    const std::string script = find_script("tcp_experiment.py");
    if (script.empty())
        throw std::runtime_error("experiment: " + file + " is a tcp scenario but scripts/tcp_experiment.py was not found (set FLOWTEAM_SCRIPTS_DIR)");
    for (const char* o : {"sweep", "repetitions", "seeds", "duration", "run-timeout", "dry-run", "report-only", "no-plots"})
        if (vm.count(o) && !vm[o].defaulted())
            throw UsageError("--" + std::string(o) + ": not available for a tcp scenario (allowed: --out, --set KEY=VALUE)");
    std::vector<std::string> args{"python3", script, file, "--flowteam", self_executable()};
    if (vm.count("out")) { args.push_back("--out"); args.push_back(vm["out"].as<std::string>()); }
    if (vm.count("set"))
        for (const auto& kv : vm["set"].as<std::vector<std::string>>()) { args.push_back("--set"); args.push_back(kv); }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::cout.flush();
    ::execvp("python3", argv.data());
    throw std::runtime_error(std::string("experiment: cannot run python3: ") + std::strerror(errno));
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p.string() + ".tmp");
    out << text;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + p.string());
    fs::rename(p.string() + ".tmp", p);
}

std::string run_label(const ex::RunPlan& p) {
    std::string s;
    for (const auto& [k, v] : p.swept)
        if (!v.empty()) s += (s.empty() ? "" : " ") + k + "=" + v;
    return s.empty() ? p.id : s;
}

} // namespace

int cmd_experiment(int argc, char** argv) {
    po::options_description opts("experiment");
    opts.add_options()
        ("scenario", po::value<std::string>()->value_name("FILE"),
         "scenario file (INI; also the first positional argument). Format: apps/experiment_scenario.h, examples: scenarios/")
        ("out", po::value<std::string>()->value_name("DIR"),
         "results directory; running the same command again resumes (finished runs are kept)")
        ("set", po::value<std::vector<std::string>>()->composing()->value_name("KEY=VALUE"),
         "override a base `flowteam run` option or a scenario key, e.g. --set duration=500ms --set rates=1G (repeatable)")
        ("sweep", po::value<std::vector<std::string>>()->composing()->value_name("KEY=V1;V2"),
         "replace or add a swept parameter, e.g. --sweep 'mode=hash;dynamic' (repeatable)")
        ("repetitions", po::value<std::string>()->value_name("N"), "runs per combination (seeds seed..seed+N-1)")
        ("seeds", po::value<std::string>()->value_name("LIST"), "explicit seeds, e.g. '1;2;3'")
        ("duration", po::value<std::string>(), "traffic phase of every run (overrides the scenario)")
        ("run-timeout", po::value<std::string>(),
         "wall-clock limit of one run (default: 60s + 3 x (duration + drain)); a run over it is stopped and recorded failed")
        ("dry-run", po::bool_switch(), "list the runs (and their commands) and exit")
        ("report-only", po::bool_switch(), "run nothing: rewrite results, summary and plots from the finished runs")
        ("no-plots", po::bool_switch(), "do not call scripts/plot_results.py");
    po::positional_options_description pos;
    pos.add("scenario", 1);
    po::variables_map vm;
    const char* summary =
        "Run a scenario: the cross product of swept `flowteam run` options (mode, flowlet gap, skew, members,\n"
        "load, ...) or, with `command = migrate`, `flowteam migrate` options (compression, channels,\n"
        "simultaneous migrations, ...), with repetitions, each run its own child process, then write results.jsonl,\n"
        "results.csv, summary.md (published result, checks, tables) and PNG plots into --out DIR.\n"
        "Re-running the same command resumes an interrupted sweep. Exit status: 0 all runs ok, 1 a run\n"
        "failed, 2 a bad scenario or option, 130 interrupted.";
    if (!parse_command_line("experiment", summary, argc, argv, opts, vm, nullptr, &pos)) return 0;

    // ---- scenario
    const std::string file = vm.count("scenario") ? vm["scenario"].as<std::string>() : "";
    if (!file.empty()) check_input_file("scenario", file);
    if (!file.empty() && is_tcp_scenario(file)) exec_tcp_scenario(file, vm);
    ex::Scenario sc = ex::load_scenario(file);
    std::vector<std::string> sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
    const auto sweeps = vm.count("sweep") ? vm["sweep"].as<std::vector<std::string>>() : std::vector<std::string>{};
    if (vm.count("duration")) sets.push_back("duration=" + vm["duration"].as<std::string>());
    if (vm.count("run-timeout")) sets.push_back("run-timeout=" + vm["run-timeout"].as<std::string>());
    ex::apply_overrides(sc, sets, sweeps);
    if (vm.count("repetitions")) {
        sc.seeds.reset();
        sc.repetitions = ex::Value{vm["repetitions"].as<std::string>(), {"command line", 0, "", "--repetitions"}};
    }
    if (vm.count("seeds")) {
        sc.repetitions.reset();
        sc.seeds = ex::Value{vm["seeds"].as<std::string>(), {"command line", 0, "", "--seeds"}};
    }
    ex::finish_scenario(sc);
    ex::validate_outputs(sc);
    const ex::Expansion plan = ex::expand(sc);
    if (plan.runs.empty()) throw UsageError((file.empty() ? std::string("command line") : file) + ": every combination is skipped: nothing to run");

    std::vector<std::string> swept_names;
    for (const auto& [k, v] : plan.runs.front().swept) swept_names.push_back(k);
    std::vector<std::string> derived_names;
    for (const auto& [k, v] : plan.runs.front().derived) derived_names.push_back(k);
    // Options every run shares (for the summary).
    std::vector<std::string> base_args;
    {
        // "--name value" pairs, or a bare "--switch"
        auto groups = [](const std::vector<std::string>& a) {
            std::vector<std::pair<std::string, std::optional<std::string>>> g;
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (i + 1 < a.size() && a[i + 1].rfind("--", 0) != 0) {
                    g.emplace_back(a[i], a[i + 1]);
                    ++i;
                } else {
                    g.emplace_back(a[i], std::nullopt);
                }
            }
            return g;
        };
        std::vector<std::vector<std::pair<std::string, std::optional<std::string>>>> all_groups;
        for (const auto& r : plan.runs) all_groups.push_back(groups(r.args));
        for (const auto& g0 : all_groups.front()) {
            bool all = true;
            for (const auto& g : all_groups) all = all && std::find(g.begin(), g.end(), g0) != g.end();
            if (!all) continue;
            base_args.push_back(g0.first);
            if (g0.second) base_args.push_back(shell_quote(*g0.second));
        }
    }
    auto command_of = [&sc](const ex::RunPlan& p) {
        std::string c = "flowteam " + sc.command;
        for (const auto& a : p.args) c += " " + shell_quote(a);
        return c;
    };

    if (vm["dry-run"].as<bool>()) {
        std::cout << sc.name << ": " << plan.runs.size() << " runs (" << plan.combinations << " combinations, "
                  << plan.skipped << " skipped by rules, " << plan.collapsed << " collapsed)\n";
        for (const auto& r : plan.runs)
            std::cout << r.index + 1 << "\t" << r.id << "\t" << run_label(r) << "\n\t" << command_of(r) << "\n";
        return 0;
    }
    if (!vm.count("out")) throw UsageError("--out DIR is required (the results directory)");
    const fs::path out = vm["out"].as<std::string>();
    const fs::path runs_dir = out / "runs";
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_directory(out, ec))
        throw UsageError("--out: " + opt::quote(out.string()) + " is not a directory (allowed: a new or existing directory)");
    fs::create_directories(runs_dir, ec);
    if (ec || ::access(runs_dir.c_str(), W_OK) != 0)
        throw UsageError("--out: cannot create or write " + opt::quote(runs_dir.string()) + ": " +
                         (ec ? ec.message() : std::string("permission denied")) + " (allowed: a writable directory)");
    if (!file.empty()) fs::copy_file(file, out / "scenario.ini", fs::copy_options::overwrite_existing, ec);

    // ---- run
    double timeout_override = 0;
    if (sc.run_timeout) {
        try {
            timeout_override = static_cast<double>(parse_duration_ns("run-timeout", sc.run_timeout->text, true)) / 1e9;
        } catch (const UsageError& e) {
            ex::fail_at(sc.run_timeout->at, e.what());
        }
    }
    std::vector<bool> done(plan.runs.size(), false);
    for (std::size_t i = 0; i < plan.runs.size(); ++i)
        done[i] = complete(load_json((runs_dir / (plan.runs[i].id + ".json")).string()));
    const std::size_t already = static_cast<std::size_t>(std::count(done.begin(), done.end(), true));
    std::size_t executed = 0, failed_now = 0;
    bool interrupted = false;
    const bool report_only = vm["report-only"].as<bool>();
    std::cerr << "experiment " << sc.name << ": " << plan.runs.size() << " runs, " << already << " already done, "
              << (report_only ? 0 : plan.runs.size() - already) << " to run; results in " << out.string() << "\n";

    if (!report_only && already < plan.runs.size()) {
        struct sigaction sa {};
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        struct sigaction old_int {}, old_term {};
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        const std::string exe = self_executable();
        const auto t0 = Clock::now();
        double spent = 0;
        const std::size_t todo = plan.runs.size() - already;
        for (std::size_t i = 0; i < plan.runs.size() && g_signal == 0; ++i) {
            if (done[i]) continue;
            const auto& p = plan.runs[i];
            const std::string base = (runs_dir / p.id).string();
            const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
            const double per = executed ? spent / static_cast<double>(executed)
                                        : static_cast<double>(p.duration_ns) / 1e9 + 1.0;
            std::cerr << "[" << i + 1 << "/" << plan.runs.size() << "] " << hms(elapsed) << " elapsed, ~"
                      << hms(per * static_cast<double>(todo - executed)) << " left | " << run_label(p) << "\n";
            std::vector<std::string> args = {sc.command};
            args.insert(args.end(), p.args.begin(), p.args.end());
            for (const char* a : {"--quiet", "--json"}) args.emplace_back(a);
            args.push_back(base + ".json.part");
            fs::remove(base + ".json.part", ec);
            const auto r0 = Clock::now();
            const pid_t pid = spawn(exe, args, base + ".out", base + ".err", false);
            if (pid < 0) throw std::runtime_error("cannot start " + exe + ": " + std::strerror(errno));
            const double timeout = timeout_override > 0 ? timeout_override
                                                        : 60.0 + 3.0 * static_cast<double>(p.duration_ns + p.drain_ns) / 1e9;
            const Spawned st = wait_child(pid, timeout);
            const double wall = std::chrono::duration<double>(Clock::now() - r0).count();
            if (st.interrupted || (g_signal != 0 && st.exit_code != 0)) {
                fs::remove(base + ".json.part", ec); // cut short: not a result
                interrupted = true;
                break;
            }
            spent += wall;
            ++executed;
            auto j = load_json(base + ".json.part");
            if (st.exit_code == 0 && complete(j)) {
                (*j)["experiment"] = {{"id", p.id}, {"wall_s", wall}, {"command", command_of(p)}};
                write_text(base + ".json", j->dump(1) + "\n");
                fs::remove(base + ".json.part", ec);
                fs::remove(base + ".failed.json", ec);
            } else {
                ++failed_now;
                std::string why = st.timed_out ? "timed out after " + hms(timeout) + " (run-timeout)"
                                  : st.term_signal ? "killed by signal " + std::to_string(st.term_signal)
                                  : st.exit_code != 0 ? "exit status " + std::to_string(st.exit_code)
                                                      : "exit status 0 but no complete --json report";
                const std::string tail = tail_lines(base + ".err", 20);
                nlohmann::json f = {{"id", p.id}, {"reason", why}, {"stderr_tail", tail}, {"wall_s", wall},
                                    {"command", command_of(p)}};
                write_text(base + ".failed.json", f.dump(1) + "\n");
                fs::remove(base + ".json.part", ec);
                std::cerr << "  run failed: " << why << (tail.empty() ? "" : ": " + tail.substr(tail.rfind('\n') == std::string::npos ? 0 : tail.rfind('\n') + 1)) << "\n";
            }
        }
        if (g_signal != 0) interrupted = true;
        sigaction(SIGINT, &old_int, nullptr);
        sigaction(SIGTERM, &old_term, nullptr);
    }

    // ---- results
    ex::SummaryInput in;
    in.scenario = &sc;
    in.expansion = &plan;
    in.swept = swept_names;
    in.base_args = base_args;
    for (const auto& p : plan.runs) {
        const std::string base = (runs_dir / p.id).string();
        ex::Record r = ex::make_record(p);
        r.command = command_of(p);
        auto j = load_json(base + ".json");
        if (complete(j)) {
            r.status = "ok";
            try {
                r.metrics = ex::metrics_from(*j);
            } catch (const std::exception& e) {
                r.status = "failed";
                r.error = std::string("report not understood: ") + e.what();
            }
            if (j->contains("experiment")) r.wall_s = (*j)["experiment"].value("wall_s", 0.0);
            in.records.push_back(std::move(r));
        } else if (auto f = load_json(base + ".failed.json"); f && f->is_object()) {
            r.status = "failed";
            r.metrics = nullptr;
            r.error = f->value("reason", std::string("failed")) + ": " + f->value("stderr_tail", std::string());
            r.wall_s = f->value("wall_s", 0.0);
            in.records.push_back(std::move(r));
        } else {
            ++in.pending;
        }
    }
    std::size_t failed_total = 0;
    for (const auto& r : in.records) failed_total += r.status != "ok";
    ex::write_jsonl((out / "results.jsonl").string(), in.records);
    ex::write_csv((out / "results.csv").string(), in.records, swept_names, derived_names);

    std::vector<ex::CheckResult> checks;
    (void)ex::summary_markdown(in, checks); // evaluates the checks for experiment.json
    ex::ojson spec;
    spec["name"] = sc.name;
    spec["title"] = sc.title;
    spec["scenario"] = file;
    spec["swept"] = swept_names;
    spec["plots"] = ex::ojson::array();
    for (const auto& p : sc.plots) {
        ex::ojson pj;
        pj["name"] = p.name;
        for (const auto& [k, v] : p.kv) pj[k] = v.text;
        spec["plots"].push_back(pj);
    }
    spec["checks"] = ex::ojson::array();
    for (const auto& c : checks)
        spec["checks"].push_back({{"name", c.name},
                                  {"claim", c.claim},
                                  {"value", c.value_text},
                                  {"measured", c.lhs ? ex::ojson(*c.lhs) : ex::ojson(nullptr)},
                                  {"op", c.op},
                                  {"expect", c.expect_text},
                                  {"expected", c.rhs ? ex::ojson(*c.rhs) : ex::ojson(nullptr)},
                                  {"verdict", c.verdict}});
    write_text(out / "experiment.json", spec.dump(1) + "\n");

    // ---- plots
    bool plot_error = false;
    std::size_t n_plots = 0;
    if (!sc.plots.empty() && interrupted) {
        std::cerr << "experiment: plots skipped (interrupted)\n";
    } else if (!sc.plots.empty() && !vm["no-plots"].as<bool>()) {
        const std::string script = find_script("plot_results.py");
        if (script.empty()) {
            std::cerr << "experiment: plots skipped: scripts/plot_results.py not found (set FLOWTEAM_SCRIPTS_DIR)\n";
        } else {
            const pid_t pid = spawn("python3", {script, out.string()}, "", "", true);
            const Spawned st = pid < 0 ? Spawned{} : wait_child(pid, 600);
            if (pid < 0 || st.exit_code == 127)
                std::cerr << "experiment: plots skipped: python3 not found (install python3 and python3-matplotlib)\n";
            else if (st.exit_code == 3) { /* the script said matplotlib is missing, in one line */
            } else if (st.exit_code != 0) {
                std::cerr << "experiment: " << script << " failed (" << (st.term_signal ? "signal " + std::to_string(st.term_signal) : "exit status " + std::to_string(st.exit_code)) << ")\n";
                plot_error = true;
            }
        }
    }
    for (const auto& p : sc.plots) {
        const std::string rel = "plots/" + p.name + ".png";
        if (fs::exists(out / rel, ec)) {
            in.plot_files.push_back(rel);
            ++n_plots;
        }
    }
    write_text(out / "summary.md", ex::summary_markdown(in, checks));

    std::size_t holds = 0;
    for (const auto& c : checks) holds += c.verdict == "reproduced";
    std::cerr << "experiment " << sc.name << ": executed " << executed << " run(s) (" << failed_now << " failed), reused "
              << already << ", " << in.pending << " not run; " << failed_total << " failed in total";
    if (!checks.empty()) std::cerr << "; checks: " << holds << " of " << checks.size() << " hold";
    std::cerr << "\n  wrote " << (out / "results.jsonl").string() << ", results.csv, summary.md, " << n_plots << " plot(s)\n";
    if (interrupted) {
        std::cerr << "experiment: interrupted; finished runs are kept — run the same command again to resume\n";
        return 130;
    }
    return failed_total != 0 || plot_error ? kExitFailure : 0;
}

} // namespace flowteam::apps
