// The expert class registry and hivemind's built-in classes with their sample inputs
// (hivemind/moe/server/layers/common.py, dropout.py). Sample inputs are zeros where hivemind uses
// torch.empty (only dtypes and shapes matter); the det_dropout mask is ones (keep everything)
// where hivemind's randint(0, 1) gives all zeros.
#include "hivemind/moe/expert_registry.hpp"

#include <ATen/ATen.h>

#include "builtin_experts.hpp"
#include "hivemind/moe/expert_module.hpp"

namespace hivemind::moe {
namespace {

std::vector<at::Tensor> hidden_sample(std::int64_t batch, std::int64_t h) {
  return {at::zeros({batch, h})};
}

}  // namespace

ExpertRegistry ExpertRegistry::with_builtins() {
  ExpertRegistry registry;
  auto add = [&](std::string name, ExpertClass cls) {
    auto added = registry.add(std::move(name), std::move(cls));
    (void)added;  // the names are distinct
  };
  add("ffn", {.make = make_ffn_expert, .sample_input = hidden_sample});
  add("transformer",
      {.make = make_transformer_expert,
       .sample_input = [](std::int64_t batch, std::int64_t h) -> std::vector<at::Tensor> {
         return {at::zeros({batch, kTransformerSeqLen, h}),
                 at::zeros({batch, kTransformerSeqLen}, at::kBool)};
       }});
  add("det_dropout",
      {.make = make_det_dropout_expert,
       .sample_input = [](std::int64_t batch, std::int64_t h) -> std::vector<at::Tensor> {
         return {at::zeros({batch, h}), at::ones({batch, h}, at::kLong)};
       }});
  add("nop",
      {.make = [](std::int64_t h) { return make_nop_expert(h, 0.0); },
       .sample_input = hidden_sample});
  add("nop_delay",
      {.make = [](std::int64_t h) { return make_nop_expert(h, kNopDelaySeconds); },
       .sample_input = hidden_sample});
  return registry;
}

Result<void> ExpertRegistry::add(std::string name, ExpertClass cls) {
  if (name.empty() || !cls.make || !cls.sample_input)
    return Err(MoeErrc::kBadConfig,
               "expert class '" + name + "' needs a name, make and sample_input");
  if (classes_.contains(name))
    return Err(MoeErrc::kDuplicateExpertClass, "expert class '" + name + "' is already registered");
  classes_.emplace(std::move(name), std::move(cls));
  return {};
}

const ExpertClass* ExpertRegistry::find(std::string_view name) const {
  const auto it = classes_.find(name);
  return it == classes_.end() ? nullptr : &it->second;
}

std::vector<std::string> ExpertRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(classes_.size());
  for (const auto& [name, cls] : classes_)
    out.push_back(name);
  return out;
}

}  // namespace hivemind::moe
