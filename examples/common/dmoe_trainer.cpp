#include "dmoe_trainer.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/client/remote_moe.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::examples {
namespace {

namespace client = moe::client;
using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char text[128];
  std::snprintf(text, sizeof text, fmt, a, b, c);
  return text;
}

/// Linear(784, H) -> ReLU -> RemoteMixtureOfExperts -> Linear(H, 10).
struct Classifier : torch::nn::Module {
  Classifier(const TrainerOptions& o, std::int64_t features, std::shared_ptr<dht::DHT> dht) {
    client::RemoteMixtureOfExpertsOptions moe_options;
    moe_options.in_features = o.hidden_dim;
    moe_options.grid_size = o.grid;
    moe_options.uid_prefix = o.uid_prefix;
    moe_options.k_best = o.k_best;
    auto& ft = moe_options.fault_tolerance;
    ft.k_min = o.k_min;
    ft.backward_k_min = o.k_min;
    ft.forward_timeout = std::chrono::duration<double>(o.forward_timeout_s);
    ft.backward_timeout = std::chrono::duration<double>(o.forward_timeout_s);
    if (o.timeout_after_k_min_s >= 0)
      ft.timeout_after_k_min = std::chrono::duration<double>(o.timeout_after_k_min_s);
    input = register_module("input", torch::nn::Linear(features, o.hidden_dim));
    moe = register_module("moe", client::RemoteMixtureOfExperts(moe_options, std::move(dht)));
    output = register_module("output", torch::nn::Linear(o.hidden_dim, 10));
  }

  at::Tensor forward(const at::Tensor& x) { return output(moe(at::relu(input(x)))); }

  torch::nn::Linear input{nullptr};
  client::RemoteMixtureOfExperts moe{nullptr};
  torch::nn::Linear output{nullptr};
};

struct Split {
  FashionMnistData data;
  at::Tensor images;  // views of data's vectors
  at::Tensor labels;
};

Result<Split> load_split(const TrainerOptions& o, FashionMnistSplit which) {
  HM_TRY(auto data, load_fashion_mnist(o.data_dir, which, FashionMnistOptions{true, 0}));
  Split split{std::move(data), {}, {}};
  const auto n = static_cast<std::int64_t>(split.data.size);
  split.images = at::from_blob(
      split.data.images.data(), {n, static_cast<std::int64_t>(split.data.features())}, at::kFloat);
  split.labels = at::from_blob(split.data.labels.data(), {n}, at::kLong);
  return split;
}

/// Accuracy on the first `samples` test images (0: all) and how many were evaluated; batches
/// whose forward pass fails are left out.
std::pair<double, std::int64_t> evaluate(Classifier& model,
                                         const Split& test,
                                         std::size_t samples,
                                         std::int64_t batch_size) {
  c10::NoGradGuard no_grad;
  const std::int64_t total =
      samples == 0 ? test.images.size(0) : std::min<std::int64_t>(samples, test.images.size(0));
  std::int64_t correct = 0;
  std::int64_t seen = 0;
  for (std::int64_t begin = 0; begin < total; begin += batch_size) {
    const std::int64_t end = std::min(total, begin + batch_size);
    try {
      auto logits = model.forward(test.images.slice(0, begin, end));
      correct += logits.argmax(1).eq(test.labels.slice(0, begin, end)).sum().item<std::int64_t>();
      seen += end - begin;
    } catch (const std::exception&) {
      // An expert failure in evaluation: the batch is not counted.
    }
  }
  return {seen == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(seen), seen};
}

/// Waits until one forward pass on a few training images succeeds (the servers' declarations
/// reach the DHT, prefix caches expire). Returns the last error when time runs out.
std::string wait_for_experts(Classifier& model, const Split& train, double timeout_s) {
  const auto start = SteadyClock::now();
  std::string last_error;
  for (;;) {
    try {
      c10::NoGradGuard no_grad;
      model.forward(train.images.slice(0, 0, 8));
      return {};
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    if (seconds_since(start) > timeout_s)
      return last_error.empty() ? "unknown error" : last_error;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // retry period, not a sync
  }
}

}  // namespace

Result<std::vector<int>> parse_grid(std::string_view text) {
  std::vector<int> grid;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find_first_of("x,", start), text.size());
    const auto part = text.substr(start, end - start);
    int value = 0;
    for (char c : part) {
      if (c < '0' || c > '9' || value > 100000)
        value = -1;
      if (value < 0)
        break;
      value = value * 10 + (c - '0');
    }
    if (part.empty() || value <= 0)
      return Err(std::make_error_code(std::errc::invalid_argument),
                 "bad grid '" + std::string(text) + "' (expected e.g. 4x4 or 4,4)");
    grid.push_back(value);
    start = end + 1;
  }
  return grid;
}

int run_trainer(const TrainerOptions& o, std::ostream& out, std::ostream& err) {
  at::set_num_threads(o.threads);
  at::manual_seed(o.seed);
  auto train = load_split(o, FashionMnistSplit::kTrain);
  auto test = train ? load_split(o, FashionMnistSplit::kTest) : Err(train.error());
  if (!test) {
    err << "cannot load Fashion-MNIST: " << test.error().message() << "\n";
    return kTrainerExitFailed;
  }
  dht::DHTOptions dht_options;
  dht_options.node.client_mode = true;
  for (const auto& text : o.initial_peers) {
    auto addr = net::Multiaddr::from_string(text);
    if (!addr) {
      err << "--initial_peers: bad multiaddr '" << text << "'\n";
      return kTrainerExitFailed;
    }
    dht_options.node.initial_peers.push_back(std::move(*addr));
  }
  auto dht = dht::DHT::create(std::move(dht_options));
  if (!dht) {
    err << "cannot join the DHT: " << dht.error().message() << "\n";
    return kTrainerExitFailed;
  }
  std::shared_ptr<dht::DHT> shared_dht(std::move(*dht));
  Classifier model(o, static_cast<std::int64_t>(train->data.features()), shared_dht);
  if (auto error = wait_for_experts(model, *train, o.startup_timeout_s); !error.empty()) {
    err << "no usable experts within " << o.startup_timeout_s << " s: " << error << "\n";
    return kTrainerExitFailed;
  }
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  if (o.optimizer == "sgd")
    optimizer = std::make_unique<torch::optim::SGD>(model.parameters(),
                                                    torch::optim::SGDOptions(o.lr).momentum(0.9));
  else
    optimizer =
        std::make_unique<torch::optim::Adam>(model.parameters(), torch::optim::AdamOptions(o.lr));

  const auto start = SteadyClock::now();
  auto window_start = start;
  double window_loss = 0, window_acc = 0;
  std::int64_t window_steps = 0, failed_steps = 0, failed_in_row = 0;
  std::size_t experts_failed = 0, window_experts_failed = 0;
  const std::int64_t n_train = train->images.size(0);
  for (std::int64_t step = 1; step <= o.steps; ++step) {
    const auto index = at::randint(n_train, {o.batch_size}, at::kLong);
    const auto x = train->images.index_select(0, index);
    const auto y = train->labels.index_select(0, index);
    optimizer->zero_grad();
    try {
      auto logits = model.forward(x);
      auto loss = at::nll_loss(at::log_softmax(logits, 1), y);
      loss.backward();
      optimizer->step();
      window_loss += loss.item<double>();
      window_acc += logits.argmax(1).eq(y).to(at::kFloat).mean().item<double>();
      ++window_steps;
      failed_in_row = 0;
    } catch (const std::exception& e) {
      ++failed_steps;
      out << "step_failed " << step << " error " << e.what() << std::endl;
      if (++failed_in_row >= o.max_failed_in_row) {
        err << failed_in_row << " steps failed in a row; giving up\n";
        return kTrainerExitFailed;
      }
    }
    const auto failed = model.moe->last_report().failed_calls;
    experts_failed += failed;
    window_experts_failed += failed;
    if (step % o.log_every == 0 || step == o.steps) {
      const double rate = static_cast<double>(o.log_every) / seconds_since(window_start);
      const double steps = static_cast<double>(std::max<std::int64_t>(window_steps, 1));
      out << "step " << step
          << format(" loss %.4f acc %.4f", window_loss / steps, window_acc / steps)
          << " experts_failed " << window_experts_failed << " failed_steps " << failed_steps
          << format(" steps_per_s %.2f", rate) << std::endl;
      window_start = SteadyClock::now();
      window_loss = window_acc = 0;
      window_steps = 0;
      window_experts_failed = 0;
    }
    if (o.eval_every > 0 && step % o.eval_every == 0 && step != o.steps) {
      const auto [acc, seen] = evaluate(model, *test, o.eval_samples, o.eval_batch_size);
      out << "eval step " << step << format(" test_acc %.4f", acc) << " samples " << seen
          << std::endl;
    }
  }
  const double train_s = seconds_since(start);
  const auto [acc, seen] = evaluate(model, *test, 0, o.eval_batch_size);
  out << "final" << format(" test_acc %.4f", acc) << " samples " << seen << std::endl;
  out << "summary steps " << o.steps << " failed_steps " << failed_steps << " experts_failed "
      << experts_failed
      << format(" time_s %.1f steps_per_s %.2f test_acc %.4f",
                train_s,
                static_cast<double>(o.steps) / train_s,
                acc)
      << std::endl;
  shared_dht->shutdown();
  return seen > 0 ? kTrainerExitOk : kTrainerExitFailed;
}

}  // namespace hivemind::examples
