// Adaptive compression rules (hivemind/compression/adaptive.py).
#include "hivemind/compression/policy.hpp"

#include <gtest/gtest.h>

#include "hivemind/compression/error.hpp"

namespace hivemind::compression {
namespace {

using T = CompressionType;

CompressionInfo info(std::int64_t numel,
                     TensorRole role = TensorRole::kUnspecified,
                     TensorKey key = {}) {
  CompressionInfo i;
  i.numel = numel;
  i.role = role;
  i.key = std::move(key);
  return i;
}

TEST(Policy, FixedCodec) {
  const Compression c = T::kFloat16;
  EXPECT_FALSE(c.is_adaptive());
  EXPECT_EQ(c.type(), T::kFloat16);
  EXPECT_EQ(*c.choose(info(5)), T::kFloat16);
  EXPECT_EQ(*Compression().choose(info(5)), T::kNone);
}

TEST(Policy, SizeAdaptiveUsesGreaterEqualFromTheThresholdOn) {
  const auto c = Compression::size_adaptive(1000, T::kFloat16, T::kUniform8Bit);
  EXPECT_TRUE(c.is_adaptive());
  EXPECT_EQ(*c.choose(info(999)), T::kFloat16);
  EXPECT_EQ(*c.choose(info(1000)), T::kUniform8Bit);
  EXPECT_EQ(*c.choose(info(0)), T::kFloat16);
  // The whole tensor's size decides, even for a small part of it.
  CompressionInfo part = info(5000);
  part.part_index = 3;
  part.part_size = 10;
  EXPECT_EQ(*c.choose(part), T::kUniform8Bit);
}

TEST(Policy, RoleAdaptiveFallsBackToDefault) {
  // hivemind's test_adaptive_compression: parameters FLOAT16, gradients by size, optimizer
  // state uncompressed, everything else the default.
  const auto c = Compression::role_adaptive(
      RoleCompressions{.parameter = T::kFloat16,
                       .gradient = Compression::size_adaptive(1000, T::kFloat16, T::kUniform8Bit),
                       .optimizer = T::kNone,
                       .default_compression = T::kMeanStd16Bit});
  EXPECT_EQ(*c.choose(info(10, TensorRole::kParameter)), T::kFloat16);
  EXPECT_EQ(*c.choose(info(10, TensorRole::kGradient)), T::kFloat16);
  EXPECT_EQ(*c.choose(info(5000, TensorRole::kGradient)), T::kUniform8Bit);
  EXPECT_EQ(*c.choose(info(10, TensorRole::kOptimizer)), T::kNone);
  EXPECT_EQ(*c.choose(info(10, TensorRole::kActivation)), T::kMeanStd16Bit);
  EXPECT_EQ(*c.choose(info(10, TensorRole::kUnspecified)), T::kMeanStd16Bit);
}

TEST(Policy, PerTensorByIndexAndByName) {
  const auto by_index =
      Compression::per_tensor(std::vector<Compression>{T::kFloat16, T::kUniform8Bit});
  EXPECT_EQ(*by_index.choose(info(1, {}, std::int64_t{0})), T::kFloat16);
  EXPECT_EQ(*by_index.choose(info(1, {}, std::int64_t{1})), T::kUniform8Bit);
  for (const TensorKey& bad : {TensorKey{std::int64_t{2}},
                               TensorKey{std::int64_t{-1}},
                               TensorKey{std::string("0")},
                               TensorKey{}}) {
    auto r = by_index.choose(info(1, {}, bad));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), CompressionErrc::kNoCompressionForKey);
  }
  const auto by_name = Compression::per_tensor(
      std::map<std::string, Compression>{{"weight", T::kBlockwise8Bit}, {"bias", T::kNone}});
  EXPECT_EQ(*by_name.choose(info(1, {}, std::string("weight"))), T::kBlockwise8Bit);
  EXPECT_EQ(*by_name.choose(info(1, {}, std::string("bias"))), T::kNone);
  EXPECT_FALSE(by_name.choose(info(1, {}, std::string("other"))));
  EXPECT_FALSE(by_name.choose(info(1, {}, std::int64_t{0})));
}

TEST(Policy, CompressionRatios) {
  EXPECT_DOUBLE_EQ(compression_ratio(T::kNone, Dtype::kFloat32), 1.0);
  EXPECT_DOUBLE_EQ(compression_ratio(T::kFloat16, Dtype::kFloat32), 0.5);
  EXPECT_DOUBLE_EQ(compression_ratio(T::kMeanStd16Bit, Dtype::kFloat64), 0.25);
  EXPECT_DOUBLE_EQ(compression_ratio(T::kUniform8Bit, Dtype::kFloat32), 0.25);
  EXPECT_DOUBLE_EQ(compression_ratio(T::kBlockwise8Bit, Dtype::kFloat16), 0.5);
  EXPECT_DOUBLE_EQ(compression_ratio(T::kFloat16, Dtype::kBool), 2.0);
  const auto c = Compression::size_adaptive(100, T::kNone, T::kQuantile8Bit);
  CompressionInfo i = info(100);
  i.dtype = Dtype::kFloat64;
  EXPECT_DOUBLE_EQ(*c.estimate_compression_ratio(i), 0.125);
}

TEST(Types, NamesRoundTrip) {
  for (auto t : kAllCompressionTypes) {
    EXPECT_EQ(parse_compression_type(compression_type_name(t)), t);
    EXPECT_EQ(compression_type_from_wire(static_cast<std::int32_t>(t)), t);
  }
  EXPECT_EQ(compression_type_name(T::kMeanStd16Bit), "MEANSTD_16BIT");
  EXPECT_EQ(static_cast<int>(T::kBlockwise8Bit), 5);
  EXPECT_FALSE(compression_type_from_wire(6));
  EXPECT_FALSE(compression_type_from_wire(-1));
  EXPECT_EQ(parse_dtype("bfloat16"), Dtype::kBFloat16);
  EXPECT_EQ(dtype_name(Dtype::kBool), "bool");
  EXPECT_EQ(dtype_size(Dtype::kFloat64), 8u);
  EXPECT_FALSE(parse_dtype("torch.float32"));
  EXPECT_FALSE(parse_dtype("complex64"));
  EXPECT_FALSE(parse_dtype(""));
}

}  // namespace
}  // namespace hivemind::compression
