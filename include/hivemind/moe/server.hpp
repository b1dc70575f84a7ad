#pragma once
/// \file
/// `Server`: an expert server (hivemind's `Server.create` + `Server.run`). It hosts experts,
/// serves their RPCs on its DHT node's host (so experts are reached at the DHT's peer id, as in
/// hivemind), batches requests on a compute runtime, trains on every backward pass, declares its
/// experts in the DHT every `update_period` and withdraws them on shutdown, and saves checkpoints
/// periodically and at shutdown.
///
/// Thread affinity: create, query and shut down from any thread except the DHT's network thread.
/// Owns: the DHT (network thread), the runtime (compute threads), the checkpoint thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hivemind/compression/types.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/connection_handler.hpp"
#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_registry.hpp"

namespace hivemind::moe {

/// Everything a server needs; defaults follow hivemind's `Server.create` (docs/moe-server.md).
struct ServerOptions {
  /// Experts to host: explicit uids, or `num_experts` generated from `expert_pattern` (e.g.
  /// `ffn.[0:16].[0:16]`; no pattern = `expert.0`, `expert.1`, ...) avoiding uids already
  /// declared in the DHT. With `checkpoint_dir` and neither, the checkpointed uids are hosted.
  std::vector<std::string> expert_uids;
  std::size_t num_experts = 0;
  std::optional<std::string> expert_pattern;
  std::string expert_cls = "ffn";  ///< a name in the registry
  std::int64_t hidden_dim = 1024;

  OptimizerOptions optimizer;  ///< per expert, stepped on every backward batch
  SchedulerOptions scheduler;
  std::optional<double> clip_grad_norm;

  std::int64_t min_batch_size = 1;
  std::int64_t max_batch_size = 4096;   ///< samples per batch; larger requests are refused
  std::int64_t max_queued_samples = 0;  ///< per pool; 0 = 8 * max_batch_size
  std::size_t num_compute_threads = 1;  ///< runtime threads running batches
  std::size_t num_codec_threads = 1;    ///< encode/decode threads for large tensors (>= 1)
  std::string device;                   ///< "cpu", "cuda", "cuda:1"; empty = cuda if available
  /// Codec for floating-point tensors the server sends (hivemind `--compression`).
  compression::CompressionType compression = compression::CompressionType::kNone;

  dht::DHTOptions dht;  ///< the server's DHT node (listen addresses, initial peers, identity)
  std::chrono::duration<double> update_period{30};          ///< DHT re-declaration, checkpoints
  std::optional<std::chrono::duration<double>> expiration;  ///< of declarations; default 2 periods

  std::optional<std::filesystem::path> checkpoint_dir;  ///< load at start, save every period
  std::optional<std::chrono::duration<double>> stats_report_interval;  ///< runtime stats log
  ConnectionHandlerOptions rpc;  ///< request limits (codec_pool is set by the server)
};

/// Seconds spent starting, split as hivemind's benchmark reports it.
struct StartupTimes {
  double experts_s = 0;     ///< building experts, optimizers, loading checkpoints
  double networking_s = 0;  ///< DHT node, RPC handlers, first declaration
};

class Server {
 public:
  /// Builds the experts of `options.expert_cls` from `registry`, starts the DHT, the runtime and
  /// the RPC handlers, declares the experts. Blocks until serving. Errors: kBadConfig (no experts
  /// asked for, unknown expert class, bad pattern, unavailable device), kCheckpointError, DHT
  /// start errors (listen, bootstrap).
  static Result<std::unique_ptr<Server>> create(ServerOptions options,
                                                const ExpertRegistry& registry);
  /// As above with the built-in expert classes.
  static Result<std::unique_ptr<Server>> create(ServerOptions options);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  /// Shuts down (see shutdown()).
  ~Server();

  /// Withdraws the experts from the DHT, stops serving (calls in flight fail with kShuttingDown),
  /// stops the runtime, saves a last checkpoint, stops the DHT. Idempotent.
  void shutdown();

  /// The uids this server hosts (fixed after create()).
  const std::vector<std::string>& expert_uids() const noexcept;
  /// The backend of every hosted expert (for inspection and tests; they are in use).
  const std::vector<std::shared_ptr<ExpertBackend>>& backends() const noexcept;
  /// Addresses clients and peers should use, with /p2p/<peer id>.
  std::vector<net::Multiaddr> visible_multiaddrs() const;
  /// The peer id the experts are declared under (the DHT node's).
  const net::PeerId& peer_id() const noexcept;
  /// The server's DHT (owned by the server; usable from any thread but its network thread).
  dht::DHT& dht() noexcept;
  /// How long create() spent on experts and on networking.
  StartupTimes startup_times() const noexcept;

  /// Internal: the server's parts (src/moe/server_state.hpp).
  struct State;

 private:
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hivemind::moe
