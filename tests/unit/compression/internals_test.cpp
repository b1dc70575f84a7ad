// The layer's building blocks: binary16 conversions (scalar against F16C), the bucketizer
// (against brute force), the worker pool, and the blockwise dynamic code.
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bucketizer.hpp"
#include "codecs.hpp"
#include "half.hpp"
#include "hivemind/compression/worker_pool.hpp"
#include "stats.hpp"

namespace hivemind::compression::detail {
namespace {

TEST(Half, KnownValues) {
  EXPECT_EQ(float_to_half_scalar(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half_scalar(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half_scalar(65504.0f), 0x7BFF);
  EXPECT_EQ(float_to_half_scalar(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_half_scalar(65520.0f), 0x7C00);               // rounds to infinity (unclamped)
  EXPECT_EQ(float_to_half_scalar(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half_scalar(std::ldexp(1.0f, -25)), 0x0000);  // tie to even: 0
  EXPECT_EQ(float_to_half_scalar(std::ldexp(3.0f, -25)), 0x0002);  // tie to even: 2
  EXPECT_EQ(float_to_half_scalar(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even
  EXPECT_EQ(float_to_half_scalar(1.0f + std::ldexp(3.0f, -11)), 0x3C02);
  EXPECT_EQ(float_to_half_scalar(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half_scalar(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(float_to_half_scalar(std::nanf("")) & 0x7E00, 0x7E00);
  EXPECT_EQ(half_to_float_scalar(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float_scalar(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float_scalar(0xFBFF), -65504.0f);
}

TEST(Half, EveryHalfRoundTripsAndBulkPathsAgree) {
  std::vector<std::uint8_t> halves(2 * 65536);
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    std::memcpy(&halves[2 * h], &bits, 2);
  }
  std::vector<float> scalar(65536), bulk(65536);
  half_to_floats_scalar(halves.data(), scalar.data(), 65536);
  half_to_floats(halves.data(), bulk.data(), 65536);
  for (std::uint32_t h = 0; h < 65536; ++h) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(scalar[h]), std::bit_cast<std::uint32_t>(bulk[h])) << h;
    if (!std::isnan(scalar[h])) {
      ASSERT_EQ(float_to_half_scalar(scalar[h]), h) << h;
    }
  }
}

TEST(Half, FloatToHalfScalarMatchesBulkOnASweepOfAllFloats) {
  // Every 4099th float bit pattern (about a million, all classes and exponents), clamped.
  std::vector<float> in;
  for (std::uint64_t b = 0; b < (std::uint64_t{1} << 32); b += 4099)
    in.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(b)));
  std::vector<std::uint8_t> a(2 * in.size()), b(2 * in.size());
  floats_to_half_clamped_scalar(in.data(), a.data(), in.size());
  floats_to_half_clamped(in.data(), b.data(), in.size());
  EXPECT_EQ(a, b) << "F16C path in use: " << have_f16c();
  // Clamping: nothing but NaN becomes infinity.
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::uint16_t h;
    std::memcpy(&h, &a[2 * i], 2);
    if ((h & 0x7FFF) == 0x7C00)
      ADD_FAILURE() << "infinity from " << in[i];
  }
}

TEST(Half, FusedMeanStdConversionsMatchTheirDefinition) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(3.0f, 50.0f);
  std::vector<float> x(1003);
  for (auto& v : x)
    v = normal(rng);
  x[5] = 1e9f;  // clamped
  x[6] = std::nanf("");
  const float mean = 2.5f, std = 0.75f;
  std::vector<float> scaled(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    scaled[i] = (x[i] - mean) / std;
  std::vector<std::uint8_t> expected(2 * x.size()), fused(2 * x.size());
  floats_to_half_clamped_scalar(scaled.data(), expected.data(), x.size());
  floats_to_half_scaled(x.data(), fused.data(), x.size(), mean, std);
  EXPECT_EQ(fused, expected);
  std::vector<float> back(x.size()), affine(x.size());
  half_to_floats_scalar(expected.data(), back.data(), x.size());
  half_to_floats_affine(expected.data(), affine.data(), x.size(), std, mean);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float want = back[i] * std + mean;
    if (std::isnan(want))
      EXPECT_TRUE(std::isnan(affine[i]));
    else
      EXPECT_EQ(affine[i], want) << i;
  }
}

TEST(Uniform8Bit, VectorIndicesMatchScalar) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(1.0f, 4.0f);
  std::vector<float> x(4099);
  for (auto& v : x)
    v = normal(rng);
  // Specials, and exact halves (ties round to even: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2).
  const float specials[] = {std::nanf(""),
                            -std::nanf(""),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            1e30f,
                            -1e30f,
                            1.5f,
                            1.0f + 0.5f / 8,
                            1.0f + 1.5f / 8,
                            1.0f - 2.5f / 8};
  std::copy(std::begin(specials), std::end(specials), x.begin());
  std::vector<std::uint8_t> scalar(x.size()), vector(x.size());
  uniform_indices(x.data(), x.size(), 1.0f, 8.0f, scalar.data(), false);
  EXPECT_EQ(scalar[0], 0);  // NaN
  EXPECT_EQ(scalar[2], 255);
  EXPECT_EQ(scalar[3], 0);
  EXPECT_EQ(scalar[7], 128);  // 0.5 -> 0
  EXPECT_EQ(scalar[8], 130);  // 1.5 -> 2
  EXPECT_EQ(scalar[9], 126);  // -2.5 -> -2
  if (have_avx2()) {
    uniform_indices(x.data(), x.size(), 1.0f, 8.0f, vector.data(), true);
    EXPECT_EQ(vector, scalar);
  }
}

TEST(Moments, VectorPathIsBitIdenticalAndMergingIsExactEnough) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(100.0f, 3.0f);
  std::vector<float> x(100003);
  for (auto& v : x)
    v = normal(rng);
  const Moments scalar = chunk_moments_with(x.data(), x.size(), false);
  if (have_avx2()) {
    const Moments vector = chunk_moments_with(x.data(), x.size(), true);
    EXPECT_EQ(std::bit_cast<std::uint64_t>(vector.mean), std::bit_cast<std::uint64_t>(scalar.mean));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(vector.m2), std::bit_cast<std::uint64_t>(scalar.m2));
  }
  // Chunked and merged (what the codecs do for long inputs) against one pass in long double.
  long double sum = 0;
  for (float v : x)
    sum += v;
  const long double mean = sum / x.size();
  long double m2 = 0;
  for (float v : x)
    m2 += (v - mean) * (v - mean);
  WorkerPool pool(3);
  const Moments merged = moments(x.data(), x.size(), &pool);
  EXPECT_EQ(merged.count, static_cast<double>(x.size()));
  EXPECT_NEAR(merged.mean, static_cast<double>(mean), 1e-12 * 100);
  EXPECT_NEAR(merged.m2, static_cast<double>(m2), 1e-9 * static_cast<double>(m2));
  const Moments single = moments(x.data(), x.size(), nullptr);
  EXPECT_EQ(single.mean, merged.mean);
  EXPECT_EQ(single.m2, merged.m2);
}

std::uint8_t brute_force_bucket(const std::vector<float>& borders, float x) {
  int n = 0;
  for (float b : borders)
    n += float_key(b) < float_key(x);
  return static_cast<std::uint8_t>(n);
}

TEST(Bucketizer, MatchesBruteForce) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  for (int round = 0; round < 4; ++round) {
    std::vector<float> borders(255);
    for (auto& b : borders)  // round 3: many borders share a key prefix (binary search path)
      b = round == 3 ? 1.0f + normal(rng) * 1e-5f : normal(rng) * static_cast<float>(round + 1);
    borders[7] = borders[8];  // duplicates are allowed
    std::vector<float> inputs = {0.0f,
                                 -0.0f,
                                 std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(),
                                 std::nanf(""),
                                 -std::nanf(""),
                                 borders[3],
                                 borders[200]};
    for (int i = 0; i < 20000; ++i)
      inputs.push_back(round == 3 ? 1.0f + normal(rng) * 2e-5f : normal(rng) * 3.0f);
    std::vector<float> sorted = borders;
    const Bucketizer with_table(borders, true);
    const Bucketizer without(borders, false);
    for (float x : inputs) {
      const auto expected = brute_force_bucket(borders, x);
      ASSERT_EQ(with_table(x), expected) << x;
      ASSERT_EQ(without(x), expected) << x;
    }
    // The bulk paths (AVX2 gathers where available) agree with single lookups.
    std::vector<std::uint8_t> scalar(inputs.size()), bulk(inputs.size());
    bucketize(with_table.lookup(), inputs.data(), inputs.size(), 0.5f, scalar.data(), false);
    bucketize(with_table.lookup(), inputs.data(), inputs.size(), 0.5f, bulk.data(), have_avx2());
    EXPECT_EQ(bulk, scalar);
    for (std::size_t i = 0; i < inputs.size(); ++i)
      ASSERT_EQ(scalar[i], brute_force_bucket(borders, inputs[i] * 0.5f)) << inputs[i];
  }
  const Bucketizer none(std::vector<float>{}, true);
  EXPECT_EQ(none(1.0f), 0);
}

TEST(Bucketizer, FloatKeyIsOrderPreserving) {
  const float values[] = {-std::numeric_limits<float>::infinity(),
                          -1e30f,
                          -1.0f,
                          -1e-40f,
                          0.0f,
                          1e-40f,
                          1.0f,
                          1e30f,
                          std::numeric_limits<float>::infinity()};
  for (std::size_t i = 0; i + 1 < std::size(values); ++i) {
    EXPECT_LT(float_key(values[i]), float_key(values[i + 1]));
    EXPECT_EQ(key_float(float_key(values[i])), values[i]);
  }
}

TEST(WorkerPool, EveryIndexRunsExactlyOnce) {
  for (std::size_t concurrency : {1, 2, 5}) {
    WorkerPool pool(concurrency);
    EXPECT_EQ(pool.concurrency(), concurrency);
    for (std::size_t n : {0, 1, 3, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallel_for(n, [&](std::size_t i) { hits[i].fetch_add(1); });
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
  EXPECT_THROW(WorkerPool(0), std::invalid_argument);
}

TEST(WorkerPool, ConcurrentCallersShareTheWorkers) {
  WorkerPool pool(3);
  std::atomic<long> total{0};
  auto caller = [&] {
    for (int round = 0; round < 200; ++round)
      pool.parallel_for(17, [&](std::size_t i) { total.fetch_add(static_cast<long>(i)); });
  };
  std::thread a(caller), b(caller), c(caller);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(total.load(), 3L * 200 * (16 * 17 / 2));
}

TEST(BlockwiseCode, DynamicSignedMap) {
  const auto& code = blockwise_code();
  EXPECT_TRUE(std::is_sorted(code.begin(), code.end()));
  EXPECT_EQ(std::adjacent_find(code.begin(), code.end()), code.end());  // distinct
  EXPECT_EQ(code[127], 0.0f);
  EXPECT_EQ(code[255], 1.0f);
  EXPECT_EQ(code[128], 5.5e-7f);      // 10^-6 * midpoint of [0.1, 1]
  EXPECT_EQ(code[0], -0.99296875f);   // -(0.1 + 63.5 * 0.9 / 64)
  EXPECT_EQ(code[219], 0.50078125f);  // 0.1 + 28.5 * 0.9 / 64
  for (int k = 0; k < 127; ++k)
    EXPECT_EQ(code[k], -code[254 - k]) << k;  // symmetric except 0 and 1.0
}

}  // namespace
}  // namespace hivemind::compression::detail
