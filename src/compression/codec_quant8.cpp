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
#include "histogram.hpp"
#include "parallel.hpp"
#include "stats.hpp"

namespace hivemind::compression::detail {
namespace {

constexpr std::size_t kBins = kHistogramBins;
constexpr std::size_t kQuantileSample = std::size_t{1} << 16;

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
    // The sample positions first, then the reads, each prefetched a few reads ahead: 65,536
    // reads scattered over the input would otherwise each wait for memory.
    constexpr std::size_t kAhead = 16;
    std::vector<std::size_t> positions(kQuantileSample);
    std::uint64_t state = 0x5EED0F0A11DA7Aull ^ n;  // fixed seed: same input, same bytes
    for (auto& p : positions)
      p = static_cast<std::size_t>(splitmix64(state) % n);
    keys.resize(kQuantileSample);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i + kAhead < keys.size())
        __builtin_prefetch(in + positions[i + kAhead]);
      keys[i] = float_key(in[positions[i]]);
    }
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

// For each chunk, chunk_range(x, n, q, histogram) writes the indices q[0, n) and the chunk's
// histogram; then the codebook from all histograms in chunk order.
template <typename ChunkRange>
void quantize(const float* in,
              std::size_t n,
              std::uint8_t* out,
              WorkerPool* pool,
              const ChunkRange& chunk_range) {
  std::vector<Histogram> parts(chunk_count(n));
  std::uint8_t* const q = out + 8 + 4 * kBins;
  auto chunk = [&](std::size_t c, std::size_t b, std::size_t e) {
    chunk_range(in + b, e - b, q + b, parts[c]);
  };
  for_each_chunk(pool, n, kChunkElements, chunk);
  write_codebook(parts, out);
}

// chunk_range of quantize for separate index and histogram passes over a chunk (in cache).
template <typename IndexRange>
auto then_histogram(IndexRange index_range) {
  return [index_range](const float* x, std::size_t n, std::uint8_t* q, Histogram& h) {
    index_range(x, n, q);
    histogram(x, q, n, h);
  };
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

// uniform_indices_avx2 and histogram() in one pass: each group of eight values is loaded once,
// its indices computed as above and stored, and the values added to the sub-histograms from
// registers, at slot offsets computed eight at a time (element k of a group goes to
// sub-histogram k % 4, as in SubHistograms::add_range).
__attribute__((target("avx2"))) void uniform_chunk_avx2(
    const float* x, std::size_t n, float mean, float inv_scale, std::uint8_t* q, Histogram& h) {
  const __m256 m = _mm256_set1_ps(mean);
  const __m256 s = _mm256_set1_ps(inv_scale);
  const __m256 lo = _mm256_set1_ps(-1024.0f);
  const __m256 hi = _mm256_set1_ps(1024.0f);
  const __m256i offset = _mm256_set1_epi32(128);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i top = _mm256_set1_epi32(255);
  auto way = [](std::size_t w) {
    return static_cast<int>(SubHistograms::slot_offset(w, 0));
  };
  const __m256i way_offsets =
      _mm256_setr_epi32(way(0), way(1), way(2), way(3), way(0), way(1), way(2), way(3));
  const __m256d one = _mm256_set1_pd(1.0);
  SubHistograms sub;
  alignas(32) std::uint32_t slot[8];
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(v, m), s);
    t = _mm256_min_ps(hi, _mm256_max_ps(lo, t));
    __m256i r = _mm256_add_epi32(_mm256_cvtps_epi32(t), offset);
    r = _mm256_min_epi32(_mm256_max_epi32(r, zero), top);
    const __m128i words =
        _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(words, words));
    // 16 bytes per slot: offset = way offset + 16 * bucket.
    _mm256_store_si256(reinterpret_cast<__m256i*>(slot),
                       _mm256_add_epi32(_mm256_slli_epi32(r, 4), way_offsets));
    const __m256d x0123 = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d x4567 = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    const __m256d even_lo = _mm256_unpacklo_pd(x0123, one);  // {x0, 1}, {x2, 1}
    const __m256d odd_lo = _mm256_unpackhi_pd(x0123, one);   // {x1, 1}, {x3, 1}
    const __m256d even_hi = _mm256_unpacklo_pd(x4567, one);
    const __m256d odd_hi = _mm256_unpackhi_pd(x4567, one);
    sub.add_at(slot[0], _mm256_castpd256_pd128(even_lo));
    sub.add_at(slot[1], _mm256_castpd256_pd128(odd_lo));
    sub.add_at(slot[2], _mm256_extractf128_pd(even_lo, 1));
    sub.add_at(slot[3], _mm256_extractf128_pd(odd_lo, 1));
    sub.add_at(slot[4], _mm256_castpd256_pd128(even_hi));
    sub.add_at(slot[5], _mm256_castpd256_pd128(odd_hi));
    sub.add_at(slot[6], _mm256_extractf128_pd(even_hi, 1));
    sub.add_at(slot[7], _mm256_extractf128_pd(odd_hi, 1));
  }
  uniform_indices_scalar(x + i, n - i, mean, inv_scale, q + i);
  sub.add_range(x + i, q + i, n - i);
  sub.finish(h);
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
    quantize(in, n, out, pool, then_histogram([](const float*, std::size_t m, std::uint8_t* q) {
               std::memset(q, 128, m);
             }));
    return;
  }
  const float inv_scale = 1.0f / scale;
  if (have_avx2()) {
    quantize(in, n, out, pool, [=](const float* x, std::size_t m, std::uint8_t* q, Histogram& h) {
      uniform_chunk_avx2(x, m, mean, inv_scale, q, h);
    });
    return;
  }
  quantize(in, n, out, pool, then_histogram([=](const float* x, std::size_t m, std::uint8_t* q) {
             uniform_indices_scalar(x, m, mean, inv_scale, q);
           }));
}

void encode_quantile8(const float* in, std::size_t n, std::uint8_t* out, WorkerPool* pool) {
  if (n == 0) {
    write_codebook({}, out);
    return;
  }
  const Bucketizer bucketizer(quantile_borders(in, n), n >= kChunkElements);
  const Bucketizer::Lookup bucket = bucketizer.lookup();
  const bool avx2 = have_avx2();
  quantize(in,
           n,
           out,
           pool,
           then_histogram([bucket, avx2](const float* x, std::size_t m, std::uint8_t* q) {
             bucketize(bucket, x, m, 1.0f, q, avx2);
           }));
}

}  // namespace hivemind::compression::detail
