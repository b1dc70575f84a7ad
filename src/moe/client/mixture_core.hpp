#pragma once
// The machinery shared by RemoteMixtureOfExperts and RemoteSwitchMixtureOfExperts: expert
// selection (beam search on the DHT's thread), the experts' schema, and fault-tolerant forward
// and backward calls to every chosen expert (hivemind `_RemoteCallMany`), each expert called
// once with all the samples that chose it. Thread-safe: the searcher lives on the network
// thread, the rest is guarded or per call.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <asio/awaitable.hpp>

#include "hivemind/moe/client/beam_search.hpp"
#include "hivemind/moe/client/fault_tolerance.hpp"
#include "hivemind/moe/tensor_schema.hpp"

namespace hivemind::dht {
class DHT;
class DhtNode;
}  // namespace hivemind::dht

namespace hivemind::moe::client {

/// Each sample's chosen experts, best first.
using ChosenExperts = std::vector<std::vector<ScoredExpert>>;

/// One expert call: an expert and the samples that chose it (with the slot it has in each
/// sample's choice list).
struct ExpertGroup {
  ExpertInfo expert;
  std::vector<std::int64_t> samples;
  std::vector<std::int64_t> slots;
};

/// Groups the (sample, expert) pairs of `chosen` by expert, in order of first appearance.
std::vector<ExpertGroup> group_by_expert(const ChosenExperts& chosen);

/// What a forward pass over the chosen experts produced, kept for its backward pass.
struct ForwardOutcome {
  std::int64_t batch_size = 0;
  std::int64_t slots = 0;  ///< K: the longest choice list
  std::vector<ExpertGroup> groups;
  std::vector<at::Tensor> inputs;  ///< the inputs as sent: detached, CPU, contiguous
  std::vector<bool> answered;      ///< per group
  at::Tensor mask;                 ///< [B, K] bool: slot answered
  /// Per schema output: [B, K, *shape], zero where masked. Moved out (cleared) by
  /// attach_remote_calls, whose autograd outputs they become.
  std::vector<at::Tensor> outputs;
};

class MixtureCore {
 public:
  /// Preconditions (HM_CHECK): dht non-null, valid prefix and grid, k_best > 0.
  MixtureCore(std::shared_ptr<dht::DHT> dht,
              std::string uid_prefix,
              std::vector<int> grid_size,
              std::size_t k_best,
              FaultToleranceOptions fault_tolerance,
              BeamSearchOptions beam_search);
  ~MixtureCore();

  // Coroutines for a single-threaded executor other than the network thread (blocking callers
  // use run_blocking). Failures are thrown as std::system_error (client_errors.hpp).

  /// Beam search for every sample: `scores` is [B, sum(grid_size)] (any device, detached here).
  /// Throws kNoExpertsFound when no sample found an expert.
  asio::awaitable<ChosenExperts> choose(at::Tensor scores);

  /// The experts' schema, asked from the first chosen experts once and cached.
  asio::awaitable<ExpertSchema> schema(ChosenExperts chosen);

  /// Calls every chosen expert with its samples of `inputs` (checked against the schema first)
  /// and collects the answers under the fault-tolerance rules; throws kTooFewExperts / kAnomaly.
  asio::awaitable<std::shared_ptr<ForwardOutcome>> forward(ChosenExperts chosen,
                                                           ExpertSchema schema,
                                                           std::vector<at::Tensor> inputs);

  /// The backward pass: sends (inputs, gradients of the outputs) of every answered slot to its
  /// expert and returns the gradients of `inputs` (summed over experts; experts that fail count
  /// as zero). `grad_outputs[i]` is [B, K, *shape].
  asio::awaitable<std::vector<at::Tensor>> backward(std::shared_ptr<const ForwardOutcome> outcome,
                                                    ExpertSchema schema,
                                                    std::vector<at::Tensor> inputs,
                                                    std::vector<at::Tensor> grad_outputs);

  MixtureCallReport last_report() const;

  const std::vector<int>& grid_size() const noexcept { return grid_size_; }

  const std::string& uid_prefix() const noexcept { return uid_prefix_; }

  const FaultToleranceOptions& fault_tolerance() const noexcept { return fault_tolerance_; }

 private:
  std::vector<GridScores> to_grid_scores(const at::Tensor& scores) const;
  void set_report(MixtureCallReport report);

  std::shared_ptr<dht::DHT> dht_;
  std::shared_ptr<dht::DhtNode> node_;
  std::shared_ptr<MoEBeamSearcher> searcher_;
  std::string uid_prefix_;
  std::vector<int> grid_size_;
  std::size_t k_best_;
  FaultToleranceOptions fault_tolerance_;

  mutable std::mutex mutex_;
  std::optional<ExpertSchema> schema_;
  MixtureCallReport report_;
};

}  // namespace hivemind::moe::client
