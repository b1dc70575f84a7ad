#include "expert_scores.hpp"

#include <limits>

#include <ATen/ATen.h>

#include "hivemind/core/check.hpp"

namespace hivemind::moe::client {

at::Tensor compute_expert_scores(const std::vector<at::Tensor>& grid,
                                 const ChosenExperts& chosen,
                                 std::int64_t slots,
                                 ScoreCombine combine) {
  HM_CHECK(!grid.empty(), "compute_expert_scores: no grid dimensions");
  const auto device = grid[0].device();
  const auto batch = static_cast<std::int64_t>(chosen.size());
  std::vector<std::int64_t> rows;
  std::vector<std::int64_t> columns;
  std::vector<std::vector<std::int64_t>> coordinates(grid.size());
  for (std::size_t b = 0; b < chosen.size(); ++b) {
    for (std::size_t e = 0; e < chosen[b].size(); ++e) {
      const auto& coords = chosen[b][e].coordinates;
      HM_CHECK(coords.size() == grid.size(), "compute_expert_scores: coordinates per dimension");
      rows.push_back(static_cast<std::int64_t>(b));
      columns.push_back(static_cast<std::int64_t>(e));
      for (std::size_t d = 0; d < grid.size(); ++d)
        coordinates[d].push_back(coords[d]);
    }
  }
  const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor row_index = at::tensor(rows, at::TensorOptions().dtype(at::kLong)).to(device);
  at::Tensor flat;
  for (std::size_t d = 0; d < grid.size(); ++d) {
    const at::Tensor column =
        at::tensor(coordinates[d], at::TensorOptions().dtype(at::kLong)).to(long_options);
    at::Tensor values = grid[d].index({row_index, column});
    if (!flat.defined())
      flat = values;
    else
      flat = combine == ScoreCombine::kSum ? flat + values : flat * values;
  }
  const double padding =
      combine == ScoreCombine::kSum ? -std::numeric_limits<double>::infinity() : 0.0;
  at::Tensor scores = at::full({batch, slots}, padding, grid[0].options());
  if (rows.empty())
    return scores;
  const at::Tensor column_index =
      at::tensor(columns, at::TensorOptions().dtype(at::kLong)).to(device);
  c10::List<c10::optional<at::Tensor>> indices;
  indices.push_back(row_index);
  indices.push_back(column_index);
  return at::index_put(scores, indices, flat);
}

at::Tensor mixture_weights(const at::Tensor& logits, const at::Tensor& mask) {
  const at::Tensor has_answer = mask.any(1, /*keepdim=*/true);
  const at::Tensor masked = logits.masked_fill(~mask, -std::numeric_limits<double>::infinity());
  // Rows without an answer get finite logits (then zero weights), so no NaN reaches autograd.
  const at::Tensor safe = at::where(has_answer, masked, at::zeros_like(masked));
  return at::softmax(safe, 1) * mask.to(logits.scalar_type());
}

at::Tensor weighted_sum(const at::Tensor& weights, const at::Tensor& outputs) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(outputs.dim()), 1);
  shape[0] = weights.size(0);
  shape[1] = weights.size(1);
  return (weights.view(shape).to(outputs.scalar_type()) * outputs).sum(1);
}

at::Tensor gating_input(const at::Tensor& input) {
  HM_CHECK(input.dim() >= 2, "the gating input needs a batch dim and a feature dim");
  if (input.dim() == 2)
    return input;
  std::vector<std::int64_t> dims;
  for (std::int64_t d = 1; d < input.dim() - 1; ++d)
    dims.push_back(d);
  return input.mean(dims);
}

}  // namespace hivemind::moe::client
