// FLOAT16 and MEANSTD_16BIT (hivemind/compression/floating.py).
//
// FLOAT16: values clamped to +-65504, then float16, round to nearest even (hivemind casts to
// float32 first; so do we: serialization.cpp converts float64 input to float32).
//
// MEANSTD_16BIT, per row of the last axis: mean, std = sqrt(sum((x - mean)^2) / cols) (the
// population std, hivemind's `norm / sqrt(n)`), clamped below at float32 epsilon; values
// (x - mean) / std are clamped and stored as float16, followed by all means and all stds as
// float32. Deviation: hivemind computes the mean and norm in float32; we accumulate in double
// (more accurate, same layout). The stored float32 mean and std are the ones used to scale, so
// decoding x16 * std + mean reproduces the value up to float16 rounding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "codecs.hpp"
#include "half.hpp"
#include "parallel.hpp"
#include "stats.hpp"

namespace hivemind::compression::detail {
namespace {

constexpr float kFloat32Eps = std::numeric_limits<float>::epsilon();

void row_stats_to_float(const Moments& m, std::uint64_t cols, float& mean, float& std) {
  if (cols == 0) {  // no values: any finite stats do (hivemind writes NaN here)
    mean = 0.0f;
    std = kFloat32Eps;
    return;
  }
  mean = static_cast<float>(m.mean);
  std = std::max(static_cast<float>(std::sqrt(m.m2 / static_cast<double>(cols))), kFloat32Eps);
}

}  // namespace

void encode_float16(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool) {
  for_each_chunk(pool, n, kChunkElements, [&](std::size_t, std::size_t b, std::size_t e) {
    floats_to_half_clamped(in + b, out + 2 * b, e - b);
  });
}

void decode_float16(const std::uint8_t* in, std::size_t n, float* out, WorkerPool* pool) {
  const bool stream = 4 * n >= kStreamingStoreBytes;
  for_each_chunk(pool, n, kChunkElements, [&](std::size_t, std::size_t b, std::size_t e) {
    half_to_floats(in + 2 * b, out + b, e - b, stream);
  });
}

void encode_meanstd(
    const float* in, std::uint64_t rows, std::uint64_t cols, std::uint8_t* out, WorkerPool* pool) {
  std::uint8_t* means_out = out + 2 * rows * cols;
  std::uint8_t* stds_out = means_out + 4 * rows;
  auto store_stats = [&](std::uint64_t r, float mean, float std) {
    std::memcpy(means_out + 4 * r, &mean, 4);
    std::memcpy(stds_out + 4 * r, &std, 4);
  };
  if (cols >= kChunkElements) {
    // Long rows: one row at a time, its chunks in parallel.
    for (std::uint64_t r = 0; r < rows; ++r) {
      const float* row = in + r * cols;
      float mean = 0;
      float std = 0;
      row_stats_to_float(moments(row, cols, pool), cols, mean, std);
      store_stats(r, mean, std);
      std::uint8_t* row_out = out + 2 * r * cols;
      for_each_chunk(pool, cols, kChunkElements, [&](std::size_t, std::size_t b, std::size_t e) {
        floats_to_half_scaled(row + b, row_out + 2 * b, e - b, mean, std);
      });
    }
    return;
  }
  // Short rows: groups of whole rows per task; each row is a single chunk, so its moments are
  // the ones the long-row path would compute.
  const std::uint64_t rows_per_task =
      std::max<std::uint64_t>(1, kChunkElements / std::max<std::uint64_t>(cols, 1));
  for_each_chunk(pool, rows, rows_per_task, [&](std::size_t, std::size_t rb, std::size_t re) {
    for (std::size_t r = rb; r < re; ++r) {
      const float* row = in + r * cols;
      float mean = 0;
      float std = 0;
      row_stats_to_float(chunk_moments(row, cols), cols, mean, std);
      store_stats(r, mean, std);
      floats_to_half_scaled(row, out + 2 * r * cols, cols, mean, std);
    }
  });
}

void decode_meanstd(
    const std::uint8_t* in, std::uint64_t rows, std::uint64_t cols, float* out, WorkerPool* pool) {
  const std::uint8_t* means_in = in + 2 * rows * cols;
  const std::uint8_t* stds_in = means_in + 4 * rows;
  // Streaming stores for large outputs of long rows (each row ends with a store fence).
  const bool stream = 4 * rows * cols >= kStreamingStoreBytes && cols >= 1024;
  auto load_stats = [&](std::uint64_t r, float& mean, float& std) {
    std::memcpy(&mean, means_in + 4 * r, 4);
    std::memcpy(&std, stds_in + 4 * r, 4);
  };
  if (cols >= kChunkElements) {
    for (std::uint64_t r = 0; r < rows; ++r) {
      float mean = 0;
      float std = 0;
      load_stats(r, mean, std);
      float* row = out + r * cols;
      const std::uint8_t* row_in = in + 2 * r * cols;
      for_each_chunk(pool, cols, kChunkElements, [&](std::size_t, std::size_t b, std::size_t e) {
        half_to_floats_affine(row_in + 2 * b, row + b, e - b, std, mean, stream);
      });
    }
    return;
  }
  const std::uint64_t rows_per_task =
      std::max<std::uint64_t>(1, kChunkElements / std::max<std::uint64_t>(cols, 1));
  for_each_chunk(pool, rows, rows_per_task, [&](std::size_t, std::size_t rb, std::size_t re) {
    for (std::size_t r = rb; r < re; ++r) {
      float mean = 0;
      float std = 0;
      load_stats(r, mean, std);
      half_to_floats_affine(in + 2 * r * cols, out + r * cols, cols, std, mean, stream);
    }
  });
}

}  // namespace hivemind::compression::detail
