// MixtureCore::forward: every chosen expert called once with the samples that chose it.
#include <algorithm>

#include <ATen/ATen.h>

#include "call_batch.hpp"
#include "client_errors.hpp"
#include "collect.hpp"
#include "hivemind/compression/serialization.hpp"
#include "hivemind/core/check.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/error.hpp"
#include "mixture_calls.hpp"
#include "mixture_core.hpp"

namespace hivemind::moe::client {
namespace {

std::vector<at::Tensor> to_cpu(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors)
    out.push_back(t.detach().to(at::kCPU).contiguous());
  return out;
}

// Checks the caller's inputs against the experts' schema; returns the batch size.
std::int64_t check_inputs(const ExpertSchema& schema,
                          const std::vector<at::Tensor>& inputs,
                          bool detect_anomalies) {
  auto batch = check_batch(schema.args, inputs, detect_anomalies);
  if (!batch && batch.error() == MoeErrc::kNonFinite)
    throw_error(Error(make_error_code(MoeErrc::kAnomaly), batch.error().message()));
  return value_or_throw(std::move(batch));
}

}  // namespace

asio::awaitable<std::shared_ptr<ForwardOutcome>> MixtureCore::forward(
    ChosenExperts chosen, ExpertSchema schema, std::vector<at::Tensor> inputs) {
  const FaultToleranceOptions& ft = fault_tolerance_;
  inputs = to_cpu(inputs);
  const std::int64_t batch = check_inputs(schema, inputs, ft.detect_anomalies);
  HM_CHECK(static_cast<std::size_t>(batch) == chosen.size(),
           "MixtureCore::forward: one choice list per sample");

  auto outcome = std::make_shared<ForwardOutcome>();
  outcome->batch_size = batch;
  outcome->inputs = inputs;
  outcome->groups = group_by_expert(chosen);
  for (const auto& sample : chosen)
    outcome->slots =
        std::max<std::int64_t>(outcome->slots, static_cast<std::int64_t>(sample.size()));
  const std::int64_t slots = std::max<std::int64_t>(outcome->slots, 1);
  outcome->slots = slots;
  outcome->answered.assign(outcome->groups.size(), false);
  outcome->mask = at::zeros({batch, slots}, at::TensorOptions().dtype(at::kBool));
  for (const auto& out : schema.outputs)
    outcome->outputs.push_back(
        at::zeros(shape_with({batch, slots}, out.shape),
                  at::TensorOptions().dtype(compression::scalar_type_of(out.dtype))));

  std::vector<PendingCall> calls;
  calls.reserve(outcome->groups.size());
  for (const auto& group : outcome->groups) {
    const at::Tensor rows = index_tensor(group.samples);
    std::vector<at::Tensor> tensors;
    for (const auto& input : inputs)
      tensors.push_back(input.index_select(0, rows));
    calls.push_back(
        PendingCall{.peer = group.expert.peer_id,
                    .request = value_or_throw(make_request(
                        group.expert.uid, ExpertMethod::kForward, tensors, schema.args))});
  }

  std::vector<std::size_t> required(static_cast<std::size_t>(batch), 0);
  for (std::size_t b = 0; b < chosen.size(); ++b)
    required[b] = std::min(ft.k_min, chosen[b].size());
  ResponseCollector collector(required,
                              samples_of_groups(outcome->groups),
                              ft.forward_timeout,
                              ft.timeout_after_k_min,
                              ResponseCollector::Clock::now());
  MixtureCallReport report;
  report.batch_size = static_cast<std::size_t>(batch);
  report.expert_calls = calls.size();
  const auto start = std::chrono::steady_clock::now();
  auto pending =
      CallBatch::start(node_, dht_->executor(), std::move(calls), call_timeout(ft.forward_timeout));
  std::vector<bool> failed(outcome->groups.size(), false);
  // (a named handler: g++ 12 mis-destroys lambda temporaries inside co_await)
  CallHandler handle = [&](CallResult& result) {
    const ExpertGroup& group = outcome->groups[result.index];
    auto decoded =
        result.reply ? decode_reply(
            *result.reply, schema.outputs, static_cast<std::int64_t>(group.samples.size()), true)
                     : Result<std::vector<at::Tensor>>(Err(result.reply.error()));
    if (!decoded) {
      record_failure(report, group.expert.uid, decoded.error().message());
      failed[result.index] = true;
      return false;
    }
    const at::Tensor flat = flat_indices(group, slots);
    for (std::size_t i = 0; i < decoded->size(); ++i) {
      outcome->outputs[i]
          .view(shape_with({batch * slots}, schema.outputs[i].shape))
          .index_copy_(0, flat, (*decoded)[i]);
    }
    outcome->mask.view({-1}).index_fill_(0, flat, true);
    outcome->answered[result.index] = true;
    return true;
  };
  co_await collect(pending, collector, std::move(handle));
  // Calls still unanswered at the deadline were cancelled by collect().
  for (std::size_t g = 0; g < outcome->groups.size(); ++g)
    if (!outcome->answered[g] && !failed[g])
      record_failure(report, outcome->groups[g].expert.uid, "no answer before the deadline");
  report.call_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& answers = collector.successes();
  report.min_answers = answers.empty() ? 0 : *std::min_element(answers.begin(), answers.end());
  set_report(report);
  for (std::size_t b = 0; b < answers.size(); ++b) {
    if (answers[b] < ft.k_min)
      throw_too_few("forward", b, answers[b], ft.k_min, report);
    if (answers[b] == 0 && !ft.allow_zero_outputs)
      throw_too_few("forward (allow_zero_outputs is off)", b, 0, 1, report);
  }
  co_return outcome;
}

}  // namespace hivemind::moe::client
