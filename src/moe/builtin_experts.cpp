// hivemind's built-in experts (hivemind/moe/server/layers/common.py and dropout.py) as torch C++
// modules. Parameter names follow the Python modules (ffn.weight, layer_norm.bias, ...);
// initialization is libtorch's default for each layer, like PyTorch's.
#include "builtin_experts.hpp"

#include <chrono>
#include <cmath>
#include <thread>

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "hivemind/core/check.hpp"
#include "hivemind/moe/expert_module.hpp"

namespace hivemind::moe {
namespace {

/// gelu with the tanh approximation (hivemind's gelu_fast, from huggingface transformers).
at::Tensor gelu_fast(const at::Tensor& x) {
  return 0.5 * x * (1.0 + at::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
}

void expect_inputs(const std::vector<at::Tensor>& inputs, std::size_t count, const char* name) {
  HM_CHECK(inputs.size() == count,
           std::string(name) + " expert takes " + std::to_string(count) + " input(s), got "
               + std::to_string(inputs.size()));
}

/// FeedforwardBlock: LayerNorm(x + Linear(4h,h)(gelu_fast(Linear(h,4h)(x)))).
class FfnExpert final : public ExpertModule {
 public:
  explicit FfnExpert(std::int64_t h)
      : ffn_(register_module("ffn", torch::nn::Linear(h, 4 * h))),
        ffn_output_(register_module("ffn_output", torch::nn::Linear(4 * h, h))),
        layer_norm_(register_module(
            "layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h}).eps(1e-12)))) {}

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override {
    expect_inputs(inputs, 1, "ffn");
    const at::Tensor& x = inputs[0];
    return {layer_norm_(x + ffn_output_(gelu_fast(ffn_(x))))};
  }

 private:
  torch::nn::Linear ffn_;
  torch::nn::Linear ffn_output_;
  torch::nn::LayerNorm layer_norm_;
};

/// TunedTransformer: hivemind's post-norm TransformerEncoderLayer (d_model h, 16 heads,
/// feed-forward 4h, dropout 0.1, gelu_fast) over batch-first input with a key padding mask.
class TransformerExpert final : public ExpertModule {
 public:
  explicit TransformerExpert(std::int64_t h)
      : self_attn_(register_module(
          "self_attn",
          torch::nn::MultiheadAttention(
              torch::nn::MultiheadAttentionOptions(h, kTransformerHeads).dropout(0.1)))),
        linear1_(register_module("linear1", torch::nn::Linear(h, 4 * h))),
        dropout_(register_module("dropout", torch::nn::Dropout(0.1))),
        linear2_(register_module("linear2", torch::nn::Linear(4 * h, h))),
        norm1_(register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})))),
        norm2_(register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})))),
        dropout1_(register_module("dropout1", torch::nn::Dropout(0.1))),
        dropout2_(register_module("dropout2", torch::nn::Dropout(0.1))) {}

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override {
    expect_inputs(inputs, 2, "transformer");
    at::Tensor src = inputs[0].transpose(0, 1);  // (N, S, E) -> (S, N, E)
    at::Tensor attn = std::get<0>(self_attn_(src, src, src, /*key_padding_mask=*/inputs[1]));
    src = norm1_(src + dropout1_(attn));
    at::Tensor ff = linear2_(dropout_(gelu_fast(linear1_(src))));
    src = norm2_(src + dropout2_(ff));
    return {src.transpose(0, 1)};
  }

 private:
  torch::nn::MultiheadAttention self_attn_;
  torch::nn::Linear linear1_;
  torch::nn::Dropout dropout_;
  torch::nn::Linear linear2_;
  torch::nn::LayerNorm norm1_;
  torch::nn::LayerNorm norm2_;
  torch::nn::Dropout dropout1_;
  torch::nn::Dropout dropout2_;
};

/// DeterministicDropoutNetwork: Linear(2h,h)(ReLU(Linear(h,2h)(x * mask / keep_prob))); the
/// dropout mask is an input, so forward and backward drop the same units. Like hivemind's
/// DeterministicDropout, it is the identity in eval mode. Autograd of x*mask/keep_prob gives
/// hivemind's hand-written backward (mask * grad / keep_prob).
class DetDropoutExpert final : public ExpertModule {
 public:
  explicit DetDropoutExpert(std::int64_t h)
      : linear_in_(register_module("linear_in", torch::nn::Linear(h, 2 * h))),
        linear_out_(register_module("linear_out", torch::nn::Linear(2 * h, h))) {}

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override {
    expect_inputs(inputs, 2, "det_dropout");
    at::Tensor x = inputs[0];
    if (is_training())
      x = x * inputs[1] / kDetDropoutKeepProb;
    return {linear_out_(at::relu(linear_in_(x)))};
  }

 private:
  torch::nn::Linear linear_in_;
  torch::nn::Linear linear_out_;
};

/// NopExpert / DelayedNopExpert: the input, after an optional delay; one empty
/// parameter `w` so that the optimizer has something to hold.
class NopExpert final : public ExpertModule {
 public:
  explicit NopExpert(double delay_seconds) : delay_seconds_(delay_seconds) {
    w_ = register_parameter("w", at::zeros({0}));
  }

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) override {
    expect_inputs(inputs, 1, "nop");
    if (delay_seconds_ > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(delay_seconds_));
    // hivemind's NopExpert returns x.clone(); the input is this call's own tensor, so it is
    // returned as is (no copy: in backward, the gradient of an identity is grad_output).
    return {inputs[0]};
  }

 private:
  double delay_seconds_;
  at::Tensor w_;
};

}  // namespace

std::shared_ptr<ExpertModule> make_ffn_expert(std::int64_t hidden_dim) {
  HM_CHECK(hidden_dim > 0, "ffn expert: hidden_dim must be positive");
  return std::make_shared<FfnExpert>(hidden_dim);
}

std::shared_ptr<ExpertModule> make_transformer_expert(std::int64_t hidden_dim) {
  HM_CHECK(hidden_dim > 0 && hidden_dim % kTransformerHeads == 0,
           "transformer expert: hidden_dim must be a positive multiple of 16");
  return std::make_shared<TransformerExpert>(hidden_dim);
}

std::shared_ptr<ExpertModule> make_det_dropout_expert(std::int64_t hidden_dim) {
  HM_CHECK(hidden_dim > 0, "det_dropout expert: hidden_dim must be positive");
  return std::make_shared<DetDropoutExpert>(hidden_dim);
}

std::shared_ptr<ExpertModule> make_nop_expert(std::int64_t hidden_dim, double delay_seconds) {
  HM_CHECK(hidden_dim > 0, "nop expert: hidden_dim must be positive");
  return std::make_shared<NopExpert>(delay_seconds);
}

}  // namespace hivemind::moe
