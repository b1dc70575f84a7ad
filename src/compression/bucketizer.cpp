// Bulk bucketizer lookups (see bucketizer.hpp). The AVX2 path does per 8 values what the scalar
// lookup does per value: the float keys; one 4-byte gather at table[prefix] that yields both
// table[prefix] (first border of the prefix) and table[prefix + 1] (first border of the next);
// four gathers of the borders from the first one on, counted where below the key (borders of
// later prefixes never are; the key array ends with sentinels). Groups where some prefix holds
// more than four borders go through the scalar lookup (binary search).
#include "bucketizer.hpp"

#include <immintrin.h>

namespace hivemind::compression::detail {
namespace {

void bucketize_scalar(const Bucketizer::Lookup& lookup,
                      const float* x,
                      std::size_t n,
                      float scale,
                      std::uint8_t* q) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    q[i] = lookup(x[i] * scale);
}

__attribute__((target("avx2"))) void bucketize_avx2(const Bucketizer::Lookup& lookup,
                                                    const float* x,
                                                    std::size_t n,
                                                    float scale,
                                                    std::uint8_t* q) noexcept {
  static_assert(Bucketizer::window() == 4);
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i byte = _mm256_set1_epi32(0xFF);
  const __m256i window = _mm256_set1_epi32(4);
  const auto* table = reinterpret_cast<const int*>(lookup.table);
  const auto* keys = reinterpret_cast<const int*>(lookup.keys);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i bits = _mm256_castps_si256(_mm256_mul_ps(_mm256_loadu_ps(x + i), s));
    // key = bits ^ (negative ? 0xFFFFFFFF : 0x80000000); compared as signed after ^ 0x80000000,
    // which is bits ^ (negative ? 0x7FFFFFFF : 0).
    const __m256i key_signed =
        _mm256_xor_si256(bits, _mm256_srli_epi32(_mm256_srai_epi32(bits, 31), 1));
    const __m256i key = _mm256_xor_si256(key_signed, sign);
    const __m256i prefix = _mm256_srli_epi32(key, 16);
    const __m256i pair = _mm256_i32gather_epi32(table, prefix, 1);
    const __m256i first = _mm256_and_si256(pair, byte);
    const __m256i next = _mm256_and_si256(_mm256_srli_epi32(pair, 8), byte);
    const __m256i many = _mm256_cmpgt_epi32(_mm256_sub_epi32(next, first), window);
    if (!_mm256_testz_si256(many, many)) {
      bucketize_scalar(lookup, x + i, 8, scale, q + i);
      continue;
    }
    __m256i below = first;
    for (int j = 0; j < 4; ++j) {
      const __m256i idx = _mm256_add_epi32(first, _mm256_set1_epi32(j));
      const __m256i border = _mm256_xor_si256(_mm256_i32gather_epi32(keys, idx, 4), sign);
      below = _mm256_sub_epi32(below, _mm256_cmpgt_epi32(key_signed, border));  // -(-1) = +1
    }
    const __m128i words =
        _mm_packus_epi32(_mm256_castsi256_si128(below), _mm256_extracti128_si256(below, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(words, words));
  }
  bucketize_scalar(lookup, x + i, n - i, scale, q + i);
}

}  // namespace

void bucketize(const Bucketizer::Lookup& lookup,
               const float* x,
               std::size_t n,
               float scale,
               std::uint8_t* q,
               bool use_avx2) noexcept {
  if (use_avx2 && lookup.table != nullptr)
    bucketize_avx2(lookup, x, n, scale, q);
  else
    bucketize_scalar(lookup, x, n, scale, q);
}

}  // namespace hivemind::compression::detail
