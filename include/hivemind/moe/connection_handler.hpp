#pragma once
/// \file
/// `ConnectionHandler`: the expert RPCs of a server (hivemind's ConnectionHandler):
/// `ConnectionHandler.rpc_info`, `rpc_forward`, `rpc_backward` (unary) and `rpc_forward_stream`,
/// `rpc_backward_stream` (streaming, for tensors above the unary size limit). Every request is
/// validated (message, uid, tensors, schema, finiteness) before it reaches an expert; a failure
/// becomes the RPC's error text and the server carries on. Wire details: docs/protocols/moe.md.

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>

#include "hivemind/compression/streaming.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/rpc.hpp"

namespace hivemind::net {
class Host;
}

namespace hivemind::compression {
class WorkerPool;
}

namespace hivemind::moe {

class ExpertBackend;
class TaskPool;

/// RPC handler names (no namespace, as hivemind registers them).
inline constexpr const char* kRpcInfo = "ConnectionHandler.rpc_info";
inline constexpr const char* kRpcForward = "ConnectionHandler.rpc_forward";
inline constexpr const char* kRpcBackward = "ConnectionHandler.rpc_backward";
inline constexpr const char* kRpcForwardStream = "ConnectionHandler.rpc_forward_stream";
inline constexpr const char* kRpcBackwardStream = "ConnectionHandler.rpc_backward_stream";

/// One expert as the server serves it: its backend and its two task pools (shared with the
/// runtime that runs them).
struct ServedExpert {
  std::shared_ptr<ExpertBackend> backend;
  std::shared_ptr<TaskPool> forward_pool;
  std::shared_ptr<TaskPool> backward_pool;
};

/// Limits of the expert RPCs. Sizes in bytes.
struct ConnectionHandlerOptions {
  /// Refuse inputs holding NaN or Inf (MoeErrc::kNonFinite) before they reach an expert.
  bool check_finite = true;
  /// Largest tensor part in a streamed response (hivemind: DEFAULT_MAX_MSG_SIZE, 4 MiB).
  std::size_t stream_chunk_bytes = compression::kMoEStreamChunkBytes;
  /// Bounds on what one streaming request may make the server buffer.
  compression::StreamLimits stream_limits{.max_tensor_bytes = std::size_t{1} << 30,
                                          .max_total_bytes = std::size_t{1} << 30,
                                          .max_tensors = 1024};
  /// Most messages in one streaming request (empty messages included).
  std::size_t max_stream_messages = 1 << 16;
  /// Limits of every RPC (message sizes, timeouts); see net/rpc.hpp.
  net::RpcOptions rpc;
  /// Threads for encoding and decoding large tensors (not owned); nullptr = the host thread.
  compression::WorkerPool* codec_pool = nullptr;
};

/// Serves a fixed set of experts over a host's RPCs. Created and used on the host's thread;
/// shared_ptr-owned (the registered handlers keep only a weak reference: after the handler is
/// destroyed, calls fail with kShuttingDown).
class ConnectionHandler : public std::enable_shared_from_this<ConnectionHandler> {
 public:
  ConnectionHandler(std::map<std::string, ServedExpert> experts,
                    ConnectionHandlerOptions options = {});

  /// Registers the five RPCs on `host`. Host thread.
  void add_handlers(net::Host& host);
  /// Unregisters them (calls in progress finish). Host thread.
  void remove_handlers(net::Host& host);

  /// The bodies of the RPCs: request bytes in, response bytes out. Errors: kBadRequest (bytes
  /// that do not parse, or a tensor that does not decode: the detail says which), kUnknownExpert,
  /// kSchemaMismatch, kNonFinite, kEmptyBatch, kBatchTooLarge, kQueueFull, kExpertFailed,
  /// kShuttingDown. Host thread; the expert computation runs on the runtime's threads.
  asio::awaitable<Result<Bytes>> info(Bytes request);
  asio::awaitable<Result<Bytes>> forward(Bytes request);
  asio::awaitable<Result<Bytes>> backward(Bytes request);
  /// The streaming bodies: read every request message, then write response parts.
  asio::awaitable<Result<void>> forward_stream(net::RpcStreamReader& in, net::RpcStreamWriter& out);
  asio::awaitable<Result<void>> backward_stream(net::RpcStreamReader& in,
                                                net::RpcStreamWriter& out);

  /// The served experts by uid (fixed at construction).
  const std::map<std::string, ServedExpert>& experts() const noexcept { return experts_; }

 private:
  std::map<std::string, ServedExpert> experts_;
  ConnectionHandlerOptions options_;
};

}  // namespace hivemind::moe
