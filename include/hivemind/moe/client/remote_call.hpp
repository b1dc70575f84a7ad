#pragma once
/// \file
/// One call to one remote expert, split where the threads are: `make_request` serializes tensors
/// (caller's thread, may be heavy), `send_request` moves bytes (host thread, cheap),
/// `decode_reply` turns the reply back into tensors and checks them against the expert's schema
/// (caller's thread). Unary `rpc_forward`/`rpc_backward` carry requests of at most
/// kMaxUnaryPayloadBytes raw tensor bytes; larger ones stream in parts of kMoEStreamChunkBytes
/// (hivemind's `_RemoteModuleCall` rule). Wire format: docs/protocols/moe.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>
#include <asio/awaitable.hpp>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/moe/expert_dht.hpp"
#include "hivemind/moe/tensor_schema.hpp"

namespace hivemind::net {
class Host;
}

namespace hivemind::moe::client {

/// Requests whose tensors hold more raw bytes than this are streamed (hivemind
/// `MAX_UNARY_PAYLOAD_SIZE` = DEFAULT_MAX_MSG_SIZE / 2).
inline constexpr std::size_t kMaxUnaryPayloadBytes = std::size_t{2} << 20;

/// Largest reply a client accepts for one call, in bytes (all parts together).
inline constexpr std::size_t kMaxReplyBytes = std::size_t{1} << 30;

/// Which expert RPC a request is for.
enum class ExpertMethod { kForward, kBackward };

/// A serialized request, ready to send. Plain data; any thread.
struct ExpertCallRequest {
  std::string uid;
  ExpertMethod method = ExpertMethod::kForward;
  bool streaming = false;       ///< rpc_*_stream with every message in `messages`
  std::vector<Bytes> messages;  ///< one ExpertRequest (unary) or its stream of parts
};

/// Serializes `tensors` for `uid`, each with the compression of its schema entry (`schema[i]`;
/// missing entries: NONE). Tensors are moved to CPU and made contiguous. Forward requests carry
/// the inputs; backward requests carry the inputs followed by the gradients of the outputs
/// (hivemind's order). Any thread. Errors: compression errors (unsupported dtype).
Result<ExpertCallRequest> make_request(std::string_view uid,
                                       ExpertMethod method,
                                       const std::vector<at::Tensor>& tensors,
                                       const std::vector<TensorSchema>& schema);

/// Sends `request` to `peer` and returns the reply messages (one for unary calls). `timeout` is
/// the deadline of the whole call, dial included; when it passes, or when the awaiting coroutine
/// is cancelled, the stream is reset and the server drops the work. Host thread only; `request`
/// is taken by value so that its messages move into the call (pass an rvalue: no copy). Errors: net
/// errors (kTimeout, kRemoteError with the server's text, dial failures), kBadResponse (reply
/// larger than kMaxReplyBytes).
asio::awaitable<Result<std::vector<Bytes>>> send_request(net::Host& host,
                                                         const net::PeerId& peer,
                                                         ExpertCallRequest request,
                                                         std::chrono::milliseconds timeout);

/// Decodes a reply into tensors and checks them, as anything from the network: the message
/// structure, every tensor's encoding, the count, dtypes and shapes against `expected` and the
/// batch size against `batch_size`; with `check_finite`, that floating tensors hold no NaN/Inf.
/// Any thread. Errors: kBadResponse with a detail ("output 0: expected shape [*, 16], got
/// [4, 3]"), kAnomaly for non-finite values.
Result<std::vector<at::Tensor>> decode_reply(const std::vector<Bytes>& messages,
                                             const std::vector<TensorSchema>& expected,
                                             std::int64_t batch_size,
                                             bool check_finite);

/// Calls `rpc_info` of `expert` and decodes its schema. Host thread. Errors: net errors,
/// kBadRequest from decode_expert_info for a reply that is not a valid schema.
asio::awaitable<Result<ExpertSchema>> fetch_expert_schema(net::Host& host,
                                                          const ExpertInfo& expert,
                                                          std::chrono::milliseconds timeout);

}  // namespace hivemind::moe::client
