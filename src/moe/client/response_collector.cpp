#include "response_collector.hpp"

#include <algorithm>

#include "hivemind/core/check.hpp"

namespace hivemind::moe::client {
namespace {

ResponseCollector::Clock::time_point after(ResponseCollector::Clock::time_point now,
                                           std::optional<std::chrono::duration<double>> limit) {
  if (!limit)
    return ResponseCollector::Clock::time_point::max();
  // Saturate: a limit of years must not overflow the clock's representation.
  const auto room =
      std::chrono::duration<double>(ResponseCollector::Clock::time_point::max() - now);
  if (*limit >= room)
    return ResponseCollector::Clock::time_point::max();
  return now + std::chrono::duration_cast<ResponseCollector::Clock::duration>(*limit);
}

}  // namespace

ResponseCollector::ResponseCollector(std::vector<std::size_t> required,
                                     std::vector<std::vector<std::size_t>> samples_of_call,
                                     std::optional<std::chrono::duration<double>> total,
                                     std::optional<std::chrono::duration<double>> after_k_min,
                                     Clock::time_point now)
    : samples_of_call_(std::move(samples_of_call)),
      required_(std::move(required)),
      successes_(required_.size(), 0),
      has_calls_(required_.size(), false),
      call_finished_(samples_of_call_.size(), false),
      after_k_min_(after_k_min),
      deadline_(after(now, total)) {
  for (const auto& samples : samples_of_call_)
    for (const std::size_t b : samples) {
      HM_CHECK(b < required_.size(), "ResponseCollector: sample index out of range");
      has_calls_[b] = true;
    }
  if (all_served()) {  // nothing required: wait only for after_k_min
    deadline_ = std::min(deadline_, after(now, after_k_min_));
    shortened_ = true;
  }
}

void ResponseCollector::on_finished(std::size_t call, bool success, Clock::time_point now) {
  HM_CHECK(call < call_finished_.size() && !call_finished_[call],
           "ResponseCollector: call finished twice or out of range");
  call_finished_[call] = true;
  ++finished_;
  if (!success)
    return;
  for (const std::size_t b : samples_of_call_[call])
    ++successes_[b];
  if (!shortened_ && all_served()) {
    deadline_ = std::min(deadline_, after(now, after_k_min_));
    shortened_ = true;
  }
}

bool ResponseCollector::done(Clock::time_point now) const {
  return finished_ == call_finished_.size() || now >= deadline_;
}

bool ResponseCollector::all_served() const {
  for (std::size_t b = 0; b < successes_.size(); ++b)
    if (has_calls_[b] && successes_[b] < required_[b])
      return false;
  return true;
}

}  // namespace hivemind::moe::client
