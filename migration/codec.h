// SPDX-License-Identifier: BSD-3-Clause
// flowteam — the compression hooks of the migration stream.
//
// migration/ does not compress by itself: the data plane plugs in DPDK
// compressdev (deflate via compress_isal / compress_zlib), tests plug in a
// trivial codec. The sender calls compress() once per non-zero page with
// `cap` = the body room of ONE frame: a compressed page always travels in a
// single frame (at MTU 1500 a page must shrink to <= 1408 bytes, otherwise it
// is sent raw in fragments). The receiver calls decompress() on that body.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowteam::migration {

class Compressor {
  public:
    virtual ~Compressor() = default;
    // Compress `len` bytes of `src` into `dst` (room `cap`). Returns the
    // compressed length, or 0 when the result would not be smaller than
    // `len` or does not fit in `cap` (the page is then sent raw).
    virtual std::size_t compress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                                 std::size_t cap) = 0;
};

class Decompressor {
  public:
    virtual ~Decompressor() = default;
    // Decompress `len` bytes of `src` into `dst` (room `cap`). Returns the
    // decompressed length (a page must give exactly 4096), 0 on error. Must
    // never read past src+len nor write past dst+cap, whatever the input.
    virtual std::size_t decompress(const std::uint8_t* src, std::size_t len, std::uint8_t* dst,
                                   std::size_t cap) = 0;
};

} // namespace flowteam::migration
