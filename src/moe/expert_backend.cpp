// ExpertBackend: forward without grad, backward by recomputing forward with grad (hivemind's
// ModuleBackend.backward), then ClippingWrapper + optimizer step + lr schedule step, one step per
// batch. Deviations from hivemind, all deliberate:
//  * every batch is checked against the schemas (dtype, shape, batch size, NaN/Inf) first;
//  * parameter grads are reset to undefined after each step even with optimizer "none" (hivemind
//    leaves them accumulating, unused), which is also what torch >= 2.0's zero_grad() does;
//  * grad_outputs for outputs that do not require grad are ignored instead of making
//    autograd.backward throw.
#include <algorithm>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

// clip_grad.h uses torch::Tensor without including <torch/types.h>.
// clang-format off
#include <torch/types.h>
#include <torch/nn/utils/clip_grad.h>
// clang-format on

#include "expert_backend_impl.hpp"
#include "hivemind/compression/serialization.hpp"
#include "hivemind/core/check.hpp"

namespace hivemind::moe {
namespace {

/// hivemind's DUMMY_BATCH_SIZE: the batch used to infer the output schema.
constexpr std::int64_t kDummyBatchSize = 3;

c10::Device parse_device(const std::string& text) {
  std::optional<c10::Device> device;
  try {
    device.emplace(text);
  } catch (const std::exception&) {
    HM_CHECK(false, "unknown device '" + text + "'");
  }
  if (device->is_cuda()) {
    HM_CHECK(torch::cuda::is_available(),
             "device '" + text + "': this libtorch has no CUDA or no GPU is present");
    HM_CHECK(
        !device->has_index() || device->index() < static_cast<int>(torch::cuda::device_count()),
        "device '" + text + "': no such GPU");
  } else {
    HM_CHECK(device->is_cpu(), "device '" + text + "' is not supported (cpu or cuda)");
  }
  return *device;
}

/// Outputs must match the output schema; a mismatch is the expert's fault.
Result<void> check_outputs(const std::vector<TensorSchema>& schema,
                           const std::vector<at::Tensor>& outputs,
                           std::int64_t batch) {
  auto checked = check_batch(schema, outputs, /*check_finite=*/false, "output");
  if (!checked)
    return Err(MoeErrc::kExpertFailed, "expert outputs: " + checked.error().message());
  if (*checked != batch)
    return Err(MoeErrc::kExpertFailed,
               "expert outputs have batch size " + std::to_string(*checked) + ", inputs "
                   + std::to_string(batch));
  return {};
}

}  // namespace

std::string torch_error_message(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e))
    return error->what_without_backtrace();
  return e.what();
}

void ExpertBackend::Impl::set_lr(double value) {
  lr = value;
  if (optimizer)
    for (auto& group : optimizer->param_groups())
      group.options().set_lr(value);
}

ExpertBackend::ExpertBackend(std::string uid,
                             std::shared_ptr<ExpertModule> module,
                             ExpertBackendOptions options)
    : uid_(std::move(uid)), impl_(std::make_unique<Impl>()) {
  HM_CHECK(module != nullptr, "ExpertBackend needs a module");
  HM_CHECK(!options.args_schema.empty(), "ExpertBackend needs an args_schema");
  const std::string& optimizer = options.optimizer.name;
  const std::string& scheduler = options.scheduler.name;
  HM_CHECK(optimizer == "adam" || optimizer == "sgd" || optimizer == "none",
           "unknown optimizer '" + optimizer + "' (adam, sgd, none)");
  HM_CHECK(scheduler == "none" || scheduler == "linear",
           "unknown scheduler '" + scheduler + "' (none, linear)");
  HM_CHECK(optimizer != "none" || scheduler == "none", "a scheduler needs an optimizer");
  HM_CHECK(options.optimizer.lr >= 0, "the learning rate must not be negative");
  HM_CHECK(options.scheduler.num_warmup_steps >= 0 && options.scheduler.num_training_steps >= 0,
           "scheduler step counts must not be negative");
  HM_CHECK(!options.clip_grad_norm || *options.clip_grad_norm > 0,
           "clip_grad_norm must be positive");

  impl_->device = parse_device(options.device);
  impl_->module = std::move(module);
  impl_->module->to(impl_->device);
  const auto params = impl_->module->parameters();
  if (optimizer == "adam")
    impl_->optimizer = std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(options.optimizer.lr));
  else if (optimizer == "sgd")
    impl_->optimizer =
        std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(options.optimizer.lr));

  schema_.args = options.args_schema;
  schema_.outputs = options.outputs_schema;
  impl_->options = std::move(options);
  impl_->set_lr(lr_for_step(0));

  if (schema_.outputs.empty()) {
    // hivemind runs the module once on a dummy batch of 3 to learn its outputs.
    std::vector<at::Tensor> dummy;
    for (const auto& arg : schema_.args) {
      std::vector<std::int64_t> shape{kDummyBatchSize};
      shape.insert(shape.end(), arg.shape.begin(), arg.shape.end());
      dummy.push_back(at::zeros(
          shape,
          at::TensorOptions().dtype(compression::scalar_type_of(arg.dtype)).device(impl_->device)));
    }
    std::vector<at::Tensor> outputs;
    try {
      at::NoGradGuard no_grad;
      outputs = impl_->module->forward(dummy);
    } catch (const std::exception& e) {
      HM_CHECK(false, "expert '" + uid_ + "' failed on a dummy batch: " + torch_error_message(e));
    }
    HM_CHECK(!outputs.empty(), "expert '" + uid_ + "' returned no outputs");
    for (const auto& out : outputs) {
      HM_CHECK(out.defined() && out.dim() >= 1 && out.size(0) == kDummyBatchSize,
               "expert '" + uid_ + "' returned an output without the batch dim");
      schema_.outputs.push_back(schema_of(out));
    }
  }
}

ExpertBackend::~ExpertBackend() = default;

double ExpertBackend::lr_for_step(std::int64_t step) const {
  const auto& options = impl_->options;
  if (options.optimizer.name == "none")
    return 0.0;
  const double peak = options.optimizer.lr;
  if (options.scheduler.name != "linear")
    return peak;
  // hivemind/moe/server/layers/lr_schedule.py get_linear_schedule_with_warmup (LambdaLR).
  const std::int64_t warmup = options.scheduler.num_warmup_steps;
  const std::int64_t total = options.scheduler.num_training_steps;
  if (step < warmup)
    return peak * static_cast<double>(step)
           / static_cast<double>(std::max<std::int64_t>(1, warmup));
  return peak
         * std::max(0.0,
                    static_cast<double>(total - step)
                        / static_cast<double>(std::max<std::int64_t>(1, total - warmup)));
}

double ExpertBackend::learning_rate() const {
  std::shared_lock lock(mutex_);
  return impl_->lr;
}

std::string ExpertBackend::device() const {
  return impl_->device.str();
}

Result<std::vector<at::Tensor>> ExpertBackend::forward(std::vector<at::Tensor> inputs) {
  return forward(std::move(inputs), FiniteCheck::kCheck);
}

Result<std::vector<at::Tensor>> ExpertBackend::forward(std::vector<at::Tensor> inputs,
                                                       FiniteCheck finite) {
  const bool check_finite = finite == FiniteCheck::kCheck;
  HM_TRY(const std::int64_t batch, check_batch(schema_.args, inputs, check_finite));
  std::shared_lock lock(mutex_);
  try {
    at::NoGradGuard no_grad;
    for (auto& t : inputs)
      t = t.to(impl_->device);
    std::vector<at::Tensor> outputs = impl_->module->forward(inputs);
    HM_TRY_VOID(check_outputs(schema_.outputs, outputs, batch));
    for (auto& t : outputs)
      t = t.to(at::kCPU);
    return outputs;
  } catch (const std::exception& e) {
    return Err(MoeErrc::kExpertFailed, torch_error_message(e));
  }
}

Result<std::vector<at::Tensor>> ExpertBackend::backward(std::vector<at::Tensor> inputs,
                                                        std::vector<at::Tensor> grad_outputs) {
  return backward(std::move(inputs), std::move(grad_outputs), FiniteCheck::kCheck);
}

Result<std::vector<at::Tensor>> ExpertBackend::backward(std::vector<at::Tensor> inputs,
                                                        std::vector<at::Tensor> grad_outputs,
                                                        FiniteCheck finite) {
  const bool check_finite = finite == FiniteCheck::kCheck;
  HM_TRY(const std::int64_t batch, check_batch(schema_.args, inputs, check_finite));
  HM_TRY(const std::int64_t grad_batch,
         check_batch(schema_.outputs, grad_outputs, check_finite, "grad_output"));
  if (grad_batch != batch)
    return Err(MoeErrc::kSchemaMismatch,
               "grad_outputs have batch size " + std::to_string(grad_batch) + ", inputs "
                   + std::to_string(batch));
  std::unique_lock lock(mutex_);
  try {
    at::AutoGradMode grad_mode(true);
    for (auto& t : inputs) {
      t = t.to(impl_->device).detach();
      if (t.is_floating_point())
        t.requires_grad_(true);
    }
    std::vector<at::Tensor> outputs = impl_->module->forward(inputs);
    HM_TRY_VOID(check_outputs(schema_.outputs, outputs, batch));
    std::vector<at::Tensor> roots;
    std::vector<at::Tensor> root_grads;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (!outputs[i].requires_grad())
        continue;
      roots.push_back(outputs[i]);
      root_grads.push_back(grad_outputs[i].to(outputs[i].device(), outputs[i].scalar_type()));
    }
    if (!roots.empty())
      torch::autograd::backward(roots, root_grads);

    // on_backward: ClippingWrapper (clip, then step), zero_grad, scheduler.step().
    std::vector<at::Tensor> params = impl_->module->parameters();
    if (impl_->options.clip_grad_norm)
      torch::nn::utils::clip_grad_norm_(params, *impl_->options.clip_grad_norm);
    if (impl_->optimizer)
      impl_->optimizer->step();
    for (auto& p : params)
      p.mutable_grad().reset();
    const std::int64_t steps = update_count_.fetch_add(1) + 1;
    impl_->set_lr(lr_for_step(steps));

    std::vector<at::Tensor> grads;
    grads.reserve(inputs.size());
    for (const auto& t : inputs) {
      const at::Tensor& grad = t.grad();
      grads.push_back(grad.defined() ? grad.to(at::kCPU)
                                     : at::zeros_like(t, at::TensorOptions().device(at::kCPU)));
    }
    return grads;
  } catch (const std::exception& e) {
    // Drop partial parameter grads so that the next batch does not accumulate onto them.
    for (auto& p : impl_->module->parameters())
      p.mutable_grad().reset();
    return Err(MoeErrc::kExpertFailed, torch_error_message(e));
  }
}

}  // namespace hivemind::moe
