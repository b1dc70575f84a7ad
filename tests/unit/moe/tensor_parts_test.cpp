// Streamed expert tensors (src/moe/tensor_parts.hpp): the part messages are byte-identical to
// serialize -> split_for_streaming -> encode_expert_message, and the joiner rebuilds what
// TensorStreamAssembler rebuilds, refusing what it refuses with the same error codes.
#include "tensor_parts.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hivemind/compression/error.hpp"
#include "hivemind/moe/expert_messages.hpp"

namespace hivemind::moe::detail {
namespace {

namespace comp = hivemind::compression;
using comp::CompressionType;

// The reference: hivemind's way, one copy per step.
std::vector<Bytes> reference_parts(std::string_view uid,
                                   const at::Tensor& t,
                                   CompressionType type,
                                   std::size_t chunk) {
  auto serialized = comp::serialize_tensor(t, type);
  EXPECT_TRUE(serialized) << serialized.error().message();
  std::vector<Bytes> out;
  for (auto& part : comp::split_for_streaming(*serialized, chunk)) {
    std::vector<comp::SerializedTensor> one;
    one.push_back(std::move(part));
    out.push_back(encode_expert_message(uid, one));
  }
  return out;
}

std::vector<Bytes> our_parts(std::string_view uid,
                             const at::Tensor& t,
                             CompressionType type,
                             std::size_t chunk) {
  auto source = prepare_parts(t, type, {});
  EXPECT_TRUE(source) << source.error().message();
  std::vector<Bytes> out(part_count(*source, chunk));
  for (std::size_t k = 0; k < out.size(); ++k)
    encode_part_message(out[k], uid, *source, k, chunk);
  return out;
}

TEST(TensorParts, BytesMatchSerializeSplitEncode) {
  at::manual_seed(1);
  const std::vector<at::Tensor> tensors = {
      at::randn({7, 33}),                       // raw NONE, several parts
      at::randn({5, 8}).t(),                    // not contiguous: codec path
      at::randn({6, 10}).to(at::kBFloat16),     // widened to float32
      at::arange(50, at::kLong),                // integer
      at::randn({0, 4}),                        // empty: one part, chunks 0
      at::randn({}),                            // 0-d
      at::randn({4, 16}).requires_grad_(true),  // requires_grad on the header
      at::randn({9, 9}).narrow(0, 2, 4)         // a view at an offset
  };
  for (const std::size_t chunk :
       {std::size_t{1}, std::size_t{64}, std::size_t{1000}, std::size_t{1} << 20}) {
    for (const auto& t : tensors) {
      for (const auto type : {CompressionType::kNone, CompressionType::kFloat16}) {
        if (type != CompressionType::kNone && !t.is_floating_point())
          continue;
        if (type == CompressionType::kFloat16 && t.scalar_type() == at::kBFloat16)
          continue;  // FLOAT16 of bfloat16 is refused, as hivemind does
        EXPECT_EQ(our_parts("expert.3", t, type, chunk),
                  reference_parts("expert.3", t, type, chunk))
            << t.sizes() << " chunk " << chunk;
        EXPECT_EQ(our_parts("", t, type, chunk), reference_parts("", t, type, chunk));
      }
    }
  }
}

TEST(TensorParts, EncodeReusesTheBufferAndReplacesItsContents) {
  const at::Tensor t = at::randn({64, 4});
  auto source = prepare_parts(t, CompressionType::kNone, {});
  ASSERT_TRUE(source);
  const auto expected = reference_parts("e", t, CompressionType::kNone, 300);
  Bytes message(5000, 0xAB);
  for (std::size_t k = 0; k < expected.size(); ++k) {
    encode_part_message(message, "e", *source, k, 300);
    EXPECT_EQ(message, expected[k]);
  }
}

// Joins the tensor parts of `messages` (ExpertRequest/Response bytes).
Result<std::vector<comp::SerializedTensor>> join(const std::vector<Bytes>& messages,
                                                 comp::StreamLimits limits = {},
                                                 bool owned = false) {
  TensorPartJoiner joiner(limits);
  for (const auto& m : messages) {
    auto view = parse_expert_message(m);
    EXPECT_TRUE(view);
    if (owned) {
      Bytes copy = m;
      auto parsed = parse_expert_message(copy);
      HM_TRY_VOID(joiner.push(parsed->tensors, std::move(copy)));
    } else {
      HM_TRY_VOID(joiner.push(view->tensors, {}));
    }
  }
  return joiner.finish();
}

// The assembler's answer for the same parts.
Result<std::vector<comp::SerializedTensor>> assemble(const std::vector<Bytes>& messages,
                                                     comp::StreamLimits limits = {}) {
  comp::TensorStreamAssembler assembler(limits);
  for (const auto& m : messages) {
    auto view = parse_expert_message(m);
    EXPECT_TRUE(view);
    for (const auto part : view->tensors)
      HM_TRY_VOID(assembler.push_message(part));
  }
  return assembler.finish();
}

std::vector<Bytes> stream_of(const std::vector<at::Tensor>& tensors, std::size_t chunk) {
  std::vector<Bytes> out;
  for (const auto& t : tensors)
    for (auto& m : our_parts("x", t, CompressionType::kNone, chunk))
      out.push_back(std::move(m));
  return out;
}

TEST(TensorParts, JoinerRebuildsWhatTheAssemblerRebuilds) {
  const std::vector<at::Tensor> tensors = {
      at::randn({10, 7}), at::randn({0, 3}), at::arange(9, at::kInt), at::randn({3})};
  for (const std::size_t chunk : {std::size_t{4}, std::size_t{50}, std::size_t{4096}}) {
    const auto messages = stream_of(tensors, chunk);
    for (const bool owned : {false, true}) {
      auto joined = join(messages, {}, owned);
      auto assembled = assemble(messages);
      ASSERT_TRUE(joined) << joined.error().message();
      ASSERT_TRUE(assembled);
      EXPECT_EQ(*joined, *assembled);
      ASSERT_EQ(joined->size(), tensors.size());
      auto decoded = comp::deserialize_tensor(std::move((*joined)[0]));
      ASSERT_TRUE(decoded);
      EXPECT_TRUE(at::equal(*decoded, tensors[0]));
    }
  }
  auto none = join({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(TensorParts, JoinerKeepsOnlyTensorDataOfMessagesFullOfOtherBytes) {
  const at::Tensor t = at::randn({64, 33});
  const auto clean = stream_of({t}, 1000);
  TensorPartJoiner joiner({});
  for (const auto& m : clean) {
    Bytes message = m;
    // An unknown field 9 of 2 MiB after the tensor part (proto3 skips it).
    message.push_back((9 << 3) | 2);
    const std::size_t junk = std::size_t{2} << 20;
    for (std::size_t v = junk; v != 0; v >>= 7)
      message.push_back(static_cast<std::uint8_t>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
    message.resize(message.size() + junk, 0xEE);
    auto view = parse_expert_message(message);
    ASSERT_TRUE(view);
    ASSERT_EQ(view->tensors.size(), 1U);
    const std::vector<BytesView> parts = view->tensors;
    ASSERT_TRUE(joiner.push(parts, std::move(message)));
  }
  auto joined = joiner.finish();
  ASSERT_TRUE(joined) << joined.error().message();
  auto reference = assemble(clean);
  ASSERT_TRUE(reference);
  EXPECT_EQ(*joined, *reference);
}

// Both refuse `messages`, with the same error code.
void expect_same_refusal(const std::vector<Bytes>& messages, comp::StreamLimits limits = {}) {
  auto joined = join(messages, limits);
  auto assembled = assemble(messages, limits);
  ASSERT_FALSE(assembled) << "the reference accepts this stream";
  ASSERT_FALSE(joined) << "expected " << assembled.error().message();
  EXPECT_EQ(joined.error().code(), assembled.error().code())
      << joined.error().message() << " vs " << assembled.error().message();
}

TEST(TensorParts, JoinerRefusesWhatTheAssemblerRefuses) {
  const auto good = stream_of({at::randn({10, 7})}, 64);  // 280 bytes: 5 parts
  ASSERT_EQ(good.size(), 5U);
  // Truncated: the last part missing; a part missing in the middle.
  expect_same_refusal({good.begin(), good.end() - 1});
  expect_same_refusal({good[0], good[1], good[3], good[4]});
  // No header first.
  expect_same_refusal({good.begin() + 1, good.end()});
  // More parts than announced.
  auto extra = good;
  extra.push_back(good[1]);
  expect_same_refusal(extra);
  // Limits: tensor bytes, total bytes, tensor count.
  expect_same_refusal(good, {.max_tensor_bytes = 200, .max_total_bytes = 1000, .max_tensors = 4});
  expect_same_refusal(good, {.max_tensor_bytes = 1000, .max_total_bytes = 100, .max_tensors = 4});
  const auto two = stream_of({at::randn({2}), at::randn({2})}, 64);
  expect_same_refusal(two, {.max_tensor_bytes = 1000, .max_total_bytes = 1000, .max_tensors = 1});
  // More bytes than the header allows (chunks 0, so no part count to catch it).
  auto unannounced = comp::split_for_streaming(
      *comp::serialize_tensor(at::randn({2}), CompressionType::kNone), 64);
  unannounced[0].chunks = 0;
  comp::SerializedTensor more;
  more.buffer.assign(8, 1);
  std::vector<comp::SerializedTensor> first(1, unannounced[0]);
  std::vector<comp::SerializedTensor> second(1, more);
  expect_same_refusal({encode_expert_message("x", first), encode_expert_message("x", second)});
  // A bad header: unknown dtype; negative chunks.
  comp::SerializedTensor bad = unannounced[0];
  bad.dtype = "complex32";
  std::vector<comp::SerializedTensor> bad_one(1, bad);
  expect_same_refusal({encode_expert_message("x", bad_one)});
  bad = unannounced[0];
  bad.chunks = -1;
  bad_one.assign(1, bad);
  expect_same_refusal({encode_expert_message("x", bad_one)});
  // A part that is not a Tensor message.
  Bytes garbage = {0x12, 0x02, 0xFF, 0xFF};
  expect_same_refusal({garbage});
}

}  // namespace
}  // namespace hivemind::moe::detail
