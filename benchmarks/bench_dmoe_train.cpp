// hm-bench-dmoe: the two trainers (remote experts through the DHT, local experts) and a timed
// window of steps. Both split a step the same way, so that the mixture layer's forward and
// backward are timed alone: input layer, mixture forward, output layer + loss + its backward,
// mixture backward (gating included), input layer backward, optimizer step.
#include <chrono>
#include <exception>
#include <functional>
#include <numeric>
#include <thread>
#include <type_traits>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include "bench_dmoe.hpp"
#include "fashion_mnist.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/client/remote_moe.hpp"
#include "hivemind/moe/expert_module.hpp"
#include "hivemind/moe/expert_registry.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::bench {

struct DmoeData {
  examples::FashionMnistData data;
  at::Tensor images;  // [N, 784] view of data.images
  at::Tensor labels;  // [N]
};

namespace {

using SteadyClock = std::chrono::steady_clock;

double since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

/// The mixture computed here: the gating Linear(H, sum(grid)) scores every grid coordinate, an
/// expert's score is the sum of its coordinates' scores (RemoteMixtureOfExperts' rule), each
/// sample takes its k_best best experts, whose outputs are averaged with a softmax over their
/// scores. Every expert runs once on all the samples that chose it.
struct LocalMixture : torch::nn::Module {
  LocalMixture(const DmoeOptions& o) : grid(o.grid), k(static_cast<std::int64_t>(o.k_best)) {
    const int total = std::accumulate(grid.begin(), grid.end(), 0);
    proj = register_module("proj", torch::nn::Linear(o.hidden_dim, total));
    const auto registry = moe::ExpertRegistry::with_builtins();
    const int count = std::accumulate(grid.begin(), grid.end(), 1, std::multiplies<>());
    for (int e = 0; e < count; ++e)
      experts.push_back(
          register_module("expert" + std::to_string(e), registry.find("ffn")->make(o.hidden_dim)));
    std::vector<at::Tensor> params;
    for (const auto& expert : experts)
      for (const auto& p : expert->parameters())
        params.push_back(p);
    expert_optimizer =
        std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr));
  }

  /// What a server does after an expert's backward: its optimizer step (one Adam for all here).
  void update_experts() {
    expert_optimizer->step();
    expert_optimizer->zero_grad();
  }

  at::Tensor forward(const at::Tensor& h) {
    const std::int64_t batch = h.size(0);
    std::vector<std::int64_t> sizes(grid.begin(), grid.end());
    const auto parts = proj->forward(h).split_with_sizes(sizes, 1);
    at::Tensor full = parts[0];  // [B, cells so far], last coordinate fastest
    for (std::size_t d = 1; d < parts.size(); ++d)
      full = (full.unsqueeze(2) + parts[d].unsqueeze(1)).reshape({batch, -1});
    const auto [scores, chosen] = full.topk(k, 1);
    const at::Tensor flat = chosen.reshape({-1});
    const at::Tensor order = flat.argsort();
    const at::Tensor sorted = flat.index_select(0, order);
    const at::Tensor counts = at::bincount(sorted, {}, static_cast<std::int64_t>(experts.size()));
    const auto* count = counts.data_ptr<std::int64_t>();
    std::vector<at::Tensor> outputs;
    std::int64_t offset = 0;
    for (std::size_t e = 0; e < experts.size(); ++e) {
      if (count[e] == 0)
        continue;
      const at::Tensor rows = order.slice(0, offset, offset + count[e]).div(k, "floor");
      outputs.push_back(experts[e]->forward({h.index_select(0, rows)})[0]);
      offset += count[e];
    }
    const at::Tensor gathered = at::cat(outputs, 0);
    const at::Tensor placed = at::zeros_like(gathered).index_copy(0, order, gathered);
    const at::Tensor weights = at::softmax(scores, 1).unsqueeze(2);
    return (weights * placed.view({batch, k, -1})).sum(1);
  }

  std::vector<int> grid;
  std::int64_t k;
  torch::nn::Linear proj{nullptr};
  std::vector<std::shared_ptr<moe::ExpertModule>> experts;
  std::unique_ptr<torch::optim::Adam> expert_optimizer;
};

/// The model of either kind; `Mixture` is LocalMixture or RemoteMixtureOfExperts(Impl).
template <class Mixture>
class Trainer final : public DmoeTrainer {
 public:
  Trainer(const DmoeOptions& o, std::shared_ptr<DmoeData> data, std::shared_ptr<Mixture> mixture)
      : data_(std::move(data)), batch_(o.batch_size), mixture_(std::move(mixture)) {
    input_ = torch::nn::Linear(static_cast<std::int64_t>(data_->data.features()), o.hidden_dim);
    output_ = torch::nn::Linear(o.hidden_dim, 10);
    // The local layers and the gating function; the experts are updated by their owner.
    std::vector<at::Tensor> params = input_->parameters();
    for (const auto& p : output_->parameters())
      params.push_back(p);
    for (const auto& p : mixture_->proj->parameters())
      params.push_back(p);
    optimizer_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr));
  }

  StepTime step() override {
    StepTime t;
    const auto index = at::randint(data_->images.size(0), {batch_}, at::kLong);
    const auto x = data_->images.index_select(0, index);
    const auto y = data_->labels.index_select(0, index);
    const auto start = SteadyClock::now();
    optimizer_->zero_grad();
    try {
      const at::Tensor h = at::relu(input_->forward(x));
      const at::Tensor h_leaf = h.detach().requires_grad_(true);
      auto t0 = SteadyClock::now();
      const at::Tensor m = mixture_->forward(h_leaf);
      t.moe_s = since(t0);
      const at::Tensor m_leaf = m.detach().requires_grad_(true);
      at::nll_loss(at::log_softmax(output_->forward(m_leaf), 1), y).backward();
      t0 = SteadyClock::now();
      m.backward(m_leaf.grad());
      if constexpr (!kRemote)
        mixture_->update_experts();
      t.moe_s += since(t0);
      h.backward(h_leaf.grad());
      optimizer_->step();
    } catch (const std::exception&) {
      t.failed = true;
    }
    t.step_s = since(start);
    if constexpr (kRemote)
      t.failed_calls = mixture_->last_report().failed_calls;
    return t;
  }

 private:
  static constexpr bool kRemote = std::is_same_v<Mixture, moe::client::RemoteMixtureOfExpertsImpl>;

  std::shared_ptr<DmoeData> data_;
  std::int64_t batch_;
  torch::nn::Linear input_{nullptr};
  std::shared_ptr<Mixture> mixture_;
  torch::nn::Linear output_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
};

}  // namespace

Result<std::shared_ptr<DmoeData>> load_dmoe_data(const DmoeOptions& o) {
  HM_TRY(
      auto data,
      examples::load_fashion_mnist(
          o.data_dir, examples::FashionMnistSplit::kTrain, examples::FashionMnistOptions{true, 0}));
  auto out = std::make_shared<DmoeData>();
  out->data = std::move(data);
  const auto n = static_cast<std::int64_t>(out->data.size);
  out->images = at::from_blob(
      out->data.images.data(), {n, static_cast<std::int64_t>(out->data.features())}, at::kFloat);
  out->labels = at::from_blob(out->data.labels.data(), {n}, at::kLong);
  return out;
}

Result<std::unique_ptr<DmoeTrainer>> make_remote_trainer(const DmoeOptions& o,
                                                         std::shared_ptr<DmoeData> data,
                                                         const std::string& dht_addr,
                                                         double timeout_s) {
  dht::DHTOptions dht_options;
  dht_options.node.client_mode = true;
  HM_TRY(auto addr, net::Multiaddr::from_string(dht_addr));
  dht_options.node.initial_peers.push_back(std::move(addr));
  HM_TRY(auto dht, dht::DHT::create(std::move(dht_options)));
  moe::client::RemoteMixtureOfExpertsOptions mo;
  mo.in_features = o.hidden_dim;
  mo.grid_size = o.grid;
  mo.uid_prefix = "expert";
  mo.k_best = o.k_best;
  mo.fault_tolerance.forward_timeout = std::chrono::duration<double>(o.forward_timeout_s);
  mo.fault_tolerance.backward_timeout = std::chrono::duration<double>(o.forward_timeout_s);
  mo.fault_tolerance.timeout_after_k_min = std::chrono::duration<double>(o.timeout_after_k_min_s);
  auto mixture = std::make_shared<moe::client::RemoteMixtureOfExpertsImpl>(
      mo, std::shared_ptr<dht::DHT>(std::move(dht)));
  // Until one forward pass on a full batch reaches every expert it chose (declarations stored,
  // connections open).
  const auto start = SteadyClock::now();
  std::string last_error = "no clean forward pass";
  for (;;) {
    try {
      c10::NoGradGuard no_grad;
      mixture->forward(at::randn({o.batch_size, o.hidden_dim}));
      if (mixture->last_report().failed_calls == 0)
        break;
      last_error = "failed calls: " + std::to_string(mixture->last_report().failed_calls);
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    if (since(start) > timeout_s)
      return Err(std::make_error_code(std::errc::timed_out), "experts not usable: " + last_error);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // retry period, not a sync
  }
  return std::unique_ptr<DmoeTrainer>(
      new Trainer<moe::client::RemoteMixtureOfExpertsImpl>(o, std::move(data), mixture));
}

std::unique_ptr<DmoeTrainer> make_local_trainer(const DmoeOptions& o,
                                                std::shared_ptr<DmoeData> data) {
  return std::make_unique<Trainer<LocalMixture>>(
      o, std::move(data), std::make_shared<LocalMixture>(o));
}

WindowStats run_window(DmoeTrainer& trainer, std::int64_t steps, DmoeSwarm* swarm) {
  WindowStats stats;
  double drain_s = 0;
  const auto start = SteadyClock::now();
  for (std::int64_t i = 0; i < steps; ++i) {
    stats.steps.push_back(trainer.step());
    if (swarm != nullptr) {
      const auto t = SteadyClock::now();
      swarm->drain();
      drain_s += since(t);
    }
  }
  stats.wall_s = since(start) - drain_s;
  return stats;
}

}  // namespace hivemind::bench
