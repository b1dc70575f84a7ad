// UNIFORM_8BIT and QUANTILE_8BIT (hivemind/compression/quantization.py): uint8 indices into a
// 256-entry float32 codebook whose entry b is the mean of the input values in bucket b (0 for an
// empty bucket), after an int64 codebook length (256).
//
// UNIFORM_8BIT: mean, std = sqrt(sum((x - mean)^2) / (n - 1)), scale = 6 * std / 256,
// q = clamp(round((x - mean) / scale) + 128, 0, 255), as torch.quantize_per_tensor with
// zero_point 128 computes it (multiply by 1/scale, round half to even). Deviations: moments are
// accumulated in double; when scale is 0 or not finite (n < 2, constant input) every index is
// 128 (hivemind divides by zero there); the codebook keeps the mean even with allow_inplace
// (hivemind's in-place path loses it: reference §4 QUIRK).
//
// QUANTILE_8BIT: borders = the 255 interior quantiles k/256 (linear interpolation, numpy's
// default) of the values, q = number of borders below x. Deviation: hivemind estimates the
// quantiles as quantiles of per-100k-chunk quantiles (np.quantile in a thread pool); we take the
// exact quantiles of the whole input up to 65,536 values and of a fixed pseudo-random sample of
// 65,536 values above that: the same kind of approximation, but O(n) instead of a sort of every
// chunk. The codebook travels in the message, so decoders (ours and hivemind's) are unaffected.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <immintrin.h>

#include "bucketizer.hpp"
#include "codecs.hpp"
#include "half.hpp"
#include "parallel.hpp"
#include "stats.hpp"

namespace hivemind::compression::detail {
namespace {

constexpr std::size_t kBins = 256;
constexpr std::size_t kQuantileSample = std::size_t{1} << 16;

struct Histogram {
  double sum[kBins] = {};
  std::uint64_t count[kBins] = {};
};

// Writes the int64 length and the codebook = per-bucket means, merging chunk histograms in order.
void write_codebook(const std::vector<Histogram>& parts, std::uint8_t* out) {
  const std::int64_t length = kBins;
  std::memcpy(out, &length, 8);
  for (std::size_t b = 0; b < kBins; ++b) {
    double sum = 0;
    std::uint64_t count = 0;
    for (const auto& h : parts) {
      sum += h.sum[b];
      count += h.count[b];
    }
    const float value = count ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
    std::memcpy(out + 8 + 4 * b, &value, 4);
  }
}

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The 255 interior quantile borders of in[0, n), n > 0 (see the file comment).
std::vector<float> quantile_borders(const float* in, std::size_t n) {
  std::vector<std::uint32_t> keys;
  if (n <= kQuantileSample) {
    keys.resize(n);
    for (std::size_t i = 0; i < n; ++i)
      keys[i] = float_key(in[i]);
  } else {
    keys.resize(kQuantileSample);
    std::uint64_t state = 0x5EED0F0A11DA7Aull ^ n;  // fixed seed: same input, same bytes
    for (auto& k : keys)
      k = float_key(in[splitmix64(state) % n]);
  }
  std::sort(keys.begin(), keys.end());  // keys: a total order even with NaN
  std::vector<float> borders(kBins - 1);
  const double last = static_cast<double>(keys.size() - 1);
  for (std::size_t k = 1; k < kBins; ++k) {
    const double pos = last * static_cast<double>(k) / static_cast<double>(kBins);
    const auto lo = static_cast<std::size_t>(pos);
    const double frac = pos - static_cast<double>(lo);
    const float a = key_float(keys[lo]);
    float border = a;
    if (frac > 0 && lo + 1 < keys.size()) {
      const float b = key_float(keys[lo + 1]);
      const double v = a + (static_cast<double>(b) - a) * frac;
      if (std::isfinite(v))
        border = static_cast<float>(v);
    }
    borders[k - 1] = border;
  }
  return borders;
}

// Adds the chunk's values to its histogram, by their indices q. Elements go to four interleaved
// sub-histograms (fixed: element i to i % 4) so that runs of one bucket do not serialize on one
// counter; the sub-histograms are then summed in a fixed order.
void histogram(const float* x, const std::uint8_t* q, std::size_t n, Histogram& h) {
  constexpr std::size_t kWays = 4;
  double sum[kWays][kBins] = {};
  std::uint32_t count[kWays][kBins] = {};
  std::size_t i = 0;
  for (; i + kWays <= n; i += kWays) {
    for (std::size_t w = 0; w < kWays; ++w) {
      sum[w][q[i + w]] += x[i + w];
      ++count[w][q[i + w]];
    }
  }
  for (; i < n; ++i) {
    sum[0][q[i]] += x[i];
    ++count[0][q[i]];
  }
  for (std::size_t k = 0; k < kBins; ++k) {
    h.sum[k] = (sum[0][k] + sum[1][k]) + (sum[2][k] + sum[3][k]);
    h.count[k] = std::uint64_t{count[0][k]} + count[1][k] + count[2][k] + count[3][k];
  }
}

// For each chunk: indices (index_range(x, n, q) writes q[0, n)), then the chunk's histogram;
// then the codebook from all histograms in chunk order.
template <typename IndexRange>
void quantize(const float* in,
              std::size_t n,
              std::uint8_t* out,
              WorkerPool* pool,
              const IndexRange& index_range) {
  std::vector<Histogram> parts(chunk_count(n));
  std::uint8_t* const q = out + 8 + 4 * kBins;
  auto chunk = [&](std::size_t c, std::size_t b, std::size_t e) {
    index_range(in + b, e - b, q + b);
    histogram(in + b, q + b, e - b, parts[c]);
  };
  for_each_chunk(pool, n, kChunkElements, chunk);
  write_codebook(parts, out);
}

// UNIFORM_8BIT indices: clamp(round_half_even((x - mean) * inv_scale) + 128, 0, 255). Rounding
// uses cvtss2si/cvtps2dq in the default MXCSR mode (nearest even, like nearbyint). Both paths
// clamp the float first, keeping NaN (cvt gives INT_MIN for it, so NaN lands in bucket 0).
void uniform_indices_scalar(
    const float* x, std::size_t n, float mean, float inv_scale, std::uint8_t* q) {
  for (std::size_t i = 0; i < n; ++i) {
    float t = (x[i] - mean) * inv_scale;
    t = t < -1024.0f ? -1024.0f : (t > 1024.0f ? 1024.0f : t);
    const int r = _mm_cvtss_si32(_mm_set_ss(t)) + 128;
    q[i] = static_cast<std::uint8_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
  }
}

__attribute__((target("avx2"))) void uniform_indices_avx2(
    const float* x, std::size_t n, float mean, float inv_scale, std::uint8_t* q) {
  const __m256 m = _mm256_set1_ps(mean);
  const __m256 s = _mm256_set1_ps(inv_scale);
  const __m256 lo = _mm256_set1_ps(-1024.0f);
  const __m256 hi = _mm256_set1_ps(1024.0f);
  const __m256i offset = _mm256_set1_epi32(128);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i top = _mm256_set1_epi32(255);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), s);
    t = _mm256_min_ps(hi, _mm256_max_ps(lo, t));  // constant first: NaN passes through
    __m256i r = _mm256_add_epi32(_mm256_cvtps_epi32(t), offset);
    r = _mm256_min_epi32(_mm256_max_epi32(r, zero), top);
    const __m128i words =
        _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(words, words));
  }
  uniform_indices_scalar(x + i, n - i, mean, inv_scale, q + i);
}

}  // namespace

void uniform_indices(
    const float* x, std::size_t n, float mean, float inv_scale, std::uint8_t* q, bool use_avx2) {
  if (use_avx2)
    uniform_indices_avx2(x, n, mean, inv_scale, q);
  else
    uniform_indices_scalar(x, n, mean, inv_scale, q);
}

void encode_uniform8(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool) {
  const Moments stats = moments(in, n, pool);
  const double std_unbiased = n > 1 ? std::sqrt(stats.m2 / static_cast<double>(n - 1)) : 0.0;
  const auto scale = static_cast<float>(6.0 * std_unbiased / static_cast<double>(kBins));
  const auto mean = static_cast<float>(stats.mean);
  if (!(scale > 0.0f) || !std::isfinite(1.0f / scale)) {
    quantize(in, n, out, pool, [](const float*, std::size_t m, std::uint8_t* q) {
      std::memset(q, 128, m);
    });
    return;
  }
  const float inv_scale = 1.0f / scale;
  const bool avx2 = have_avx2();
  quantize(in, n, out, pool, [=](const float* x, std::size_t m, std::uint8_t* q) {
    uniform_indices(x, m, mean, inv_scale, q, avx2);
  });
}

void encode_quantile8(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool) {
  if (n == 0) {
    write_codebook({}, out);
    return;
  }
  const Bucketizer bucketizer(quantile_borders(in, n), n >= kChunkElements);
  const Bucketizer::Lookup bucket = bucketizer.lookup();
  const bool avx2 = have_avx2();
  quantize(in, n, out, pool, [bucket, avx2](const float* x, std::size_t m, std::uint8_t* q) {
    bucketize(bucket, x, m, 1.0f, q, avx2);
  });
}

void decode_codebook8(const std::uint8_t* q,
                      std::size_t n,
                      const void* table,
                      std::size_t elem_size,
                      void* out,
                      WorkerPool* pool) {
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
