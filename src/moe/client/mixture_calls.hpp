#pragma once
// Pieces of MixtureCore's forward and backward passes that both use.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "hivemind/moe/client/fault_tolerance.hpp"
#include "mixture_core.hpp"

namespace hivemind::moe::client {

/// Deadline of one RPC: a second past the pass's timeout (which cancels it first), or a day.
std::chrono::milliseconds call_timeout(std::optional<std::chrono::duration<double>> total);

/// The samples of each group, as the collector wants them.
std::vector<std::vector<std::size_t>> samples_of_groups(const std::vector<ExpertGroup>& groups);

/// `lead` followed by `shape`: e.g. ({B, K}, [16]) -> [B, K, 16].
std::vector<std::int64_t> shape_with(std::vector<std::int64_t> lead,
                                     const std::vector<std::int64_t>& shape);

/// An int64 CPU tensor of `values`.
at::Tensor index_tensor(const std::vector<std::int64_t>& values);

/// Row indices `sample * slots + slot` of a group's entries in a [B * K, ...] view.
at::Tensor flat_indices(const ExpertGroup& group, std::int64_t slots);

/// Records "uid: reason" (at most 16 kept) and counts the failure.
void record_failure(MixtureCallReport& report, const std::string& uid, const std::string& reason);

/// Throws kTooFewExperts naming the first sample below its requirement, with the failures seen.
[[noreturn]] void throw_too_few(const char* pass,
                                std::size_t sample,
                                std::size_t answers,
                                std::size_t required,
                                const MixtureCallReport& report);

}  // namespace hivemind::moe::client
