#pragma once
// Gating arithmetic of the mixture layers (hivemind `compute_expert_scores`), autograd-friendly.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "mixture_core.hpp"

namespace hivemind::moe::client {

/// How per-dimension values of an expert's coordinates combine into its score.
enum class ScoreCombine {
  kSum,      ///< RemoteMixtureOfExperts: logits add up; padding -inf
  kProduct,  ///< RemoteSwitchMixtureOfExperts: probabilities multiply; padding 0
};

/// scores[b, e] = combine over d of grid[d][b, coordinates_d of chosen[b][e]], for e <
/// chosen[b].size(); padding beyond. `grid[d]` is [B, grid_size[d]]; the result [B, slots] is on
/// grid[0]'s device and carries gradients to `grid`.
at::Tensor compute_expert_scores(const std::vector<at::Tensor>& grid,
                                 const ChosenExperts& chosen,
                                 std::int64_t slots,
                                 ScoreCombine combine);

/// Softmax over the answered slots of each row (`mask` [B, K] bool); rows with no answered slot
/// get all-zero weights (hivemind returns NaN there).
at::Tensor mixture_weights(const at::Tensor& logits, const at::Tensor& mask);

/// Σ_e weights[b, e] · outputs[b, e, ...]: `weights` [B, K], `outputs` [B, K, ...].
at::Tensor weighted_sum(const at::Tensor& weights, const at::Tensor& outputs);

/// The gating input: `input` itself when 2-D, else its mean over the dims between the first and
/// the last (hivemind).
at::Tensor gating_input(const at::Tensor& input);

}  // namespace hivemind::moe::client
