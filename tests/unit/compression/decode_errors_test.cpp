// Hostile and malformed input: every way a Tensor message can disagree with itself gives a
// clear error, and tensors a codec cannot encode are refused.
#include <cstring>
#include <limits>

#include <ATen/core/Tensor.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>

#include "hivemind/compression/error.hpp"
#include "hivemind/compression/serialization.hpp"

namespace hivemind::compression {
namespace {

using E = CompressionErrc;
using T = CompressionType;

void expect_decode_error(const SerializedTensor& t, E code) {
  auto r = deserialize_tensor(t);
  ASSERT_FALSE(r) << "decoded " << compression_type_name(t.compression) << " " << t.dtype;
  EXPECT_EQ(r.error(), code) << r.error().message();
  auto from_message = deserialize_tensor_message(encode_tensor_message(t));
  ASSERT_FALSE(from_message);
  EXPECT_EQ(from_message.error(), code);
  SerializedTensor copy = t;
  auto adopted = deserialize_tensor(std::move(copy));
  ASSERT_FALSE(adopted);
  EXPECT_EQ(adopted.error(), code);
  // Decoding into a tensor reports the same error and leaves the tensor as it was.
  at::Tensor out = at::ones({2, 2});
  const at::Tensor keep = out;
  auto into = deserialize_tensor(view_of(t), out);
  ASSERT_FALSE(into);
  EXPECT_EQ(into.error(), code);
  EXPECT_TRUE(out.is_same(keep));
  EXPECT_TRUE(at::equal(out, at::ones({2, 2})));
}

void put_i64(Bytes& b, std::size_t at, std::int64_t v) {
  std::memcpy(b.data() + at, &v, 8);
}

TEST(DecodeErrors, BuffersShorterOrLongerThanDeclared) {
  const at::Tensor x = at::randn({3, 4100});
  for (const T type : kAllCompressionTypes) {
    for (const auto s : {at::kFloat, at::kDouble, at::kHalf}) {
      const SerializedTensor good = *serialize_tensor(x.to(s), type);
      ASSERT_TRUE(deserialize_tensor(good));
      SerializedTensor shorter = good;
      shorter.buffer.pop_back();
      expect_decode_error(shorter, E::kBufferSizeMismatch);
      SerializedTensor longer = good;
      longer.buffer.push_back(0);
      expect_decode_error(longer, E::kBufferSizeMismatch);
      SerializedTensor reshaped = good;  // the same buffer under another shape
      reshaped.size = {3, 4000};
      expect_decode_error(reshaped,
                          type == T::kBlockwise8Bit ? E::kBadCodebook : E::kBufferSizeMismatch);
      SerializedTensor empty = good;
      empty.buffer.clear();
      expect_decode_error(empty, E::kBufferSizeMismatch);
    }
  }
  // NONE of bfloat16 accepts 2 or 4 bytes per element, nothing else.
  SerializedTensor bf{Bytes(9), {3}, false, "bfloat16", T::kNone, 0};
  expect_decode_error(bf, E::kBufferSizeMismatch);
  bf.buffer.resize(6);
  EXPECT_TRUE(deserialize_tensor(bf));
  bf.buffer.resize(12);
  EXPECT_TRUE(deserialize_tensor(bf));
  // A zero-size tensor has an empty buffer.
  expect_decode_error(SerializedTensor{Bytes(4), {0, 5}, false, "float32", T::kNone, 0},
                      E::kBufferSizeMismatch);
}

TEST(DecodeErrors, UnknownDtypesAndUnsupportedPairs) {
  for (const char* dtype : {"", "float128", "torch.float32", "complex64", "Float32", "int4"})
    expect_decode_error(SerializedTensor{Bytes(4), {1}, false, dtype, T::kNone, 0},
                        E::kUnknownDtype);

  struct Pair {
    T type;
    const char* dtype;
  };

  for (const Pair p : {Pair{T::kFloat16, "int64"},
                       Pair{T::kFloat16, "bfloat16"},
                       Pair{T::kMeanStd16Bit, "bfloat16"},
                       Pair{T::kMeanStd16Bit, "bool"},
                       Pair{T::kUniform8Bit, "int32"},
                       Pair{T::kQuantile8Bit, "uint8"},
                       Pair{T::kBlockwise8Bit, "int8"}})
    expect_decode_error(SerializedTensor{Bytes(2000), {2}, false, p.dtype, p.type, 0},
                        E::kUnsupportedDtype);
  // requires_grad is only for floating tensors (libtorch would throw).
  expect_decode_error(SerializedTensor{Bytes(8), {1}, true, "int64", T::kNone, 0},
                      E::kUnsupportedDtype);
}

TEST(DecodeErrors, OverflowingAndInvalidShapes) {
  const std::uint32_t big = std::numeric_limits<std::uint32_t>::max();
  expect_decode_error(SerializedTensor{Bytes(4), {big, big, big}, false, "float32", T::kNone, 0},
                      E::kBadShape);
  // Empty, but the other sizes would overflow strides.
  expect_decode_error(SerializedTensor{{}, {0, big, big, big}, false, "float32", T::kNone, 0},
                      E::kBadShape);
  expect_decode_error(
      SerializedTensor{{}, std::vector<std::uint32_t>(65, 1), false, "float32", T::kNone, 0},
      E::kBadShape);
  // MEANSTD_16BIT has no 0-d form (hivemind fails on shape[-1]).
  expect_decode_error(SerializedTensor{Bytes(10), {}, false, "float32", T::kMeanStd16Bit, 0},
                      E::kBadShape);
  // Large but consistent empty shapes are fine.
  auto empty = deserialize_tensor(SerializedTensor{{}, {0, big}, false, "float32", T::kNone, 0});
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(empty->sizes(), (std::vector<std::int64_t>{0, big}));
}

TEST(DecodeErrors, CodebooksOfTheWrongLength) {
  const at::Tensor x = at::randn({5000});
  for (const T type : {T::kUniform8Bit, T::kQuantile8Bit}) {
    const SerializedTensor good = *serialize_tensor(x, type);
    for (std::int64_t n : {std::int64_t{255},
                           std::int64_t{257},
                           std::int64_t{0},
                           std::int64_t{-1},
                           std::numeric_limits<std::int64_t>::max()}) {
      SerializedTensor bad = good;
      put_i64(bad.buffer, 0, n);
      expect_decode_error(bad, E::kBadCodebook);
    }
    expect_decode_error(SerializedTensor{Bytes(7), {0}, false, "float32", type, 0},
                        E::kBufferSizeMismatch);
  }
  const SerializedTensor good = *serialize_tensor(x, T::kBlockwise8Bit);
  for (std::size_t field : {0, 8}) {
    for (std::int64_t n : {std::int64_t{1},
                           std::int64_t{3},
                           std::int64_t{255},
                           std::int64_t{-2},
                           std::numeric_limits<std::int64_t>::min()}) {
      SerializedTensor bad = good;
      put_i64(bad.buffer, field, n);
      expect_decode_error(bad, E::kBadCodebook);
    }
  }
  expect_decode_error(SerializedTensor{Bytes(15), {0}, false, "float32", T::kBlockwise8Bit, 0},
                      E::kBufferSizeMismatch);
}

TEST(DecodeErrors, MalformedMessagesAndUnknownCompression) {
  auto unknown = deserialize_tensor_message(Bytes{0x28, 0x07, 0x22, 0x03, 'i', 'n', 't'});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), E::kUnknownCompression);
  auto truncated = deserialize_tensor_message(Bytes{0x0A, 0x10, 0x00});
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error(), E::kMalformedMessage);
  // An empty message has an empty dtype.
  EXPECT_EQ(deserialize_tensor_message(Bytes{}).error(), E::kUnknownDtype);
}

TEST(DecodeErrors, TensorsThatCannotBeEncoded) {
  EXPECT_EQ(serialize_tensor(at::Tensor(), T::kNone).error(), E::kUnsupportedTensor);
  EXPECT_EQ(serialize_tensor(at::randn({2}, at::kComplexFloat), T::kNone).error(),
            E::kUnknownDtype);
  EXPECT_EQ(serialize_tensor(at::ones({2}, at::kLong), T::kFloat16).error(), E::kUnsupportedDtype);
  EXPECT_EQ(serialize_tensor(at::ones({2}, at::kBFloat16), T::kMeanStd16Bit).error(),
            E::kUnsupportedDtype);
  EXPECT_EQ(serialize_tensor(at::ones({2}, at::kBool), T::kBlockwise8Bit).error(),
            E::kUnsupportedDtype);
  EXPECT_EQ(serialize_tensor(at::ones({}), T::kMeanStd16Bit).error(), E::kBadShape);
  EXPECT_EQ(serialize_tensor_message(at::ones({}), T::kMeanStd16Bit).error(), E::kBadShape);
  const auto sparse = at::ones({2, 2}).to_sparse();
  EXPECT_EQ(serialize_tensor(sparse, T::kNone).error(), E::kUnsupportedTensor);
}

TEST(DecodeErrors, NonFiniteValuesDoNotBreakEncoders) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor x = at::tensor({1.0f, nan, -inf, inf, 0.0f, -2.0f});
  for (const T type : kAllCompressionTypes) {
    auto s = serialize_tensor(x, type);
    ASSERT_TRUE(s) << compression_type_name(type);
    auto y = deserialize_tensor(*s);
    ASSERT_TRUE(y) << compression_type_name(type);
    EXPECT_EQ(y->sizes(), x.sizes());
  }
}

}  // namespace
}  // namespace hivemind::compression
