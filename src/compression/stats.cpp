// chunk_moments (stats.hpp): shifted sums and sums of squares in eight double lanes.
#include "stats.hpp"

#include <cmath>

#include <immintrin.h>

#include "half.hpp"
#include "parallel.hpp"

namespace hivemind::compression::detail {
namespace {

constexpr std::size_t kLanes = 8;

double combine(const double* s) noexcept {
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Lane sums of d = x - shift and of d * d over in[0, full) for full a multiple of 8, into s[8]
// and m[8] (scalar and AVX2 versions: the same operations, multiply then add, no fused rounding).
void lane_sums_scalar(
    const float* in, std::size_t full, double shift, double* s, double* m) noexcept {
  for (std::size_t i = 0; i < full; i += kLanes) {
    prefetch_ahead(in + i);
    for (std::size_t j = 0; j < kLanes; ++j) {
      const double d = static_cast<double>(in[i + j]) - shift;
      s[j] += d;
      m[j] += d * d;
    }
  }
}

__attribute__((target("avx2"))) void lane_sums_avx2(
    const float* in, std::size_t full, double shift, double* s, double* m) noexcept {
  const __m256d k = _mm256_set1_pd(shift);
  __m256d s_lo = _mm256_loadu_pd(s);
  __m256d s_hi = _mm256_loadu_pd(s + 4);
  __m256d m_lo = _mm256_loadu_pd(m);
  __m256d m_hi = _mm256_loadu_pd(m + 4);
  for (std::size_t i = 0; i < full; i += kLanes) {
    prefetch_ahead(in + i);
    const __m256d a = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(in + i)), k);
    const __m256d b = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(in + i + 4)), k);
    s_lo = _mm256_add_pd(s_lo, a);
    s_hi = _mm256_add_pd(s_hi, b);
    m_lo = _mm256_add_pd(m_lo, _mm256_mul_pd(a, a));
    m_hi = _mm256_add_pd(m_hi, _mm256_mul_pd(b, b));
  }
  _mm256_storeu_pd(s, s_lo);
  _mm256_storeu_pd(s + 4, s_hi);
  _mm256_storeu_pd(m, m_lo);
  _mm256_storeu_pd(m + 4, m_hi);
}

}  // namespace

Moments chunk_moments(const float* in, std::size_t n) noexcept {
  return chunk_moments_with(in, n, have_avx2());
}

Moments chunk_moments_with(const float* in, std::size_t n, bool avx2) noexcept {
  if (n == 0)
    return {};
  const double shift = std::isfinite(in[0]) ? static_cast<double>(in[0]) : 0.0;
  const std::size_t full = n - n % kLanes;
  double s[kLanes] = {};
  double m[kLanes] = {};
  if (avx2)
    lane_sums_avx2(in, full, shift, s, m);
  else
    lane_sums_scalar(in, full, shift, s, m);
  for (std::size_t i = full; i < n; ++i) {
    const double d = static_cast<double>(in[i]) - shift;
    s[0] += d;
    m[0] += d * d;
  }
  const auto count = static_cast<double>(n);
  const double sum = combine(s);
  const double m2 = combine(m) - sum * (sum / count);
  return {count, shift + sum / count, m2 < 0 ? 0.0 : m2};  // rounding may dip below 0; NaN stays
}

}  // namespace hivemind::compression::detail
