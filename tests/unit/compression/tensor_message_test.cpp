// runtime.proto Tensor: our hand-written encoding against protobuf's generated code, a golden
// message written from the .proto, and malformed messages.
#include <gtest/gtest.h>

#include "hivemind/compression/error.hpp"
#include "hivemind/compression/serialized_tensor.hpp"
#include "hivemind_proto/runtime.pb.h"

namespace hivemind::compression {
namespace {

namespace pb = hivemind::proto::runtime;

SerializedTensor sample(std::int32_t chunks) {
  SerializedTensor t;
  t.buffer = {1, 2, 3, 0, 255};
  t.size = {2, 300, 0, 4294967295u};
  t.requires_grad = true;
  t.dtype = "float32";
  t.compression = CompressionType::kBlockwise8Bit;
  t.chunks = chunks;
  return t;
}

pb::Tensor to_proto(const SerializedTensor& t) {
  pb::Tensor m;
  m.set_buffer(std::string(t.buffer.begin(), t.buffer.end()));
  for (auto d : t.size)
    m.add_size(d);
  m.set_requires_grad(t.requires_grad);
  m.set_dtype(t.dtype);
  m.set_compression(static_cast<pb::CompressionType>(t.compression));
  m.set_chunks(t.chunks);
  return m;
}

TEST(TensorMessage, EncodingIsByteIdenticalToProtobuf) {
  std::vector<SerializedTensor> cases = {SerializedTensor{}, sample(0), sample(7), sample(-1)};
  SerializedTensor continuation;  // a later stream part: buffer only
  continuation.buffer = Bytes(70000, 0xAB);
  cases.push_back(continuation);
  for (const auto& t : cases) {
    const Bytes ours = encode_tensor_message(t);
    const std::string theirs = to_proto(t).SerializeAsString();
    EXPECT_EQ(std::string(ours.begin(), ours.end()), theirs);
    EXPECT_EQ(tensor_message_size(t), ours.size());
    auto parsed = parse_tensor_message(ours);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, t);
  }
}

TEST(TensorMessage, GoldenBytes) {
  SerializedTensor t;
  t.buffer = {0x00, 0x3C};  // float16 1.0
  t.size = {1};
  t.dtype = "float32";
  t.compression = CompressionType::kFloat16;
  t.chunks = 1;
  const Bytes expected = {
      0x0A, 0x02, 0x00, 0x3C,                           // 1: buffer
      0x12, 0x01, 0x01,                                 // 2: size [1], packed
      0x22, 0x07, 'f',  'l',  'o', 'a', 't', '3', '2',  // 4: dtype
      0x28, 0x02,                                       // 5: compression FLOAT16
      0x30, 0x01,                                       // 6: chunks
  };
  EXPECT_EQ(encode_tensor_message(t), expected);
  t.requires_grad = true;
  t.chunks = -1;  // int32 -1 is a 10-byte varint
  const Bytes with_grad = {0x0A, 0x02, 0x00, 0x3C, 0x12, 0x01, 0x01, 0x18, 0x01, 0x22, 0x07,
                           'f',  'l',  'o',  'a',  't',  '3',  '2',  0x28, 0x02, 0x30, 0xFF,
                           0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  EXPECT_EQ(encode_tensor_message(t), with_grad);
}

TEST(TensorMessage, ParsesWhatProtobufAccepts) {
  // Unpacked sizes, fields out of order, an unknown field of every wire type, a repeated scalar
  // (last wins), a repeated packed size (concatenated), non-minimal varints.
  const Bytes message = {
      0x28, 0x01,                                       // compression MEANSTD (overwritten below)
      0x10, 0x02,                                       // size 2 (unpacked)
      0x12, 0x02, 0x03, 0x04,                           // size 3, 4 (packed)
      0x38, 0x05,                                       // field 7 varint (unknown)
      0x41, 1,    2,    3,    4,   5,   6,    7,    8,  // field 8 fixed64 (unknown)
      0x4A, 0x01, 0x00,                                 // field 9 bytes (unknown)
      0x55, 1,    2,    3,    4,                        // field 10 fixed32 (unknown)
      0x22, 0x04, 'b',  'o',  'o', 'l', 0x0A, 0x01, 0x07,  // buffer (replaced by the next one)
      0x0A, 0x02, 0x01, 0x00,                              // buffer
      0x28, 0x80, 0x00,                                    // compression NONE, non-minimal varint
      0x18, 0x02,                                          // requires_grad: any non-zero is true
  };
  auto parsed = parse_tensor_message(message);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->size, (std::vector<std::uint32_t>{2, 3, 4}));
  EXPECT_EQ(parsed->buffer, (Bytes{0x01, 0x00}));
  EXPECT_EQ(parsed->dtype, "bool");
  EXPECT_EQ(parsed->compression, CompressionType::kNone);
  EXPECT_TRUE(parsed->requires_grad);

  pb::Tensor check;
  ASSERT_TRUE(check.ParseFromArray(message.data(), static_cast<int>(message.size())));
  EXPECT_EQ(check.size_size(), 3);
  EXPECT_EQ(check.buffer(), std::string("\x01\x00", 2));
}

TEST(TensorMessage, ViewDoesNotCopy) {
  const Bytes message = encode_tensor_message(sample(0));
  auto view = parse_tensor_message_view(message);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->buffer.data(), message.data() + 2);
  EXPECT_EQ(view->buffer.size(), 5u);
}

void expect_error(const Bytes& message, CompressionErrc code, const ParseLimits& limits = {}) {
  auto parsed = parse_tensor_message_view(message, limits);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error(), code) << parsed.error().message();
}

TEST(TensorMessage, RejectsMalformedMessages) {
  using E = CompressionErrc;
  expect_error({0x0A}, E::kMalformedMessage);              // key without length
  expect_error({0x0A, 0x05, 1, 2}, E::kMalformedMessage);  // buffer runs past the end
  expect_error({0x0A, 0x80}, E::kMalformedMessage);        // truncated varint
  expect_error({0x08, 0x01}, E::kMalformedMessage);        // buffer as varint
  expect_error({0x1A, 0x00}, E::kMalformedMessage);        // requires_grad as bytes
  expect_error({0x25, 0, 0, 0, 0}, E::kMalformedMessage);  // dtype as fixed32
  expect_error({0x0B}, E::kMalformedMessage);              // group start
  expect_error({0x5C}, E::kMalformedMessage);              // group end, unknown field
  expect_error({0x00, 0x00}, E::kMalformedMessage);        // field number 0
  expect_error({0x10, 0x80, 0x80, 0x80, 0x80, 0x10}, E::kMalformedMessage);  // size 2^32
  expect_error({0x12, 0x02, 0x01, 0x80}, E::kMalformedMessage);  // packed size truncated
  // An 11-byte varint, and a 10-byte one above 2^64.
  expect_error({0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01},
               E::kMalformedMessage);
  expect_error({0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02},
               E::kMalformedMessage);
  expect_error({0x30, 0x80, 0x80, 0x80, 0x80, 0x08}, E::kMalformedMessage);  // chunks 2^31
  expect_error({0x28, 0x06}, E::kUnknownCompression);
  expect_error({0x28, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01},
               E::kUnknownCompression);  // -1
  Bytes long_dtype = {0x22, 33};
  long_dtype.resize(35, 'a');
  expect_error(long_dtype, E::kMalformedMessage);
  Bytes many_dims = {0x12, 65};
  many_dims.resize(67, 0x01);
  expect_error(many_dims, E::kBadShape);
  expect_error({0x12, 0x03, 1, 1, 1}, E::kBadShape, ParseLimits{.max_dims = 2});
}

TEST(TensorMessage, EmptyMessageIsTheDefaultTensor) {
  auto parsed = parse_tensor_message({});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, SerializedTensor{});
}

}  // namespace
}  // namespace hivemind::compression
