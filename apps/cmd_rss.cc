// SPDX-License-Identifier: BSD-3-Clause
// `flowteam rss`: Toeplitz RSS hashes, RETA slot and queue for one tuple.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apps/cli.h"
#include "apps/commands.h"
#include "packet/toeplitz.h"
#include "teaming/rss.h"

namespace flowteam::apps {
namespace {

struct Endpoint {
    bool v6 = false;
    std::uint8_t addr[16] = {};
    std::optional<std::uint16_t> port;
};

// "198.18.0.1", "198.18.0.1:80", "2001:db8::1", "[2001:db8::1]:80".
Endpoint parse_endpoint(const std::string& option, const std::string& text) {
    Endpoint ep;
    std::string host = text, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string::npos) throw UsageError(option + ": " + opt::quote(text) + " lacks the closing ']' (allowed: [v6addr]:port)");
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') throw UsageError(option + ": " + opt::quote(text) + " lacks ':PORT' after ']' (allowed: [v6addr]:port)");
            port = text.substr(close + 2);
            if (port.empty()) throw UsageError(option + ": " + opt::quote(text) + " has an empty port (allowed: 0..65535)");
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        auto colon = text.find(':');
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (port.empty()) throw UsageError(option + ": " + opt::quote(text) + " has an empty port (allowed: 0..65535)");
    }
    if (inet_pton(AF_INET, host.c_str(), ep.addr) == 1) {
        ep.v6 = false;
    } else if (inet_pton(AF_INET6, host.c_str(), ep.addr) == 1) {
        ep.v6 = true;
    } else {
        throw UsageError(option + ": " + opt::quote(host) + " is not an IPv4 or IPv6 address (allowed: a.b.c.d[:port], v6addr, [v6addr]:port)");
    }
    if (!port.empty()) {
        ep.port = static_cast<std::uint16_t>(opt::parse_uint(option + " port", port, 0, 65535));
    }
    return ep;
}

std::string hex32(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

int body(int argc, char** argv) {
    po::options_description opts("rss");
    opts.add_options()
        ("key", po::value<std::string>()->value_name("HEX"),
         "Toeplitz key in hex (default: the 40-byte Microsoft key; 'symmetric' = 0x6d5a repeated)")
        ("src", po::value<std::string>()->value_name("IP[:PORT]")->required(), "source address, e.g. 66.9.149.187:2794 or [3ffe:2501:200:1fff::7]:2794")
        ("dst", po::value<std::string>()->value_name("IP[:PORT]")->required(), "destination address")
        ("proto", po::value<std::string>()->default_value("tcp"), "L4 protocol of the 4-tuple: tcp or udp")
        ("reta-size", u32_value(1, 512)->value_name("N"), "RETA size (power of two, 1..512): also print the slot")
        ("queues", po::value<std::string>()->value_name("LIST"), "queues the RETA spreads over, e.g. 0-3 or 0,2,4 (with --reta-size)")
        ("json", po::bool_switch(), "print one JSON object instead of text");
    po::variables_map vm;
    if (!parse_command_line("rss",
                            "Compute the Toeplitz RSS hash of a tuple as a NIC would: the L3 (2-tuple) and L3+L4\n"
                            "(4-tuple) hashes, and with --reta-size/--queues the RETA slot and the RX queue.",
                            argc, argv, opts, vm))
        return 0;

    const packet::ToeplitzKey key =
        vm.count("key") != 0 ? parse_rss_key("--key", vm["key"].as<std::string>()) : packet::ToeplitzKey();
    const auto src = parse_endpoint("--src", vm["src"].as<std::string>());
    const auto dst = parse_endpoint("--dst", vm["dst"].as<std::string>());
    if (src.v6 != dst.v6) throw UsageError("--src/--dst: one is IPv4 and the other IPv6");
    const auto proto = vm["proto"].as<std::string>();
    if (proto != "tcp" && proto != "udp") throw UsageError("--proto: " + opt::quote(proto) + " (allowed: tcp, udp)");
    const bool have_ports = src.port.has_value() && dst.port.has_value();
    if (src.port.has_value() != dst.port.has_value())
        throw UsageError("--src/--dst: give a port on both or on neither");

    std::uint8_t tuple[packet::kRssTupleMax];
    const std::size_t l3_len = src.v6 ? packet::rss_tuple_ipv6(src.addr, dst.addr, tuple)
                                      : packet::rss_tuple_ipv4(src.addr, dst.addr, tuple);
    const std::string fam = src.v6 ? "IPv6" : "IPv4";
    if (!key.fits(l3_len))
        throw UsageError("--key: " + std::to_string(key.size()) + " bytes is too short for an " + fam +
                         " 2-tuple (needs " + std::to_string(packet::rss_key_len_for(l3_len)) + ")");
    const std::uint32_t hash_l3 = key.hash(tuple, l3_len);
    std::optional<std::uint32_t> hash_l4;
    if (have_ports) {
        const std::size_t l4_len = src.v6 ? packet::rss_tuple_ipv6(src.addr, dst.addr, *src.port, *dst.port, tuple)
                                          : packet::rss_tuple_ipv4(src.addr, dst.addr, *src.port, *dst.port, tuple);
        if (!key.fits(l4_len))
            throw UsageError("--key: " + std::to_string(key.size()) + " bytes is too short for an " + fam +
                             " 4-tuple (needs " + std::to_string(packet::rss_key_len_for(l4_len)) + ")");
        hash_l4 = key.hash(tuple, l4_len);
    }

    std::optional<std::uint32_t> reta_index, queue;
    if (vm.count("reta-size") != 0 || vm.count("queues") != 0) {
        if (vm.count("reta-size") == 0 || vm.count("queues") == 0)
            throw UsageError("--reta-size and --queues go together");
        const auto size = vm["reta-size"].as<std::uint32_t>();
        if (size == 0 || size > 512 || (size & (size - 1)) != 0)
            throw UsageError("--reta-size: " + std::to_string(size) + " (allowed: a power of two, 1..512)");
        const auto qlist = parse_uint_list("--queues", vm["queues"].as<std::string>(), 65535);
        for (auto q : qlist)
            if (q > 65535) throw UsageError("--queues: queue " + std::to_string(q) + " is above 65535");
        const auto reta = teaming::build_reta(size, qlist);
        const std::uint32_t h = hash_l4.value_or(hash_l3);   // NICs use the 4-tuple hash when ports are hashed
        reta_index = teaming::reta_slot(h, size);
        queue = reta[*reta_index];
    }

    if (vm["json"].as<bool>()) {
        nlohmann::json j;
        j["key"] = key.to_hex();
        j["family"] = fam;
        j["proto"] = proto;
        j["hash_l3"] = hex32(hash_l3);
        j["hash_l4"] = hash_l4 ? nlohmann::json(hex32(*hash_l4)) : nlohmann::json(nullptr);
        j["reta_index"] = reta_index ? nlohmann::json(*reta_index) : nlohmann::json(nullptr);
        j["queue"] = queue ? nlohmann::json(*queue) : nlohmann::json(nullptr);
        std::cout << j.dump() << "\n";
    } else {
        std::cout << "key      " << key.to_hex() << " (" << key.size() << " bytes)\n"
                  << "hash_l3  " << hex32(hash_l3) << "   (" << fam << " src, dst)\n";
        if (hash_l4)
            std::cout << "hash_l4  " << hex32(*hash_l4) << "   (" << fam << " src, dst, " << proto << " sport, dport)\n";
        else
            std::cout << "hash_l4  -            (no ports given)\n";
        if (reta_index)
            std::cout << "reta     slot " << *reta_index << " of " << vm["reta-size"].as<std::uint32_t>()
                      << " -> queue " << *queue << "\n";
    }
    return 0;
}

} // namespace

int cmd_rss(int argc, char** argv) { return body(argc, argv); }

} // namespace flowteam::apps
