#pragma once
/// \file
/// Factories of hivemind's built-in experts (builtin_experts.cpp); registered by
/// ExpertRegistry::with_builtins(). Private to hivemind::moe.

#include <cstdint>
#include <memory>

namespace hivemind::moe {

class ExpertModule;

std::shared_ptr<ExpertModule> make_ffn_expert(std::int64_t hidden_dim);
std::shared_ptr<ExpertModule> make_transformer_expert(std::int64_t hidden_dim);
std::shared_ptr<ExpertModule> make_det_dropout_expert(std::int64_t hidden_dim);
std::shared_ptr<ExpertModule> make_nop_expert(std::int64_t hidden_dim, double delay_seconds);

/// Sequence length of the `transformer` expert's sample input (hivemind: 128).
inline constexpr std::int64_t kTransformerSeqLen = 128;
/// Attention heads of the `transformer` expert (hivemind: 16).
inline constexpr std::int64_t kTransformerHeads = 16;
/// Keep probability of the `det_dropout` expert (hivemind: 1 - 0.2).
inline constexpr double kDetDropoutKeepProb = 0.8;
/// Delay of the `nop_delay` expert in seconds (hivemind: 0.5).
inline constexpr double kNopDelaySeconds = 0.5;

}  // namespace hivemind::moe
