#pragma once
// Private to the connection handler: a request's life between parsing and encoding, shared by
// the unary (connection_handler.cpp) and streaming (connection_handler_stream.cpp) RPCs.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>
#include <asio/awaitable.hpp>

#include "hivemind/compression/serialized_tensor.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/moe/connection_handler.hpp"

namespace hivemind::moe::detail {

/// A validated request, ready for the expert's pool.
struct Call {
  const ServedExpert* expert = nullptr;
  bool backward = false;
  std::vector<at::Tensor> tensors;  ///< forward: the inputs; backward: inputs, then grad_outputs
};

/// `uid` quoted for an error message: at most 64 characters, control characters escaped.
std::string quoted(std::string_view uid);

/// The served expert of `uid`. Errors: kUnknownExpert.
Result<const ServedExpert*> find_expert(const std::map<std::string, ServedExpert>& experts,
                                        std::string_view uid);

/// Checks the tensors against the expert's schema: forward = the args; backward = the args, then
/// one gradient per output, all with the same batch size. Errors: those of check_batch.
Result<void> check_call(const Call& call, bool check_finite);

/// Decodes the tensors of a unary request (each a Tensor message) and checks the call.
Result<Call> decode_call(const std::map<std::string, ServedExpert>& experts,
                         BytesView request,
                         bool backward,
                         const ConnectionHandlerOptions& options);

/// The results of a call and the codec of each: forward outputs with the outputs' compression,
/// input gradients with the inputs' (hivemind's grad_inputs_schema = forward_schema); NONE for
/// non-floating tensors.
struct CallResults {
  std::vector<at::Tensor> tensors;
  std::vector<compression::CompressionType> types;
};

/// Queues a checked call on its pool (resuming on the caller's executor).
asio::awaitable<Result<CallResults>> compute_call(Call call);

/// compute_call, then encodes the results.
asio::awaitable<Result<std::vector<compression::SerializedTensor>>> run_call(
    Call call, const ConnectionHandlerOptions& options);

}  // namespace hivemind::moe::detail
