// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/eal.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <sched.h>
#include <sys/mman.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>

namespace flowteam::dataplane {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_eal_alive{false};

constexpr std::string_view kPrefixStem = "flowteam-";

bool has_arg(const std::vector<std::string>& args, std::string_view name) {
    for (const auto& a : args) {
        if (a == name) return true;
        if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=')
            return true;
    }
    return false;
}

// Value of `--name=value` or `--name value`; empty when absent.
std::string arg_value(const std::vector<std::string>& args, std::string_view name) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == name && i + 1 < args.size()) return args[i + 1];
        if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=')
            return a.substr(name.size() + 1);
    }
    return {};
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += ' ';
        out += s;
    }
    return out;
}

std::uint64_t read_u64(const fs::path& p) {
    std::ifstream in(p);
    std::uint64_t v = 0;
    in >> v;
    return in ? v : 0;
}

// Where EAL puts /<prefix>/ (eal_get_runtime_dir's base in 22.11).
fs::path runtime_base() {
    if (getuid() == 0) return "/var/run/dpdk";
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0')
        return fs::path(xdg) / "dpdk";
    return "/tmp/dpdk";
}

// Removes the plain entries of one runtime directory (config, fbarray_*,
// mp_socket*, dpdk_telemetry.*), then the directory. Never recursive.
void remove_runtime_dir(const fs::path& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        std::error_code ec2;
        if (!e.is_directory(ec2)) fs::remove(e.path(), ec2);
    }
    fs::remove(dir, ec);
}

// Testbed runs that died without clean-up leave /var/run/dpdk/flowteam-<pid>.
// Remove those whose process is gone.
void sweep_stale_runtime_dirs() {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(runtime_base(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() <= kPrefixStem.size() || name.compare(0, kPrefixStem.size(), kPrefixStem) != 0)
            continue;
        long pid = 0;
        const char* first = name.data() + kPrefixStem.size();
        const char* last = name.data() + name.size();
        auto [ptr, err] = std::from_chars(first, last, pid);
        if (err != std::errc() || ptr != last || pid <= 0) continue;
        if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
        remove_runtime_dir(e.path());
    }
}

} // namespace

SplitArgs split_command_line(int argc, const char* const* argv) {
    SplitArgs out;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i] != nullptr ? argv[i] : "";
        if (!out.has_separator && a == "--") {
            out.has_separator = true;
            continue;
        }
        (out.has_separator ? out.eal : out.app).push_back(std::move(a));
    }
    return out;
}

std::vector<unsigned> allowed_cpus() {
    std::vector<unsigned> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        cpus.push_back(0);
        return cpus;
    }
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

std::vector<std::string> build_eal_args(const EalOptions& opts, long pid) {
    if (!opts.user_args.empty()) return opts.user_args;

    std::vector<std::string> args;
    args.emplace_back("--no-huge");
    args.emplace_back("--no-pci");
    args.push_back("--file-prefix=" +
                   (opts.file_prefix.empty() ? std::string(kPrefixStem) + std::to_string(pid) : opts.file_prefix));
    args.emplace_back("-m");
    args.push_back(std::to_string(opts.memory_mb));
    std::string lcores = opts.lcores;
    if (lcores.empty()) {
        const auto cpus = allowed_cpus();
        lcores = std::to_string(cpus[0]);
        if (cpus.size() > 1) lcores += "," + std::to_string(cpus[1]);
    }
    args.emplace_back("-l");
    args.push_back(lcores);
    if (!opts.log_level.empty()) args.push_back("--log-level=" + opts.log_level);
    // 22.11's telemetry library says "No legacy callbacks, legacy socket not
    // created" at warning level on every start: keep the default quiet.
    if (opts.log_level == "warning") args.emplace_back("--log-level=lib.telemetry:error");
    if (!opts.telemetry) args.emplace_back("--no-telemetry");
    for (const auto& v : opts.vdevs) args.push_back("--vdev=" + v);
    return args;
}

HugepageStatus probe_hugepages(const std::string& sysfs_dir, const std::string& mounts_file) {
    HugepageStatus st;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(sysfs_dir, ec)) {
        // hugepages-<size>kB
        const std::string name = e.path().filename().string();
        constexpr std::string_view stem = "hugepages-";
        if (name.compare(0, stem.size(), stem) != 0) continue;
        std::uint64_t kb = 0;
        auto [ptr, err] = std::from_chars(name.data() + stem.size(), name.data() + name.size(), kb);
        if (err != std::errc() || std::string_view(ptr) != "kB") continue;
        st.free_bytes += read_u64(e.path() / "free_hugepages") * kb * 1024u;
        st.total_bytes += read_u64(e.path() / "nr_hugepages") * kb * 1024u;
    }
    std::ifstream mounts(mounts_file);
    std::string line;
    while (std::getline(mounts, line)) {
        std::istringstream ls(line);
        std::string dev, dir, type;
        ls >> dev >> dir >> type;
        if (type == "hugetlbfs") st.hugetlbfs_mounted = true;
    }
    return st;
}

std::string hugepage_problem(const std::vector<std::string>& eal_args, const HugepageStatus& hp) {
    if (has_arg(eal_args, "--no-huge")) return {};
    if (hp.free_bytes == 0) {
        return "no free hugepages (" + std::to_string(hp.total_bytes >> 20) +
               " MiB reserved, 0 free) and --no-huge was not given: reserve some with "
               "`dpdk-hugepages.py --setup 2G` (as root), or add --no-huge to the EAL arguments after `--`";
    }
    if (!hp.hugetlbfs_mounted && !has_arg(eal_args, "--in-memory")) {
        return "hugepages are reserved but no hugetlbfs is mounted: mount one with "
               "`dpdk-hugepages.py --mount` (as root), or add --in-memory or --no-huge to the EAL arguments after `--`";
    }
    return {};
}

namespace {

// fds 1 and 2 into a memory file while alive; finish() restores them and
// returns what was written.
class CapturedOutput {
public:
    CapturedOutput() {
        std::fflush(stdout);
        std::fflush(stderr);
        fd_ = ::memfd_create("flowteam-eal-init", MFD_CLOEXEC);
        if (fd_ < 0) return;
        out_ = ::dup(1);
        err_ = ::dup(2);
        if (out_ < 0 || err_ < 0 || ::dup2(fd_, 1) < 0 || ::dup2(fd_, 2) < 0) restore();
    }
    ~CapturedOutput() { (void)finish(); }
    CapturedOutput(const CapturedOutput&) = delete;
    CapturedOutput& operator=(const CapturedOutput&) = delete;

    std::string finish() {
        if (fd_ < 0) return {};
        std::fflush(stdout);
        std::fflush(stderr);
        restore();
        std::string text;
        if (::lseek(fd_, 0, SEEK_SET) == 0) {
            char b[4096];
            for (ssize_t n; (n = ::read(fd_, b, sizeof b)) > 0;) text.append(b, static_cast<std::size_t>(n));
        }
        ::close(fd_);
        fd_ = -1;
        return text;
    }

private:
    void restore() {
        if (out_ >= 0) {
            ::dup2(out_, 1);
            ::close(out_);
            out_ = -1;
        }
        if (err_ >= 0) {
            ::dup2(err_, 2);
            ::close(err_);
            err_ = -1;
        }
    }
    int fd_ = -1, out_ = -1, err_ = -1;
};

// The lines of a failed init that say what went wrong: not the start-up
// notes ("EAL: Detected ..."), not the usage text.
std::string summarise_eal_output(const std::string& text) {
    std::istringstream in(text);
    std::string out;
    int kept = 0;
    for (std::string line; std::getline(in, line) && kept < 2;) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty()) continue;
        if (line.rfind("Usage:", 0) == 0) break;
        if (line.find("EAL: Detected") != std::string::npos || line.find("EAL: Selected IOVA") != std::string::npos ||
            line.find("FATAL: Invalid 'command line' arguments") != std::string::npos)
            continue;
        std::string clean;
        for (unsigned char c : line) clean += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
        if (clean.size() > 200) clean = clean.substr(0, 200) + "...";
        out += (out.empty() ? "" : "; ") + clean;
        ++kept;
    }
    return out;
}

struct EalOpt {
    const char* name;
    int arg;   // 0 none, 1 required, 2 optional (only as --name=value)
};
// lib/eal/common/eal_common_options.c (22.11): eal_long_options, eal_short_options.
constexpr EalOpt kEalLong[] = {
    {"allow", 1}, {"base-virtaddr", 1}, {"block", 1}, {"create-uio-dev", 0}, {"file-prefix", 1},
    {"force-max-simd-bitwidth", 1}, {"help", 0}, {"huge-dir", 1}, {"huge-unlink", 2}, {"huge-worker-stack", 2},
    {"in-memory", 0}, {"iova-mode", 1}, {"lcores", 1}, {"legacy-mem", 0}, {"log-level", 1}, {"main-lcore", 1},
    {"match-allocations", 0}, {"mbuf-pool-ops-name", 1}, {"no-hpet", 0}, {"no-huge", 0}, {"no-pci", 0},
    {"no-shconf", 0}, {"no-telemetry", 0}, {"proc-type", 1}, {"single-file-segments", 0}, {"socket-limit", 1},
    {"socket-mem", 1}, {"syslog", 2}, {"telemetry", 0}, {"trace", 1}, {"trace-bufsz", 1}, {"trace-dir", 1},
    {"trace-mode", 1}, {"vdev", 1}, {"vfio-intr", 1}, {"vfio-vf-token", 1}, {"vmware-tsc-map", 0},
};
constexpr std::string_view kEalShortWithArg = "abcdlSmnrs";
constexpr std::string_view kEalShortNoArg = "hv";

std::string shown(const std::string& a) {
    std::string o;
    for (unsigned char c : a) {
        if (o.size() >= 48) return "'" + o + "...'";
        o += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
    }
    return "'" + o + "'";
}

} // namespace

std::string eal_args_problem(const std::vector<std::string>& a) {
    const std::string allowed = " (allowed: the EAL options of DPDK 22.11, e.g. -l 0-3, -a 0000:3b:00.0, --no-huge)";
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string& x = a[i];
        if (x == "--") return {};
        if (x.size() < 2 || x[0] != '-') return "EAL argument " + shown(x) + " is not an option" + allowed;
        if (x[1] == '-') {
            const auto eq = x.find('=');
            const std::string name = x.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            const EalOpt* hit = nullptr;
            int prefix_hits = 0;
            for (const auto& o : kEalLong) {
                if (name == o.name) {
                    hit = &o;
                    prefix_hits = 1;
                    break;
                }
                if (!name.empty() && std::string_view(o.name).substr(0, name.size()) == name) {
                    hit = &o;
                    ++prefix_hits;
                }
            }
            if (hit == nullptr) return "unknown EAL option " + shown(x) + allowed;
            if (prefix_hits > 1) return "ambiguous EAL option " + shown(x) + allowed;
            if (hit->arg == 0 && eq != std::string::npos)
                return "EAL option --" + std::string(hit->name) + " takes no value" + allowed;
            if (hit->arg == 1 && eq == std::string::npos) {
                if (i + 1 >= a.size()) return "EAL option --" + std::string(hit->name) + " needs a value" + allowed;
                ++i;
            }
            continue;
        }
        for (std::size_t k = 1; k < x.size(); ++k) {   // -hv, -l0-3, -l 0-3
            const char c = x[k];
            if (kEalShortWithArg.find(c) != std::string_view::npos) {
                if (k + 1 == x.size()) {
                    if (i + 1 >= a.size()) return "EAL option -" + std::string(1, c) + " needs a value" + allowed;
                    ++i;
                }
                break;
            }
            if (kEalShortNoArg.find(c) == std::string_view::npos)
                return "unknown EAL option " + shown(x) + allowed;
        }
    }
    return {};
}

bool Eal::initialised() { return g_eal_alive.load(std::memory_order_acquire); }

Eal::Eal(const EalOptions& opts) {
    bool expected = false;
    if (!g_eal_alive.compare_exchange_strong(expected, true))
        throw std::logic_error("EAL is already initialised in this process (one flowteam::dataplane::Eal at a time)");

    const long pid = static_cast<long>(getpid());
    const std::vector<std::string> args = build_eal_args(opts, pid);
    info_.testbed = opts.user_args.empty();
    info_.file_prefix = arg_value(args, "--file-prefix");
    remove_runtime_dir_ = info_.testbed && opts.file_prefix.empty();
    if (info_.testbed) sweep_stale_runtime_dirs();

    const std::string hp_problem = hugepage_problem(args, probe_hugepages());

    info_.argv.reserve(args.size() + 1);
    info_.argv.push_back(opts.program.empty() ? std::string("flowteam") : opts.program);
    info_.argv.insert(info_.argv.end(), args.begin(), args.end());

    // rte_eal_init permutes argv: hand it private copies.
    std::vector<std::unique_ptr<char[]>> storage;
    std::vector<char*> argv;
    for (const auto& a : info_.argv) {
        storage.push_back(std::make_unique<char[]>(a.size() + 1));
        std::memcpy(storage.back().get(), a.c_str(), a.size() + 1);
        argv.push_back(storage.back().get());
    }
    argv.push_back(nullptr);

    // EAL answers a bad argument with its whole usage (~100 lines on stdout):
    // keep what it prints during init, pass it on when init succeeds, and
    // summarise it in one line when it fails.
    CapturedOutput captured;
    const int rc = rte_eal_init(static_cast<int>(info_.argv.size()), argv.data());
    const int init_errno = rte_errno;
    const std::string eal_said = captured.finish();
    if (rc >= 0) {
        if (!eal_said.empty()) (void)!::write(2, eal_said.data(), eal_said.size());
    } else {
        const int err = init_errno;
        const std::string why = summarise_eal_output(eal_said);
        if (remove_runtime_dir_ && !info_.file_prefix.empty())
            remove_runtime_dir(runtime_base() / info_.file_prefix);
        g_eal_alive.store(false, std::memory_order_release);
        if (!hp_problem.empty() && err != EALREADY)
            throw EalError("EAL initialisation failed: " + hp_problem);
        throw EalError("EAL initialisation failed: " + (why.empty() ? std::string() : why + ": ") +
                       std::string(rte_strerror(err)) + " (EAL arguments: " +
                       join(args) + "); check the EAL arguments after `--` (add --log-level=debug for details)" +
                       (err == EALREADY ? "; EAL was already initialised in this process" : ""));
    }

    info_.runtime_dir = rte_eal_get_runtime_dir();
    info_.telemetry_socket = info_.runtime_dir + "/dpdk_telemetry.v2";
    info_.main_lcore = rte_get_main_lcore();
    info_.lcore_count = rte_lcore_count();
    unsigned lc = 0;
    RTE_LCORE_FOREACH_WORKER(lc) { info_.worker_lcores.push_back(lc); }
    info_.tsc_hz = rte_get_tsc_hz();
    info_.no_huge = rte_eal_has_hugepages() == 0;
}

Eal::~Eal() {
    rte_eal_cleanup();
    if (remove_runtime_dir_ && !info_.runtime_dir.empty() &&
        fs::path(info_.runtime_dir).filename() == info_.file_prefix)
        remove_runtime_dir(info_.runtime_dir);
    g_eal_alive.store(false, std::memory_order_release);
}

} // namespace flowteam::dataplane
