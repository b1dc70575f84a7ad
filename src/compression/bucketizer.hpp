#pragma once
// Private: maps floats to bucket indices given up to 255 sorted borders: bucket(x) = the number
// of borders below x (torch.bucketize with right=False). Used by QUANTILE_8BIT (quantile
// borders) and BLOCKWISE_8BIT (midpoints between code values: nearest code).
//
// Floats are compared through an order-preserving 32-bit key (IEEE bits with the sign folded),
// a total order in which NaN sorts above +inf (or below -inf when negative), so any input gives
// an index in [0, 255] without undefined behaviour. A table over the top 16 key bits gives the
// number of borders below each key prefix; a lookup then counts, without branches, which of the
// next few borders lie below the key (borders of later prefixes never do), or binary-searches
// when many borders share the prefix. The bulk path first tries a second table that answers in
// one lookup for prefixes holding at most one border (the common case: 255 borders spread over
// 65,536 prefixes), see `fast` below.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

namespace hivemind::compression::detail {

/// Order-preserving key of a float: a < b (as floats, not NaN) implies key(a) < key(b).
inline std::uint32_t float_key(float x) noexcept {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

/// Inverse of float_key.
inline float key_float(std::uint32_t key) noexcept {
  return std::bit_cast<float>((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

class Bucketizer {
 public:
  /// `borders` are sorted into key order here (at most 255). `with_table` builds the 64 KiB
  /// prefix table (worth it for large inputs); without it every lookup is a binary search.
  Bucketizer(std::span<const float> borders, bool with_table) {
    keys_.reserve(borders.size() + kWindow);
    for (float b : borders)
      keys_.push_back(float_key(b));
    std::sort(keys_.begin(), keys_.end());
    count_ = keys_.size();
    keys_.resize(count_ + kWindow, 0xFFFFFFFFu);  // sentinels: never below a key
    if (!with_table)
      return;
    // 2^16 + 1 entries, plus 3 bytes so that a 4-byte gather at the last prefix stays inside.
    table_.resize((std::size_t{1} << 16) + 1 + 3, 0);
    std::size_t idx = 0;
    for (std::uint64_t p = 0; p <= (std::uint64_t{1} << 16); ++p) {
      while (idx < count_ && keys_[idx] < (p << 16))
        ++idx;
      table_[p] = static_cast<std::uint8_t>(idx);
    }
    fast_.resize(std::size_t{1} << 16);
    for (std::size_t p = 0; p < fast_.size(); ++p) {
      const std::uint32_t first = table_[p];
      const std::uint32_t in_prefix = table_[p + 1] - first;
      const std::uint32_t low = in_prefix == 1 ? keys_[first] & 0xFFFFu : 0xFFFFu;
      fast_[p] = first | (low << 8) | (in_prefix > 1 ? kMany : 0u);
    }
  }

  /// fast[p] for prefixes p with at most one border: bits 0-7 the number of borders below the
  /// prefix, bits 8-23 the low 16 key bits of its border (0xFFFF when it has none: never below a
  /// key), so that lookup = bits 0-7 + (bits 8-23 < low 16 bits of the key). kMany (bit 24)
  /// marks prefixes with more borders, which take the other paths.
  static constexpr std::uint32_t kMany = std::uint32_t{1} << 24;

  /// A copyable view for hot loops (a few pointers, no ownership); valid while *this lives.
  struct Lookup {
    const std::uint32_t* keys;
    const std::uint8_t* table;  // nullptr: binary search only
    std::size_t count;
    const std::uint32_t* fast;  // 2^16 entries (see kMany) with the table, else nullptr

    /// Number of borders whose key is below key(x), in [0, borders].
    std::uint8_t operator()(float x) const noexcept {
      const std::uint32_t k = float_key(x);
      std::size_t b = 0;
      std::size_t e = count;
      if (table != nullptr) {
        b = table[k >> 16];
        e = table[(k >> 16) + 1];
        if (e - b <= kWindow) {
          std::size_t below = b;
          for (std::size_t j = 0; j < kWindow; ++j)
            below += keys[b + j] < k;
          return static_cast<std::uint8_t>(below);
        }
      }
      return static_cast<std::uint8_t>(std::lower_bound(keys + b, keys + e, k) - keys);
    }
  };

  Lookup lookup() const noexcept {
    return {keys_.data(),
            table_.empty() ? nullptr : table_.data(),
            count_,
            fast_.empty() ? nullptr : fast_.data()};
  }

  std::uint8_t operator()(float x) const noexcept { return lookup()(x); }

  /// Borders per key prefix up to which lookups need no binary search.
  static constexpr std::size_t window() noexcept { return kWindow; }

 private:
  static constexpr std::size_t kWindow = 4;
  std::vector<std::uint32_t> keys_;  // sorted border keys, then kWindow sentinels
  std::size_t count_ = 0;            // borders
  std::vector<std::uint8_t> table_;  // table_[p] = number of borders below key p << 16
  std::vector<std::uint32_t> fast_;  // see kMany
};

/// q[i] = lookup(x[i] * scale) for i in [0, n). With `use_avx2` (requires have_avx2() and a
/// lookup with a table) eight values at a time, with gathers; the results are the same.
void bucketize(const Bucketizer::Lookup& lookup,
               const float* x,
               std::size_t n,
               float scale,
               std::uint8_t* q,
               bool use_avx2) noexcept;

}  // namespace hivemind::compression::detail
