// SPDX-License-Identifier: BSD-3-Clause
#include "common/pcap_check.h"

#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "common/option_value.h"

namespace flowteam::opt {
namespace {

std::uint32_t rd32(const unsigned char* p, bool swap) {
    const std::uint32_t v = static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                            static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
    return swap ? __builtin_bswap32(v) : v;
}
std::uint16_t rd16(const unsigned char* p, bool swap) {
    const auto v = static_cast<std::uint16_t>(p[0] | p[1] << 8);
    return swap ? static_cast<std::uint16_t>(__builtin_bswap16(v)) : v;
}

struct File {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f{nullptr, &std::fclose};
    bool read(void* buf, std::size_t n) { return std::fread(buf, 1, n, f.get()) == n; }
    bool skip(std::uint64_t n) { return std::fseek(f.get(), static_cast<long>(n), SEEK_CUR) == 0; }
};

constexpr std::uint32_t kEthernet = 1;

std::string linktype_name(std::uint32_t lt) {
    switch (lt) {
    case 0: return "null/loopback";
    case 101: return "raw IP";
    case 113: return "Linux cooked";
    case 127: return "802.11 radiotap";
    case 228: return "raw IPv4";
    case 229: return "raw IPv6";
    case 276: return "Linux cooked v2";
    default: return "link type " + std::to_string(lt);
    }
}

} // namespace

PcapSummary check_pcap_file(const std::string& option, const std::string& path) {
    const std::string who = option + ": " + quote(path) + " ";
    auto bad = [&](const std::string& what) -> void {
        throw OptionError(who + what + " (allowed: a pcap or pcapng capture of Ethernet frames, 14.." +
                          std::to_string(kPcapMaxCaplen) + " bytes each)");
    };
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw OptionError(who + "does not exist");
    if (S_ISDIR(st.st_mode)) throw OptionError(who + "is a directory; give a pcap file");
    if (!S_ISREG(st.st_mode)) throw OptionError(who + "is not a regular file; give a pcap file");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    File f;
    f.f.reset(std::fopen(path.c_str(), "rb"));
    if (!f.f) throw OptionError(who + "cannot be read");
    if (size == 0) bad("is empty");
    unsigned char h[24];
    if (size < 24 || !f.read(h, 24)) bad("is too short for a pcap header");
    PcapSummary sum;
    const std::uint32_t magic = rd32(h, false);
    std::uint64_t pos = 24;
    auto check_caplen = [&](std::uint32_t caplen) {
        if (caplen < kPcapMinCaplen || caplen > kPcapMaxCaplen)
            bad("has a record of " + std::to_string(caplen) + " bytes at offset " + std::to_string(pos));
        if (caplen > sum.max_caplen) sum.max_caplen = caplen;
    };
    if (magic == 0xa1b2c3d4 || magic == 0xd4c3b2a1 || magic == 0xa1b23c4d || magic == 0x4d3cb2a1) {
        const bool swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
        const std::uint32_t lt = rd32(h + 20, swap) & 0x0FFFFFFF;   // upper bits: FCS info
        if (lt != kEthernet) bad("has link type " + linktype_name(lt) + ", not Ethernet");
        for (;;) {
            if (pos == size) break;
            unsigned char r[16];
            if (size - pos < 16 || !f.read(r, 16)) bad("is truncated: a record header at offset " + std::to_string(pos) + " is cut");
            const std::uint32_t caplen = rd32(r + 8, swap);
            check_caplen(caplen);
            if (size - pos - 16 < caplen) bad("is truncated: record " + std::to_string(sum.packets + 1) + " is cut");
            if (!f.skip(caplen)) bad("cannot be read");
            pos += 16 + caplen;
            ++sum.packets;
        }
    } else if (magic == 0x0A0D0D0A) {
        sum.pcapng = true;
        bool swap = false, have_shb = false;
        std::uint32_t interfaces = 0;
        std::uint64_t at = 0;
        pos = 0;
        std::fseek(f.f.get(), 0, SEEK_SET);
        while (at < size) {
            pos = at;
            unsigned char b[28];
            if (size - at < 12 || !f.read(b, 8)) bad("is truncated at offset " + std::to_string(at));
            const std::uint32_t type = rd32(b, false);
            if (type == 0x0A0D0D0A) {
                if (!f.read(b + 8, 4)) bad("is truncated at offset " + std::to_string(at));
                const std::uint32_t bom = rd32(b + 8, false);
                if (bom == 0x1A2B3C4D) swap = false;
                else if (bom == 0x4D3C2B1A) swap = true;
                else bad("has a bad pcapng byte-order magic");
                have_shb = true;
                interfaces = 0;
            } else if (!have_shb) {
                bad("is not a pcap or pcapng file");
            }
            const std::uint32_t len = rd32(b + 4, swap);
            if (len < 12 || len % 4 != 0 || len > size - at) bad("has a bad pcapng block at offset " + std::to_string(at));
            std::uint64_t consumed = type == 0x0A0D0D0A ? 12 : 8;
            const std::uint32_t t = type == 0x0A0D0D0A ? type : rd32(b, swap);
            if (t == 1) {   // interface description
                if (len < 20 || !f.read(b + 8, 4)) bad("has a bad interface block at offset " + std::to_string(at));
                consumed += 4;
                const std::uint16_t lt = rd16(b + 8, swap);
                if (lt != kEthernet) bad("has link type " + linktype_name(lt) + ", not Ethernet");
                ++interfaces;
            } else if (t == 6 || t == 3) {   // enhanced / simple packet
                const std::uint32_t fixed = t == 6 ? 20 : 4;
                if (len < 12 + fixed || !f.read(b + 8, fixed)) bad("has a bad packet block at offset " + std::to_string(at));
                consumed += fixed;
                if (interfaces == 0) bad("has a packet before any interface description");
                if (t == 6 && rd32(b + 8, swap) >= interfaces) bad("has a packet of an undescribed interface");
                const std::uint32_t caplen = t == 6 ? rd32(b + 20, swap) : std::min<std::uint32_t>(rd32(b + 8, swap), len - 16);
                check_caplen(caplen);
                if (caplen > len - 12 - fixed) bad("is truncated: packet block at offset " + std::to_string(at) + " is cut");
                ++sum.packets;
            }
            if (!f.skip(len - consumed)) bad("cannot be read");
            at += len;
        }
    } else {
        bad("is not a pcap or pcapng file (magic " + quote(std::string(reinterpret_cast<const char*>(h), 4)) + ")");
    }
    if (sum.packets == 0) bad("holds no packets");
    return sum;
}

} // namespace flowteam::opt
