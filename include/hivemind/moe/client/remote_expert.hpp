#pragma once
/// \file
/// `RemoteExpert`: one expert on a remote server used as a module of a local model (hivemind
/// `RemoteExpert`). Its forward pass calls `rpc_forward` and its backward pass, run by autograd,
/// calls `rpc_backward`, which also trains the remote expert. The schema is fetched from
/// `rpc_info` on first use and every reply is checked against it.
///
/// Thread affinity: forward() and schema() block the calling thread, which must not be the DHT's
/// network thread (std::logic_error); forward_async() is for coroutines on any other executor.
/// Backward runs on autograd's thread and blocks it while the server computes.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>
#include <asio/awaitable.hpp>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "hivemind/moe/expert_dht.hpp"
#include "hivemind/moe/tensor_schema.hpp"

namespace hivemind::dht {
class DHT;
class DhtNode;
}  // namespace hivemind::dht

namespace hivemind::moe::client {

/// Options of RemoteExpert.
struct RemoteExpertOptions {
  /// Deadline of each forward, backward or info call (hivemind has none: a dead server hangs the
  /// caller forever).
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  /// Refuse replies holding NaN or Inf (MoeErrc::kAnomaly).
  bool check_finite = true;
};

/// A remote expert as a torch module. Owned through its holder `RemoteExpert` (a shared_ptr);
/// shares the DHT, whose host makes the calls.
class RemoteExpertImpl : public torch::nn::Module {
 public:
  /// Precondition (HM_CHECK): dht non-null. Not on the DHT's network thread (briefly blocks).
  RemoteExpertImpl(ExpertInfo info,
                   std::shared_ptr<dht::DHT> dht,
                   RemoteExpertOptions options = {});

  /// The expert's uid and peer (fixed at construction). Any thread.
  const ExpertInfo& info() const noexcept { return info_; }

  /// The expert's schema, fetched with rpc_info on the first call. Blocking; throws
  /// std::system_error (net or MoeErrc codes) when the server cannot be asked.
  const ExpertSchema& schema();

  /// Runs the expert on `inputs` (batched on dim 0, following schema().args) and returns its
  /// outputs, connected to autograd: gradients of the outputs travel back with rpc_backward and
  /// come back as gradients of every floating input. Blocking. Throws std::system_error with the
  /// server's text when the call fails (e.g. "input 0: expected shape [*, 16], got [2, 11]").
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs);

  /// forward() for coroutines: the network wait does not block the caller's thread. The caller
  /// resumes on its own executor.
  asio::awaitable<std::vector<at::Tensor>> forward_async(std::vector<at::Tensor> inputs);

 private:
  asio::awaitable<ExpertSchema> schema_async();

  ExpertInfo info_;
  std::shared_ptr<dht::DHT> dht_;
  std::shared_ptr<dht::DhtNode> node_;
  RemoteExpertOptions options_;
  std::mutex schema_mutex_;
  std::optional<ExpertSchema> schema_;
};

/// `RemoteExpert(info, dht)`: the shared-ownership holder of RemoteExpertImpl
/// (torch's TORCH_MODULE pattern).
TORCH_MODULE(RemoteExpert);

}  // namespace hivemind::moe::client
