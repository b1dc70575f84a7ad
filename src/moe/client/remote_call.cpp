#include "hivemind/moe/client/remote_call.hpp"

#include <ATen/ATen.h>

#include "../tensor_parts.hpp"
#include "hivemind/compression/serialization.hpp"
#include "hivemind/compression/streaming.hpp"
#include "hivemind/moe/connection_handler.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_messages.hpp"
#include "hivemind/net/rpc.hpp"

namespace hivemind::moe::client {
namespace {

namespace comp = hivemind::compression;

const char* method_name(ExpertMethod method, bool streaming) {
  if (method == ExpertMethod::kForward)
    return streaming ? kRpcForwardStream : kRpcForward;
  return streaming ? kRpcBackwardStream : kRpcBackward;
}

std::size_t raw_bytes(const std::vector<at::Tensor>& tensors) {
  std::size_t total = 0;
  for (const auto& t : tensors)
    total += static_cast<std::size_t>(t.numel()) * t.element_size();
  return total;
}

Err bad_output(std::size_t index, const std::string& what) {
  return Err(MoeErrc::kBadResponse, "output " + std::to_string(index) + ": " + what);
}

// The tensors of a reply: one message (unary) or a stream of parts, each tensor's parts joined
// once under limits (the parts view `messages`).
Result<std::vector<comp::SerializedTensor>> reply_parts(const std::vector<Bytes>& messages,
                                                        std::size_t max_tensors) {
  moe::detail::TensorPartJoiner joiner(comp::StreamLimits{.max_tensor_bytes = kMaxReplyBytes,
                                                          .max_total_bytes = kMaxReplyBytes,
                                                          .max_tensors = max_tensors,
                                                          .parse = {}});
  for (const auto& message : messages) {
    auto view = parse_expert_message(message);
    if (!view)
      return Err(MoeErrc::kBadResponse, "reply does not parse: " + view.error().message());
    auto pushed = joiner.push(view->tensors, {});
    if (!pushed)
      return Err(MoeErrc::kBadResponse, "reply tensor: " + pushed.error().message());
  }
  auto parts = joiner.finish();
  if (!parts)
    return Err(MoeErrc::kBadResponse, "reply tensor: " + parts.error().message());
  return std::move(*parts);
}

}  // namespace

Result<ExpertCallRequest> make_request(std::string_view uid,
                                       ExpertMethod method,
                                       const std::vector<at::Tensor>& tensors,
                                       const std::vector<TensorSchema>& schema) {
  ExpertCallRequest request{.uid = std::string(uid),
                            .method = method,
                            .streaming = raw_bytes(tensors) > kMaxUnaryPayloadBytes,
                            .messages = {}};
  const auto codec_of = [&](std::size_t i, const at::Tensor& cpu) {
    const auto type = i < schema.size() ? schema[i].compression : comp::CompressionType::kNone;
    return at::isFloatingType(cpu.scalar_type()) ? type : comp::CompressionType::kNone;
  };
  if (!request.streaming) {
    std::vector<comp::SerializedTensor> serialized;
    serialized.reserve(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const at::Tensor cpu = tensors[i].detach().to(at::kCPU).contiguous();
      HM_TRY(auto encoded, comp::serialize_tensor(cpu, codec_of(i, cpu)));
      serialized.push_back(std::move(encoded));
    }
    request.messages.push_back(encode_expert_message(uid, serialized));
    return request;
  }
  // hivemind: every part in its own ExpertRequest, the uid repeated on each. Every tensor is
  // prepared before the first message, as the unary path serializes all before encoding.
  std::vector<moe::detail::PartSource> sources;
  sources.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor cpu = tensors[i].detach().to(at::kCPU).contiguous();
    HM_TRY(auto source, moe::detail::prepare_parts(cpu, codec_of(i, cpu), {}));
    sources.push_back(std::move(source));
  }
  for (const auto& source : sources) {
    const std::size_t parts = moe::detail::part_count(source, comp::kMoEStreamChunkBytes);
    for (std::size_t k = 0; k < parts; ++k) {
      Bytes message;
      moe::detail::encode_part_message(message, uid, source, k, comp::kMoEStreamChunkBytes);
      request.messages.push_back(std::move(message));
    }
  }
  return request;
}

asio::awaitable<Result<std::vector<Bytes>>> send_request(net::Host& host,
                                                         const net::PeerId& peer,
                                                         ExpertCallRequest request,
                                                         std::chrono::milliseconds timeout) {
  const std::string method = method_name(request.method, request.streaming);
  if (!request.streaming) {
    HM_CO_TRY(auto reply,
              co_await net::call_unary(host, peer, method, request.messages.front(), timeout));
    std::vector<Bytes> replies;
    replies.push_back(std::move(reply));
    co_return replies;
  }
  HM_CO_TRY(auto replies,
            co_await net::call_streaming(host, peer, method, std::move(request.messages), timeout));
  std::size_t total = 0;
  for (const auto& r : replies)
    total += r.size();
  if (total > kMaxReplyBytes)
    co_return Err(MoeErrc::kBadResponse, "reply of " + std::to_string(total) + " bytes");
  co_return replies;
}

Result<std::vector<at::Tensor>> decode_reply(const std::vector<Bytes>& messages,
                                             const std::vector<TensorSchema>& expected,
                                             std::int64_t batch_size,
                                             bool check_finite) {
  HM_TRY(auto parts, reply_parts(messages, expected.size() + 1));
  if (parts.size() != expected.size())
    return Err(MoeErrc::kBadResponse,
               "expected " + std::to_string(expected.size()) + " tensors, got "
                   + std::to_string(parts.size()));
  std::vector<at::Tensor> tensors;
  tensors.reserve(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto tensor = comp::deserialize_tensor(std::move(parts[i]));
    if (!tensor)
      return bad_output(i, "does not decode: " + tensor.error().message());
    tensors.push_back(std::move(*tensor));
  }
  auto batch = check_batch(expected, tensors, check_finite, "output");
  if (!batch) {
    if (batch.error() == MoeErrc::kNonFinite)
      return Err(MoeErrc::kAnomaly, batch.error().message());
    return Err(MoeErrc::kBadResponse, batch.error().message());
  }
  if (*batch != batch_size)
    return Err(
        MoeErrc::kBadResponse,
        "expected batch size " + std::to_string(batch_size) + ", got " + std::to_string(*batch));
  return tensors;
}

asio::awaitable<Result<ExpertSchema>> fetch_expert_schema(net::Host& host,
                                                          const ExpertInfo& expert,
                                                          std::chrono::milliseconds timeout) {
  const Bytes request = encode_expert_uid(expert.uid);
  HM_CO_TRY(auto reply, co_await net::call_unary(host, expert.peer_id, kRpcInfo, request, timeout));
  HM_CO_TRY(auto info, parse_expert_info_message(reply));
  co_return decode_expert_info(info);
}

}  // namespace hivemind::moe::client
