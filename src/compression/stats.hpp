#pragma once
// Private: mean and sum of squared deviations of float data, computed per chunk in double in
// one pass (sums of d = x - k and of d^2 around a shift k, the chunk's first value) and merged in
// chunk order with Chan et al.'s pairwise update, so the result is the same for any thread count.
// The shift keeps the one-pass formula M2 = sum(d^2) - sum(d)^2 / n accurate: every value lies
// within sqrt(n) standard deviations of the mean, so (mean - k)^2 / var <= n and at most
// log2(n) <= 16 of double's 53 bits cancel (chunks hold at most 65,536 values), far more than
// float32 needs.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "parallel.hpp"

namespace hivemind::compression::detail {

/// Count, mean and sum of squared deviations from the mean (M2).
struct Moments {
  double count = 0;
  double mean = 0;
  double m2 = 0;
};

/// Moments of in[0, n), one pass (see above; a non-finite first value gives the shift 0, so
/// infinities and NaN propagate as in the two-pass formula). Eight partial sums (element i goes
/// to sum i % 8) break the floating-point dependency chains; the AVX2 path performs exactly the
/// same operations in the same order, so both agree to the bit.
Moments chunk_moments(const float* in, std::size_t n) noexcept;

/// chunk_moments with the path chosen (tests; `use_avx2` requires have_avx2()).
Moments chunk_moments_with(const float* in, std::size_t n, bool use_avx2) noexcept;

/// Merges b into a (order matters for rounding: always merge in chunk order).
inline void merge_moments(Moments& a, const Moments& b) noexcept {
  if (b.count == 0)
    return;
  if (a.count == 0) {
    a = b;
    return;
  }
  const double n = a.count + b.count;
  const double delta = b.mean - a.mean;
  a.mean += delta * (b.count / n);
  a.m2 += b.m2 + delta * delta * (a.count * b.count / n);
  a.count = n;
}

/// Moments of in[0, n) over fixed chunks, chunks on `pool` when given.
inline Moments moments(const float* in, std::uint64_t n, WorkerPool* pool) {
  std::vector<Moments> parts(chunk_count(n));
  for_each_chunk(pool, n, kChunkElements, [&](std::size_t c, std::size_t b, std::size_t e) {
    parts[c] = chunk_moments(in + b, e - b);
  });
  Moments total;
  for (const auto& p : parts)
    merge_moments(total, p);
  return total;
}

}  // namespace hivemind::compression::detail
