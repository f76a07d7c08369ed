// SPDX-License-Identifier: BSD-3-Clause
// flowteam — small, fast, seeded PRNG for the emulation layer.
//
// xoshiro256** (Blackman & Vigna) seeded through splitmix64, written from the
// published algorithm description. Deterministic for a given seed on every
// platform, no allocation, no global state: each link / generator owns one.
#pragma once

#include <cmath>
#include <cstdint>

namespace flowteam::emulation {

class Rng {
public:
    explicit Rng(std::uint64_t seed = 1) { reseed(seed); }

    void reseed(std::uint64_t seed) {
        std::uint64_t x = seed;
        for (auto& w : s_) {
            w = splitmix64(x);
        }
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5u, 7) * 9u;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    // Uniform integer in [0, bound] (inclusive), multiply-shift (bias < 2^-64·bound).
    std::uint64_t upto(std::uint64_t bound) {
        if (bound == UINT64_MAX) {
            return next();
        }
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * (bound + 1u)) >> 64);
    }

    // Exponentially distributed with the given mean (> 0).
    double exponential(double mean) { return -std::log1p(-uniform01()) * mean; }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static std::uint64_t splitmix64(std::uint64_t& x) {
        std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

    std::uint64_t s_[4];
};

} // namespace flowteam::emulation
