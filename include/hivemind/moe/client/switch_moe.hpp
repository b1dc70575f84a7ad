#pragma once
/// \file
/// `RemoteSwitchMixtureOfExperts`: switch-style routing over remote experts (hivemind
/// `RemoteSwitchMixtureOfExperts`, after the Switch Transformer): each sample goes to its
/// `k_best` (default 1) experts, the output is `input + Σ p_e · expert_e(input)` with p_e the
/// product over dimensions of the softmax gating probability of the expert's coordinate, and a
/// load-balancing loss pushes the gate to spread samples over the grid. Thread affinity as
/// RemoteMixtureOfExperts.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
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

/// Options of RemoteSwitchMixtureOfExperts; defaults are hivemind's.
struct RemoteSwitchMixtureOfExpertsOptions {
  std::int64_t in_features = 0;
  std::vector<int> grid_size{};
  std::string uid_prefix{};
  std::size_t k_best = 1;
  /// hivemind: k_min = 0, backward_k_min = 0, allow_zero_outputs = true (a sample whose expert
  /// failed passes through the residual connection alone).
  FaultToleranceOptions fault_tolerance{
      .k_min = 0, .backward_k_min = 0, .allow_zero_outputs = true};
  /// Smoothing of `grid_utilization`: util = alpha * util + (1 - alpha) * batch utilization.
  double utilization_alpha = 0.9;
  /// Probability of keeping each grid coordinate during training (dropped ones score -inf).
  double grid_dropout = 1.0;
  /// Multiplicative jitter U(1 - eps, 1 + eps) on the gating input during training.
  double jitter_eps = 1e-2;
  BeamSearchOptions beam_search{};
};

/// The switch layer. Parameters: `proj`; buffer `grid_utilization` (sum(grid_size) entries,
/// initially 1/grid_size[d] each).
class RemoteSwitchMixtureOfExpertsImpl : public torch::nn::Module {
 public:
  /// Preconditions as RemoteMixtureOfExperts; 0 < utilization_alpha < 1, 0 < grid_dropout <= 1,
  /// jitter_eps >= 0.
  RemoteSwitchMixtureOfExpertsImpl(RemoteSwitchMixtureOfExpertsOptions options,
                                   std::shared_ptr<dht::DHT> dht);
  ~RemoteSwitchMixtureOfExpertsImpl() override;

  /// Returns (output, balancing_loss): output = input + weighted expert outputs (experts must
  /// map [batch, in_features] to the same shape); balancing_loss =
  /// Σ_d mean(p_d.mean(0) · util_d) · grid_size[d]², a scalar to add (scaled) to the training
  /// loss. Jitter, grid dropout and the utilization update apply in training mode only. The
  /// caller's tensor is never modified (hivemind jitters it in place). Blocking; throws as
  /// RemoteMixtureOfExperts::forward.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& input);

  /// The report of the latest completed forward pass.
  MixtureCallReport last_report() const;

  /// The options given at construction. Any thread.
  const RemoteSwitchMixtureOfExpertsOptions& options() const noexcept { return options_; }

  torch::nn::Linear proj{nullptr};
  at::Tensor grid_utilization;

 private:
  RemoteSwitchMixtureOfExpertsOptions options_;
  std::shared_ptr<MixtureCore> core_;
};

/// Shared-ownership holder of RemoteSwitchMixtureOfExpertsImpl.
TORCH_MODULE(RemoteSwitchMixtureOfExperts);

}  // namespace hivemind::moe::client
