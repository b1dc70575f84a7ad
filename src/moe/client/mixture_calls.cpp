#include "mixture_calls.hpp"

#include <ATen/ATen.h>

#include "client_errors.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe::client {
namespace {

constexpr std::size_t kMaxReportedFailures = 16;

}  // namespace

std::chrono::milliseconds call_timeout(std::optional<std::chrono::duration<double>> total) {
  if (!total)
    return std::chrono::hours(24);
  // A second past the pass's own deadline: the pass cancels first and reports one reason.
  return std::chrono::ceil<std::chrono::milliseconds>(*total) + std::chrono::seconds(1);
}

std::vector<std::vector<std::size_t>> samples_of_groups(const std::vector<ExpertGroup>& groups) {
  std::vector<std::vector<std::size_t>> out;
  out.reserve(groups.size());
  for (const auto& g : groups)
    out.emplace_back(g.samples.begin(), g.samples.end());
  return out;
}

std::vector<std::int64_t> shape_with(std::vector<std::int64_t> lead,
                                     const std::vector<std::int64_t>& shape) {
  lead.insert(lead.end(), shape.begin(), shape.end());
  return lead;
}

at::Tensor index_tensor(const std::vector<std::int64_t>& values) {
  return at::tensor(values, at::TensorOptions().dtype(at::kLong));
}

at::Tensor flat_indices(const ExpertGroup& group, std::int64_t slots) {
  std::vector<std::int64_t> flat(group.samples.size());
  for (std::size_t i = 0; i < flat.size(); ++i)
    flat[i] = group.samples[i] * slots + group.slots[i];
  return index_tensor(flat);
}

void record_failure(MixtureCallReport& report, const std::string& uid, const std::string& reason) {
  ++report.failed_calls;
  if (report.failures.size() < kMaxReportedFailures)
    report.failures.push_back(uid + ": " + reason);
}

void throw_too_few(const char* pass,
                   std::size_t sample,
                   std::size_t answers,
                   std::size_t required,
                   const MixtureCallReport& report) {
  std::string text = std::string(pass) + ": sample " + std::to_string(sample) + " got "
                     + std::to_string(answers) + " expert answers, needs "
                     + std::to_string(required);
  if (!report.failures.empty()) {
    text += "; failures:";
    for (const auto& f : report.failures)
      text += " [" + f + "]";
  }
  throw_error(Error(make_error_code(MoeErrc::kTooFewExperts), text));
}

}  // namespace hivemind::moe::client
