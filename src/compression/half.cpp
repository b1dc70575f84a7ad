// binary16 conversions (IEEE 754-2008): 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
// The scalar conversion works on the float's bit pattern: normal results round the 13 dropped
// fraction bits to nearest even; results below 2^-14 (subnormal) are computed as an integer
// multiple of 2^-24 with nearbyint (the default rounding mode rounds to nearest even).
#include "half.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <cpuid.h>
#include <immintrin.h>

#include "parallel.hpp"

namespace hivemind::compression::detail {
namespace {

constexpr float kHalfMax = 65504.0f;

__attribute__((target("avx2,f16c"))) void floats_to_half_f16c(const float* in,
                                                              std::uint8_t* out,
                                                              std::size_t n) noexcept {
  // max/min return their second operand when either is NaN: with the constant first, NaN
  // inputs pass through unchanged, as torch.clamp leaves them.
  const __m256 lo = _mm256_set1_ps(-kHalfMax);
  const __m256 hi = _mm256_set1_ps(kHalfMax);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    prefetch_ahead(in + i);
    __m256 x = _mm256_loadu_ps(in + i);
    x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
    const __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), h);
  }
  floats_to_half_clamped_scalar(in + i, out + 2 * i, n - i);
}

__attribute__((target("avx2,f16c"))) void half_to_floats_f16c(const std::uint8_t* in,
                                                              float* out,
                                                              std::size_t n,
                                                              bool stream) noexcept {
  std::size_t i = 0;
  if (stream) {
    i = floats_before_aligned(out, n);
    half_to_floats_scalar(in, out, i);
    for (; i + 8 <= n; i += 8) {
      prefetch_ahead(in + 2 * i);
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
      _mm256_stream_ps(out + i, _mm256_cvtph_ps(h));
    }
    _mm_sfence();
  }
  for (; i + 8 <= n; i += 8) {
    prefetch_ahead(in + 2 * i);
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  half_to_floats_scalar(in + 2 * i, out + i, n - i);
}

__attribute__((target("avx2,f16c"))) void floats_to_half_scaled_f16c(
    const float* in, std::uint8_t* out, std::size_t n, float mean, float std) noexcept {
  const __m256 lo = _mm256_set1_ps(-kHalfMax);
  const __m256 hi = _mm256_set1_ps(kHalfMax);
  const __m256 m = _mm256_set1_ps(mean);
  const __m256 s = _mm256_set1_ps(std);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    prefetch_ahead(in + i);
    __m256 x = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(in + i), m), s);
    x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
    const __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), h);
  }
  for (; i < n; ++i) {
    const float x = (in[i] - mean) / std;
    floats_to_half_clamped_scalar(&x, out + 2 * i, 1);
  }
}

__attribute__((target("avx2,f16c"))) void half_to_floats_affine_f16c(const std::uint8_t* in,
                                                                     float* out,
                                                                     std::size_t n,
                                                                     float scale,
                                                                     float shift,
                                                                     bool stream) noexcept {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 t = _mm256_set1_ps(shift);
  std::size_t i = 0;
  auto scalar = [&](std::size_t end) {
    for (; i < end; ++i) {
      std::uint16_t h;
      std::memcpy(&h, in + 2 * i, 2);
      out[i] = half_to_float_scalar(h) * scale + shift;
    }
  };
  if (stream) {
    scalar(floats_before_aligned(out, n));
    for (; i + 8 <= n; i += 8) {
      prefetch_ahead(in + 2 * i);
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
      _mm256_stream_ps(out + i, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtph_ps(h), s), t));
    }
    _mm_sfence();
  }
  for (; i + 8 <= n; i += 8) {
    prefetch_ahead(in + 2 * i);
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtph_ps(h), s), t));
  }
  scalar(n);
}

}  // namespace

std::uint16_t float_to_half_scalar(float value) noexcept {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs > 0x7F800000u)  // NaN: quiet, top fraction bits kept (what F16C does)
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
  if (abs == 0x7F800000u)
    return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (abs >= 0x477FF000u)  // >= 65520 rounds to infinity
    return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (abs < 0x38800000u) {  // below 2^-14: subnormal half (or zero); 1024 = smallest normal
    const float scaled = std::bit_cast<float>(abs) * 16777216.0f;  // * 2^24, exact
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(scaled)));
  }
  const std::uint32_t exponent = (abs >> 23) - 127 + 15;
  std::uint32_t h = (exponent << 10) | ((abs >> 13) & 0x3FFu);
  const std::uint32_t dropped = abs & 0x1FFFu;
  if (dropped > 0x1000u || (dropped == 0x1000u && (h & 1u)))
    ++h;  // a carry into the exponent is the correctly rounded result
  return static_cast<std::uint16_t>(sign | h);
}

float half_to_float_scalar(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t fraction = h & 0x3FFu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(fraction) * (1.0f / 16777216.0f);  // * 2^-24
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31)  // inf, or NaN made quiet (as F16C does)
    return std::bit_cast<float>(sign | 0x7F800000u | (fraction << 13)
                                | (fraction != 0 ? 0x00400000u : 0u));
  return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (fraction << 13));
}

void floats_to_half_clamped_scalar(const float* in, std::uint8_t* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    float x = in[i];
    if (x > kHalfMax)
      x = kHalfMax;
    else if (x < -kHalfMax)
      x = -kHalfMax;
    const std::uint16_t h = float_to_half_scalar(x);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void half_to_floats_scalar(const std::uint8_t* in, float* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    out[i] = half_to_float_scalar(h);
  }
}

// AVX2 (and F16C when `f16c`), and the OS saving AVX state (CPUID leaf 1: ECX bit 27 OSXSAVE, 28
// AVX, 29 F16C; XCR0 bits 1-2; leaf 7: EBX bit 5 AVX2). Written with cpuid because clang 14's
// __builtin_cpu_supports does not know "f16c".
static bool detect(bool need_f16c) noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return false;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx || (need_f16c && !f16c))
    return false;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 6u) != 6u)
    return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return false;
  return (b >> 5) & 1;
}

bool have_f16c() noexcept {
  static const bool have = detect(true);
  return have;
}

bool have_avx2() noexcept {
  static const bool have = detect(false);
  return have;
}

void floats_to_half_clamped(const float* in, std::uint8_t* out, std::size_t n) noexcept {
  if (have_f16c())
    floats_to_half_f16c(in, out, n);
  else
    floats_to_half_clamped_scalar(in, out, n);
}

void floats_to_half_scaled(
    const float* in, std::uint8_t* out, std::size_t n, float mean, float std) noexcept {
  if (have_f16c()) {
    floats_to_half_scaled_f16c(in, out, n, mean, std);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float x = (in[i] - mean) / std;
    floats_to_half_clamped_scalar(&x, out + 2 * i, 1);
  }
}

void half_to_floats_affine(const std::uint8_t* in,
                           float* out,
                           std::size_t n,
                           float scale,
                           float shift,
                           bool stream) noexcept {
  if (have_f16c()) {
    half_to_floats_affine_f16c(in, out, n, scale, shift, stream);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    out[i] = half_to_float_scalar(h) * scale + shift;
  }
}

void half_to_floats(const std::uint8_t* in, float* out, std::size_t n, bool stream) noexcept {
  if (have_f16c())
    half_to_floats_f16c(in, out, n, stream);
  else
    half_to_floats_scalar(in, out, n);
}

}  // namespace hivemind::compression::detail
