// SPDX-License-Identifier: BSD-3-Clause
#include "dataplane/telemetry.h"

#include <rte_telemetry.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace flowteam::dataplane {
namespace {

constexpr std::array<std::string_view, kTelemetryCommands> kPaths = {
    "/flowteam/members", "/flowteam/flowlets", "/flowteam/reorder", "/flowteam/config"};
constexpr std::array<const char*, kTelemetryCommands> kHelp = {
    "Team members: state and counters per member. Parameters: none",
    "Flowlet table: flowlet starts, member moves, active flowlets. Parameters: none",
    "Reordering measured at the receiver, per member and overall. Parameters: none",
    "Every run parameter (mode, members, delta, queues, lcores). Parameters: none"};
// One entry is kept for the "_truncated" marker.
constexpr std::size_t kMaxDictEntries = RTE_TEL_MAX_DICT_ENTRIES - 1;
constexpr std::size_t kMaxArrayEntries = RTE_TEL_MAX_ARRAY_ENTRIES;

std::mutex g_mutex;
std::array<TelemetryProvider, kTelemetryCommands> g_providers;
std::once_flag g_registered;

std::string clean_name(std::string_view in) {
    std::string s(in.substr(0, RTE_TEL_MAX_STRING_LEN - 1));
    for (char& c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '/'))
            c = '_';
    if (s.empty()) s.push_back('_');
    return s;
}

std::string clip(std::string_view s) { return std::string(s.substr(0, RTE_TEL_MAX_STRING_LEN - 1)); }

int add_scalar(rte_tel_data* d, const std::string& name, const TelemetryScalar& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) {
        if (*i >= INT_MIN && *i <= INT_MAX) return rte_tel_data_add_dict_int(d, name.c_str(), static_cast<int>(*i));
        if (*i >= 0) return rte_tel_data_add_dict_u64(d, name.c_str(), static_cast<std::uint64_t>(*i));
        return rte_tel_data_add_dict_string(d, name.c_str(), std::to_string(*i).c_str());
    }
    if (const auto* u = std::get_if<std::uint64_t>(&v)) return rte_tel_data_add_dict_u64(d, name.c_str(), *u);
    if (const auto* f = std::get_if<double>(&v)) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.6g", *f);
        return rte_tel_data_add_dict_string(d, name.c_str(), buf);
    }
    return rte_tel_data_add_dict_string(d, name.c_str(), clip(std::get<std::string>(v)).c_str());
}

// Fills d (already started as a dict).
void fill_dict(rte_tel_data* d, const TelemetryObject& o) {
    std::size_t entries = 0;
    bool truncated = false;
    auto room = [&] {
        if (entries < kMaxDictEntries) return true;
        truncated = true;
        return false;
    };
    for (const auto& [name, v] : o.fields) {
        if (!room()) break;
        if (add_scalar(d, clean_name(name), v) == 0) ++entries;
    }
    for (const auto& [name, arr] : o.u64_arrays) {
        if (!room()) break;
        rte_tel_data* c = rte_tel_data_alloc();
        if (c == nullptr) break;
        rte_tel_data_start_array(c, RTE_TEL_U64_VAL);
        for (std::size_t i = 0; i < arr.size() && i < kMaxArrayEntries; ++i) rte_tel_data_add_array_u64(c, arr[i]);
        if (rte_tel_data_add_dict_container(d, clean_name(name).c_str(), c, 0) == 0) ++entries;
        else rte_tel_data_free(c);
    }
    for (const auto& [name, arr] : o.string_arrays) {
        if (!room()) break;
        rte_tel_data* c = rte_tel_data_alloc();
        if (c == nullptr) break;
        rte_tel_data_start_array(c, RTE_TEL_STRING_VAL);
        for (std::size_t i = 0; i < arr.size() && i < kMaxArrayEntries; ++i)
            rte_tel_data_add_array_string(c, clip(arr[i]).c_str());
        if (rte_tel_data_add_dict_container(d, clean_name(name).c_str(), c, 0) == 0) ++entries;
        else rte_tel_data_free(c);
    }
    for (const auto& [name, child] : o.objects) {
        if (!room()) break;
        rte_tel_data* c = rte_tel_data_alloc();
        if (c == nullptr) break;
        rte_tel_data_start_dict(c);
        fill_dict(c, child);
        if (rte_tel_data_add_dict_container(d, clean_name(name).c_str(), c, 0) == 0) ++entries;
        else rte_tel_data_free(c);
    }
    if (truncated) rte_tel_data_add_dict_int(d, "_truncated", 1);
}

int dispatch(const char* cmd, const char* params, rte_tel_data* d) {
    std::size_t idx = kTelemetryCommands;
    for (std::size_t i = 0; i < kTelemetryCommands; ++i)
        if (cmd != nullptr && kPaths[i] == cmd) idx = i;
    if (idx == kTelemetryCommands) return -EINVAL;
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lock(g_mutex);
    const TelemetryProvider& p = g_providers[idx];
    if (!p) {
        rte_tel_data_add_dict_int(d, "available", 0);
        return 0;
    }
    try {
        fill_dict(d, p(params != nullptr ? std::string_view(params) : std::string_view()));
    } catch (const std::exception& e) {
        rte_tel_data_add_dict_string(d, "error", clip(e.what()).c_str());
    } catch (...) {
        rte_tel_data_add_dict_string(d, "error", "provider failed");
    }
    return 0;
}

} // namespace

std::string_view telemetry_path(TelemetryCommand c) { return kPaths[static_cast<std::size_t>(c)]; }

void register_telemetry_commands() {
    std::call_once(g_registered, [] {
        for (std::size_t i = 0; i < kTelemetryCommands; ++i)
            rte_telemetry_register_cmd(std::string(kPaths[i]).c_str(), dispatch, kHelp[i]);
    });
}

void set_telemetry_provider(TelemetryCommand c, TelemetryProvider p) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_providers[static_cast<std::size_t>(c)] = std::move(p);
}

TelemetryRegistration::TelemetryRegistration(TelemetryCommand c, TelemetryProvider p) : cmd_(c) {
    set_telemetry_provider(c, std::move(p));
}

TelemetryRegistration::~TelemetryRegistration() { set_telemetry_provider(cmd_, TelemetryProvider{}); }

std::string telemetry_query(const std::string& socket_path, std::string_view command, unsigned timeout_ms) {
    sockaddr_un addr;
    std::memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(addr.sun_path))
        throw std::runtime_error("telemetry socket path too long: " + socket_path);
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());

    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0) throw std::runtime_error(std::string("telemetry: socket(): ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
        throw std::runtime_error("telemetry: cannot connect to " + socket_path + ": " + std::strerror(errno) +
                                 " (is the process running with telemetry enabled?)");

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string buf(64 * 1024, '\0');
    auto recv_one = [&]() -> std::string {
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                    std::chrono::steady_clock::now());
            if (left.count() <= 0) throw std::runtime_error("telemetry: no reply from " + socket_path + " in time");
            pollfd pfd{fd, POLLIN, 0};
            const int pr = ::poll(&pfd, 1, static_cast<int>(left.count()));
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) continue;
            const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw std::runtime_error("telemetry: connection closed by " + socket_path);
            return buf.substr(0, static_cast<std::size_t>(n));
        }
    };
    (void)recv_one();   // greeting: {"version": ..., "pid": ..., "max_output_len": ...}
    const std::string cmd(command);
    if (::send(fd, cmd.data(), cmd.size(), 0) != static_cast<ssize_t>(cmd.size()))
        throw std::runtime_error(std::string("telemetry: send failed: ") + std::strerror(errno));
    return recv_one();
}

} // namespace flowteam::dataplane
