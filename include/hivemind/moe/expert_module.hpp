#pragma once
/// \file
/// The interface every expert implements: a `torch::nn::Module` whose forward takes and returns
/// a list of tensors batched on dim 0 (hivemind's experts take positional tensor arguments and
/// return a tensor or a tuple of tensors). This is the only public header that includes
/// `<torch/nn/module.h>`; include it only where experts are implemented.

#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace hivemind::moe {

/// An expert: a trainable module mapping input tensors to output tensors, every tensor with the
/// batch on dim 0 and the same batch size. Owned through `std::shared_ptr` (by an ExpertBackend).
/// Not thread-safe by itself: ExpertBackend serializes training and allows concurrent forward
/// passes, so `forward` must not mutate the module's state (buffers, parameters) unless the
/// expert is used by one thread only.
class ExpertModule : public torch::nn::Module {
 public:
  /// Computes the outputs for one batch. `inputs` follow the expert's argument schema; the
  /// result must hold at least one tensor, each with the inputs' batch size on dim 0. Runs with
  /// or without grad mode (the backend recomputes forward with grad for backward). May throw
  /// (a c10::Error or std::exception); the backend turns that into MoeErrc::kExpertFailed.
  virtual std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) = 0;
};

}  // namespace hivemind::moe
