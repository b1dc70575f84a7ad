// chunk_moments (stats.hpp): sum and sum of squared deviations in eight double lanes.
#include "stats.hpp"

#include <immintrin.h>

#include "half.hpp"

namespace hivemind::compression::detail {
namespace {

constexpr std::size_t kLanes = 8;

double combine(const double* s) noexcept {
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Lane sums of in[0, full) for full a multiple of 8, into s[8] (scalar and AVX2 versions).
void lane_sums_scalar(const float* in, std::size_t full, double* s) noexcept {
  for (std::size_t i = 0; i < full; i += kLanes)
    for (std::size_t j = 0; j < kLanes; ++j)
      s[j] += in[i + j];
}

void lane_squares_scalar(const float* in, std::size_t full, double mean, double* m) noexcept {
  for (std::size_t i = 0; i < full; i += kLanes) {
    for (std::size_t j = 0; j < kLanes; ++j) {
      const double d = in[i + j] - mean;
      m[j] += d * d;
    }
  }
}

__attribute__((target("avx2"))) void lane_sums_avx2(const float* in,
                                                    std::size_t full,
                                                    double* s) noexcept {
  __m256d lo = _mm256_loadu_pd(s);
  __m256d hi = _mm256_loadu_pd(s + 4);
  for (std::size_t i = 0; i < full; i += kLanes) {
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm_loadu_ps(in + i)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm_loadu_ps(in + i + 4)));
  }
  _mm256_storeu_pd(s, lo);
  _mm256_storeu_pd(s + 4, hi);
}

__attribute__((target("avx2"))) void lane_squares_avx2(const float* in,
                                                       std::size_t full,
                                                       double mean,
                                                       double* m) noexcept {
  const __m256d mu = _mm256_set1_pd(mean);
  __m256d lo = _mm256_loadu_pd(m);
  __m256d hi = _mm256_loadu_pd(m + 4);
  for (std::size_t i = 0; i < full; i += kLanes) {
    const __m256d a = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(in + i)), mu);
    const __m256d b = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(in + i + 4)), mu);
    lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));  // multiply, then add: no fused rounding
    hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
  }
  _mm256_storeu_pd(m, lo);
  _mm256_storeu_pd(m + 4, hi);
}

}  // namespace

Moments chunk_moments(const float* in, std::size_t n) noexcept {
  return chunk_moments_with(in, n, have_avx2());
}

Moments chunk_moments_with(const float* in, std::size_t n, bool avx2) noexcept {
  if (n == 0)
    return {};
  const std::size_t full = n - n % kLanes;
  double s[kLanes] = {};
  if (avx2)
    lane_sums_avx2(in, full, s);
  else
    lane_sums_scalar(in, full, s);
  for (std::size_t i = full; i < n; ++i)
    s[0] += in[i];
  const double mean = combine(s) / static_cast<double>(n);
  double m[kLanes] = {};
  if (avx2)
    lane_squares_avx2(in, full, mean, m);
  else
    lane_squares_scalar(in, full, mean, m);
  for (std::size_t i = full; i < n; ++i) {
    const double d = in[i] - mean;
    m[0] += d * d;
  }
  return {static_cast<double>(n), mean, combine(m)};
}

}  // namespace hivemind::compression::detail
