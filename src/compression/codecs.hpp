#pragma once
// Private: hivemind's codecs on raw memory (docs/protocols/compression.md has the layouts).
// Torch-free: the encoders read contiguous float32 values, the decoders write contiguous
// float32 values (or, for the codebook codecs, elements of any size); serialization.cpp converts
// tensors. Buffers need no alignment. All multi-byte values are little-endian. Callers validate
// sizes first (layout.hpp); these functions trust them.

#include <array>
#include <cstddef>
#include <cstdint>

#include "hivemind/compression/worker_pool.hpp"

namespace hivemind::compression::detail {

/// FLOAT16: out = 2 * n bytes.
void encode_float16(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool);
void decode_float16(const std::uint8_t* in, std::size_t n, float* out, WorkerPool* pool);

/// MEANSTD_16BIT over `rows` rows of `cols` elements: out = 2*rows*cols + 8*rows bytes
/// (float16 values, float32 means, float32 stds).
void encode_meanstd(
    const float* in, std::uint64_t rows, std::uint64_t cols, std::uint8_t* out, WorkerPool* pool);
void decode_meanstd(
    const std::uint8_t* in, std::uint64_t rows, std::uint64_t cols, float* out, WorkerPool* pool);

/// UNIFORM_8BIT / QUANTILE_8BIT: out = 8 + 4*256 + n bytes (int64 256, float32 codebook,
/// uint8 indices).
void encode_uniform8(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool);
void encode_quantile8(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool);

/// UNIFORM_8BIT's indices q[i] for x[0, n) (exposed so tests can compare the AVX2 path with the
/// scalar one; `use_avx2` requires have_avx2()).
void uniform_indices(
    const float* x, std::size_t n, float mean, float inv_scale, std::uint8_t* q, bool use_avx2);

/// out[i] = table[q[i]] for elements of `elem_size` bytes (2, 4 or 8); `table` holds 256.
void decode_codebook8(const std::uint8_t* q,
                      std::size_t n,
                      const void* table,
                      std::size_t elem_size,
                      void* out,
                      WorkerPool* pool);

/// BLOCKWISE_8BIT: out = 16 + 4*blocks + 4*256 + n bytes (int64 blocks, int64 256, float32
/// absmax per 4096 elements, float32 code, uint8 indices).
void encode_blockwise8(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool);
/// out[i] = code[q[i]] * absmax[i / 4096]; `absmax` has ceil(n / 4096) entries.
void decode_blockwise8(const std::uint8_t* q,
                       std::size_t n,
                       const float* absmax,
                       const float* code,
                       float* out,
                       WorkerPool* pool);

/// The 256-entry signed dynamic code our BLOCKWISE_8BIT encoder uses: bitsandbytes'
/// create_dynamic_map(signed=True) (7 exponent bits: 127 negative values, 0, 127 positive values
/// and 1.0), sorted ascending.
const std::array<float, 256>& blockwise_code() noexcept;

}  // namespace hivemind::compression::detail
