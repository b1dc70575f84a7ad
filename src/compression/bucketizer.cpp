// Bulk bucketizer lookups (see bucketizer.hpp). The AVX2 path first tries one gather from the
// `fast` table per 8 values: when no prefix of the group holds more than one border, each index
// is its entry's count plus whether the prefix's border lies below the key. Otherwise it does
// per 8 values what the scalar lookup does per value: one 4-byte gather at table[prefix] that
// yields both table[prefix] (first border of the prefix) and table[prefix + 1] (first border of
// the next); four gathers of the borders from the first one on, counted where below the key
// (borders of later prefixes never are; the key array ends with sentinels). Groups where some
// prefix holds more than four borders go through the scalar lookup (binary search).
#include "bucketizer.hpp"

#include <immintrin.h>

#include "parallel.hpp"

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
  const __m256i low16 = _mm256_set1_epi32(0xFFFF);
  const __m256i many_bit = _mm256_set1_epi32(static_cast<int>(Bucketizer::kMany));
  const auto* table = reinterpret_cast<const int*>(lookup.table);
  const auto* fast = reinterpret_cast<const int*>(lookup.fast);
  const auto* keys = reinterpret_cast<const int*>(lookup.keys);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    prefetch_ahead(x + i);
    const __m256i bits = _mm256_castps_si256(_mm256_mul_ps(_mm256_loadu_ps(x + i), s));
    // key = bits ^ (negative ? 0xFFFFFFFF : 0x80000000); compared as signed after ^ 0x80000000,
    // which is bits ^ (negative ? 0x7FFFFFFF : 0).
    const __m256i key_signed =
        _mm256_xor_si256(bits, _mm256_srli_epi32(_mm256_srai_epi32(bits, 31), 1));
    const __m256i key = _mm256_xor_si256(key_signed, sign);
    const __m256i prefix = _mm256_srli_epi32(key, 16);
    const __m256i entry = _mm256_i32gather_epi32(fast, prefix, 4);
    if (_mm256_testz_si256(entry, many_bit)) {
      // Both sides of the comparison are in [0, 0xFFFF]: signed compare is fine.
      const __m256i border_low = _mm256_and_si256(_mm256_srli_epi32(entry, 8), low16);
      const __m256i above = _mm256_cmpgt_epi32(_mm256_and_si256(key, low16), border_low);
      const __m256i below = _mm256_sub_epi32(_mm256_and_si256(entry, byte), above);
      const __m128i words =
          _mm_packus_epi32(_mm256_castsi256_si128(below), _mm256_extracti128_si256(below, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(words, words));
      continue;
    }
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
  if (use_avx2 && lookup.table != nullptr && lookup.fast != nullptr)
    bucketize_avx2(lookup, x, n, scale, q);
  else
    bucketize_scalar(lookup, x, n, scale, q);
}

}  // namespace hivemind::compression::detail
