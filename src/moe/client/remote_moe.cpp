#include "hivemind/moe/client/remote_moe.hpp"

#include <numeric>

#include <ATen/ATen.h>

#include "expert_scores.hpp"
#include "hivemind/core/check.hpp"
#include "mixture_core.hpp"
#include "remote_call_many.hpp"
#include "run_blocking.hpp"

namespace hivemind::moe::client {

RemoteMixtureOfExpertsImpl::RemoteMixtureOfExpertsImpl(RemoteMixtureOfExpertsOptions options,
                                                       std::shared_ptr<dht::DHT> dht)
    : options_(std::move(options)) {
  HM_CHECK(options_.in_features > 0, "RemoteMixtureOfExperts: in_features must be positive");
  HM_CHECK(!options_.grid_size.empty(), "RemoteMixtureOfExperts: empty grid_size");
  const int total = std::accumulate(options_.grid_size.begin(), options_.grid_size.end(), 0);
  proj = register_module("proj", torch::nn::Linear(options_.in_features, total));
  core_ = std::make_shared<MixtureCore>(std::move(dht),
                                        options_.uid_prefix,
                                        options_.grid_size,
                                        options_.k_best,
                                        options_.fault_tolerance,
                                        options_.beam_search);
}

RemoteMixtureOfExpertsImpl::~RemoteMixtureOfExpertsImpl() = default;

namespace {

// The whole layer as one coroutine: gating, beam search, calls, weighted average.
asio::awaitable<std::vector<at::Tensor>> mixture_forward(std::shared_ptr<MixtureCore> core,
                                                         torch::nn::Linear proj,
                                                         std::vector<at::Tensor> inputs) {
  HM_CHECK(!inputs.empty(), "RemoteMixtureOfExperts: no inputs");
  const at::Tensor scores = proj->forward(gating_input(inputs[0]));
  ChosenExperts chosen = co_await core->choose(scores);
  ExpertSchema schema = co_await core->schema(chosen);
  auto outcome = co_await core->forward(chosen, schema, inputs);
  const std::int64_t slots = outcome->slots;
  std::vector<at::Tensor> results = attach_remote_calls(core, std::move(outcome), schema, inputs);
  std::vector<std::int64_t> sizes(core->grid_size().begin(), core->grid_size().end());
  const auto grid = scores.split_with_sizes(sizes, 1);
  const at::Tensor logits = compute_expert_scores(grid, chosen, slots, ScoreCombine::kSum);
  const at::Tensor weights = mixture_weights(logits, results[0].to(logits.device()));
  std::vector<at::Tensor> averaged;
  for (std::size_t i = 1; i < results.size(); ++i)
    averaged.push_back(weighted_sum(weights.to(results[i].device()), results[i]));
  co_return averaged;
}

}  // namespace

at::Tensor RemoteMixtureOfExpertsImpl::forward(const at::Tensor& input) {
  auto outputs = forward_many({input});
  HM_CHECK(outputs.size() == 1,
           "RemoteMixtureOfExperts::forward: the experts have several outputs; use forward_many");
  return outputs.front();
}

std::vector<at::Tensor> RemoteMixtureOfExpertsImpl::forward_many(
    const std::vector<at::Tensor>& inputs) {
  return run_blocking(mixture_forward(core_, proj, inputs));
}

asio::awaitable<at::Tensor> RemoteMixtureOfExpertsImpl::forward_async(at::Tensor input) {
  std::vector<at::Tensor> inputs{std::move(input)};
  auto outputs = co_await mixture_forward(core_, proj, std::move(inputs));
  HM_CHECK(outputs.size() == 1,
           "RemoteMixtureOfExperts::forward_async: the experts have several outputs");
  co_return outputs.front();
}

MixtureCallReport RemoteMixtureOfExpertsImpl::last_report() const {
  return core_->last_report();
}

}  // namespace hivemind::moe::client
