// Built-in experts (hivemind/moe/server/layers/common.py, dropout.py; tests/test_custom_experts.py,
// test_determinism) and the expert class registry.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_module.hpp"
#include "hivemind/moe/expert_registry.hpp"

namespace hivemind::moe {
namespace {

constexpr std::int64_t kHidden = 32;

/// Random inputs shaped like the class's sample input (masks: random 0/1 or booleans).
std::vector<at::Tensor> random_inputs(const ExpertClass& cls, std::int64_t batch) {
  std::vector<at::Tensor> inputs = cls.sample_input(batch, kHidden);
  for (auto& t : inputs) {
    if (t.is_floating_point())
      t = at::randn(t.sizes());
    else if (t.scalar_type() == at::kBool)
      t = at::zeros(t.sizes(), at::kBool);  // no padding
    else
      t = at::randint(0, 2, t.sizes(), t.options());
  }
  return inputs;
}

std::shared_ptr<ExpertBackend> make_backend(const ExpertClass& cls) {
  ExpertBackendOptions options;
  for (const auto& t : cls.sample_input(3, kHidden))
    options.args_schema.push_back(schema_of(t));
  return std::make_shared<ExpertBackend>("expert.0", cls.make(kHidden), options);
}

TEST(ExpertRegistry, HoldsHivemindsBuiltins) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  EXPECT_EQ(registry.names(),
            (std::vector<std::string>{"det_dropout", "ffn", "nop", "nop_delay", "transformer"}));
  EXPECT_EQ(registry.find("perceptron"), nullptr);
  const auto* transformer = registry.find("transformer");
  ASSERT_NE(transformer, nullptr);
  const auto sample = transformer->sample_input(2, 16);
  ASSERT_EQ(sample.size(), 2u);
  EXPECT_EQ(sample[0].sizes(), (at::IntArrayRef{2, 128, 16}));
  EXPECT_EQ(sample[1].sizes(), (at::IntArrayRef{2, 128}));
  EXPECT_EQ(sample[1].scalar_type(), at::kBool);
  EXPECT_THROW((void)transformer->make(24), std::invalid_argument);  // not a multiple of 16
  const auto mask = registry.find("det_dropout")->sample_input(3, 5)[1];
  EXPECT_EQ(mask.scalar_type(), at::kLong);
}

/// Every built-in (but nop_delay, below) at batch 1 and 4: output shapes, gradient shapes, and a
/// training step that changes the parameters (those that have any).
class BuiltinExpert : public ::testing::TestWithParam<std::string> {};

TEST_P(BuiltinExpert, ForwardAndBackwardAtBatchOneAndFour) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  const ExpertClass& cls = *registry.find(GetParam());
  auto backend = make_backend(cls);
  ASSERT_EQ(backend->schema().outputs.size(), 1u);
  const std::vector<std::int64_t> expected_shape =
      cls.sample_input(1, kHidden)[0].sizes().slice(1).vec();
  EXPECT_EQ(backend->schema().outputs[0].shape, expected_shape);
  for (std::int64_t batch : {1, 4}) {
    const auto inputs = random_inputs(cls, batch);
    auto outputs = backend->forward(inputs);
    ASSERT_TRUE(outputs) << outputs.error().message();
    ASSERT_EQ(outputs->size(), 1u);
    EXPECT_EQ((*outputs)[0].size(0), batch);
    EXPECT_EQ((*outputs)[0].sizes().slice(1).vec(), expected_shape);
    EXPECT_TRUE(at::isfinite((*outputs)[0]).all().item<bool>());

    auto grads = backend->backward(inputs, {at::randn((*outputs)[0].sizes())});
    ASSERT_TRUE(grads) << grads.error().message();
    ASSERT_EQ(grads->size(), inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      EXPECT_EQ((*grads)[i].sizes(), inputs[i].sizes());
      EXPECT_EQ((*grads)[i].scalar_type(), inputs[i].scalar_type());
    }
    EXPECT_GT((*grads)[0].abs().sum().item<double>(), 0.0);  // gradients reach the input
  }
  EXPECT_EQ(backend->update_count(), 2);
}

INSTANTIATE_TEST_SUITE_P(Experts,
                         BuiltinExpert,
                         ::testing::Values("ffn", "transformer", "det_dropout", "nop"));

TEST(BuiltinExperts, TrainingChangesParameters) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  for (const char* name : {"ffn", "det_dropout", "transformer"}) {
    const ExpertClass& cls = *registry.find(name);
    auto module = cls.make(kHidden);
    std::vector<at::Tensor> before;
    for (const auto& p : module->parameters())
      before.push_back(p.detach().clone());
    ExpertBackendOptions options;
    for (const auto& t : cls.sample_input(3, kHidden))
      options.args_schema.push_back(schema_of(t));
    ExpertBackend backend("expert.0", module, options);
    const auto inputs = random_inputs(cls, 4);
    const auto outputs = backend.forward(inputs).value();
    ASSERT_TRUE(backend.backward(inputs, {at::randn(outputs[0].sizes())}));
    std::size_t changed = 0;
    const auto after = module->parameters();
    for (std::size_t i = 0; i < after.size(); ++i)
      changed += at::equal(after[i], before[i]) ? 0 : 1;
    EXPECT_EQ(changed, after.size()) << name;
  }
}

TEST(BuiltinExperts, NopDelayCopiesItsInput) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  auto backend = make_backend(*registry.find("nop_delay"));  // schema inference: one 0.5 s call
  const at::Tensor x = at::randn({4, kHidden});
  auto out = backend->forward({x});
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(at::equal((*out)[0], x));
}

TEST(BuiltinExperts, NopReturnsItsInputAndGradient) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  auto backend = make_backend(*registry.find("nop"));
  const at::Tensor x = at::randn({3, kHidden});
  const at::Tensor g = at::randn({3, kHidden});
  EXPECT_TRUE(at::equal(backend->forward({x}).value()[0], x));
  EXPECT_TRUE(at::equal(backend->backward({x}, {g}).value()[0], g));
}

TEST(BuiltinExperts, FfnMatchesItsFormula) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  auto module = registry.find("ffn")->make(8);
  const at::Tensor x = at::randn({5, 8});
  at::NoGradGuard no_grad;
  const auto params = module->named_parameters();
  const at::Tensor h = at::linear(x, params["ffn.weight"], params["ffn.bias"]);
  const at::Tensor gelu = 0.5 * h * (1 + at::tanh(0.7978845608 * (h + 0.044715 * h * h * h)));
  const at::Tensor y = at::linear(gelu, params["ffn_output.weight"], params["ffn_output.bias"]) + x;
  const at::Tensor expected =
      at::layer_norm(y, {8}, params["layer_norm.weight"], params["layer_norm.bias"], 1e-12);
  EXPECT_TRUE(at::allclose(module->forward({x})[0], expected, 1e-5, 1e-5));
}

// hivemind tests/test_moe.py test_determinism: same mask, same outputs and input gradients.
TEST(BuiltinExperts, DetDropoutIsDeterministicGivenTheMask) {
  const ExpertRegistry registry = ExpertRegistry::with_builtins();
  ExpertBackendOptions options{.optimizer = {.name = "none"}};
  for (const auto& t : registry.find("det_dropout")->sample_input(3, kHidden))
    options.args_schema.push_back(schema_of(t));
  ExpertBackend backend("expert.0", registry.find("det_dropout")->make(kHidden), options);
  const at::Tensor x = at::randn({10, kHidden});
  const at::Tensor mask = at::randint(0, 2, {10, kHidden}, at::kLong);
  const at::Tensor g = at::randn({10, kHidden});
  const auto out1 = backend.forward({x, mask}).value();
  const auto out2 = backend.forward({x, mask}).value();
  EXPECT_TRUE(at::equal(out1[0], out2[0]));
  const auto grad1 = backend.backward({x, mask}, {g}).value();
  const auto grad2 = backend.backward({x, mask}, {g}).value();
  EXPECT_TRUE(at::equal(grad1[0], grad2[0]));
  // Dropped units get no gradient; the mask (integer) gets zeros.
  EXPECT_TRUE(at::equal(grad1[0].masked_select(mask == 0),
                        at::zeros({(mask == 0).sum().item<std::int64_t>()})));
  EXPECT_TRUE(at::equal(grad1[1], at::zeros_like(mask)));
  // A different mask gives different outputs.
  EXPECT_FALSE(at::equal(backend.forward({x, 1 - mask}).value()[0], out1[0]));
}

/// hivemind's tests/test_utils/custom_networks.py `multihead`: three inputs of widths h, 2h, 3h.
class MultiheadExpert final : public ExpertModule {
 public:
  explicit MultiheadExpert(std::int64_t h)
      : a_(register_module("a", torch::nn::Linear(h, h))),
        b_(register_module("b", torch::nn::Linear(2 * h, h))),
        c_(register_module("c", torch::nn::Linear(3 * h, h))) {}

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& x) override {
    return {a_(x[0]) + b_(x[1]) + c_(x[2])};
  }

 private:
  torch::nn::Linear a_, b_, c_;
};

TEST(ExpertRegistry, RegistersCustomExpertsFromCpp) {
  ExpertRegistry registry = ExpertRegistry::with_builtins();
  ExpertClass multihead{
      .make = [](std::int64_t h) { return std::make_shared<MultiheadExpert>(h); },
      .sample_input = [](std::int64_t b, std::int64_t h) -> std::vector<at::Tensor> {
        return {at::zeros({b, h}), at::zeros({b, 2 * h}), at::zeros({b, 3 * h})};
      }};
  ASSERT_TRUE(registry.add("multihead", multihead));
  auto duplicate = registry.add("multihead", multihead);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error(), MoeErrc::kDuplicateExpertClass);
  EXPECT_EQ(registry.add("ffn", multihead).error(), MoeErrc::kDuplicateExpertClass);
  EXPECT_EQ(registry.add("broken", ExpertClass{}).error(), MoeErrc::kBadConfig);

  const ExpertClass& cls = *registry.find("multihead");
  auto backend = make_backend(cls);
  for (std::int64_t batch : {1, 4}) {
    const auto inputs = random_inputs(cls, batch);
    auto out = backend->forward(inputs);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ((*out)[0].sizes(), (at::IntArrayRef{batch, kHidden}));
    auto grads = backend->backward(inputs, {at::randn({batch, kHidden})});
    ASSERT_TRUE(grads) << grads.error().message();
    EXPECT_EQ((*grads)[2].sizes(), (at::IntArrayRef{batch, 3 * kHidden}));
  }
}

}  // namespace
}  // namespace hivemind::moe
