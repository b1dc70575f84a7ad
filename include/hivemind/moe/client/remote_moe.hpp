#pragma once
/// \file
/// `RemoteMixtureOfExperts`: a layer of a local model whose experts live on other computers
/// (hivemind `RemoteMixtureOfExperts`, the Decentralized Mixture-of-Experts layer). A linear
/// gating function scores every coordinate of the expert grid, beam search through the DHT picks
/// each sample's `k_best` declared experts, every chosen expert is called once with all the
/// samples that chose it, and the answers are averaged with a softmax over the scores of the
/// experts that answered. Gradients reach the gating function and, through `rpc_backward`, the
/// remote experts. Failed, slow or misbehaving experts are masked out (fault_tolerance.hpp).
///
/// Thread affinity: forward()/forward_many() block the calling thread, which must not be the
/// DHT's network thread (std::logic_error); forward_async() is for coroutines on another executor.
/// Calls from several threads at once are safe. Backward runs on autograd's thread.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <asio/awaitable.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "hivemind/moe/client/beam_search.hpp"
#include "hivemind/moe/client/fault_tolerance.hpp"

namespace hivemind::dht {
class DHT;
}

namespace hivemind::moe::client {

class MixtureCore;

/// Options of RemoteMixtureOfExperts; names and meaning as hivemind's constructor arguments.
struct RemoteMixtureOfExpertsOptions {
  std::int64_t in_features = 0;  ///< width of the gating input (last dim of input 0)
  std::vector<int> grid_size{};  ///< expert grid, e.g. {4, 4} for uids `prefix.i.j`
  std::string uid_prefix{};      ///< e.g. "ffn" or "ffn." (experts `ffn.i.j`)
  std::size_t k_best = 0;        ///< experts chosen per sample
  FaultToleranceOptions fault_tolerance{};
  BeamSearchOptions beam_search{};
};

/// The DMoE layer. Parameters: `proj` (the gating Linear(in_features, sum(grid_size))).
class RemoteMixtureOfExpertsImpl : public torch::nn::Module {
 public:
  /// Preconditions (HM_CHECK): dht non-null, in_features > 0, grid_size non-empty and positive,
  /// uid_prefix a valid prefix, k_best > 0.
  RemoteMixtureOfExpertsImpl(RemoteMixtureOfExpertsOptions options, std::shared_ptr<dht::DHT> dht);
  ~RemoteMixtureOfExpertsImpl() override;

  /// The layer for experts with one input and one output: `input` is [batch, in_features] (or
  /// [batch, ..., in_features]: the gating function then sees the mean over the middle dims);
  /// returns the weighted expert output [batch, *output shape]. Blocking. Throws
  /// std::system_error: kNoExpertsFound (nothing declared under the prefix), kTooFewExperts
  /// (with the failures that caused it), kAnomaly (detect_anomalies), kBadResponse (the schema).
  at::Tensor forward(const at::Tensor& input);

  /// The general form: inputs follow the experts' argument schema (input 0 feeds the gating
  /// function), one weighted result per expert output.
  std::vector<at::Tensor> forward_many(const std::vector<at::Tensor>& inputs);

  /// forward() for coroutines: the beam search and the calls do not block the caller's thread.
  asio::awaitable<at::Tensor> forward_async(at::Tensor input);

  /// The report of the latest completed forward pass (of any thread).
  MixtureCallReport last_report() const;

  /// The options given at construction. Any thread.
  const RemoteMixtureOfExpertsOptions& options() const noexcept { return options_; }

  torch::nn::Linear proj{nullptr};

 private:
  RemoteMixtureOfExpertsOptions options_;
  std::shared_ptr<MixtureCore> core_;
};

/// Shared-ownership holder of RemoteMixtureOfExpertsImpl (torch's TORCH_MODULE pattern).
TORCH_MODULE(RemoteMixtureOfExperts);

}  // namespace hivemind::moe::client
