#pragma once
/// \file
/// ExpertBackend: one expert with its optimizer, learning-rate schedule and schemas
/// (hivemind/moe/server/module_backend.py `ModuleBackend` + layers/optim.py `ClippingWrapper` +
/// layers/lr_schedule.py). Forward passes run concurrently; a backward pass recomputes the
/// forward with grad, returns the input gradients and trains the expert one optimizer step.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/tensor_schema.hpp"

namespace hivemind::moe {

class ExpertModule;

/// The expert's optimizer (hivemind CLI `--optimizer`).
struct OptimizerOptions {
  /// "adam" (torch defaults: betas 0.9/0.999, eps 1e-8, no weight decay), "sgd" (no momentum)
  /// or "none" (gradients for the inputs only; the expert never changes).
  std::string name = "adam";
  /// Peak learning rate. 1e-3 is torch's Adam default; hivemind's CLI builds SGD with lr 0.01,
  /// so a front end offering `--optimizer sgd` should set 0.01 here.
  double lr = 1e-3;
};

/// Learning-rate schedule, stepped once per backward batch (hivemind CLI `--scheduler`).
struct SchedulerOptions {
  /// "none" (constant lr) or "linear" (hivemind's get_linear_schedule_with_warmup: factor
  /// step/max(1,warmup) during warmup, then max(0, (total-step)/max(1,total-warmup))).
  std::string name = "none";
  std::int64_t num_warmup_steps = 0;
  std::int64_t num_training_steps = 0;
};

/// Everything an ExpertBackend needs besides its uid and module.
struct ExpertBackendOptions {
  OptimizerOptions optimizer{};
  SchedulerOptions scheduler{};
  /// Clip the parameters' total gradient 2-norm to this before every step (ClippingWrapper).
  std::optional<double> clip_grad_norm{};
  /// Positional arguments; required (at least one).
  std::vector<TensorSchema> args_schema{};
  /// Outputs; when empty, inferred by running the expert on zeros of batch 3 (compression NONE).
  std::vector<TensorSchema> outputs_schema{};
  /// torch device string: "cpu", "cuda", "cuda:1". A CUDA device needs a CUDA build of libtorch
  /// and a GPU; otherwise construction fails.
  std::string device = "cpu";
};

/// Whether ExpertBackend::forward/backward test their inputs for NaN/Inf themselves.
enum class FiniteCheck {
  kCheck,         ///< test them (MoeErrc::kNonFinite)
  kDoneByCaller,  ///< the caller has tested exactly these values already
};

/// One hosted expert. Thread-safe: any number of `forward` calls run concurrently (shared
/// lock); `backward`, `load_state*` take the lock exclusively. Inputs may live on any device and
/// are moved to the backend's device; results are CPU tensors. Owns its module (shared with the
/// creator), optimizer and schedule state.
class ExpertBackend {
 public:
  /// Moves `module` to `options.device`, builds the optimizer over its parameters and infers
  /// the output schema if needed. Throws std::invalid_argument (HM_CHECK) on misuse: null module,
  /// no args_schema, unknown optimizer/scheduler name, a scheduler without an optimizer,
  /// negative lr or clip norm, an unknown or unavailable device; and when inferring the output
  /// schema fails (the expert threw on zeros of its own schema).
  ExpertBackend(std::string uid,
                std::shared_ptr<ExpertModule> module,
                ExpertBackendOptions options);
  ~ExpertBackend();
  ExpertBackend(const ExpertBackend&) = delete;
  ExpertBackend& operator=(const ExpertBackend&) = delete;

  /// Outputs for one batch, computed without grad. Errors: those of check_batch against the
  /// args schema (finiteness included); kExpertFailed with libtorch's message when the expert
  /// throws or returns outputs that do not match the output schema's count or batch size.
  /// Blocking (runs the expert on the calling thread).
  Result<std::vector<at::Tensor>> forward(std::vector<at::Tensor> inputs);

  /// As forward(inputs); with FiniteCheck::kDoneByCaller the NaN/Inf pass over the inputs is left
  /// out, for a caller that has made it on these very values (the server's connection handler
  /// checks every request before batching it). Every other check stays.
  Result<std::vector<at::Tensor>> forward(std::vector<at::Tensor> inputs, FiniteCheck finite);

  /// Gradients of the inputs for one batch, then one training step: recompute the outputs with
  /// grad (floating inputs require grad), backpropagate `grad_outputs` (cast to the outputs'
  /// dtype and device), clip, optimizer step, clear the parameter grads, schedule step. Returns
  /// one gradient per input (zeros for inputs without one, e.g. integer masks). Errors: those
  /// of check_batch (inputs against args, grad_outputs against outputs, same batch size);
  /// kExpertFailed when libtorch throws (the expert may then be partly updated). Blocking.
  Result<std::vector<at::Tensor>> backward(std::vector<at::Tensor> inputs,
                                           std::vector<at::Tensor> grad_outputs);

  /// As backward(inputs, grad_outputs), without the NaN/Inf pass with kDoneByCaller (see forward).
  Result<std::vector<at::Tensor>> backward(std::vector<at::Tensor> inputs,
                                           std::vector<at::Tensor> grad_outputs,
                                           FiniteCheck finite);

  /// Argument and output schemas (fixed after construction).
  const ExpertSchema& schema() const { return schema_; }

  /// The expert's uid.
  const std::string& uid() const { return uid_; }

  /// Backward passes (optimizer steps) taken so far, restored from a checkpoint.
  std::int64_t update_count() const { return update_count_.load(); }

  /// The learning rate the next step will use (0 with optimizer "none").
  double learning_rate() const;

  /// The device the expert runs on ("cpu", "cuda:0").
  std::string device() const;

  /// Serialized state: parameters and buffers, optimizer state and update count (a
  /// torch::serialize archive, readable by this library only, not by Python's torch.load).
  /// Takes the shared lock, so it never sees half a training step. Errors: kCheckpointError.
  Result<Bytes> state_bytes() const;

  /// Restores state written by state_bytes() of an expert of the same class and size; the
  /// learning rate follows the restored update count. Validates every parameter's name, shape
  /// and dtype before changing anything. Errors: kCheckpointError (corrupt archive, missing or
  /// mismatched tensor, incompatible optimizer state).
  Result<void> load_state_bytes(BytesView data);

  /// state_bytes() written to `path` atomically (temp file in the same folder, fsync, rename).
  Result<void> save_state(const std::filesystem::path& path) const;

  /// load_state_bytes() of the file at `path`. Errors: kCheckpointError naming the file.
  Result<void> load_state(const std::filesystem::path& path);

 private:
  struct Impl;
  double lr_for_step(std::int64_t step) const;

  std::string uid_;
  ExpertSchema schema_;
  std::unique_ptr<Impl> impl_;
  mutable std::shared_mutex mutex_;
  std::atomic<std::int64_t> update_count_{0};
};

}  // namespace hivemind::moe
