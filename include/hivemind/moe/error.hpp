#pragma once
/// \file
/// Error codes of the Mixture-of-Experts layer (expert uids, experts, task pools, server RPCs,
/// and the client: remote calls, beam search, fault-tolerant mixtures).

#include <system_error>

namespace hivemind::moe {

/// Failures reported by hivemind::moe. Requests from the network that are wrong get one of these
/// (with a detail naming what was wrong); they travel to the caller as the RPC error text.
enum class MoeErrc {
  kInvalidUid = 1,        ///< not an expert uid (or prefix) of hivemind's grammar
  kInvalidPattern,        ///< an expert pattern such as `ffn.[0:256]` that does not parse
  kUnknownExpert,         ///< no expert with this uid on this server
  kUnknownExpertClass,    ///< no expert class registered under this name
  kDuplicateExpertClass,  ///< an expert class of this name is already registered
  kSchemaMismatch,        ///< tensor count, shape, dtype or batch size differs from the schema
  kNonFinite,             ///< an input holds NaN or Inf
  kEmptyBatch,            ///< a request with zero samples
  kBatchTooLarge,         ///< a request larger than the pool's max_batch_size
  kQueueFull,             ///< the pool's queue limit is reached; retry later
  kExpertFailed,          ///< the expert's forward/backward threw; detail has the message
  kCancelled,             ///< the task was cancelled (caller gone) before it ran
  kShuttingDown,          ///< the server or runtime is stopping
  kCheckpointError,       ///< writing or reading a checkpoint failed; detail says which file
  kBadRequest,            ///< a malformed request (bad protobuf, uids differing in one stream)
  kBadConfig,             ///< server options or a config file that do not make sense
  // Client side (hivemind::moe::client):
  kBadResponse,     ///< an expert's reply that does not parse or does not match its schema
  kNoExpertsFound,  ///< beam search found no expert under the prefix
  kTooFewExperts,   ///< fewer than k_min experts answered for a sample
  kAnomaly,         ///< NaN/Inf in inputs or gradients with detect_anomalies
};

/// The category of MoeErrc ("hivemind.moe"). Thread-safe singleton.
const std::error_category& moe_category() noexcept;

inline std::error_code make_error_code(MoeErrc e) noexcept {
  return {static_cast<int>(e), moe_category()};
}

}  // namespace hivemind::moe

template <>
struct std::is_error_code_enum<hivemind::moe::MoeErrc> : std::true_type {};
