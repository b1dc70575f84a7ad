#include "hivemind/moe/client/switch_moe.hpp"

#include <limits>
#include <numeric>

#include <ATen/ATen.h>

#include "expert_scores.hpp"
#include "hivemind/core/check.hpp"
#include "mixture_core.hpp"
#include "remote_call_many.hpp"
#include "run_blocking.hpp"

namespace hivemind::moe::client {
namespace {

// The L1-normalised count of answering experts per coordinate of each dimension, concatenated.
at::Tensor batch_utilization(const ChosenExperts& chosen,
                             const at::Tensor& mask,
                             const std::vector<int>& grid_size) {
  std::vector<at::Tensor> counts;
  for (const int size : grid_size)
    counts.push_back(at::zeros({size}, at::kFloat));
  const at::Tensor answered = mask.to(at::kCPU);
  const auto accessor = answered.accessor<bool, 2>();
  for (std::size_t b = 0; b < chosen.size(); ++b)
    for (std::size_t e = 0; e < chosen[b].size(); ++e)
      if (accessor[static_cast<std::int64_t>(b)][static_cast<std::int64_t>(e)])
        for (std::size_t d = 0; d < grid_size.size(); ++d)
          counts[d][chosen[b][e].coordinates[d]] += 1;
  for (auto& c : counts) {
    const double total = c.sum().item<double>();
    if (total > 0)
      c = c / total;
  }
  return at::cat(counts);
}

}  // namespace

RemoteSwitchMixtureOfExpertsImpl::RemoteSwitchMixtureOfExpertsImpl(
    RemoteSwitchMixtureOfExpertsOptions options, std::shared_ptr<dht::DHT> dht)
    : options_(std::move(options)) {
  HM_CHECK(options_.in_features > 0, "RemoteSwitchMixtureOfExperts: in_features must be positive");
  HM_CHECK(!options_.grid_size.empty(), "RemoteSwitchMixtureOfExperts: empty grid_size");
  HM_CHECK(options_.utilization_alpha > 0 && options_.utilization_alpha < 1,
           "utilization_alpha must be in (0, 1)");
  HM_CHECK(options_.grid_dropout > 0 && options_.grid_dropout <= 1,
           "grid_dropout must be in (0, 1]");
  HM_CHECK(options_.jitter_eps >= 0, "jitter_eps must be >= 0");
  const int total = std::accumulate(options_.grid_size.begin(), options_.grid_size.end(), 0);
  proj = register_module("proj", torch::nn::Linear(options_.in_features, total));
  std::vector<at::Tensor> initial;
  for (const int size : options_.grid_size)
    initial.push_back(at::full({size}, 1.0 / size, at::kFloat));
  grid_utilization = register_buffer("grid_utilization", at::cat(initial));
  core_ = std::make_shared<MixtureCore>(std::move(dht),
                                        options_.uid_prefix,
                                        options_.grid_size,
                                        options_.k_best,
                                        options_.fault_tolerance,
                                        options_.beam_search);
}

RemoteSwitchMixtureOfExpertsImpl::~RemoteSwitchMixtureOfExpertsImpl() = default;

std::pair<at::Tensor, at::Tensor> RemoteSwitchMixtureOfExpertsImpl::forward(
    const at::Tensor& input) {
  at::Tensor gating = gating_input(input);
  if (is_training() && options_.jitter_eps > 0)
    gating =
        gating * at::empty_like(gating).uniform_(1 - options_.jitter_eps, 1 + options_.jitter_eps);
  const std::vector<std::int64_t> sizes(options_.grid_size.begin(), options_.grid_size.end());
  std::vector<at::Tensor> grid = proj->forward(gating).split_with_sizes(sizes, 1);
  if (is_training() && options_.grid_dropout < 1) {
    for (auto& scores : grid) {
      const at::Tensor keep =
          at::rand({scores.size(1)}, scores.options().requires_grad(false)) < options_.grid_dropout;
      scores = at::where(
          keep, scores, at::full({1}, -std::numeric_limits<double>::infinity(), scores.options()));
    }
  }
  std::vector<at::Tensor> probabilities;
  for (const auto& scores : grid)
    probabilities.push_back(at::softmax(scores, 1));

  const std::vector<at::Tensor> inputs{input};
  auto run = [&]() -> asio::awaitable<std::pair<at::Tensor, at::Tensor>> {
    ChosenExperts chosen = co_await core_->choose(at::cat(grid, 1));
    ExpertSchema schema = co_await core_->schema(chosen);
    auto outcome = co_await core_->forward(chosen, schema, inputs);
    const std::int64_t slots = outcome->slots;
    std::vector<at::Tensor> results = attach_remote_calls(core_, outcome, schema, inputs);
    const at::Tensor& mask = results[0];
    if (is_training()) {
      at::NoGradGuard no_grad;
      const at::Tensor batch_util =
          batch_utilization(chosen, mask, options_.grid_size).to(grid_utilization.device());
      grid_utilization.mul_(options_.utilization_alpha)
          .add_(batch_util, 1 - options_.utilization_alpha);
    }
    at::Tensor expert_probs =
        compute_expert_scores(probabilities, chosen, slots, ScoreCombine::kProduct);
    expert_probs = expert_probs * mask.to(expert_probs.device()).to(expert_probs.scalar_type());
    at::Tensor output = weighted_sum(expert_probs.to(results[1].device()), results[1]) + input;
    std::vector<at::Tensor> per_dim = grid_utilization.split_with_sizes(sizes, 0);
    at::Tensor loss = at::zeros({}, probabilities[0].options());
    for (std::size_t d = 0; d < probabilities.size(); ++d)
      loss = loss
             + (probabilities[d].mean(0) * per_dim[d].to(probabilities[d].device())).mean()
                   * static_cast<double>(sizes[d] * sizes[d]);
    co_return std::make_pair(output, loss);
  };
  return run_blocking(run());
}

MixtureCallReport RemoteSwitchMixtureOfExpertsImpl::last_report() const {
  return core_->last_report();
}

}  // namespace hivemind::moe::client
