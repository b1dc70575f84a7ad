#pragma once
// The autograd node of a mixture layer's expert calls (hivemind `_RemoteCallMany`): its forward
// hands out the outputs a MixtureCore::forward already collected (so that coroutine callers never
// block), its backward sends the output gradients to the experts that answered.

#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "mixture_core.hpp"

namespace hivemind::moe::client {

/// Returns {mask [B, K] bool, output_i [B, K, *shape_i]...} on `inputs[0]`'s device, connected to
/// autograd so that gradients of the outputs flow to every floating input through
/// MixtureCore::backward (blocking, on autograd's thread), which resends `outcome->inputs` (the
/// CPU copies forward sent). `inputs` are the caller's tensors: the autograd edges. Clears
/// `outcome->outputs` (the returned tensors replace them).
std::vector<at::Tensor> attach_remote_calls(std::shared_ptr<MixtureCore> core,
                                            std::shared_ptr<ForwardOutcome> outcome,
                                            ExpertSchema schema,
                                            const std::vector<at::Tensor>& inputs);

}  // namespace hivemind::moe::client
