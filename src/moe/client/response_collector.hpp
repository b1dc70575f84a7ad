#pragma once
// When a fault-tolerant call over many experts is done (hivemind `_collect_responses`), as pure
// logic: every expert call covers some samples; a sample is served once `required[b]` of its
// calls succeeded (k_min); the pass ends when every call finished or at the deadline, which moves
// to now + timeout_after_k_min once every sample that has calls is served. No I/O, no clock of its
// own (times are passed in). Single-threaded.

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace hivemind::moe::client {

class ResponseCollector {
 public:
  using Clock = std::chrono::steady_clock;

  /// `samples_of_call[c]` lists the samples call c serves (indices < required.size());
  /// `required[b]` is how many answers sample b needs. `total` and `after_k_min` as
  /// FaultToleranceOptions (nullopt = no limit); `now` = when the calls start.
  ResponseCollector(std::vector<std::size_t> required,
                    std::vector<std::vector<std::size_t>> samples_of_call,
                    std::optional<std::chrono::duration<double>> total,
                    std::optional<std::chrono::duration<double>> after_k_min,
                    Clock::time_point now);

  /// Records that call c finished (successfully or not) at `now`. Each call at most once.
  void on_finished(std::size_t call, bool success, Clock::time_point now);

  /// True when every call finished, or `now` is at or past the deadline.
  bool done(Clock::time_point now) const;

  /// Until when to wait for the next result (time_point::max() = no deadline).
  Clock::time_point deadline() const noexcept { return deadline_; }

  /// Successful calls per sample so far.
  const std::vector<std::size_t>& successes() const noexcept { return successes_; }

  /// Calls that have finished.
  std::size_t finished() const noexcept { return finished_; }

 private:
  bool all_served() const;

  std::vector<std::vector<std::size_t>> samples_of_call_;
  std::vector<std::size_t> required_;
  std::vector<std::size_t> successes_;
  std::vector<bool> has_calls_;
  std::vector<bool> call_finished_;
  std::optional<std::chrono::duration<double>> after_k_min_;
  Clock::time_point deadline_;
  std::size_t finished_ = 0;
  bool shortened_ = false;
};

}  // namespace hivemind::moe::client
