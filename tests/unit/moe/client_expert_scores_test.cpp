// Gating arithmetic of the mixture layers (hivemind's test_compute_expert_scores and more).
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "client/expert_scores.hpp"

namespace hivemind::moe::client {
namespace {

ScoredExpert expert_at(int i, int j) {
  return ScoredExpert{
      .info = ExpertInfo{.uid = "expert." + std::to_string(i) + "." + std::to_string(j),
                         .peer_id = net::PeerId::from_string(
                                        "12D3KooWD9dVpuH1GojqbGv6tCyshpxRFtL6pSuLmsFfgXqwsdCy")
                                        .value()},
      .coordinates = {i, j},
      .score = 0};
}

TEST(ExpertScoresTest, SumOfGridScoresForRaggedChoicesWithGradients) {
  const at::Tensor gx = at::randn({3, 5}).requires_grad_(true);
  const at::Tensor gy = at::randn({3, 4}).requires_grad_(true);
  const ChosenExperts chosen = {{expert_at(0, 1), expert_at(4, 3)}, {}, {expert_at(2, 0)}};
  const at::Tensor logits = compute_expert_scores({gx, gy}, chosen, 2, ScoreCombine::kSum);
  ASSERT_EQ(logits.sizes(), (std::vector<std::int64_t>{3, 2}));
  EXPECT_FLOAT_EQ(logits[0][0].item<float>(), (gx[0][0] + gy[0][1]).item<float>());
  EXPECT_FLOAT_EQ(logits[0][1].item<float>(), (gx[0][4] + gy[0][3]).item<float>());
  EXPECT_FLOAT_EQ(logits[2][0].item<float>(), (gx[2][2] + gy[2][0]).item<float>());
  EXPECT_TRUE(std::isinf(logits[1][0].item<float>()) && logits[1][0].item<float>() < 0);
  EXPECT_TRUE(std::isinf(logits[2][1].item<float>()));

  at::where(at::isfinite(logits), logits, at::zeros_like(logits)).sum().backward();
  EXPECT_EQ(gx.grad().sum().item<float>(), 3.0F);  // one per chosen expert
  EXPECT_EQ(gx.grad()[0][4].item<float>(), 1.0F);
  EXPECT_EQ(gy.grad()[2][0].item<float>(), 1.0F);
  EXPECT_EQ(gy.grad()[1].abs().sum().item<float>(), 0.0F);
}

TEST(ExpertScoresTest, ProductOfProbabilitiesPadsWithZero) {
  const at::Tensor px = at::softmax(at::randn({1, 3}), 1);
  const at::Tensor py = at::softmax(at::randn({1, 3}), 1);
  const at::Tensor p =
      compute_expert_scores({px, py}, {{expert_at(1, 2)}}, 2, ScoreCombine::kProduct);
  EXPECT_FLOAT_EQ(p[0][0].item<float>(), (px[0][1] * py[0][2]).item<float>());
  EXPECT_EQ(p[0][1].item<float>(), 0.0F);
}

TEST(ExpertScoresTest, WeightsAreASoftmaxOverAnsweredSlotsAndZeroWithoutAnswers) {
  const at::Tensor logits = at::tensor({1.0F, 2.0F, 3.0F, 0.5F, 0.5F, 0.5F}).view({2, 3});
  const at::Tensor mask = at::tensor({1, 0, 1, 0, 0, 0}).view({2, 3}).to(at::kBool);
  const at::Tensor leaf = logits.clone().requires_grad_(true);
  const at::Tensor w = mixture_weights(leaf, mask);
  const float e1 = std::exp(1.0F);
  const float e3 = std::exp(3.0F);
  EXPECT_NEAR(w[0][0].item<float>(), e1 / (e1 + e3), 1e-6);
  EXPECT_EQ(w[0][1].item<float>(), 0.0F);
  EXPECT_NEAR(w[0][2].item<float>(), e3 / (e1 + e3), 1e-6);
  EXPECT_EQ(w[1].abs().sum().item<float>(), 0.0F);  // hivemind gives NaN here
  (w * at::randn({2, 3})).sum().backward();
  EXPECT_TRUE(at::isfinite(leaf.grad()).all().item<bool>());
}

TEST(ExpertScoresTest, WeightedSumAndGatingInput) {
  const at::Tensor w = at::tensor({0.25F, 0.75F}).view({1, 2});
  const at::Tensor out = at::tensor({4.0F, 8.0F, 0.0F, 4.0F}).view({1, 2, 2});
  const at::Tensor y = weighted_sum(w, out);
  EXPECT_TRUE(at::allclose(y, at::tensor({1.0F, 5.0F}).view({1, 2})));
  const at::Tensor x = at::randn({2, 3, 4, 5});
  EXPECT_TRUE(at::allclose(gating_input(x), x.mean({1, 2})));
  EXPECT_TRUE(gating_input(w).is_same(w));
}

}  // namespace
}  // namespace hivemind::moe::client
