// Decoding of UNIFORM_8BIT / QUANTILE_8BIT: out[i] = codebook[q[i]] (codecs.hpp). float32 output
// (the common case) uses AVX2 gathers, and streaming stores for large outputs (parallel.hpp).
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "codecs.hpp"
#include "half.hpp"
#include "parallel.hpp"

namespace hivemind::compression::detail {
namespace {

constexpr std::size_t kBins = 256;

// Eight 4-byte table entries for the indices q[0, 8).
__attribute__((target("avx2"))) inline __m256i gather8(const std::uint8_t* q, const int* table) {
  const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q)));
  return _mm256_i32gather_epi32(table, idx, 4);
}

// out[i] = lut[q[i]] for 4-byte elements (bit copies), eight at a time with a gather; with
// `stream`, the 32-byte aligned part with streaming stores.
__attribute__((target("avx2"))) void lookup4_avx2(
    const std::uint8_t* q, std::size_t n, const std::uint32_t* lut, float* out, bool stream) {
  const auto* table = reinterpret_cast<const int*>(lut);
  auto* words = reinterpret_cast<std::uint32_t*>(out);
  std::size_t i = 0;
  if (stream) {
    for (const std::size_t head = floats_before_aligned(out, n); i < head; ++i)
      words[i] = lut[q[i]];
    for (; i + 8 <= n; i += 8) {
      prefetch_ahead(q + i);
      _mm256_stream_si256(reinterpret_cast<__m256i*>(out + i), gather8(q + i, table));
    }
    _mm_sfence();
  }
  for (; i + 8 <= n; i += 8) {
    prefetch_ahead(q + i);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), gather8(q + i, table));
  }
  for (; i < n; ++i)
    words[i] = lut[q[i]];
}

}  // namespace

void decode_codebook8(const std::uint8_t* q,
                      std::size_t n,
                      const void* table,
                      std::size_t elem_size,
                      void* out,
                      WorkerPool* pool) {
  if (elem_size == 4 && have_avx2()) {  // float32, the common case
    alignas(32) std::uint32_t lut[kBins];
    std::memcpy(lut, table, sizeof(lut));
    auto* dst = static_cast<float*>(out);
    const bool stream = 4 * n >= kStreamingStoreBytes;
    for_each_chunk(pool, n, kChunkElements, [&](std::size_t, std::size_t b, std::size_t e) {
      lookup4_avx2(q + b, e - b, lut, dst + b, stream);
    });
    return;
  }
  auto run = [&](auto element_tag) {
    using T = decltype(element_tag);
    T lut[kBins];
    std::memcpy(lut, table, sizeof(lut));
    T* dst = static_cast<T*>(out);
    for_each_chunk(pool, n, kChunkElements, [&](std::size_t, std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i)
        dst[i] = lut[q[i]];
    });
  };
  switch (elem_size) {
    case 2:
      run(std::uint16_t{});
      break;
    case 4:
      run(std::uint32_t{});
      break;
    default:
      run(std::uint64_t{});
      break;
  }
}

}  // namespace hivemind::compression::detail
