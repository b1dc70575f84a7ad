#include "hivemind/moe/client/remote_expert.hpp"

#include <functional>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "expert_call.hpp"
#include "hivemind/core/check.hpp"
#include "hivemind/dht/dht.hpp"
#include "run_blocking.hpp"

namespace hivemind::moe::client {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct ExpertCallState : torch::CustomClassHolder {
  explicit ExpertCallState(ExpertInfo info) : expert(std::move(info)) {}

  std::shared_ptr<dht::DHT> dht;
  std::shared_ptr<dht::DhtNode> node;
  ExpertInfo expert;
  ExpertSchema schema;
  RemoteExpertOptions options;
  std::vector<at::Tensor> inputs;   // detached
  std::vector<at::Tensor> outputs;  // as the server returned them; handed to autograd in forward
  std::vector<std::vector<std::int64_t>> output_sizes;  // kept for zero gradients
  std::vector<at::TensorOptions> output_options;
  c10::Device device = at::kCPU;
};

// hivemind `_RemoteModuleCall`: forward hands out the outputs already received; backward calls
// rpc_backward (blocking, autograd's thread).
class RemoteModuleCall : public torch::autograd::Function<RemoteModuleCall> {
 public:
  static variable_list forward(AutogradContext* ctx,
                               c10::intrusive_ptr<ExpertCallState> state,
                               const at::Tensor& /*dummy*/,
                               at::TensorList /*inputs*/) {
    variable_list outputs;
    for (const auto& out : state->outputs) {
      state->output_sizes.push_back(out.sizes().vec());
      state->output_options.push_back(out.options());
      outputs.push_back(out.to(state->device));
    }
    // The outputs belong to autograd now; keeping them in the state as well would close a
    // reference cycle (output -> grad_fn -> this node's saved state -> output) that leaks the
    // graph, the state and the DHT with it.
    state->outputs.clear();
    ctx->saved_data["state"] = at::IValue::make_capsule(std::move(state));
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto state =
        c10::static_intrusive_pointer_cast<ExpertCallState>(ctx->saved_data["state"].toCapsule());
    std::vector<at::Tensor> tensors = state->inputs;
    for (std::size_t i = 0; i < grads.size(); ++i)
      tensors.push_back(grads[i].defined()
                            ? grads[i]
                            : at::zeros(state->output_sizes[i], state->output_options[i]));
    std::vector<TensorSchema> request_schema = state->schema.args;
    request_schema.insert(
        request_schema.end(), state->schema.outputs.begin(), state->schema.outputs.end());
    auto grad_inputs = run_blocking(call_expert(state->dht,
                                                state->node,
                                                state->expert,
                                                ExpertMethod::kBackward,
                                                std::move(tensors),
                                                std::move(request_schema),
                                                state->schema.args,
                                                state->options.timeout,
                                                state->options.check_finite));
    variable_list out;
    out.emplace_back();  // state
    out.emplace_back();  // dummy
    for (std::size_t i = 0; i < grad_inputs.size(); ++i)
      out.push_back(at::isFloatingType(state->inputs[i].scalar_type())
                        ? grad_inputs[i].to(state->device)
                        : at::Tensor());
    return out;
  }
};

}  // namespace

RemoteExpertImpl::RemoteExpertImpl(ExpertInfo info,
                                   std::shared_ptr<dht::DHT> dht,
                                   RemoteExpertOptions options)
    : info_(std::move(info)), dht_(std::move(dht)), options_(options) {
  HM_CHECK(dht_ != nullptr, "RemoteExpert: dht is null");
  node_ = node_of(*dht_);
}

const ExpertSchema& RemoteExpertImpl::schema() {
  ExpertSchema fetched = run_blocking(schema_async());
  std::lock_guard lock(schema_mutex_);
  if (!schema_)
    schema_ = std::move(fetched);
  return *schema_;
}

asio::awaitable<ExpertSchema> RemoteExpertImpl::schema_async() {
  {
    std::lock_guard lock(schema_mutex_);
    if (schema_)
      co_return *schema_;
  }
  auto node = node_;
  const ExpertInfo expert = info_;
  const auto timeout = options_.timeout;
  using Reply = std::optional<Result<ExpertSchema>>;
  std::function<asio::awaitable<Reply>(dht::DhtNode&)> fetch =
      [node, expert, timeout](dht::DhtNode&) -> asio::awaitable<Reply> {
    co_return co_await fetch_expert_schema(node->host(), expert, timeout);
  };
  Reply reply = co_await dht_->run<Reply>(std::move(fetch));
  if (!reply || !*reply)
    throw std::system_error(reply ? reply->error().code() : std::error_code(),
                            reply ? reply->error().message() : "no reply");
  co_return **reply;
}

std::vector<at::Tensor> RemoteExpertImpl::forward(const std::vector<at::Tensor>& inputs) {
  return run_blocking(forward_async(inputs));
}

asio::awaitable<std::vector<at::Tensor>> RemoteExpertImpl::forward_async(
    std::vector<at::Tensor> inputs) {
  HM_CHECK(!inputs.empty(), "RemoteExpert::forward: no inputs");
  ExpertSchema schema = co_await schema_async();
  {
    std::lock_guard lock(schema_mutex_);
    if (!schema_)
      schema_ = schema;
  }
  auto state = c10::make_intrusive<ExpertCallState>(info_);
  state->dht = dht_;
  state->node = node_;
  state->schema = schema;
  state->options = options_;
  state->device = inputs.front().device();
  for (const auto& input : inputs)
    state->inputs.push_back(input.detach().to(at::kCPU).contiguous());
  state->outputs = co_await call_expert(dht_,
                                        state->node,
                                        info_,
                                        ExpertMethod::kForward,
                                        state->inputs,
                                        schema.args,
                                        schema.outputs,
                                        options_.timeout,
                                        options_.check_finite);
  const at::Tensor dummy = at::empty({0}).requires_grad_(true);
  co_return RemoteModuleCall::apply(std::move(state), dummy, at::TensorList(inputs));
}

}  // namespace hivemind::moe::client
