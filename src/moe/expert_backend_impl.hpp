#pragma once
/// \file
/// ExpertBackend's inside, shared by expert_backend.cpp and expert_backend_state.cpp. Private.

#include <memory>

#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>

#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_module.hpp"

namespace hivemind::moe {

struct ExpertBackend::Impl {
  std::shared_ptr<ExpertModule> module;
  std::unique_ptr<torch::optim::Optimizer> optimizer;  ///< null for optimizer "none"
  ExpertBackendOptions options;
  c10::Device device{c10::kCPU};
  double lr = 0;  ///< current learning rate (guarded by the backend's mutex)

  /// Sets the learning rate of every parameter group; caller holds the mutex exclusively.
  void set_lr(double value);
};

/// The message of a libtorch exception without its C++ backtrace.
std::string torch_error_message(const std::exception& e);

}  // namespace hivemind::moe
