#pragma once
// Private: per-bucket sums and counts of UNIFORM_8BIT / QUANTILE_8BIT (their codebook is the
// mean of the values in each of 256 buckets). A chunk's values go to four interleaved
// sub-histograms (fixed: element i of the chunk to i % 4) so that runs of one bucket do not
// serialize on one slot; the sub-histograms are then summed in a fixed order, (0 + 1) + (2 + 3),
// so the result never depends on threads. A slot is {sum, count} as two doubles (counts stay far
// below 2^53, so they are exact), updated with one 16-byte add: one load and one store per
// element, half the memory operations of separate sum and count arrays. Sub-histograms lie 64
// bytes more than 4 KiB apart, so the same bucket in two of them never aliases modulo 4 KiB.

#include <cstddef>
#include <cstdint>

#include <emmintrin.h>

namespace hivemind::compression::detail {

inline constexpr std::size_t kHistogramBins = 256;

/// Sums (in double) and counts of the values per bucket.
struct Histogram {
  double sum[kHistogramBins] = {};
  std::uint64_t count[kHistogramBins] = {};
};

/// The four sub-histograms of one chunk (16.5 KiB: meant for the stack of one chunk's task).
class SubHistograms {
 public:
  /// Adds one value (as the pair {value, 1.0}) to sub-histogram `way`'s slot `bucket`.
  void add(std::size_t way, std::size_t bucket, __m128d value_and_one) noexcept {
    add_at(static_cast<std::uint32_t>(slot_offset(way, bucket)), value_and_one);
  }

  /// The same with the slot given as its byte offset, slot_offset(way, bucket) (vector code
  /// computes eight offsets at once).
  void add_at(std::uint32_t offset, __m128d value_and_one) noexcept {
    auto* s = reinterpret_cast<double*>(reinterpret_cast<char*>(slots_) + offset);
    _mm_store_pd(s, _mm_add_pd(_mm_load_pd(s), value_and_one));
  }

  /// Byte offset of sub-histogram `way`'s slot `bucket` (16 bytes per slot).
  static constexpr std::size_t slot_offset(std::size_t way, std::size_t bucket) noexcept {
    return 8 * (way * kStride + 2 * bucket);
  }

  /// Adds x[0, 4) by their buckets q[0, 4) to sub-histograms 0..3.
  void add4(const float* x, const std::uint8_t* q) noexcept {
    const __m128 v = _mm_loadu_ps(x);
    const __m128d lo = _mm_cvtps_pd(v);                    // x0, x1
    const __m128d hi = _mm_cvtps_pd(_mm_movehl_ps(v, v));  // x2, x3
    const __m128d one = _mm_set1_pd(1.0);
    add(0, q[0], _mm_unpacklo_pd(lo, one));
    add(1, q[1], _mm_unpackhi_pd(lo, one));
    add(2, q[2], _mm_unpacklo_pd(hi, one));
    add(3, q[3], _mm_unpackhi_pd(hi, one));
  }

  /// Adds x[0, n) by their buckets: groups of four to sub-histograms 0..3, the last n % 4 values
  /// to sub-histogram 0. Chained calls must start at multiples of 4 (all but the last n % 4 == 0).
  void add_range(const float* x, const std::uint8_t* q, std::size_t n) noexcept;

  /// The merged histogram.
  void finish(Histogram& h) const noexcept;

 private:
  static constexpr std::size_t kStride = 2 * kHistogramBins + 8;  // doubles per sub-histogram
  alignas(64) double slots_[4 * kStride] = {};
};

/// The histogram of x[0, n) by buckets q[0, n) (SubHistograms::add_range, then finish).
void histogram(const float* x, const std::uint8_t* q, std::size_t n, Histogram& h) noexcept;

}  // namespace hivemind::compression::detail
