// SPDX-License-Identifier: BSD-3-Clause
// flowteam — DPDK telemetry commands /flowteam/... (public header: no rte_*.h).
//
// The engine registers snapshot providers (std::function returning plain
// structs); this module turns them into rte_tel_data when someone asks, e.g.
//   dpdk-telemetry.py -f flowteam-<pid>
//   --> /flowteam/members
// Providers run on DPDK's telemetry thread, one request at a time, under a
// registry lock: they must only read (e.g. sum per-lcore counters) and must
// not (un)register providers themselves. Limits of DPDK 22.11 telemetry:
// names of [A-Za-z0-9_/] (others are replaced by '_'), 256 entries per
// object, 512 per array, 128 characters per string, 16 KiB per reply; no
// floating point (doubles are sent as strings, "%.6g").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace flowteam::dataplane {

using TelemetryScalar = std::variant<std::int64_t, std::uint64_t, double, std::string>;

// One JSON object. Order is kept.
struct TelemetryObject {
    std::vector<std::pair<std::string, TelemetryScalar>> fields;
    std::vector<std::pair<std::string, std::vector<std::uint64_t>>> u64_arrays;
    std::vector<std::pair<std::string, std::vector<std::string>>> string_arrays;
    std::vector<std::pair<std::string, TelemetryObject>> objects;   // nested objects

    TelemetryObject& add(std::string name, TelemetryScalar v) {
        fields.emplace_back(std::move(name), std::move(v));
        return *this;
    }
    TelemetryObject& add_array(std::string name, std::vector<std::uint64_t> v) {
        u64_arrays.emplace_back(std::move(name), std::move(v));
        return *this;
    }
    TelemetryObject& add_array(std::string name, std::vector<std::string> v) {
        string_arrays.emplace_back(std::move(name), std::move(v));
        return *this;
    }
    TelemetryObject& add_object(std::string name, TelemetryObject o) {
        objects.emplace_back(std::move(name), std::move(o));
        return *this;
    }
};

// params: what followed the command after ',' ("" when nothing).
using TelemetryProvider = std::function<TelemetryObject(std::string_view params)>;

enum class TelemetryCommand : std::uint8_t { Members, Flowlets, Reorder, Config };
inline constexpr std::size_t kTelemetryCommands = 4;

// "/flowteam/members", "/flowteam/flowlets", "/flowteam/reorder", "/flowteam/config".
std::string_view telemetry_path(TelemetryCommand c);

// Registers the four commands with rte_telemetry_register_cmd (once per
// process; later calls do nothing). A command without a provider answers
// {"available": 0}. Call after EAL is up.
void register_telemetry_commands();

// Sets (or with an empty function clears) the provider of one command.
void set_telemetry_provider(TelemetryCommand c, TelemetryProvider p);

// RAII: sets a provider, clears it on destruction (waits for a request in
// flight to finish).
class TelemetryRegistration {
public:
    TelemetryRegistration(TelemetryCommand c, TelemetryProvider p);
    ~TelemetryRegistration();
    TelemetryRegistration(const TelemetryRegistration&) = delete;
    TelemetryRegistration& operator=(const TelemetryRegistration&) = delete;

private:
    TelemetryCommand cmd_;
};

// A telemetry client (plain POSIX): connects to a process's
// dpdk_telemetry.v2 socket (EalInfo::telemetry_socket), sends one command,
// returns the JSON reply. Throws std::runtime_error on connect failure or
// when no reply came within timeout_ms.
std::string telemetry_query(const std::string& socket_path, std::string_view command, unsigned timeout_ms = 2000);

} // namespace flowteam::dataplane
