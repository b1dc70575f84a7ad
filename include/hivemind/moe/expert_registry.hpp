#pragma once
/// \file
/// Expert classes by name (hivemind's `register_expert_class` / `name_to_block` /
/// `name_to_input`): how to build an expert of a given hidden size and a sample input that
/// defines its argument schema. A registry is a plain value, not global state.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "hivemind/core/result.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe {

class ExpertModule;

/// How to make one kind of expert.
struct ExpertClass {
  /// A freshly initialized expert with hidden size `hidden_dim` (parameters on the CPU, drawn
  /// from torch's global generator). May throw std::invalid_argument for a size the class does
  /// not support (e.g. `transformer` needs a multiple of 16).
  std::function<std::shared_ptr<ExpertModule>(std::int64_t hidden_dim)> make{};
  /// A CPU input of `batch` samples; only its dtypes and shapes matter (they become the
  /// argument schema, as hivemind derives `args_schema` from `name_to_input`).
  std::function<std::vector<at::Tensor>(std::int64_t batch, std::int64_t hidden_dim)>
      sample_input{};
};

/// Expert classes by name. A value type: copy it, add user classes, hand it to a server.
/// Not thread-safe for concurrent `add`; concurrent `find`/`names` are fine.
class ExpertRegistry {
 public:
  /// An empty registry.
  ExpertRegistry() = default;

  /// A registry holding hivemind's built-in classes (layers/common.py, layers/dropout.py):
  ///  * `ffn`: Linear(h,4h), gelu_fast (tanh approximation), Linear(4h,h), then
  ///    LayerNorm(h, eps 1e-12) of input + that; input [B,h] float32.
  ///  * `transformer`: post-norm encoder layer (16 heads, feed-forward 4h, dropout 0.1, gelu_fast,
  ///    LayerNorm eps 1e-5); inputs [B,128,h] float32 and a [B,128] bool key padding mask (true =
  ///    padding); h must be divisible by 16.
  ///  * `det_dropout`: Linear(h,2h)(x*mask/0.8), ReLU, Linear(2h,h); inputs [B,h] float32 and a
  ///    [B,h] int64 keep mask (0/1) passed in by the client, so forward and backward agree.
  ///  * `nop`: returns a copy of its [B,h] input; one empty parameter `w`.
  ///  * `nop_delay`: sleeps 0.5 s, then as `nop`.
  /// Experts are in training mode (dropout active), as hivemind's server leaves them.
  static ExpertRegistry with_builtins();

  /// Registers `cls` under `name`. Errors: kDuplicateExpertClass when the name is taken;
  /// kBadConfig for an empty name or a class missing `make` or `sample_input`.
  Result<void> add(std::string name, ExpertClass cls);

  /// The class named `name`, or nullptr. The pointer is valid until the registry changes.
  const ExpertClass* find(std::string_view name) const;

  /// All registered names, sorted.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, ExpertClass, std::less<>> classes_;
};

}  // namespace hivemind::moe
