// Byte-exact golden vectors for every codec, written by hand from hivemind's documented layouts
// (reference hivemind-moe-averaging-optim.md §4; docs/protocols/compression.md), in both
// directions: our encoder must produce these bytes, and our decoder must read bytes laid out
// this way (as a hivemind peer sends them) into the stated values.
#include <cstring>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/full.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>

#include "hivemind/compression/serialization.hpp"

namespace hivemind::compression {
namespace {

at::Tensor floats(std::vector<float> v, std::vector<std::int64_t> shape) {
  return at::from_blob(v.data(), shape, at::kFloat).clone();
}

void put_f32(Bytes& out, float v) {
  std::uint8_t b[4];
  std::memcpy(b, &v, 4);
  out.insert(out.end(), b, b + 4);
}

void put_i64(Bytes& out, std::int64_t v) {
  std::uint8_t b[8];
  std::memcpy(b, &v, 8);
  out.insert(out.end(), b, b + 8);
}

SerializedTensor encode(const at::Tensor& t, CompressionType type, const CodecOptions& o = {}) {
  auto r = serialize_tensor(t, type, o);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : SerializedTensor{};
}

at::Tensor decode(const SerializedTensor& t) {
  auto r = deserialize_tensor(t);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : at::Tensor();
}

TEST(GoldenNone, RawLittleEndianElements) {
  std::vector<std::int16_t> i16 = {1, -2, 300};
  auto t = encode(at::from_blob(i16.data(), {3}, at::kShort).clone(), CompressionType::kNone);
  EXPECT_EQ(t.buffer, (Bytes{0x01, 0x00, 0xFE, 0xFF, 0x2C, 0x01}));
  EXPECT_EQ(t.dtype, "int16");
  EXPECT_EQ(t.size, (std::vector<std::uint32_t>{3}));

  auto b = encode(at::tensor({1, 0, 1}, at::kByte).to(at::kBool), CompressionType::kNone);
  EXPECT_EQ(b.buffer, (Bytes{1, 0, 1}));
  EXPECT_EQ(b.dtype, "bool");

  auto d = encode(at::full({1, 1}, 0.5, at::kDouble), CompressionType::kNone);
  EXPECT_EQ(d.buffer, (Bytes{0, 0, 0, 0, 0, 0, 0xE0, 0x3F}));
  EXPECT_EQ(d.dtype, "float64");

  // bfloat16: hivemind's default legacy form is float32 values; the raw form is 2 bytes each.
  const at::Tensor bf = at::full({1}, 1.0, at::kBFloat16);
  auto legacy = encode(bf, CompressionType::kNone);
  EXPECT_EQ(legacy.buffer, (Bytes{0x00, 0x00, 0x80, 0x3F}));
  EXPECT_EQ(legacy.dtype, "bfloat16");
  auto raw = encode(bf, CompressionType::kNone, {.legacy_bfloat16 = false});
  EXPECT_EQ(raw.buffer, (Bytes{0x80, 0x3F}));
  EXPECT_TRUE(at::equal(decode(legacy), bf));
  EXPECT_TRUE(at::equal(decode(raw), bf));
}

TEST(GoldenFloat16, ClampedHalfValues) {
  const at::Tensor x = floats({1.0f, -2.0f, 0.5f, 65504.0f, 1e6f, -1e6f, 0.0f, 1.0f / 3}, {2, 4});
  auto t = encode(x, CompressionType::kFloat16);
  EXPECT_EQ(t.buffer,
            (Bytes{0x00,
                   0x3C,
                   0x00,
                   0xC0,
                   0x00,
                   0x38,
                   0xFF,
                   0x7B,  //
                   0xFF,
                   0x7B,
                   0xFF,
                   0xFB,
                   0x00,
                   0x00,
                   0x55,
                   0x35}));
  EXPECT_EQ(t.dtype, "float32");
  EXPECT_EQ(t.size, (std::vector<std::uint32_t>{2, 4}));
  EXPECT_EQ(t.compression, CompressionType::kFloat16);
  const at::Tensor y = decode(t);
  EXPECT_TRUE(
      at::equal(y, floats({1, -2, 0.5f, 65504, 65504, -65504, 0, 0.333251953125f}, {2, 4})));
  // The whole message, field by field.
  const Bytes message = *serialize_tensor_message(x.to(at::kDouble), CompressionType::kFloat16);
  Bytes expected = {0x0A, 0x10};
  expected.insert(expected.end(), t.buffer.begin(), t.buffer.end());
  const Bytes tail = {
      0x12, 0x02, 0x02, 0x04, 0x22, 0x07, 'f', 'l', 'o', 'a', 't', '6', '4', 0x28, 0x02};
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_EQ(message, expected);
}

TEST(GoldenMeanStd, HalfValuesThenMeansThenStds) {
  // Row 0: mean 2, std 1 -> (-1, 1). Row 1: constant, std clamped to float32 eps (2^-23).
  const at::Tensor x = floats({1, 3, 2, 2}, {2, 2});
  auto t = encode(x, CompressionType::kMeanStd16Bit);
  Bytes expected = {0x00, 0xBC, 0x00, 0x3C, 0x00, 0x00, 0x00, 0x00};
  put_f32(expected, 2.0f);
  put_f32(expected, 2.0f);
  put_f32(expected, 1.0f);
  put_f32(expected, std::ldexp(1.0f, -23));
  EXPECT_EQ(t.buffer, expected);
  EXPECT_TRUE(at::equal(decode(t), x));

  // Decoding what a peer computed differently: x16 * std + mean per row.
  SerializedTensor peer{{}, {2, 2}, false, "float32", CompressionType::kMeanStd16Bit, 0};
  peer.buffer = {0x00, 0x38, 0x00, 0xC0, 0x00, 0x3C, 0x00, 0x00};  // 0.5, -2, 1, 0
  put_f32(peer.buffer, 10.0f);
  put_f32(peer.buffer, -1.0f);
  put_f32(peer.buffer, 4.0f);
  put_f32(peer.buffer, 0.25f);
  EXPECT_TRUE(at::equal(decode(peer), floats({12, 2, -0.75f, -1}, {2, 2})));
}

TEST(GoldenUniform, CodebookOfBucketMeans) {
  // 15 x 2.0 and one 18.0: mean 3, centered -1 and 15, unbiased std 4, scale 6 * 4 / 256 =
  // 0.09375; -1 / scale = -10.67 -> -11 + 128 = 117; 15 / scale = 160 -> 288, clamped to 255.
  std::vector<float> v(15, 2.0f);
  v.push_back(18.0f);
  auto t = encode(floats(v, {4, 4}), CompressionType::kUniform8Bit);
  Bytes expected;
  put_i64(expected, 256);
  for (int b = 0; b < 256; ++b)
    put_f32(expected, b == 117 ? 2.0f : b == 255 ? 18.0f : 0.0f);
  expected.insert(expected.end(), 15, 117);
  expected.push_back(255);
  EXPECT_EQ(t.buffer, expected);
  EXPECT_TRUE(at::equal(decode(t), floats(v, {4, 4})));
}

TEST(GoldenQuantile, ExactQuantileBorders) {
  // Values 1..4: the k/256 quantiles are 1 + 3k/256, so 1, 2, 3, 4 fall in buckets 0, 85, 170
  // and 255 (the number of borders below each), each holding exactly its value.
  auto t = encode(floats({1, 2, 3, 4}, {4}), CompressionType::kQuantile8Bit);
  Bytes expected;
  put_i64(expected, 256);
  for (int b = 0; b < 256; ++b)
    put_f32(expected, b == 0 ? 1.0f : b == 85 ? 2.0f : b == 170 ? 3.0f : b == 255 ? 4.0f : 0.0f);
  expected.insert(expected.end(), {0, 85, 170, 255});
  EXPECT_EQ(t.buffer, expected);
  EXPECT_TRUE(at::equal(decode(t), floats({1, 2, 3, 4}, {4})));
}

TEST(GoldenCodebook, DecodesAnyPeersCodebook) {
  // UNIFORM/QUANTILE decoding is a lookup; the codebook is cast to the dtype first.
  for (auto type : {CompressionType::kUniform8Bit, CompressionType::kQuantile8Bit}) {
    SerializedTensor peer{{}, {3}, true, "float64", type, 0};
    put_i64(peer.buffer, 256);
    for (int b = 0; b < 256; ++b)
      put_f32(peer.buffer, static_cast<float>(b) * 0.5f - 64.0f);
    peer.buffer.insert(peer.buffer.end(), {0, 128, 255});
    const at::Tensor y = decode(peer);
    EXPECT_EQ(y.scalar_type(), at::kDouble);
    EXPECT_TRUE(y.requires_grad());
    EXPECT_TRUE(at::equal(y.detach(), at::tensor({-64.0, 0.0, 63.5}, at::kDouble)));
  }
}

TEST(GoldenBlockwise, AbsmaxCodeAndNearestIndices) {
  // absmax 2: x / absmax = 1, 0, -0.5, 0.5. Nearest codes: 1.0 is code[255]; 0 is code[127];
  // 0.5 is nearest to 0.50078125 = code[219] (the 29th of the 64 values 0.1 + (j + 0.5) * 0.9 /
  // 64 that follow the 63 smaller positives at 128..190); -0.5 to its mirror code[35].
  auto t = encode(floats({2.0f, 0.0f, -1.0f, 1.0f}, {2, 2}), CompressionType::kBlockwise8Bit);
  ASSERT_EQ(t.buffer.size(), 16u + 4 + 1024 + 4);
  Bytes header;
  put_i64(header, 1);
  put_i64(header, 256);
  put_f32(header, 2.0f);
  EXPECT_EQ(Bytes(t.buffer.begin(), t.buffer.begin() + 20), header);
  std::vector<float> code(256);
  std::memcpy(code.data(), t.buffer.data() + 20, 1024);
  EXPECT_TRUE(std::is_sorted(code.begin(), code.end()));
  EXPECT_EQ(code[255], 1.0f);
  EXPECT_EQ(code[127], 0.0f);
  EXPECT_EQ(code[219], 0.50078125f);
  EXPECT_EQ(code[35], -0.50078125f);
  EXPECT_EQ(Bytes(t.buffer.end() - 4, t.buffer.end()), (Bytes{255, 127, 35, 219}));
  EXPECT_EQ(t.dtype, "float32");
  EXPECT_TRUE(at::equal(decode(t), floats({2.0f, 0.0f, -1.0015625f, 1.0015625f}, {2, 2})));
}

TEST(GoldenBlockwise, DecodesAPeersCodeAcrossBlocks) {
  // 4097 values: two blocks (absmax 2 and 8) and a peer's own code k / 256.
  SerializedTensor peer{{}, {4097}, false, "float16", CompressionType::kBlockwise8Bit, 0};
  put_i64(peer.buffer, 2);
  put_i64(peer.buffer, 256);
  put_f32(peer.buffer, 2.0f);
  put_f32(peer.buffer, 8.0f);
  for (int k = 0; k < 256; ++k)
    put_f32(peer.buffer, static_cast<float>(k) / 256.0f);
  for (int i = 0; i < 4097; ++i)
    peer.buffer.push_back(static_cast<std::uint8_t>(i % 256));
  const at::Tensor y = decode(peer).to(at::kFloat);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_EQ(y[1].item<float>(), 2.0f / 256);
  EXPECT_EQ(y[4095].item<float>(), 2.0f * 255 / 256);
  EXPECT_EQ(y[4096].item<float>(), 0.0f);  // 4096 % 256 = 0, block 1
  EXPECT_EQ(y[300].item<float>(), 2.0f * 44 / 256);
}

}  // namespace
}  // namespace hivemind::compression
