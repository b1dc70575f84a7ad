// ExpertBackend (hivemind ModuleBackend + ClippingWrapper + lr schedule;
// tests/test_expert_backend.py).
#include "hivemind/moe/expert_backend.hpp"

#include <filesystem>
#include <stdexcept>
#include <thread>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

// clip_grad.h uses torch::Tensor without including <torch/types.h>.
// clang-format off
#include <torch/types.h>
#include <torch/nn/utils/clip_grad.h>
// clang-format on

#include "hivemind/moe/expert_module.hpp"
#include "hivemind/moe/expert_registry.hpp"

namespace hivemind::moe {
namespace {

constexpr std::int64_t kHidden = 16;

ExpertBackendOptions ffn_options() {
  ExpertBackendOptions options;
  options.args_schema = {{{kHidden}}};
  return options;
}

/// A Linear(1, 1) expert as in hivemind's test_expert_backend.py.
class LinearExpert final : public ExpertModule {
 public:
  LinearExpert() : linear(register_module("linear", torch::nn::Linear(1, 1))) {}

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& x) override {
    return {linear(x[0])};
  }

  torch::nn::Linear linear;
};

/// An expert that misbehaves on demand.
class FaultyExpert final : public ExpertModule {
 public:
  FaultyExpert() { w = register_parameter("w", at::ones({1})); }

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& x) override {
    if (x[0].size(0) == 2)
      throw std::runtime_error("expert exploded");
    if (x[0].size(0) == 5)
      return {x[0].narrow(0, 0, 1) * w};  // wrong batch size
    return {x[0] * w};
  }

  at::Tensor w;
};

/// Copies `from`'s parameters into `to` (same class): a deep copy for the reference run.
void copy_parameters(ExpertModule& from, ExpertModule& to) {
  at::NoGradGuard no_grad;
  const auto src = from.parameters();
  auto dst = to.parameters();
  ASSERT_EQ(src.size(), dst.size());
  for (std::size_t i = 0; i < src.size(); ++i)
    dst[i].copy_(src[i]);
}

/// Runs the backend and a local torch optimizer on the same batches; parameters and input
/// gradients must agree bit for bit (hivemind: one optimizer step per backward batch).
void expect_matches_local_training(const std::string& optimizer,
                                   double lr,
                                   std::optional<double> clip) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  auto served = registry.find("ffn")->make(kHidden);
  auto local = registry.find("ffn")->make(kHidden);
  copy_parameters(*served, *local);
  ExpertBackendOptions options = ffn_options();
  options.optimizer = {.name = optimizer, .lr = lr};
  options.clip_grad_norm = clip;
  ExpertBackend backend("ffn.0", served, options);
  std::unique_ptr<torch::optim::Optimizer> local_optimizer;
  if (optimizer == "adam")
    local_optimizer =
        std::make_unique<torch::optim::Adam>(local->parameters(), torch::optim::AdamOptions(lr));
  else
    local_optimizer =
        std::make_unique<torch::optim::SGD>(local->parameters(), torch::optim::SGDOptions(lr));
  for (int step = 0; step < 3; ++step) {
    const at::Tensor x = at::randn({4, kHidden});
    const at::Tensor g = at::randn({4, kHidden});
    auto grads = backend.backward({x}, {g});
    ASSERT_TRUE(grads) << grads.error().message();

    const at::Tensor local_x = x.detach().requires_grad_(true);
    const auto out = local->forward({local_x});
    torch::autograd::backward(out, {g});
    if (clip)
      torch::nn::utils::clip_grad_norm_(local->parameters(), *clip);
    local_optimizer->step();
    local_optimizer->zero_grad();

    EXPECT_TRUE(at::equal((*grads)[0], local_x.grad())) << optimizer << " step " << step;
    const auto a = served->parameters();
    const auto b = local->parameters();
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(at::equal(a[i], b[i])) << optimizer << " step " << step << " param " << i;
  }
  EXPECT_EQ(backend.update_count(), 3);
}

TEST(ExpertBackend, BackwardIsExactlyALocalAdamStep) {
  expect_matches_local_training("adam", 1e-3, std::nullopt);
}

TEST(ExpertBackend, BackwardIsExactlyALocalSgdStep) {
  expect_matches_local_training("sgd", 0.01, std::nullopt);
}

TEST(ExpertBackend, ClipsTheGradientNormBeforeTheStep) {
  expect_matches_local_training("sgd", 0.1, 1e-3);
  // And clipping changes the result: a clipped step differs from an unclipped one.
  auto a = std::make_shared<LinearExpert>();
  auto b = std::make_shared<LinearExpert>();
  copy_parameters(*a, *b);
  ExpertBackendOptions options{.optimizer = {.name = "sgd", .lr = 1.0}, .args_schema = {{{1}}}};
  ExpertBackend unclipped("x.0", a, options);
  options.clip_grad_norm = 0.5;
  ExpertBackend clipped("x.1", b, options);
  const at::Tensor x = at::full({1, 1}, 3.0);
  const at::Tensor g = at::full({1, 1}, 2.0);
  const at::Tensor w0 = a->linear->weight.detach().clone();
  const at::Tensor b0 = a->linear->bias.detach().clone();
  ASSERT_TRUE(unclipped.backward({x}, {g}));
  ASSERT_TRUE(clipped.backward({x}, {g}));
  // grads: dW = 6, db = 2, norm sqrt(40); clipped to norm 0.5 (torch adds 1e-6 to the norm).
  EXPECT_NEAR((w0 - a->linear->weight).item<double>(), 6.0, 1e-5);
  const double scale = 0.5 / (std::sqrt(40.0) + 1e-6);
  EXPECT_NEAR((w0 - b->linear->weight).item<double>(), 6.0 * scale, 1e-5);
  EXPECT_NEAR((b0 - b->linear->bias).item<double>(), 2.0 * scale, 1e-5);
}

// hivemind test_lr_schedule: SGD lr 1.0, linear warmup 2 of 4 steps: lr 0, 0.5, 1, then 1, 0.5, 0.
TEST(ExpertBackend, FollowsHivemindsLinearWarmupSchedule) {
  auto expert = std::make_shared<LinearExpert>();
  ExpertBackend backend(
      "test_expert.0",
      expert,
      {.optimizer = {.name = "sgd", .lr = 1.0},
       .scheduler = {.name = "linear", .num_warmup_steps = 2, .num_training_steps = 4},
       .args_schema = {{{1}}},
       .outputs_schema = {{{1}}}});
  const at::Tensor batch = at::randn({1, 1});
  const at::Tensor loss_grad = at::randn({1, 1});
  const std::vector<double> expected{0.0, 0.5, 1.0, 0.5, 0.0};
  const at::Tensor before = expert->linear->weight.detach().clone();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(backend.learning_rate(), expected[i]) << "before step " << i;
    ASSERT_TRUE(backend.backward({batch}, {loss_grad}));
    if (i == 0) {  // the first step ran with lr 0
      EXPECT_TRUE(at::equal(expert->linear->weight, before));
    }
  }
  EXPECT_EQ(backend.update_count(), 5);
  EXPECT_EQ(backend.learning_rate(), 0.0);
}

TEST(ExpertBackend, InfersOutputsAndReportsItsSchema) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  ExpertBackend backend("ffn.3", registry.find("ffn")->make(kHidden), ffn_options());
  EXPECT_EQ(backend.uid(), "ffn.3");
  EXPECT_EQ(backend.device(), "cpu");
  EXPECT_EQ(backend.schema(), (ExpertSchema{.args = {{{kHidden}}}, .outputs = {{{kHidden}}}}));
  EXPECT_EQ(backend.learning_rate(), 1e-3);
  ExpertBackend frozen("ffn.4",
                       registry.find("ffn")->make(kHidden),
                       {.optimizer = {.name = "none"}, .args_schema = {{{kHidden}}}});
  EXPECT_EQ(frozen.learning_rate(), 0.0);
}

TEST(ExpertBackend, RejectsBadRequestsWithDetails) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  ExpertBackend backend("ffn.0", registry.find("ffn")->make(kHidden), ffn_options());
  auto shape = backend.forward({at::zeros({4, 11})});
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error(), MoeErrc::kSchemaMismatch);
  EXPECT_EQ(shape.error().message(), "input 0: expected shape [*, 16], got [4, 11]");
  EXPECT_EQ(backend.forward({}).error(), MoeErrc::kSchemaMismatch);
  EXPECT_EQ(backend.forward({at::zeros({2, kHidden}, at::kDouble)}).error(),
            MoeErrc::kSchemaMismatch);
  EXPECT_EQ(backend.forward({at::zeros({0, kHidden})}).error(), MoeErrc::kEmptyBatch);
  EXPECT_EQ(backend.forward({at::full({2, kHidden}, NAN)}).error(), MoeErrc::kNonFinite);
  auto grad_batch = backend.backward({at::zeros({2, kHidden})}, {at::zeros({3, kHidden})});
  ASSERT_FALSE(grad_batch);
  EXPECT_EQ(grad_batch.error(), MoeErrc::kSchemaMismatch);
  auto grad_nan = backend.backward({at::zeros({2, kHidden})}, {at::full({2, kHidden}, INFINITY)});
  ASSERT_FALSE(grad_nan);
  EXPECT_EQ(grad_nan.error(), MoeErrc::kNonFinite);
  EXPECT_EQ(grad_nan.error().message(), "grad_output 0 holds NaN or Inf");
  EXPECT_EQ(backend.update_count(), 0);  // nothing was trained
}

TEST(ExpertBackend, FiniteCheckDoneByCallerSkipsOnlyTheNaNPass) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  ExpertBackend backend("nop.0", registry.find("nop")->make(kHidden), ffn_options());
  const at::Tensor nan = at::full({2, kHidden}, NAN);
  EXPECT_EQ(backend.forward({nan}, FiniteCheck::kCheck).error(), MoeErrc::kNonFinite);
  EXPECT_TRUE(backend.forward({nan}, FiniteCheck::kDoneByCaller));
  // Every other check stays.
  EXPECT_EQ(backend.forward({at::zeros({4, 11})}, FiniteCheck::kDoneByCaller).error(),
            MoeErrc::kSchemaMismatch);
  EXPECT_EQ(backend.forward({at::zeros({0, kHidden})}, FiniteCheck::kDoneByCaller).error(),
            MoeErrc::kEmptyBatch);
  const at::Tensor zeros = at::zeros({2, kHidden});
  EXPECT_EQ(backend.backward({zeros}, {nan}, FiniteCheck::kCheck).error(), MoeErrc::kNonFinite);
  EXPECT_EQ(
      backend.backward({zeros}, {at::zeros({3, kHidden})}, FiniteCheck::kDoneByCaller).error(),
      MoeErrc::kSchemaMismatch);
  EXPECT_TRUE(backend.backward({zeros}, {nan}, FiniteCheck::kDoneByCaller));
}

TEST(ExpertBackend, ExpertFailuresBecomeErrors) {
  ExpertBackend backend("faulty.0", std::make_shared<FaultyExpert>(), {.args_schema = {{{3}}}});
  auto thrown = backend.forward({at::zeros({2, 3})});
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error(), MoeErrc::kExpertFailed);
  EXPECT_EQ(thrown.error().message(), "expert exploded");
  EXPECT_EQ(backend.backward({at::zeros({2, 3})}, {at::zeros({2, 3})}).error(),
            MoeErrc::kExpertFailed);
  EXPECT_EQ(backend.forward({at::zeros({5, 3})}).error(), MoeErrc::kExpertFailed);
  EXPECT_TRUE(backend.forward({at::zeros({4, 3})}));  // still serving
}

TEST(ExpertBackend, MisuseThrowsAtConstruction) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  auto make = [&](ExpertBackendOptions options) {
    ExpertBackend backend("ffn.0", registry.find("ffn")->make(kHidden), std::move(options));
  };
  EXPECT_THROW(make({}), std::invalid_argument);  // no args schema
  auto options = ffn_options();
  options.optimizer.name = "lamb";
  EXPECT_THROW(make(options), std::invalid_argument);
  options = ffn_options();
  options.scheduler.name = "cosine";
  EXPECT_THROW(make(options), std::invalid_argument);
  options = ffn_options();
  options.optimizer.name = "none";
  options.scheduler.name = "linear";
  EXPECT_THROW(make(options), std::invalid_argument);
  options = ffn_options();
  options.device = "tpu";
  EXPECT_THROW(make(options), std::invalid_argument);
  options = ffn_options();
  options.args_schema = {{{kHidden + 1}}};  // the expert fails on its dummy batch
  EXPECT_THROW(make(options), std::invalid_argument);
  EXPECT_THROW(ExpertBackend("x", nullptr, ffn_options()), std::invalid_argument);
}

TEST(ExpertBackend, RunsOnCudaWhenAvailable) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  auto options = ffn_options();
  options.device = "cuda";
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(ExpertBackend("ffn.0", registry.find("ffn")->make(kHidden), options),
                 std::invalid_argument);
    return;
  }
  ExpertBackend backend("ffn.0", registry.find("ffn")->make(kHidden), options);
  const at::Tensor x = at::randn({4, kHidden});
  auto out = backend.forward({x});
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE((*out)[0].device().is_cpu());
  auto grads = backend.backward({x}, {at::randn({4, kHidden})});
  ASSERT_TRUE(grads) << grads.error().message();
  EXPECT_TRUE((*grads)[0].device().is_cpu());
  auto state = backend.state_bytes();
  ASSERT_TRUE(state);
  EXPECT_TRUE(backend.load_state_bytes(*state));
}

TEST(ExpertBackend, ForwardsRunConcurrentlyWithTraining) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  ExpertBackend backend("ffn.0", registry.find("ffn")->make(kHidden), ffn_options());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i)
        failures += backend.forward({at::randn({2, kHidden})}) ? 0 : 1;
    });
  threads.emplace_back([&] {
    for (int i = 0; i < 20; ++i)
      failures += backend.backward({at::randn({2, kHidden})}, {at::randn({2, kHidden})}) ? 0 : 1;
  });
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(backend.update_count(), 20);
}

TEST(ExpertBackend, StateRoundTripsThroughAFile) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  auto module = registry.find("ffn")->make(kHidden);
  ExpertBackend backend("ffn.0", module, ffn_options());
  const at::Tensor x = at::randn({3, kHidden});
  const at::Tensor g = at::randn({3, kHidden});
  ASSERT_TRUE(backend.backward({x}, {g}));
  const auto dir =
      std::filesystem::temp_directory_path() / ("hm_moe_state_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(backend.save_state(dir / "state.pt"));
  const auto saved = backend.forward({x}).value();
  ASSERT_TRUE(backend.backward({x}, {g}));  // the expert moves on, then goes back
  EXPECT_FALSE(at::equal(backend.forward({x}).value()[0], saved[0]));
  auto loaded = backend.load_state(dir / "state.pt");
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_TRUE(at::equal(backend.forward({x}).value()[0], saved[0]));
  EXPECT_EQ(backend.update_count(), 1);

  // A restored Adam continues exactly like an uninterrupted one.
  auto twin_module = registry.find("ffn")->make(kHidden);
  ExpertBackend twin("ffn.0", twin_module, ffn_options());
  ASSERT_TRUE(twin.load_state(dir / "state.pt"));
  ASSERT_TRUE(backend.backward({x}, {g}));
  ASSERT_TRUE(twin.backward({x}, {g}));
  EXPECT_TRUE(at::equal(backend.forward({x}).value()[0], twin.forward({x}).value()[0]));

  // A state of a different size is refused without touching the expert.
  ExpertBackend other(
      "ffn.0", registry.find("ffn")->make(kHidden * 2), {.args_schema = {{{kHidden * 2}}}});
  const at::Tensor y = at::randn({2, kHidden * 2});
  const auto before = other.forward({y}).value();
  auto mismatch = other.load_state(dir / "state.pt");
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error(), MoeErrc::kCheckpointError);
  EXPECT_NE(mismatch.error().message().find("ffn.weight"), std::string::npos)
      << mismatch.error().message();
  EXPECT_TRUE(at::equal(other.forward({y}).value()[0], before[0]));
  EXPECT_EQ(backend.load_state(dir / "missing.pt").error(), MoeErrc::kCheckpointError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hivemind::moe
