#include "connection_handler_calls.hpp"

#include <ATen/ATen.h>

#include "hivemind/compression/serialization.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_messages.hpp"
#include "hivemind/moe/task_pool.hpp"
#include "hivemind/moe/tensor_schema.hpp"

namespace hivemind::moe::detail {
namespace {

namespace comp = hivemind::compression;

Err bad_tensor(std::size_t index, const Error& error) {
  return Err(MoeErrc::kBadRequest,
             "tensor " + std::to_string(index) + " does not decode: " + error.message());
}

Result<std::vector<comp::SerializedTensor>> encode_results(const CallResults& results,
                                                           const comp::CodecOptions& codec) {
  std::vector<comp::SerializedTensor> out;
  out.reserve(results.tensors.size());
  for (std::size_t i = 0; i < results.tensors.size(); ++i) {
    auto encoded = comp::serialize_tensor(results.tensors[i], results.types[i], codec);
    if (!encoded)
      return Err(MoeErrc::kExpertFailed,
                 "output " + std::to_string(i) + " does not encode: " + encoded.error().message());
    out.push_back(std::move(*encoded));
  }
  return out;
}

}  // namespace

std::string quoted(std::string_view uid) {
  constexpr std::size_t kMaxShown = 64;
  std::string out = "'";
  for (std::size_t i = 0; i < uid.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(uid[i]);
    if (c < 0x20 || c == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (uid.size() > kMaxShown)
    out += "...";
  return out + "'";
}

Result<const ServedExpert*> find_expert(const std::map<std::string, ServedExpert>& experts,
                                        std::string_view uid) {
  const auto it = experts.find(std::string(uid));
  if (it == experts.end())
    return Err(MoeErrc::kUnknownExpert, "unknown expert " + quoted(uid));
  return &it->second;
}

Result<void> check_call(const Call& call, bool check_finite) {
  const ExpertSchema& schema = call.expert->backend->schema();
  if (!call.backward) {
    HM_TRY_VOID(check_batch(schema.args, call.tensors, check_finite));
    return ok();
  }
  const std::size_t n_args = schema.args.size();
  const std::size_t expected = n_args + schema.outputs.size();
  if (call.tensors.size() != expected)
    return Err(MoeErrc::kSchemaMismatch,
               "backward expects " + std::to_string(n_args) + " inputs and "
                   + std::to_string(schema.outputs.size()) + " output gradients, got "
                   + std::to_string(call.tensors.size()) + " tensors");
  const auto split = call.tensors.begin() + static_cast<std::ptrdiff_t>(n_args);
  const std::vector<at::Tensor> inputs(call.tensors.begin(), split);
  const std::vector<at::Tensor> grads(split, call.tensors.end());
  HM_TRY(auto batch, check_batch(schema.args, inputs, check_finite));
  HM_TRY(auto grad_batch, check_batch(schema.outputs, grads, check_finite));
  if (batch != grad_batch)
    return Err(MoeErrc::kSchemaMismatch,
               "inputs have batch size " + std::to_string(batch) + " but output gradients "
                   + std::to_string(grad_batch));
  return ok();
}

Result<Call> decode_call(const std::map<std::string, ServedExpert>& experts,
                         BytesView request,
                         bool backward,
                         const ConnectionHandlerOptions& options) {
  HM_TRY(auto message, parse_expert_message(request));
  HM_TRY(auto expert, find_expert(experts, message.uid));
  Call call{.expert = expert, .backward = backward, .tensors = {}};
  const comp::CodecOptions codec{.pool = options.codec_pool};
  for (std::size_t i = 0; i < message.tensors.size(); ++i) {
    auto view = comp::parse_tensor_message_view(message.tensors[i]);
    if (!view)
      return bad_tensor(i, view.error());
    auto tensor = comp::deserialize_tensor(*view, codec);
    if (!tensor)
      return bad_tensor(i, tensor.error());
    call.tensors.push_back(std::move(*tensor));
  }
  HM_TRY_VOID(check_call(call, options.check_finite));
  return call;
}

asio::awaitable<Result<CallResults>> compute_call(Call call) {
  TaskPool& pool = call.backward ? *call.expert->backward_pool : *call.expert->forward_pool;
  HM_CO_TRY(auto tensors, co_await pool.run(std::move(call.tensors)));
  const ExpertSchema& schema = call.expert->backend->schema();
  const auto& descriptors = call.backward ? schema.args : schema.outputs;
  CallResults results{.tensors = std::move(tensors), .types = {}};
  results.types.reserve(results.tensors.size());
  for (std::size_t i = 0; i < results.tensors.size(); ++i) {
    auto type = i < descriptors.size() ? descriptors[i].compression : comp::CompressionType::kNone;
    if (!at::isFloatingType(results.tensors[i].scalar_type()))
      type = comp::CompressionType::kNone;
    results.types.push_back(type);
  }
  co_return results;
}

asio::awaitable<Result<std::vector<comp::SerializedTensor>>> run_call(
    Call call, const ConnectionHandlerOptions& options) {
  HM_CO_TRY(auto results, co_await compute_call(std::move(call)));
  co_return encode_results(results, comp::CodecOptions{.pool = options.codec_pool});
}

}  // namespace hivemind::moe::detail
