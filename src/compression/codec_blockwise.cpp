// BLOCKWISE_8BIT (hivemind/compression/quantization.py, bitsandbytes quantize_blockwise with
// blocksize 4096, nested=False): per block of 4096 values, absmax = max |x|, and each value is
// stored as the index of the code value nearest to x / absmax. The buffer is int64 blocks,
// int64 code length (256), float32 absmax[blocks], float32 code[256], uint8 indices.
//
// The code is bitsandbytes' signed "dynamic" map (create_dynamic_map(signed=True), 8 bits, 7
// exponent bits): for i = 0..6, the midpoints of 2^i equal steps of [0.1, 1], times 10^(i-6),
// with both signs; plus 0 and 1.0; sorted. We compute it in double and round once to float, so
// entries may differ from bitsandbytes' float32 arithmetic in the last bit; the code travels in
// the message, so this changes nothing for any decoder. Nearest code = the number of midpoints
// between neighbouring code values below x / absmax (ties go to the lower code).
// Deviation: a block of zeros gets absmax 0 and index of code 0.0 (bitsandbytes divides by
// zero; hivemind's tests skip zero tensors for this codec).
#include <algorithm>
#include <cmath>
#include <cstring>

#include <immintrin.h>

#include "bucketizer.hpp"
#include "codecs.hpp"
#include "half.hpp"
#include "parallel.hpp"

namespace hivemind::compression::detail {
namespace {

constexpr std::size_t kBlock = 4096;
constexpr std::size_t kCode = 256;

std::array<float, kCode> make_dynamic_code() {
  std::array<double, kCode> values{};
  std::size_t n = 0;
  for (int i = 0; i < 7; ++i) {
    const int steps = 1 << i;
    const double scale = std::pow(10.0, i - 6);
    for (int j = 0; j < steps; ++j) {
      const double lo = 0.1 + 0.9 * j / steps;
      const double hi = 0.1 + 0.9 * (j + 1) / steps;
      const double mid = (lo + hi) / 2;
      values[n++] = scale * mid;
      values[n++] = -scale * mid;
    }
  }
  values[n++] = 0.0;
  values[n++] = 1.0;
  std::sort(values.begin(), values.end());
  std::array<float, kCode> code{};
  for (std::size_t k = 0; k < kCode; ++k)
    code[k] = static_cast<float>(values[k]);
  return code;
}

struct Nearest {
  Bucketizer bucketizer;
  std::uint8_t zero_index;
};

const Nearest& nearest_code() {
  static const Nearest nearest = [] {
    const auto& code = blockwise_code();
    float mid[kCode - 1];
    for (std::size_t k = 0; k + 1 < kCode; ++k)
      mid[k] = static_cast<float>((static_cast<double>(code[k]) + code[k + 1]) / 2);
    std::uint8_t zero = 0;
    while (code[zero] != 0.0f)
      ++zero;
    return Nearest{Bucketizer(mid, true), zero};
  }();
  return nearest;
}

// max |x| over a block; NaN is skipped (std::max keeps its first argument). Eight running
// maxima break the dependency chain.
float block_absmax_scalar(const float* in, std::size_t n) {
  float m[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t j = 0; j < 8; ++j)
      m[j] = std::max(m[j], std::fabs(in[i + j]));
  for (; i < n; ++i)
    m[0] = std::max(m[0], std::fabs(in[i]));
  return std::max(std::max(std::max(m[0], m[1]), std::max(m[2], m[3])),
                  std::max(std::max(m[4], m[5]), std::max(m[6], m[7])));
}

// The same with AVX2: maxps(a, m) returns m when a is NaN, as std::max(m, a) does; max is exact,
// so the grouping does not change the result.
__attribute__((target("avx2"))) float block_absmax_avx2(const float* in, std::size_t n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m0 = _mm256_setzero_ps();
  __m256 m1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    prefetch_ahead(in + i);
    m0 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(in + i), abs_mask), m0);
    m1 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(in + i + 8), abs_mask), m1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_max_ps(m0, m1));  // neither holds NaN
  float m = 0.0f;
  for (const float v : lanes)
    m = std::max(m, v);
  for (; i < n; ++i)
    m = std::max(m, std::fabs(in[i]));
  return m;
}

// out[i] = code[q[i]] * scale for one block; with `stream`, the 32-byte aligned part with
// streaming stores.
__attribute__((target("avx2"))) void decode_block_avx2(
    const std::uint8_t* q, std::size_t n, const float* code, float scale, float* out, bool stream) {
  const __m256 s = _mm256_set1_ps(scale);
  std::size_t i = 0;
  if (stream) {
    for (const std::size_t head = floats_before_aligned(out, n); i < head; ++i)
      out[i] = code[q[i]] * scale;
    for (; i + 8 <= n; i += 8) {
      prefetch_ahead(q + i);
      const __m256i idx =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
      _mm256_stream_ps(out + i, _mm256_mul_ps(_mm256_i32gather_ps(code, idx, 4), s));
    }
    _mm_sfence();
  }
  for (; i + 8 <= n; i += 8) {
    prefetch_ahead(q + i);
    const __m256i idx =
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_i32gather_ps(code, idx, 4), s));
  }
  for (; i < n; ++i)
    out[i] = code[q[i]] * scale;
}

}  // namespace

const std::array<float, 256>& blockwise_code() noexcept {
  static const std::array<float, kCode> code = make_dynamic_code();
  return code;
}

void encode_blockwise8(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool) {
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  const auto& code = blockwise_code();
  const Nearest& nearest = nearest_code();
  const std::int64_t header[2] = {static_cast<std::int64_t>(blocks),
                                  static_cast<std::int64_t>(kCode)};
  std::memcpy(out, header, 16);
  std::uint8_t* absmax_out = out + 16;
  std::memcpy(out + 16 + 4 * blocks, code.data(), 4 * kCode);
  std::uint8_t* q = out + 16 + 4 * blocks + 4 * kCode;
  // Tasks of 16 blocks (64K values); each block is independent.
  const Bucketizer::Lookup nearest_index = nearest.bucketizer.lookup();
  const std::uint8_t zero_index = nearest.zero_index;
  const bool avx2 = have_avx2();
  auto encode_blocks = [=](std::size_t, std::size_t first_block, std::size_t end_block) {
    for (std::size_t blk = first_block; blk < end_block; ++blk) {
      const std::size_t b = blk * kBlock;
      const std::size_t e = std::min(n, b + kBlock);
      const float absmax =
          avx2 ? block_absmax_avx2(in + b, e - b) : block_absmax_scalar(in + b, e - b);
      std::memcpy(absmax_out + 4 * blk, &absmax, 4);
      if (absmax == 0.0f) {
        std::memset(q + b, zero_index, e - b);
        continue;
      }
      // x * (1 / absmax) instead of x / absmax: at most one ulp apart, so at worst a value on
      // a midpoint between two codes picks the other one.
      bucketize(nearest_index, in + b, e - b, 1.0f / absmax, q + b, avx2);
    }
  };
  for_each_chunk(pool, blocks, kChunkElements / kBlock, encode_blocks);
}

void decode_blockwise8(const std::uint8_t* q,
                       std::size_t n,
                       const float* absmax,
                       const float* code,
                       float* out,
                       WorkerPool* pool) {
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  const bool avx2 = have_avx2();
  const bool stream = 4 * n >= kStreamingStoreBytes;
  for_each_chunk(
      pool, blocks, kChunkElements / kBlock, [&](std::size_t, std::size_t bb, std::size_t be) {
        for (std::size_t blk = bb; blk < be; ++blk) {
          const std::size_t b = blk * kBlock;
          const std::size_t e = std::min(n, b + kBlock);
          const float scale = absmax[blk];
          if (avx2) {
            decode_block_avx2(q + b, e - b, code, scale, out + b, stream);
            continue;
          }
          for (std::size_t i = b; i < e; ++i)
            out[i] = code[q[i]] * scale;
        }
      });
}

}  // namespace hivemind::compression::detail
