// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the migration wire format: the UDP payload of the
// Ethernet/IPv4/UDP frames the data plane builds (it owns L2–L4).
//
// Every frame starts with a 48-byte header, little-endian:
//
//   off size field
//    0   4   magic        "FTMG" (bytes 46 54 4D 47)
//    4   1   version      1
//    5   1   type         page | round_end | end | ack | page_request
//    6   2   flags        zero (no body) | compressed | resend
//    8   2   vm           < configured VM count
//   10   2   channel      < configured channels per migration
//   12   4   round        pre-copy pass the page copy belongs to, >= 1
//   16   4   page         page number, < pages of the VM
//   20   2   offset       byte offset of this fragment within the page
//   22   2   payload_len  body bytes after the header (= UDP payload - 48)
//   24   2   page_len     bytes of the whole page body: 4096 raw, the
//                         compressed length when compressed, 0 zero page
//   26   2   header_len   48 in version 1
//   28   4   seq          per-flow sequence number (per VM + channel, per direction)
//   32   8   tx_time      sender tick when encoded
//   40   4   count        round_end: data frames of the pass on this channel;
//                         ack / page_request: number of entries;
//                         page: base round, <= round: the round of the first
//                         copy with this content (the page was not written
//                         since); fragments of copies with the same base
//                         combine at the receiver; 0 means "= round";
//                         end: 0
//   44   4   hcrc         CRC32C of bytes 0..43
//
// Page data: a raw page is split into fragments at 64-byte aligned offsets
// (MTU 1500: 1408 + 1408 + 1280 bytes; MTU 9000: one 4096-byte frame). A
// compressed page always fits one frame (offset 0, payload_len == page_len <
// 4096). A zero page has no body.
//
// Back channel (receiver -> sender): `ack` carries AckEntry runs {round,
// first_page, count}: "these pages' copies of that round are complete";
// `page_request` carries PageRequest ranges {round, channel, first, last}:
// "resend whatever you sent in that round on that channel within
// [first, last] that is not yet acknowledged".
//
// decode() validates everything and never reads past buf+len; the reason of
// any rejection is a WireStatus, which callers count and drop.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flowteam::migration {

class VmMemory;

inline constexpr std::uint32_t kWireMagic = 0x474D5446u; // "FTMG" read as little-endian u32
inline constexpr std::uint8_t kWireVersion = 1;
inline constexpr std::uint32_t kHeaderSize = 48;
inline constexpr std::uint32_t kFragmentUnit = 64;   // fragment offsets are multiples of this
inline constexpr std::uint32_t kIpv4UdpHeaders = 28; // IPv4 (20, no options) + UDP (8)
inline constexpr std::uint32_t kEthHeader = 14;
inline constexpr std::uint32_t kL2L4Headers = kEthHeader + kIpv4UdpHeaders; // 42
inline constexpr std::uint32_t kMinMtu = 576;
inline constexpr std::uint32_t kMaxMtu = 9216;
inline constexpr std::uint32_t kAckEntrySize = 12;
inline constexpr std::uint32_t kRequestEntrySize = 16;
inline constexpr std::uint32_t kPageBytes = 4096; // == kPageSize (memory.h)

enum class FrameType : std::uint8_t { page = 1, round_end = 2, end = 3, ack = 4, page_request = 5 };

inline constexpr std::uint16_t kFlagZero = 1u << 0;       // zero page, no body
inline constexpr std::uint16_t kFlagCompressed = 1u << 1; // body is the compressed page
inline constexpr std::uint16_t kFlagResend = 1u << 2;     // informational: copy re-sent after a loss
inline constexpr std::uint16_t kKnownFlags = kFlagZero | kFlagCompressed | kFlagResend;

// Why a frame was rejected (or `ok`). The last two are produced by the
// receiver/sender, not by decode().
enum class WireStatus : std::uint8_t {
    ok = 0,
    truncated, // shorter than the header
    bad_magic,
    bad_version,
    bad_header_len,
    bad_checksum, // header CRC mismatch
    bad_type,
    bad_flags,       // unknown bits, zero+compressed, flags on a control frame
    bad_vm,          // vm >= configured VMs
    bad_channel,     // channel >= configured channels
    bad_round,       // round 0
    bad_page,        // page >= pages of the VM
    length_mismatch, // buffer length != header + payload_len
    bad_page_len,    // raw page_len != 4096, zero page with page_len, control with page_len
    bad_offset,      // fragment not 64-aligned, empty, or past page_len
    zero_with_body,  // zero-page flag with a body
    bad_compressed,  // compressed: offset != 0, payload_len != page_len, page_len 0 or >= 4096
    bad_control,     // marker/end/ack/request with page/offset/body fields set, or entry count mismatch
    bad_entry,       // ack/request entry out of range
    unexpected_type, // a valid frame of a type this end does not accept
    decompress_failed,
    round_ahead, // receiver: round too far beyond the highest seen for that VM (receiver.h)
    count_
};
inline constexpr std::size_t kWireStatusCount = static_cast<std::size_t>(WireStatus::count_);
const char* to_string(WireStatus s);
const char* to_string(FrameType t);

using WireDropCounters = std::array<std::uint64_t, kWireStatusCount>;

struct FrameHeader {
    FrameType type = FrameType::page;
    std::uint16_t flags = 0;
    std::uint16_t vm = 0;
    std::uint16_t channel = 0;
    std::uint32_t round = 0;
    std::uint32_t page = 0;
    std::uint16_t offset = 0;
    std::uint16_t payload_len = 0;
    std::uint16_t page_len = 0;
    std::uint32_t seq = 0;
    std::uint64_t tx_time = 0;
    std::uint32_t count = 0;
};

// A decoded frame: header fields plus the body inside the caller's buffer.
struct FrameView {
    FrameHeader h;
    const std::uint8_t* body = nullptr; // payload_len bytes
};

struct AckEntry {
    std::uint32_t round = 0;
    std::uint32_t first_page = 0;
    std::uint32_t count = 0;
};

struct PageRequest {
    std::uint32_t round = 0;
    std::uint16_t channel = 0;
    std::uint32_t first_page = 0;
    std::uint32_t last_page = 0; // inclusive
};

// What decode() checks ranges against.
struct WireLimits {
    std::uint16_t vm_count = 0;
    std::uint16_t channels = 0;
    std::vector<std::uint32_t> pages; // per VM
    static WireLimits from(const VmMemory& mem, std::uint16_t channels);
};

// --- sizing -----------------------------------------------------------------
// Throws std::invalid_argument unless kMinMtu <= mtu <= kMaxMtu.
void check_mtu(std::uint32_t mtu);
constexpr std::uint32_t udp_payload_capacity(std::uint32_t mtu) {
    return mtu - kIpv4UdpHeaders;
}
// Body bytes of one page frame: a multiple of 64, at most 4096.
constexpr std::uint32_t page_fragment_bytes(std::uint32_t mtu) {
    const std::uint32_t room = (udp_payload_capacity(mtu) - kHeaderSize) / kFragmentUnit * kFragmentUnit;
    return room < kPageBytes ? room : kPageBytes;
}
// Body room of one frame (compressed pages must fit it).
constexpr std::uint32_t frame_body_capacity(std::uint32_t mtu) {
    return udp_payload_capacity(mtu) - kHeaderSize;
}
constexpr std::uint32_t frames_per_page(std::uint32_t mtu) {
    return (kPageBytes + page_fragment_bytes(mtu) - 1) / page_fragment_bytes(mtu);
}
constexpr std::uint32_t max_ack_entries(std::uint32_t mtu) {
    return frame_body_capacity(mtu) / kAckEntrySize;
}
constexpr std::uint32_t max_request_entries(std::uint32_t mtu) {
    return frame_body_capacity(mtu) / kRequestEntrySize;
}
static_assert(page_fragment_bytes(1500) == 1408 && frames_per_page(1500) == 3);
static_assert(page_fragment_bytes(9000) == 4096 && frames_per_page(9000) == 1);
static_assert(page_fragment_bytes(kMinMtu) >= kFragmentUnit);

// --- encoding ---------------------------------------------------------------
// Writes the 48-byte header (magic, version, header_len and CRC filled in;
// h.payload_len is taken as given: the body follows separately, e.g. as an
// external buffer for zero-copy TX). Returns 48, or 0 when cap < 48.
std::size_t encode_header(const FrameHeader& h, std::uint8_t* out, std::size_t cap) noexcept;
// Header + h.payload_len bytes of `body`. Returns the length, 0 when it does not fit.
std::size_t encode_frame(const FrameHeader& h, const std::uint8_t* body, std::uint8_t* out,
                         std::size_t cap) noexcept;
// Back-channel messages; `h` gives vm, channel, seq, tx_time (type, count,
// payload_len are set here). Returns the length, 0 when it does not fit or n == 0.
std::size_t encode_acks(FrameHeader h, const AckEntry* e, std::uint32_t n, std::uint8_t* out,
                        std::size_t cap) noexcept;
std::size_t encode_requests(FrameHeader h, const PageRequest* e, std::uint32_t n, std::uint8_t* out,
                            std::size_t cap) noexcept;

// --- decoding ---------------------------------------------------------------
// Full validation against `lim`; on ok fills `out` (body points into buf).
WireStatus decode(const std::uint8_t* buf, std::size_t len, const WireLimits& lim, FrameView& out) noexcept;
// Entries of a decoded ack / page_request frame (i < out.h.count; validated by decode).
AckEntry ack_entry(const FrameView& f, std::uint32_t i) noexcept;
PageRequest request_entry(const FrameView& f, std::uint32_t i) noexcept;

// CRC32C (Castagnoli), SSE4.2 when available.
std::uint32_t crc32c(const std::uint8_t* p, std::size_t n, std::uint32_t crc = 0) noexcept;

} // namespace flowteam::migration
