#include "remote_call_many.hpp"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "run_blocking.hpp"

namespace hivemind::moe::client {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What backward needs, kept in the autograd context as a capsule.
struct CallState : torch::CustomClassHolder {
  std::shared_ptr<MixtureCore> core;
  std::shared_ptr<ForwardOutcome> outcome;
  ExpertSchema schema;
  std::vector<std::vector<std::int64_t>> output_sizes;  // kept for zero gradients
  std::vector<at::TensorOptions> output_options;
  c10::Device device = at::kCPU;
};

class RemoteCallMany : public torch::autograd::Function<RemoteCallMany> {
 public:
  // `dummy` requires grad so that the node is recorded even when no input does (the experts
  // must still receive their gradients).
  static variable_list forward(AutogradContext* ctx,
                               c10::intrusive_ptr<CallState> state,
                               const at::Tensor& /*dummy*/,
                               at::TensorList /*inputs*/) {
    variable_list results;
    results.push_back(state->outcome->mask.to(state->device));
    for (const auto& out : state->outcome->outputs) {
      state->output_sizes.push_back(out.sizes().vec());
      state->output_options.push_back(out.options());
      results.push_back(out.to(state->device));
    }
    // The outputs belong to autograd now (backward does not read them); keeping them in the
    // outcome as well would close a reference cycle (output -> grad_fn -> this node's saved
    // state -> outcome -> output) that leaks every step's graph and the layer's DHT with it.
    state->outcome->outputs.clear();
    ctx->mark_non_differentiable({results[0]});
    ctx->saved_data["state"] = at::IValue::make_capsule(std::move(state));
    return results;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto state =
        c10::static_intrusive_pointer_cast<CallState>(ctx->saved_data["state"].toCapsule());
    std::vector<at::Tensor> grad_outputs(grads.begin() + 1, grads.end());
    for (std::size_t i = 0; i < grad_outputs.size(); ++i)
      if (!grad_outputs[i].defined())
        grad_outputs[i] = at::zeros(state->output_sizes[i], state->output_options[i]);
    std::vector<at::Tensor> grad_inputs = run_blocking(
        state->core->backward(state->outcome, state->schema, state->outcome->inputs, grad_outputs));
    variable_list out;
    out.emplace_back();  // state
    out.emplace_back();  // dummy
    for (auto& g : grad_inputs)
      out.push_back(g.defined() ? g.to(state->device) : g);
    return out;
  }
};

}  // namespace

std::vector<at::Tensor> attach_remote_calls(std::shared_ptr<MixtureCore> core,
                                            std::shared_ptr<ForwardOutcome> outcome,
                                            ExpertSchema schema,
                                            const std::vector<at::Tensor>& inputs) {
  auto state = c10::make_intrusive<CallState>();
  state->core = std::move(core);
  state->outcome = std::move(outcome);
  state->schema = std::move(schema);
  state->device = inputs.front().device();
  const at::Tensor dummy = at::empty({0}).requires_grad_(true);
  return RemoteCallMany::apply(std::move(state), dummy, at::TensorList(inputs));
}

}  // namespace hivemind::moe::client
