#pragma once
// Helpers for multi-process tests of the `hivemind-server` tool (HM_SERVER_TOOL_PATH, fixed at
// build time): a server process on 127.0.0.1 whose startup lines are read with deadlines, and a
// client (a client-mode DHT in the test process) that finds experts through the DHT and calls
// their RPCs with hand-built runtime.proto messages. No sleeps: every wait reads the child's
// output or exit status, or an RPC, with a deadline. Test thread only.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/expert_dht.hpp"
#include "hivemind/net/peer_id.hpp"
#include "testutil/child_process.hpp"

namespace hivemind::moe::servertest {

using namespace std::chrono_literals;

/// Generous bounds: a server loads libtorch (~290 shared libraries) and builds its experts on a
/// shared, loaded machine.
inline constexpr std::chrono::milliseconds kServerStartTimeout = 90s;
/// From SIGTERM to exit: withdrawal from the DHT, last checkpoint, network shutdown.
inline constexpr std::chrono::milliseconds kServerExitTimeout = 60s;
/// One-shot runs that fail early (bad flags, cannot start).
inline constexpr std::chrono::milliseconds kToolRunTimeout = 90s;
/// One expert RPC.
inline constexpr std::chrono::milliseconds kCallTimeout = 30s;

/// A running hivemind-server (stderr merged into the stdout pipe). Killed (SIGKILL) when
/// destroyed unless it exited before.
struct ServerProcess {
  testing::ChildProcess process;
  std::vector<std::string> addrs;  ///< the multiaddrs it printed, with /p2p/<peer id>
  net::PeerId peer_id;
  std::string serving_line;       ///< "serving N <cls> experts on <device>: uids (startup ...)"
  std::vector<std::string> uids;  ///< from the serving line
};

/// Starts `hivemind-server --host_maddrs /ip4/127.0.0.1/tcp/0 --device cpu <args>` and waits for
/// its multiaddr lines and its serving line. Errors: spawn failure, timeout, the process ending
/// first (the detail holds its last output lines), a malformed line.
Result<ServerProcess> start_server(const std::vector<std::string>& args);

/// A run of hivemind-server that ended by itself: exit code and every output line (stderr
/// merged).
using ServerRun = testing::ChildRun;

/// Runs `hivemind-server <args>` to completion. Errors: spawn failure, timed_out.
Result<ServerRun> run_server_tool(const std::vector<std::string>& args);

/// Sends SIGTERM and waits for the exit; returns the exit code. Errors: timed_out.
Result<int> terminate(ServerProcess& server);

/// A client-mode DHT joined to `initial_peer`, calling experts with uncompressed tensors.
class ExpertClient {
 public:
  /// Errors: the DHT's (bootstrap failure).
  static Result<std::unique_ptr<ExpertClient>> create(const std::string& initial_peer);

  /// hivemind's get_experts through the DHT (`latest`: ask every replica).
  std::vector<std::optional<ExpertInfo>> get_experts(std::vector<std::string> uids, bool latest);

  /// Connects the client's host to `addr` (so that calls to its peer id can dial it).
  Result<void> connect(const std::string& addr);

  /// One unary call; the remote's error text comes back as the error's message.
  Result<Bytes> call(const net::PeerId& peer, const std::string& method, Bytes request);

  /// rpc_info: the expert's msgpack-serialized info.
  Result<Bytes> info(const net::PeerId& peer, const std::string& uid);

  /// rpc_forward / rpc_backward (`method`) with `tensors` sent uncompressed; decoded results.
  Result<std::vector<at::Tensor>> tensors_call(const net::PeerId& peer,
                                               const std::string& method,
                                               const std::string& uid,
                                               const std::vector<at::Tensor>& tensors);

 private:
  explicit ExpertClient(std::unique_ptr<dht::DHT> dht) : dht_(std::move(dht)) {}

  std::unique_ptr<dht::DHT> dht_;
};

}  // namespace hivemind::moe::servertest
