// RemoteExpert and RemoteMixtureOfExperts against expert servers in this process: results and
// gradients equal a local computation with the same experts.
#include <algorithm>
#include <map>
#include <system_error>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include "dmoe_fixture.hpp"
#include "hivemind/moe/client/remote_expert.hpp"
#include "hivemind/moe/client/remote_moe.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe {
namespace {

using client::RemoteExpert;
using client::RemoteMixtureOfExperts;
using client::RemoteMixtureOfExpertsOptions;
using testing::client_dht;
using testing::local_copy;
using testing::start_expert_server;

constexpr std::int64_t kHidden = 16;

TEST(DmoeRemoteExpertTest, ForwardAndBackwardMatchTheLocalExpert) {
  auto server = start_expert_server({"ffn.0", "ffn.1"}, kHidden, nullptr);
  ASSERT_TRUE(server);
  auto dht = client_dht(*server);
  ASSERT_TRUE(dht);
  RemoteExpert expert(ExpertInfo{.uid = "ffn.1", .peer_id = server->peer_id()}, dht);
  auto local = local_copy(*server->backends()[1], "ffn", kHidden);

  EXPECT_EQ(expert->schema(), server->backends()[1]->schema());
  const at::Tensor x = at::randn({3, kHidden}).requires_grad_(true);
  auto outputs = expert->forward({x});
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].sizes(), (std::vector<std::int64_t>{3, kHidden}));
  const at::Tensor x_local = x.detach().clone().requires_grad_(true);
  const at::Tensor expected = local->forward({x_local})[0];
  EXPECT_TRUE(at::allclose(outputs[0], expected, 1e-5, 1e-5));
  // hivemind's test_remote_module_call: expert(x[1:]) == expert(x)[1:]
  EXPECT_TRUE(at::allclose(
      expert->forward({x.detach().slice(0, 1)})[0], outputs[0].slice(0, 1), 1e-5, 1e-5));

  const at::Tensor grad = at::randn({3, kHidden});
  (outputs[0] * grad).sum().backward();
  (expected * grad).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0);
  EXPECT_TRUE(at::allclose(x.grad(), x_local.grad(), 1e-5, 1e-5));
  EXPECT_EQ(server->backends()[1]->update_count(), 1);
}

TEST(DmoeRemoteExpertTest, ServerErrorsReachTheCallerAndTheServerKeepsServing) {
  auto server = start_expert_server({"ffn.0"}, kHidden, nullptr);
  ASSERT_TRUE(server);
  auto dht = client_dht(*server);
  RemoteExpert expert(ExpertInfo{.uid = "ffn.0", .peer_id = server->peer_id()}, dht);
  try {
    expert->forward({at::randn({2, 11})});
    FAIL() << "a wrong width must fail";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("11"), std::string::npos) << e.what();
  }
  RemoteExpert missing(ExpertInfo{.uid = "ffn.9", .peer_id = server->peer_id()}, dht);
  EXPECT_THROW(missing->forward({at::randn({2, kHidden})}), std::system_error);
  EXPECT_EQ(expert->forward({at::randn({2, kHidden})})[0].size(0), 2);
}

// The expected mixture output for `x`, computed locally: the k best experts of each sample by
// the same gating scores, softmax-weighted.
at::Tensor local_mixture(const at::Tensor& scores,
                         const at::Tensor& x,
                         const std::map<std::string, std::shared_ptr<ExpertModule>>& experts,
                         std::size_t k_best) {
  std::vector<at::Tensor> rows;
  for (std::int64_t b = 0; b < x.size(0); ++b) {
    std::vector<std::pair<double, std::string>> ranked;
    std::map<std::string, at::Tensor> logit;
    for (const auto& [uid, module] : experts) {
      const int i = uid[4] - '0';
      const int j = uid[6] - '0';
      logit[uid] = scores[b][i] + scores[b][2 + j];
      ranked.emplace_back(logit[uid].item<double>(), uid);
    }
    std::sort(ranked.rbegin(), ranked.rend());
    std::vector<at::Tensor> logits;
    std::vector<at::Tensor> outputs;
    for (std::size_t e = 0; e < k_best; ++e) {
      logits.push_back(logit[ranked[e].second]);
      outputs.push_back(experts.at(ranked[e].second)->forward({x.slice(0, b, b + 1)})[0][0]);
    }
    const at::Tensor w = at::softmax(at::stack(logits), 0);
    rows.push_back((w.unsqueeze(1) * at::stack(outputs)).sum(0));
  }
  return at::stack(rows);
}

TEST(DmoeMixtureTest, ForwardAndBackwardMatchALocalMixtureOfTheSameExperts) {
  auto first = start_expert_server({"ffn.0.0", "ffn.0.1"}, kHidden, nullptr);
  ASSERT_TRUE(first);
  auto second = start_expert_server({"ffn.1.0", "ffn.1.1"}, kHidden, first.get());
  ASSERT_TRUE(second);
  auto dht = client_dht(*first);
  std::map<std::string, std::shared_ptr<ExpertModule>> experts;
  for (const auto* server : {first.get(), second.get()})
    for (const auto& backend : server->backends())
      experts[backend->uid()] = local_copy(*backend, "ffn", kHidden);

  RemoteMixtureOfExpertsOptions options;
  options.in_features = kHidden;
  options.grid_size = {2, 2};
  options.uid_prefix = "ffn";
  options.k_best = 3;
  RemoteMixtureOfExperts moe(options, dht);

  const at::Tensor x = at::randn({6, kHidden}).requires_grad_(true);
  const at::Tensor y = moe->forward(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  EXPECT_EQ(moe->last_report().failed_calls, 0u);
  EXPECT_EQ(moe->last_report().expert_calls, 4u);  // one call per expert, not per sample

  const at::Tensor x_local = x.detach().clone().requires_grad_(true);
  const at::Tensor y_local = local_mixture(moe->proj->forward(x_local), x_local, experts, 3);
  EXPECT_TRUE(at::allclose(y, y_local, 1e-5, 1e-5)) << (y - y_local).abs().max();

  const at::Tensor grad = at::randn_like(y);
  (y * grad).sum().backward();
  const at::Tensor x_grad = x.grad().clone();
  const at::Tensor proj_grad = moe->proj->weight.grad().clone();
  moe->proj->weight.mutable_grad().zero_();
  (y_local * grad).sum().backward();
  EXPECT_TRUE(at::allclose(x_grad, x_local.grad(), 1e-5, 1e-5))
      << (x_grad - x_local.grad()).abs().max();
  EXPECT_TRUE(at::allclose(proj_grad, moe->proj->weight.grad(), 1e-5, 1e-5));
  std::int64_t updates = 0;
  for (const auto* server : {first.get(), second.get()})
    for (const auto& backend : server->backends())
      updates += backend->update_count();
  EXPECT_EQ(updates, 4);  // every expert received its gradients once
}

TEST(DmoeMixtureTest, NothingDeclaredUnderThePrefixIsAClearError) {
  auto server = start_expert_server({"ffn.0.0"}, kHidden, nullptr);
  ASSERT_TRUE(server);
  auto dht = client_dht(*server);
  RemoteMixtureOfExpertsOptions options;
  options.in_features = kHidden;
  options.grid_size = {2, 2};
  options.uid_prefix = "other";
  options.k_best = 2;
  RemoteMixtureOfExperts moe(options, dht);
  try {
    moe->forward(at::randn({2, kHidden}));
    FAIL() << "no experts under the prefix must fail";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), make_error_code(MoeErrc::kNoExpertsFound)) << e.what();
  }
}

}  // namespace
}  // namespace hivemind::moe
