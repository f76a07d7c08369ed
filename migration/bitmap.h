// SPDX-License-Identifier: BSD-3-Clause
// flowteam — a fixed-size page bitmap with a population count kept up to date.
//
// Used for the dirty log (memory.h), the pre-copy send/resend/in-flight sets
// (precopy.h). Sized once at construction; set/clear/test are O(1), the scan
// for the next set bit is word-at-a-time.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flowteam::migration {

class PageBitmap {
  public:
    PageBitmap() = default;
    explicit PageBitmap(std::uint32_t bits)
        : words_((static_cast<std::size_t>(bits) + 63) / 64, 0), bits_(bits) {}

    std::uint32_t size() const { return bits_; }
    std::uint32_t count() const { return count_; }
    bool empty() const { return count_ == 0; }

    bool test(std::uint32_t i) const { return ((words_[i >> 6] >> (i & 63)) & 1u) != 0; }
    // Returns true when the bit was newly set.
    bool set(std::uint32_t i) {
        std::uint64_t& w = words_[i >> 6];
        const std::uint64_t m = std::uint64_t{1} << (i & 63);
        if ((w & m) != 0) return false;
        w |= m;
        ++count_;
        return true;
    }
    // Returns true when the bit was set before.
    bool clear(std::uint32_t i) {
        std::uint64_t& w = words_[i >> 6];
        const std::uint64_t m = std::uint64_t{1} << (i & 63);
        if ((w & m) == 0) return false;
        w &= ~m;
        --count_;
        return true;
    }
    void set_all() {
        for (std::size_t k = 0; k < words_.size(); ++k)
            words_[k] = ~std::uint64_t{0};
        trim();
        count_ = bits_;
    }
    void clear_all() {
        for (auto& w : words_)
            w = 0;
        count_ = 0;
    }
    // First set bit at index >= from, or size() when none.
    std::uint32_t find_next(std::uint32_t from) const {
        if (from >= bits_) return bits_;
        std::size_t k = from >> 6;
        std::uint64_t w = words_[k] & (~std::uint64_t{0} << (from & 63));
        while (w == 0) {
            if (++k == words_.size()) return bits_;
            w = words_[k];
        }
        return static_cast<std::uint32_t>((k << 6) + static_cast<std::size_t>(std::countr_zero(w)));
    }
    // this |= other (same size). Returns the number of bits newly set.
    std::uint32_t merge(const PageBitmap& other) {
        std::uint32_t added = 0;
        for (std::size_t k = 0; k < words_.size(); ++k) {
            const std::uint64_t n = other.words_[k] & ~words_[k];
            added += static_cast<std::uint32_t>(std::popcount(n));
            words_[k] |= n;
        }
        count_ += added;
        return added;
    }
    std::size_t word_count() const { return words_.size(); }
    std::uint64_t word(std::size_t k) const { return words_[k]; }

  private:
    void trim() {
        if ((bits_ & 63) != 0 && !words_.empty()) words_.back() &= (std::uint64_t{1} << (bits_ & 63)) - 1;
    }
    std::vector<std::uint64_t> words_;
    std::uint32_t bits_ = 0;
    std::uint32_t count_ = 0;
};

} // namespace flowteam::migration
