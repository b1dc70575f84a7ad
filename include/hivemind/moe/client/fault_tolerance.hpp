#pragma once
/// \file
/// How a mixture layer tolerates experts that fail, hang or answer late (hivemind
/// `_RemoteCallMany`'s parameters), and the report of what happened in one call. Plain data.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace hivemind::moe::client {

/// Fault tolerance of one mixture layer. Counts are per sample: a sample is served when at least
/// k_min of its chosen experts answered (hivemind counts across the whole batch, so one sample
/// could get no expert at all while the call "succeeded").
struct FaultToleranceOptions {
  /// A forward pass fails (MoeErrc::kTooFewExperts) when a sample gets fewer answers.
  std::size_t k_min = 1;
  /// A backward pass fails when a sample gets fewer gradients back; experts that fail in
  /// backward contribute zero gradient (they are treated as constants).
  std::size_t backward_k_min = 1;
  /// Deadline of the whole forward pass (all calls in parallel). hivemind: none, so one hung
  /// server stalls training; here 60 s unless set otherwise (nullopt waits forever).
  std::optional<std::chrono::duration<double>> forward_timeout = std::chrono::seconds(60);
  /// Once every sample has k_min answers, wait at most this much longer for the rest
  /// (nullopt: until forward_timeout / backward_timeout).
  std::optional<std::chrono::duration<double>> timeout_after_k_min{};
  /// Deadline of the whole backward pass; as forward_timeout.
  std::optional<std::chrono::duration<double>> backward_timeout = std::chrono::seconds(60);
  /// Refuse non-finite inputs and gradients (MoeErrc::kAnomaly) and drop experts whose outputs
  /// or gradients hold NaN/Inf. When false, such replies are still dropped: a remote peer's
  /// NaN never enters the local model.
  bool detect_anomalies = false;
  /// With fewer than k_min answers the pass still fails; with no answer for a sample and this
  /// set, the sample's expert output is zero (hivemind produces NaN there).
  bool allow_zero_outputs = false;
};

/// What one forward pass of a mixture layer did, for logs and monitoring.
struct MixtureCallReport {
  std::size_t batch_size = 0;
  std::size_t expert_calls = 0;       ///< RPCs sent (one per chosen expert, all its samples)
  std::size_t failed_calls = 0;       ///< of those, failed, timed out or refused
  std::size_t min_answers = 0;        ///< fewest answering experts of any sample
  std::vector<std::string> failures;  ///< "uid: reason" of each failed call (at most 16)
  double beam_search_seconds = 0;
  double call_seconds = 0;  ///< from the first request to the last answer used
};

}  // namespace hivemind::moe::client
