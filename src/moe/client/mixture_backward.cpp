// MixtureCore::backward: the gradients of every answered slot sent back to its expert.
#include <algorithm>

#include <ATen/ATen.h>

#include "call_batch.hpp"
#include "client_errors.hpp"
#include "collect.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/error.hpp"
#include "mixture_calls.hpp"
#include "mixture_core.hpp"

namespace hivemind::moe::client {
namespace {

void check_finite_grads(const std::vector<at::Tensor>& grads) {
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (grads[i].defined() && !grads[i].isfinite().all().item<bool>())
      throw_error(Error(make_error_code(MoeErrc::kAnomaly),
                        "gradient of output " + std::to_string(i) + " holds NaN or Inf"));
}

}  // namespace

asio::awaitable<std::vector<at::Tensor>> MixtureCore::backward(
    std::shared_ptr<const ForwardOutcome> outcome,
    ExpertSchema schema,
    std::vector<at::Tensor> inputs,
    std::vector<at::Tensor> grad_outputs) {
  const FaultToleranceOptions& ft = fault_tolerance_;
  const std::int64_t batch = outcome->batch_size;
  const std::int64_t slots = outcome->slots;
  for (auto& g : grad_outputs)
    g = g.detach().to(at::kCPU).contiguous();
  if (ft.detect_anomalies)
    check_finite_grads(grad_outputs);

  std::vector<at::Tensor> grad_inputs;
  for (const auto& input : inputs)
    grad_inputs.push_back(at::isFloatingType(input.scalar_type()) ? at::zeros_like(input)
                                                                  : at::Tensor());
  std::vector<TensorSchema> request_schema = schema.args;
  request_schema.insert(request_schema.end(), schema.outputs.begin(), schema.outputs.end());

  std::vector<ExpertGroup> groups;  // the experts that answered in forward
  std::vector<PendingCall> calls;
  for (std::size_t g = 0; g < outcome->groups.size(); ++g) {
    if (!outcome->answered[g])
      continue;
    const ExpertGroup& group = outcome->groups[g];
    const at::Tensor rows = index_tensor(group.samples);
    const at::Tensor flat = flat_indices(group, slots);
    std::vector<at::Tensor> tensors;
    for (const auto& input : inputs)
      tensors.push_back(input.index_select(0, rows));
    for (std::size_t i = 0; i < grad_outputs.size(); ++i)
      tensors.push_back(grad_outputs[i]
                            .reshape(shape_with({batch * slots}, schema.outputs[i].shape))
                            .index_select(0, flat));
    calls.push_back(
        PendingCall{.peer = group.expert.peer_id,
                    .request = value_or_throw(make_request(
                        group.expert.uid, ExpertMethod::kBackward, tensors, request_schema))});
    groups.push_back(group);
  }

  // A sample needs min(backward_k_min, experts that answered its forward) gradients back.
  std::vector<std::size_t> required(static_cast<std::size_t>(batch), 0);
  for (const auto& group : groups)
    for (const std::int64_t b : group.samples)
      ++required[static_cast<std::size_t>(b)];
  for (auto& r : required)
    r = std::min(r, ft.backward_k_min);
  ResponseCollector collector(required,
                              samples_of_groups(groups),
                              ft.backward_timeout,
                              ft.timeout_after_k_min,
                              ResponseCollector::Clock::now());
  MixtureCallReport report;
  auto pending = CallBatch::start(
      node_, dht_->executor(), std::move(calls), call_timeout(ft.backward_timeout));
  // (a named handler: g++ 12 mis-destroys lambda temporaries inside co_await)
  CallHandler handle = [&](CallResult& result) {
    const ExpertGroup& group = groups[result.index];
    auto decoded =
        result.reply ? decode_reply(
            *result.reply, schema.args, static_cast<std::int64_t>(group.samples.size()), true)
                     : Result<std::vector<at::Tensor>>(Err(result.reply.error()));
    if (!decoded) {
      record_failure(report, group.expert.uid, decoded.error().message());
      return false;
    }
    const at::Tensor rows = index_tensor(group.samples);
    for (std::size_t i = 0; i < grad_inputs.size(); ++i)
      if (grad_inputs[i].defined())
        grad_inputs[i].index_add_(0, rows, (*decoded)[i]);
    return true;
  };
  co_await collect(pending, collector, std::move(handle));
  const auto& answers = collector.successes();
  for (std::size_t b = 0; b < answers.size(); ++b)
    if (answers[b] < required[b])
      throw_too_few("backward", b, answers[b], required[b], report);
  co_return grad_inputs;
}

}  // namespace hivemind::moe::client
