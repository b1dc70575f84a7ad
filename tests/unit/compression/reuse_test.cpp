// The reusing overloads: encoding into a caller's Bytes and decoding into a caller's tensor give
// exactly what the value-returning overloads give, reuse the memory when it fits (same address,
// nothing allocated), and fall back to new memory, leaving the caller's tensor untouched, when it
// does not.
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include "hivemind/compression/serialization.hpp"

namespace hivemind::compression {
namespace {

using T = CompressionType;

// Large enough that decoders stream their stores (>= 8 MiB of float32) and run on several chunks.
const std::int64_t kLarge = 2'500'000;

TEST(Reuse, EncodeIntoBytesEqualsValuePathAndKeepsItsMemory) {
  WorkerPool pool(2);
  const at::Tensor x = at::randn({kLarge});
  const at::Tensor small = at::randn({5, 7});
  Bytes out;
  for (const T type : kAllCompressionTypes) {
    auto expected = serialize_tensor_message(x, type, {.pool = &pool});
    ASSERT_TRUE(expected);
    ASSERT_TRUE(serialize_tensor_message(x, type, out, {.pool = &pool}));
    EXPECT_EQ(out, *expected) << compression_type_name(type);
    // Again, into the same memory: same address, same bytes.
    const std::uint8_t* data = out.data();
    std::fill(out.begin(), out.end(), 0xAB);
    ASSERT_TRUE(serialize_tensor_message(x, type, out, {.pool = &pool}));
    EXPECT_EQ(out.data(), data);
    EXPECT_EQ(out, *expected) << compression_type_name(type);
    // A smaller message shrinks it in place.
    ASSERT_TRUE(serialize_tensor_message(small, type, out));
    EXPECT_EQ(out.data(), data);
    EXPECT_EQ(out, *serialize_tensor_message(small, type));
  }
  // Errors leave it empty.
  auto bad = serialize_tensor_message(at::randn({4}).to(at::kLong), T::kFloat16, out);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), CompressionErrc::kUnsupportedDtype);
  EXPECT_TRUE(out.empty());
}

TEST(Reuse, DecodeIntoAMatchingTensorWritesItsMemory) {
  WorkerPool pool(2);
  const at::Tensor x = at::randn({kLarge / 1000, 1000}).mul(2).add(1);
  for (const T type : kAllCompressionTypes) {
    const auto message = serialize_tensor_message(x, type, {.pool = &pool});
    ASSERT_TRUE(message);
    const auto expected = deserialize_tensor_message(*message);
    ASSERT_TRUE(expected);
    at::Tensor out = at::zeros(x.sizes());
    const void* data = out.data_ptr();
    const auto version = out._version();
    ASSERT_TRUE(deserialize_tensor_message(*message, out, {.pool = &pool}));
    EXPECT_EQ(out.data_ptr(), data) << compression_type_name(type);
    EXPECT_GT(out._version(), version);
    EXPECT_TRUE(at::equal(out, *expected)) << compression_type_name(type);
    // An undefined tensor gets new memory with the same values.
    at::Tensor fresh;
    ASSERT_TRUE(deserialize_tensor_message(*message, fresh));
    EXPECT_TRUE(at::equal(fresh, *expected));
  }
}

TEST(Reuse, DecodeConvertsIntoTensorsOfOtherFloatingDtypes) {
  // The floating codecs decode to float32 first; a float64 tensor receives the converted values.
  const at::Tensor x = at::randn({3000}).to(at::kDouble);
  for (const T type : kAllCompressionTypes) {
    const auto s = serialize_tensor(x, type);
    ASSERT_TRUE(s);
    at::Tensor out = at::zeros({3000}, at::kDouble);
    const void* data = out.data_ptr();
    ASSERT_TRUE(deserialize_tensor(*s, out));
    EXPECT_EQ(out.data_ptr(), data);
    EXPECT_TRUE(at::equal(out, *deserialize_tensor(*s))) << compression_type_name(type);
  }
}

TEST(Reuse, TensorsThatDoNotFitAreReplacedAndLeftUntouched) {
  const at::Tensor x = at::randn({40, 50});
  const auto s = serialize_tensor(x, T::kUniform8Bit);
  ASSERT_TRUE(s);
  const at::Tensor expected = *deserialize_tensor(*s);
  const at::Tensor leaf = at::full({40, 50}, 7.0).requires_grad_(true);
  std::vector<at::Tensor> misfits = {
      at::full({50, 40}, 7.0),                   // other shape
      at::full({40, 50}, 7.0, at::kDouble),      // other dtype
      at::full({50, 40}, 7.0).t(),               // not contiguous
      leaf.mul(1),                               // not a leaf (has a grad_fn)
      at::full({40, 100}, 7.0).slice(1, 0, 50),  // a strided view
  };
  for (auto& misfit : misfits) {
    const at::Tensor keep = misfit;  // shares the memory
    at::Tensor out = misfit;
    ASSERT_TRUE(deserialize_tensor(view_of(*s), out));
    EXPECT_FALSE(out.is_same(keep));
    EXPECT_TRUE(at::equal(out, expected));
    EXPECT_TRUE(at::equal(keep.detach(), at::full(keep.sizes(), 7.0, keep.scalar_type())));
  }
}

TEST(Reuse, RequiresGradFollowsTheMessage) {
  const at::Tensor x = at::randn({10});
  auto flagged = serialize_tensor(x.requires_grad_(true), T::kFloat16);
  auto plain = serialize_tensor(x.detach(), T::kFloat16);
  ASSERT_TRUE(flagged && plain);
  at::Tensor out = at::zeros({10});
  const void* data = out.data_ptr();
  ASSERT_TRUE(deserialize_tensor(view_of(*flagged), out));
  EXPECT_TRUE(out.requires_grad());
  ASSERT_TRUE(deserialize_tensor(view_of(*plain), out));  // a leaf that requires grad: reused
  EXPECT_FALSE(out.requires_grad());
  EXPECT_EQ(out.data_ptr(), data);
}

TEST(Reuse, OverlappingMemoryIsNotOverwritten) {
  // A tensor whose memory is the message buffer itself: decoding must not write into its input.
  const at::Tensor x = at::randn({1000});
  auto s = serialize_tensor(x, T::kNone);
  ASSERT_TRUE(s);
  at::Tensor out = at::from_blob(s->buffer.data(), {1000}, at::TensorOptions().dtype(at::kFloat));
  ASSERT_TRUE(deserialize_tensor(view_of(*s), out));
  EXPECT_NE(out.data_ptr(), static_cast<void*>(s->buffer.data()));
  EXPECT_TRUE(at::equal(out, x));
}

TEST(Reuse, ErrorsLeaveTheTensorUnchanged) {
  auto s = serialize_tensor(at::randn({100}), T::kBlockwise8Bit);
  ASSERT_TRUE(s);
  s->buffer.pop_back();
  at::Tensor out = at::full({100}, 3.0);
  const at::Tensor keep = out;
  auto r = deserialize_tensor(view_of(*s), out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), CompressionErrc::kBufferSizeMismatch);
  EXPECT_TRUE(out.is_same(keep));
  EXPECT_TRUE(at::equal(out, at::full({100}, 3.0)));
  const Bytes garbage = {0xFF, 0xFF, 0xFF};
  EXPECT_FALSE(deserialize_tensor_message(garbage, out));
  EXPECT_TRUE(out.is_same(keep));
}

}  // namespace
}  // namespace hivemind::compression
