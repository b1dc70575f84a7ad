// Round trips of every dtype through every codec that supports it, with error bounds per codec;
// shapes (0-d, zero-size, non-contiguous); thread-count independence; the message and stream
// paths; hivemind's own compression test (test_compression.py::test_tensor_compression).
#include <cmath>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/isfinite.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <gtest/gtest.h>

#include "hivemind/compression/serialization.hpp"

namespace hivemind::compression {
namespace {

using T = CompressionType;

const std::vector<at::ScalarType> kScalarTypes = {at::kFloat,
                                                  at::kHalf,
                                                  at::kBFloat16,
                                                  at::kDouble,
                                                  at::kChar,
                                                  at::kShort,
                                                  at::kInt,
                                                  at::kLong,
                                                  at::kByte,
                                                  at::kBool};

bool is_float(at::ScalarType s) {
  return at::isFloatingType(s);
}

bool supports(T type, at::ScalarType s) {
  if (type == T::kNone)
    return true;
  if (type == T::kFloat16 || type == T::kMeanStd16Bit)
    return s == at::kFloat || s == at::kHalf || s == at::kDouble;
  return is_float(s);
}

at::Tensor sample(at::ScalarType s, at::IntArrayRef shape, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  if (is_float(s))
    return at::randn(shape, gen, at::kFloat).to(s);
  if (s == at::kBool)
    return at::randint(0, 2, shape, gen, at::kLong).to(s);
  return at::randint(-100, 100, shape, gen, at::kLong).to(s);
}

at::Tensor round_trip(const at::Tensor& x, T type, const CodecOptions& o = {}) {
  auto s = serialize_tensor(x, type, o);
  EXPECT_TRUE(s) << compression_type_name(type) << ": " << s.error().message();
  if (!s)
    return {};
  EXPECT_EQ(s->dtype, dtype_name(*dtype_from_scalar_type(x.scalar_type())));
  auto y = deserialize_tensor(*s, o);
  EXPECT_TRUE(y) << compression_type_name(type) << ": " << y.error().message();
  return y ? *y : at::Tensor();
}

// The largest error each codec may make on x (elementwise bound, as a tensor), before the
// decoded values are rounded to x's dtype.
at::Tensor error_bound(const at::Tensor& x32, T type) {
  const double half_ulp = std::ldexp(1.0, -11);
  switch (type) {
    case T::kNone:
      return at::zeros_like(x32);
    case T::kFloat16:
      return x32.abs().mul(half_ulp).add(std::ldexp(1.0, -25));
    case T::kMeanStd16Bit: {
      const auto mean = x32.mean(-1, true);
      const auto centered = x32.sub(mean);
      const auto std = centered.pow(2).mean(-1, true).sqrt().clamp_min(1.2e-7);
      return centered.abs().mul(half_ulp).add(std.mul(1e-6)).add(mean.abs().mul(1e-6)).add(1e-7);
    }
    case T::kUniform8Bit: {
      const double std = x32.numel() > 1 ? x32.std().item<double>() : 0.0;
      return at::full_like(x32, 6 * std / 256 * 1.001 + 1e-6);
    }
    case T::kQuantile8Bit:
      return at::full_like(x32, 0.1);  // within |x| < 2 (checked by the caller)
    case T::kBlockwise8Bit: {
      const auto flat = x32.flatten();
      const auto blocks = flat.split(4096);
      std::vector<at::Tensor> bounds;
      for (const auto& b : blocks)  // half the largest code gap (0.9 / 64), times absmax
        bounds.push_back(
            at::full_like(b, b.abs().max().item<float>() * (0.9 / 128) * 1.001 + 1e-7));
      return at::cat(bounds).reshape(x32.sizes());
    }
  }
  return {};
}

void check_close(const at::Tensor& x, const at::Tensor& y, T type) {
  ASSERT_TRUE(y.defined());
  EXPECT_EQ(y.scalar_type(), x.scalar_type());
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(y.is_contiguous());
  if (type == T::kNone) {
    EXPECT_TRUE(at::equal(x, y));
    return;
  }
  if (x.numel() == 0)
    return;
  const auto x32 = x.to(at::kDouble);
  const auto y32 = y.to(at::kDouble);
  // Rounding the decoded value to x's dtype adds at most half its ulp.
  const double dtype_rel = x.scalar_type() == at::kHalf       ? std::ldexp(1.0, -11)
                           : x.scalar_type() == at::kBFloat16 ? std::ldexp(1.0, -8)
                                                              : 1e-7;
  auto bound = error_bound(x.to(at::kFloat), type)
                   .to(at::kDouble)
                   .mul(1 + dtype_rel)
                   .add(y32.abs().mul(dtype_rel));
  auto err = x32.sub(y32).abs();
  // The outermost buckets hold the tails (beyond 3 sigma / the extreme quantiles).
  if (type == T::kQuantile8Bit)
    err = err.mul(x32.abs().lt(2.0));
  if (type == T::kUniform8Bit && x.numel() > 1)
    err = err.mul(x32.sub(x32.mean()).abs().lt(x32.std().mul(2.5)));
  const auto excess = err.sub(bound).max().item<double>();
  EXPECT_LE(excess, 0.0) << compression_type_name(type) << " " << x.scalar_type();
}

TEST(RoundTrip, EveryDtypeEveryCodecEveryShape) {
  const std::vector<std::vector<std::int64_t>> shapes = {
      {}, {0}, {3, 0}, {1}, {5}, {4, 7}, {2, 3, 4096}};
  std::uint64_t seed = 1;
  for (const auto s : kScalarTypes) {
    for (const T type : kAllCompressionTypes) {
      for (const auto& shape : shapes) {
        const at::Tensor x = sample(s, shape, seed++);
        if (!supports(type, s)) {
          auto r = serialize_tensor(x, type);
          ASSERT_FALSE(r);
          EXPECT_EQ(r.error(), CompressionErrc::kUnsupportedDtype);
          continue;
        }
        if (type == T::kMeanStd16Bit && shape.empty()) {
          EXPECT_EQ(serialize_tensor(x, type).error(), CompressionErrc::kBadShape);
          continue;
        }
        SCOPED_TRACE(std::string(compression_type_name(type)) + " " + c10::toString(s) + " dims "
                     + std::to_string(shape.size()));
        check_close(x, round_trip(x, type), type);
      }
    }
  }
}

TEST(RoundTrip, RequiresGradIsPreserved) {
  for (const T type : kAllCompressionTypes) {
    const at::Tensor x = at::randn({3, 5}).requires_grad_(true);
    auto s = serialize_tensor(x, type);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->requires_grad);
    auto y = deserialize_tensor(*s);
    ASSERT_TRUE(y);
    EXPECT_TRUE(y->requires_grad());
    EXPECT_TRUE(y->is_leaf());
    const at::Tensor plain = at::randn({3, 5});
    EXPECT_FALSE(deserialize_tensor(*serialize_tensor(plain, type))->requires_grad());
  }
}

TEST(RoundTrip, NonContiguousInputsEncodeTheirLogicalOrder) {
  const at::Tensor base = at::randn({6, 8});
  const std::vector<at::Tensor> views = {base.t(),
                                         base.slice(1, 0, 8, 3),
                                         base.select(1, 2),
                                         base.t().to(at::kBFloat16),
                                         at::randn({3}).expand({4, 3})};
  for (const auto& v : views) {
    for (const T type : kAllCompressionTypes) {
      if (!supports(type, v.scalar_type()))
        continue;
      auto a = serialize_tensor(v, type);
      auto b = serialize_tensor(v.contiguous(), type);
      ASSERT_TRUE(a && b);
      EXPECT_EQ(*a, *b) << compression_type_name(type);
      auto m = serialize_tensor_message(v, type);  // unaligned destination inside the message
      ASSERT_TRUE(m);
      EXPECT_EQ(*m, encode_tensor_message(*b)) << compression_type_name(type);
    }
  }
}

TEST(RoundTrip, BytesDoNotDependOnTheNumberOfThreads) {
  WorkerPool two(2);
  WorkerPool three(3);
  const at::Tensor flat = at::randn({300001}).mul(3).add(1);
  const at::Tensor rows = at::randn({70, 5000});
  const at::Tensor long_rows = at::randn({2, 140000});
  for (const auto& x : {flat, rows, long_rows}) {
    for (const T type : kAllCompressionTypes) {
      auto one = serialize_tensor(x, type);
      auto with_two = serialize_tensor(x, type, {.pool = &two});
      auto with_three = serialize_tensor(x, type, {.pool = &three});
      ASSERT_TRUE(one && with_two && with_three);
      EXPECT_EQ(*one, *with_two) << compression_type_name(type);
      EXPECT_EQ(*one, *with_three) << compression_type_name(type);
      const auto y1 = *deserialize_tensor(*one);
      const auto y3 = *deserialize_tensor(*one, {.pool = &three});
      EXPECT_TRUE(at::equal(y1, y3)) << compression_type_name(type);
    }
  }
}

TEST(RoundTrip, MessagePathEqualsValuePath) {
  const at::Tensor x = at::randn({33, 17}).to(at::kDouble);
  for (const T type : kAllCompressionTypes) {
    auto value = serialize_tensor(x, type);
    auto message = serialize_tensor_message(x, type);
    ASSERT_TRUE(value && message);
    EXPECT_EQ(*message, encode_tensor_message(*value));
    auto from_message = deserialize_tensor_message(*message);
    ASSERT_TRUE(from_message) << from_message.error().message();
    EXPECT_TRUE(at::equal(*from_message, *deserialize_tensor(*value)));
  }
}

TEST(RoundTrip, OwnedBufferIsAdoptedWithoutCopy) {
  const at::Tensor x = at::arange(1000, at::kLong).reshape({10, 100});
  auto s = serialize_tensor(x, T::kNone);
  ASSERT_TRUE(s);
  const void* buffer = s->buffer.data();
  auto y = deserialize_tensor(std::move(*s));
  ASSERT_TRUE(y);
  EXPECT_EQ(y->data_ptr(), buffer);
  EXPECT_TRUE(at::equal(*y, x));
  auto h = serialize_tensor(x.to(at::kHalf), T::kFloat16);
  const void* half_buffer = h->buffer.data();
  auto yh = deserialize_tensor(std::move(*h));
  EXPECT_EQ(yh->data_ptr(), half_buffer);
  EXPECT_TRUE(at::equal(*yh, x.to(at::kHalf)));
}

TEST(RoundTrip, BoolBytesAreNormalized) {
  SerializedTensor t{{0, 2, 255, 1}, {4}, false, "bool", T::kNone, 0};
  for (int adopt = 0; adopt < 2; ++adopt) {
    SerializedTensor copy = t;
    auto y = adopt ? deserialize_tensor(std::move(copy)) : deserialize_tensor(t);
    ASSERT_TRUE(y);
    EXPECT_TRUE(at::equal(y->to(at::kByte), at::tensor({0, 1, 1, 1}, at::kByte)));
  }
}

TEST(RoundTrip, StreamOfChunkedTensors) {
  // test_serialize_bfloat16: BLOCKWISE over 1 KiB chunks, within rtol 0.1 and atol 0.01.
  const std::vector<at::Tensor> xs = {at::randn({4096, 16}).to(at::kBFloat16),
                                      at::randn({0, 0}),
                                      at::randn({}),
                                      at::randint(0, 9, {77}, at::kLong)};
  std::vector<SerializedTensor> parts;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const T type = i == 0 ? T::kBlockwise8Bit : T::kNone;
    for (auto& p : split_for_streaming(*serialize_tensor(xs[i], type), 1024))
      parts.push_back(std::move(p));
  }
  auto ys = deserialize_tensor_stream(std::move(parts));
  ASSERT_TRUE(ys) << ys.error().message();
  ASSERT_EQ(ys->size(), xs.size());
  EXPECT_TRUE(at::allclose((*ys)[0].to(at::kFloat), xs[0].to(at::kFloat), 0.1, 0.01));
  EXPECT_EQ((*ys)[0].scalar_type(), at::kBFloat16);
  for (std::size_t i = 1; i < xs.size(); ++i)
    EXPECT_TRUE(at::equal((*ys)[i], xs[i]));
}

TEST(RoundTrip, HivemindTensorCompressionTest) {
  // test_tensor_compression: randn(128, 128, 64); NONE exact; FLOAT16 and MEANSTD MSE < 5e-8;
  // the 8-bit codecs MSE < 8e-4; zeros round-trip finite (BLOCKWISE included here).
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  const at::Tensor x = at::randn({128, 128, 64}, gen);
  WorkerPool pool(2);
  for (const T type : kAllCompressionTypes) {
    const at::Tensor y = round_trip(x, type, {.pool = &pool});
    const double mse = x.sub(y).pow(2).mean().item<double>();
    const double limit = type == T::kNone                                    ? 0.0
                         : (type == T::kFloat16 || type == T::kMeanStd16Bit) ? 5e-8
                                                                             : 8e-4;
    EXPECT_LE(mse, limit) << compression_type_name(type);
    const at::Tensor z = round_trip(at::zeros({5, 5}), type);
    EXPECT_TRUE(at::isfinite(z).all().item<bool>()) << compression_type_name(type);
    EXPECT_TRUE(at::equal(z, at::zeros({5, 5}))) << compression_type_name(type);
  }
}

TEST(RoundTrip, CompressionPolicyChoosesPerTensor) {
  const auto policy = Compression::size_adaptive(100, T::kNone, T::kFloat16);
  const at::Tensor small = at::randn({99});
  const at::Tensor large = at::randn({10, 10});
  EXPECT_EQ(serialize_tensor(small, policy, compression_info(small))->compression, T::kNone);
  EXPECT_EQ(serialize_tensor(large, policy, compression_info(large))->compression, T::kFloat16);
  const auto per_name =
      Compression::per_tensor(std::map<std::string, Compression>{{"w", T::kFloat16}});
  EXPECT_EQ(serialize_tensor(large, per_name, compression_info(large, std::string("b"))).error(),
            CompressionErrc::kNoCompressionForKey);
}

}  // namespace
}  // namespace hivemind::compression
