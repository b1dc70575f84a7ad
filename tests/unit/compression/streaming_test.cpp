// Chunk streams (hivemind/utils/streaming.py): splitting at boundary sizes, rebuilding streams
// of several tensors, and streams that end early or carry too much.
#include "hivemind/compression/streaming.hpp"

#include <gtest/gtest.h>

#include "hivemind/compression/error.hpp"

namespace hivemind::compression {
namespace {

// A valid NONE uint8 tensor of n bytes.
SerializedTensor bytes_tensor(std::uint32_t n, std::uint8_t seed = 1) {
  SerializedTensor t;
  t.size = {n};
  t.dtype = "uint8";
  t.buffer.resize(n);
  for (std::uint32_t i = 0; i < n; ++i)
    t.buffer[i] = static_cast<std::uint8_t>(seed + i * 7);
  return t;
}

TEST(Streaming, SplitAtBoundarySizes) {
  const SerializedTensor t = bytes_tensor(1000);
  for (std::size_t chunk : {std::size_t{1},
                            std::size_t{999},
                            std::size_t{1000},
                            std::size_t{1001},
                            std::size_t{333},
                            std::size_t{1} << 30}) {
    auto parts = split_for_streaming(t, chunk);
    const std::size_t expected = std::max<std::size_t>(1, (1000 + chunk - 1) / chunk);
    ASSERT_EQ(parts.size(), expected) << chunk;
    EXPECT_EQ(parts[0].chunks, static_cast<std::int32_t>(expected));
    EXPECT_EQ(parts[0].dtype, "uint8");
    EXPECT_EQ(parts[0].size, t.size);
    Bytes joined;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      EXPECT_LE(parts[i].buffer.size(), chunk);
      if (i > 0) {  // continuation parts carry only their slice
        SerializedTensor only_buffer;
        only_buffer.buffer = parts[i].buffer;
        EXPECT_EQ(parts[i], only_buffer);
      }
      append(joined, parts[i].buffer);
    }
    EXPECT_EQ(joined, t.buffer);
    const auto messages = split_tensor_messages(t, chunk);
    ASSERT_EQ(messages.size(), parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i)
      EXPECT_EQ(messages[i], encode_tensor_message(parts[i]));
    auto rebuilt = assemble_tensor_stream(parts);
    ASSERT_TRUE(rebuilt) << rebuilt.error().message();
    ASSERT_EQ(rebuilt->size(), 1u);
    const SerializedTensor whole{t.buffer,
                                 t.size,
                                 false,
                                 "uint8",
                                 CompressionType::kNone,
                                 static_cast<std::int32_t>(expected)};
    EXPECT_EQ(rebuilt->front(), whole);
  }
}

TEST(Streaming, HivemindChunkCounts) {
  // test_serialize_tensor: max(ceil(len / chunk), 1) parts for these chunk sizes.
  const SerializedTensor t = bytes_tensor(200000);
  for (std::size_t chunk :
       {std::size_t{1024}, std::size_t{65536}, std::size_t{65537}, std::size_t{1000000000}})
    EXPECT_EQ(split_for_streaming(t, chunk).size(),
              std::max<std::size_t>(1, (200000 + chunk - 1) / chunk));
}

TEST(Streaming, EmptyBufferIsOnePartWithZeroChunks) {
  const SerializedTensor t = bytes_tensor(0);
  auto parts = split_for_streaming(t, 16);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].chunks, 0);
  EXPECT_EQ(parts[0].dtype, "uint8");
  auto rebuilt = assemble_tensor_stream(parts);
  ASSERT_TRUE(rebuilt);
  ASSERT_EQ(rebuilt->size(), 1u);
  EXPECT_TRUE(rebuilt->front().buffer.empty());
}

TEST(Streaming, SeveralTensorsInOneStreamOfMessages) {
  const std::vector<SerializedTensor> tensors = {
      bytes_tensor(100, 1), bytes_tensor(0, 2), bytes_tensor(7, 3), bytes_tensor(64, 4)};
  TensorStreamAssembler assembler;
  std::vector<SerializedTensor> got;
  for (const auto& t : tensors) {
    for (const auto& m : split_tensor_messages(t, 32)) {
      ASSERT_TRUE(assembler.push_message(m));
      for (auto& done : assembler.take_completed())
        got.push_back(std::move(done));
    }
  }
  EXPECT_EQ(got.size(), 3u);  // the last one is complete only at finish()
  auto rest = assembler.finish();
  ASSERT_TRUE(rest) << rest.error().message();
  for (auto& t : *rest)
    got.push_back(std::move(t));
  ASSERT_EQ(got.size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i)
    EXPECT_EQ(got[i].buffer, tensors[i].buffer);
}

TEST(Streaming, UnannouncedChunksAndWholeTensorsAreAccepted) {
  // Tensors sent whole (chunks = 0), as hivemind's averaging does.
  auto a = bytes_tensor(10);
  auto b = bytes_tensor(20);
  auto rebuilt = assemble_tensor_stream({a, b});
  ASSERT_TRUE(rebuilt);
  ASSERT_EQ(rebuilt->size(), 2u);
  EXPECT_EQ((*rebuilt)[1], b);
}

void expect_stream_error(std::vector<SerializedTensor> parts,
                         CompressionErrc code,
                         const StreamLimits& limits = {}) {
  auto r = assemble_tensor_stream(std::move(parts), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), code) << r.error().message();
}

TEST(Streaming, StreamsThatEndEarly) {
  auto parts = split_for_streaming(bytes_tensor(100), 30);  // 4 parts
  auto missing_last = parts;
  missing_last.pop_back();
  expect_stream_error(missing_last, CompressionErrc::kTruncatedStream);
  // The next tensor starts before this one is complete.
  auto cut = missing_last;
  cut.push_back(bytes_tensor(5));
  expect_stream_error(cut, CompressionErrc::kTruncatedStream);
  // All bytes, but fewer parts than announced.
  auto merged = parts;
  append(merged[2].buffer, merged[3].buffer);
  merged.pop_back();
  expect_stream_error(merged, CompressionErrc::kTruncatedStream);
}

TEST(Streaming, StreamsThatCarryTooMuchOrStartWrong) {
  auto parts = split_for_streaming(bytes_tensor(100), 30);
  auto extra_part = parts;
  extra_part.push_back(SerializedTensor{});
  expect_stream_error(extra_part, CompressionErrc::kMalformedStream);
  auto extra_bytes = parts;
  extra_bytes.back().buffer.push_back(0);
  expect_stream_error(extra_bytes, CompressionErrc::kBufferSizeMismatch);
  expect_stream_error({parts[1], parts[0]}, CompressionErrc::kMalformedStream);
  auto negative = parts;
  negative[0].chunks = -4;
  expect_stream_error(negative, CompressionErrc::kMalformedStream);
  auto bad_dtype = parts;
  bad_dtype[0].dtype = "uint7";
  expect_stream_error(bad_dtype, CompressionErrc::kUnknownDtype);
  auto bad_codec = parts;
  bad_codec[0].compression = CompressionType::kFloat16;  // uint8 cannot be FLOAT16
  expect_stream_error(bad_codec, CompressionErrc::kUnsupportedDtype);
  auto huge = parts;
  huge[0].size = {4294967295u, 4294967295u, 4294967295u};
  expect_stream_error(huge, CompressionErrc::kBadShape);
}

TEST(Streaming, Limits) {
  auto parts = split_for_streaming(bytes_tensor(100), 30);
  expect_stream_error(parts, CompressionErrc::kTooLarge, StreamLimits{.max_tensor_bytes = 99});
  std::vector<SerializedTensor> two = {bytes_tensor(60), bytes_tensor(60)};
  expect_stream_error(two, CompressionErrc::kTooLarge, StreamLimits{.max_total_bytes = 100});
  expect_stream_error(two, CompressionErrc::kTooLarge, StreamLimits{.max_tensors = 1});
  EXPECT_TRUE(assemble_tensor_stream(two, StreamLimits{.max_total_bytes = 120, .max_tensors = 2}));
}

TEST(Streaming, ErrorsAreSticky) {
  TensorStreamAssembler assembler;
  SerializedTensor orphan;
  orphan.buffer = {1};
  EXPECT_EQ(assembler.push(orphan).error(), CompressionErrc::kMalformedStream);
  EXPECT_EQ(assembler.push(bytes_tensor(3)).error(), CompressionErrc::kMalformedStream);
  EXPECT_FALSE(assembler.finish());
  TensorStreamAssembler parse_error;
  EXPECT_EQ(parse_error.push_message(Bytes{0x0A}).error(), CompressionErrc::kMalformedMessage);
  EXPECT_FALSE(parse_error.push(bytes_tensor(3)));
}

TEST(Streaming, EmptyStreamHasNoTensors) {
  auto r = assemble_tensor_stream({});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace hivemind::compression
