// The codecs' fast kernels against plain reference loops: histograms, the fused UNIFORM_8BIT
// chunk pass, the bucketizer's one-lookup path, BLOCKWISE_8BIT's absmax, and the decoders'
// streaming stores (any alignment, any length).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "bucketizer.hpp"
#include "codecs.hpp"
#include "half.hpp"
#include "histogram.hpp"
#include "parallel.hpp"
#include "stats.hpp"

namespace hivemind::compression::detail {
namespace {

std::vector<float> normal_values(std::size_t n, std::uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> x(n);
  for (auto& v : x)
    v = normal(rng);
  return x;
}

// The histogram as a plain loop: element i to sub-histogram i % 4 (the last n % 4 to 0).
Histogram reference_histogram(const float* x, const std::uint8_t* q, std::size_t n) {
  double sum[4][256] = {};
  std::uint64_t count[4][256] = {};
  const std::size_t grouped = n - n % 4;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t way = i < grouped ? i % 4 : 0;
    sum[way][q[i]] += x[i];
    ++count[way][q[i]];
  }
  Histogram h;
  for (std::size_t b = 0; b < 256; ++b) {
    h.sum[b] = (sum[0][b] + sum[1][b]) + (sum[2][b] + sum[3][b]);
    h.count[b] = count[0][b] + count[1][b] + count[2][b] + count[3][b];
  }
  return h;
}

TEST(Kernels, HistogramMatchesPlainLoop) {
  for (const std::size_t n : {0, 1, 3, 4, 7, 1001, 65536}) {
    const auto x = normal_values(n, static_cast<std::uint32_t>(n));
    std::vector<std::uint8_t> q(n);
    for (std::size_t i = 0; i < n; ++i)
      q[i] = static_cast<std::uint8_t>(i * 7 % 13 == 0 ? 255 : (i * 31) % 5);  // runs and repeats
    Histogram got;
    histogram(x.data(), q.data(), n, got);
    const Histogram want = reference_histogram(x.data(), q.data(), n);
    for (std::size_t b = 0; b < 256; ++b) {
      ASSERT_EQ(got.count[b], want.count[b]) << n << " " << b;
      ASSERT_EQ(got.sum[b], want.sum[b]) << n << " " << b;
    }
  }
}

TEST(Kernels, OnePassMomentsStayAccurateWhenTheShiftIsAnOutlier) {
  // The shift is the chunk's first value; make it the worst case, an extreme outlier. And a
  // large mean with a small spread, where a shift of 0 would cancel 27 bits.
  auto outlier = normal_values(kChunkElements, 2, 1e-3f);
  outlier[0] = 1e6f;
  auto offset = normal_values(kChunkElements, 3, 0.1f);
  for (auto& v : offset)
    v += 1000.0f;
  for (const auto* data : {&outlier, &offset}) {
    const auto& x = *data;
    for (const bool avx2 : {false, have_avx2()}) {
      const Moments got = chunk_moments_with(x.data(), x.size(), avx2);
      long double sum = 0;
      for (float v : x)
        sum += v;
      const long double mean = sum / x.size();
      long double m2 = 0;
      for (float v : x)
        m2 += (v - mean) * (v - mean);
      // The mean to a tiny fraction of the spread (what the codecs divide by).
      const double stddev = std::sqrt(static_cast<double>(m2) / static_cast<double>(x.size()));
      EXPECT_NEAR(got.mean, static_cast<double>(mean), 1e-12 * stddev);
      EXPECT_NEAR(got.m2, static_cast<double>(m2), 1e-9 * static_cast<double>(m2));
    }
  }
  const std::vector<float> constant(1000, 3.25f);
  const Moments flat = chunk_moments(constant.data(), constant.size());
  EXPECT_EQ(flat.mean, 3.25);
  EXPECT_EQ(flat.m2, 0.0);
  std::vector<float> special = {1.0f, std::numeric_limits<float>::infinity(), 2.0f};
  EXPECT_TRUE(std::isnan(chunk_moments(special.data(), 3).m2));
  special[0] = std::nanf("");
  EXPECT_TRUE(std::isnan(chunk_moments(special.data(), 3).mean));
}

TEST(Kernels, UniformEncodingEqualsScalarIndicesAndPlainHistograms) {
  // encode_uniform8 fuses indices and histogram (AVX2); rebuild its output from the scalar index
  // loop and plain histograms, with the codec's own statistics.
  auto x = normal_values(3 * kChunkElements + 13, 5, 3.0f);
  x[100] = std::nanf("");
  x[101] = std::numeric_limits<float>::infinity();
  x[102] = 1e30f;
  x[x.size() - 1] = -1e30f;
  std::vector<float> finite(x.begin() + 103, x.end() - 1);
  // With the specials the scale is not finite and every index is 128; then the finite part.
  for (const auto* input : {&x, &finite}) {
    const std::size_t m = input->size();
    std::vector<std::uint8_t> out(8 + 1024 + m);
    encode_uniform8(input->data(), m, out.data(), nullptr);
    const Moments stats = moments(input->data(), m, nullptr);
    const auto scale =
        static_cast<float>(6.0 * std::sqrt(stats.m2 / static_cast<double>(m - 1)) / 256.0);
    std::vector<std::uint8_t> q(m, 128);
    if (scale > 0.0f && std::isfinite(1.0f / scale))
      uniform_indices(
          input->data(), m, static_cast<float>(stats.mean), 1.0f / scale, q.data(), false);
    ASSERT_EQ(std::vector<std::uint8_t>(out.begin() + 1032, out.end()), q);
    double sum[256] = {};
    std::uint64_t count[256] = {};
    for (std::size_t b = 0; b < m; b += kChunkElements) {
      const std::size_t e = std::min(m, b + kChunkElements);
      const Histogram h = reference_histogram(input->data() + b, q.data() + b, e - b);
      for (std::size_t k = 0; k < 256; ++k) {
        sum[k] += h.sum[k];
        count[k] += h.count[k];
      }
    }
    for (std::size_t k = 0; k < 256; ++k) {
      float entry;
      std::memcpy(&entry, out.data() + 8 + 4 * k, 4);
      const float want = count[k] ? static_cast<float>(sum[k] / static_cast<double>(count[k])) : 0;
      if (std::isnan(want))
        EXPECT_TRUE(std::isnan(entry)) << k;
      else
        EXPECT_EQ(entry, want) << k;
    }
  }
}

TEST(Kernels, BucketizerOneLookupPathAtPrefixEdges) {
  // Borders whose key prefixes hold exactly one border with extreme low bits (0x0000, 0xFFFF),
  // two borders in one prefix, and the blockwise midpoints (one per prefix or none).
  std::vector<float> borders;
  const std::uint32_t prefixes[] = {0x8001, 0x9000, 0xBF80, 0xC000, 0x4000};
  for (std::uint32_t p : prefixes) {
    borders.push_back(key_float((p << 16) | 0x0000u));
    borders.push_back(key_float(((p + 2) << 16) | 0xFFFFu));
  }
  borders.push_back(key_float((0xA000u << 16) | 0x1234u));  // two in one prefix
  borders.push_back(key_float((0xA000u << 16) | 0x5678u));
  const auto& code = blockwise_code();
  for (std::size_t k = 0; k + 1 < code.size() && borders.size() < 255; ++k)
    borders.push_back((code[k] + code[k + 1]) / 2);
  const Bucketizer bucketizer(borders, true);
  std::vector<float> inputs;
  for (float b : borders) {
    const std::uint32_t key = float_key(b);
    for (std::uint32_t k : {key - 1, key, key + 1, key & 0xFFFF0000u, key | 0xFFFFu})
      inputs.push_back(key_float(k));
  }
  const auto more = normal_values(5000, 9, 0.3f);
  inputs.insert(inputs.end(), more.begin(), more.end());
  std::vector<std::uint8_t> scalar(inputs.size()), bulk(inputs.size());
  bucketize(bucketizer.lookup(), inputs.data(), inputs.size(), 1.0f, scalar.data(), false);
  bucketize(bucketizer.lookup(), inputs.data(), inputs.size(), 1.0f, bulk.data(), have_avx2());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::size_t below = 0;
    for (float b : borders)
      below += float_key(b) < float_key(inputs[i]);
    ASSERT_EQ(static_cast<std::size_t>(scalar[i]), below) << i;
    ASSERT_EQ(static_cast<std::size_t>(bulk[i]), below) << i;
  }
}

TEST(Kernels, BlockwiseAbsmaxSkipsNaN) {
  auto x = normal_values(3 * 4096 + 5, 4);
  x[10] = std::nanf("");      // block 0: NaN skipped
  x[4096 + 3] = -7.5f;        // block 1: a negative maximum
  x[2 * 4096 + 4095] = 9.0f;  // block 2: the last element
  x[3 * 4096 + 4] = -0.0f;    // block 3 (5 values)
  std::vector<std::uint8_t> out(16 + 4 * 4 + 1024 + x.size());
  encode_blockwise8(x.data(), x.size(), out.data(), nullptr);
  for (std::size_t blk = 0; blk < 4; ++blk) {
    float want = 0.0f;
    for (std::size_t i = blk * 4096; i < std::min(x.size(), (blk + 1) * 4096); ++i)
      if (!std::isnan(x[i]))
        want = std::max(want, std::fabs(x[i]));
    float got;
    std::memcpy(&got, out.data() + 16 + 4 * blk, 4);
    EXPECT_EQ(got, want) << blk;
  }
}

TEST(Kernels, StreamingDecodersWriteTheSameValuesAtAnyAlignment) {
  // Long enough for streaming stores (kStreamingStoreBytes), written one float off alignment.
  const std::size_t n = kStreamingStoreBytes / 4 + 1001;
  std::vector<std::uint8_t> q(n);
  std::vector<std::uint8_t> halves(2 * n);
  std::mt19937 rng(8);
  for (auto& v : q)
    v = static_cast<std::uint8_t>(rng());
  for (std::size_t i = 0; i < n; ++i) {  // finite halves (no NaN: compared with ==)
    const auto h = static_cast<std::uint16_t>(rng() & 0x7BFF);
    std::memcpy(halves.data() + 2 * i, &h, 2);
  }
  std::vector<float> table(256), absmax((n + 4095) / 4096);
  for (std::size_t k = 0; k < 256; ++k)
    table[k] = static_cast<float>(k) * 0.25f - 3.0f;
  for (std::size_t b = 0; b < absmax.size(); ++b)
    absmax[b] = 1.0f + static_cast<float>(b % 7);
  std::vector<float> buffer(n + 8);
  WorkerPool pool(2);
  for (const std::size_t offset : {0, 1}) {
    float* out = buffer.data() + offset;
    decode_codebook8(q.data(), n, table.data(), 4, out, &pool);
    for (std::size_t i = 0; i < n; ++i)
      ASSERT_EQ(out[i], table[q[i]]) << i;
    decode_blockwise8(q.data(), n, absmax.data(), table.data(), out, &pool);
    for (std::size_t i = 0; i < n; ++i)
      ASSERT_EQ(out[i], table[q[i]] * absmax[i / 4096]) << i;
    std::vector<float> plain(n);
    half_to_floats(halves.data(), plain.data(), n, false);
    decode_float16(halves.data(), n, out, &pool);
    ASSERT_EQ(std::memcmp(out, plain.data(), 4 * n), 0);
    half_to_floats_affine(halves.data(), plain.data(), n, 0.5f, 2.0f, false);
    half_to_floats_affine(halves.data(), out, n, 0.5f, 2.0f, true);
    ASSERT_EQ(std::memcmp(out, plain.data(), 4 * n), 0);
  }
}

}  // namespace
}  // namespace hivemind::compression::detail
