// RemoteSwitchMixtureOfExperts and the coroutine form of RemoteMixtureOfExperts against in-process
// expert servers.
#include <thread>

#include <ATen/ATen.h>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <gtest/gtest.h>

#include "dmoe_fixture.hpp"
#include "hivemind/moe/client/remote_moe.hpp"
#include "hivemind/moe/client/switch_moe.hpp"

namespace hivemind::moe {
namespace {

using client::RemoteMixtureOfExperts;
using client::RemoteMixtureOfExpertsOptions;
using client::RemoteSwitchMixtureOfExperts;
using client::RemoteSwitchMixtureOfExpertsOptions;
using testing::client_dht;
using testing::local_copy;
using testing::start_expert_server;

constexpr std::int64_t kHidden = 8;

TEST(DmoeSwitchTest, OutputIsTheInputPlusTheTopExpertWeightedByItsProbability) {
  auto server = start_expert_server({"ffn.0", "ffn.1", "ffn.2", "ffn.3"}, kHidden, nullptr);
  ASSERT_TRUE(server);
  auto dht = client_dht(*server);
  std::vector<std::shared_ptr<ExpertModule>> experts;
  for (const auto& backend : server->backends())
    experts.push_back(local_copy(*backend, "ffn", kHidden));

  RemoteSwitchMixtureOfExpertsOptions options;
  options.in_features = kHidden;
  options.grid_size = {4};
  options.uid_prefix = "ffn";
  RemoteSwitchMixtureOfExperts moe(options, dht);
  moe->eval();  // no jitter, no grid dropout, no utilization update

  const at::Tensor x = at::randn({5, kHidden});
  auto [y, loss] = moe->forward(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  const at::Tensor p = at::softmax(moe->proj->forward(x), 1);
  for (std::int64_t b = 0; b < x.size(0); ++b) {
    const std::int64_t top = p[b].argmax().item<std::int64_t>();
    const at::Tensor expected =
        x[b]
        + p[b][top] * experts[static_cast<std::size_t>(top)]->forward({x.slice(0, b, b + 1)})[0][0];
    EXPECT_TRUE(at::allclose(y[b], expected, 1e-5, 1e-5)) << "sample " << b;
  }
  // balancing loss = mean(p.mean(0) * utilization) * 4^2, utilization still 1/4 each
  EXPECT_NEAR(loss.item<double>(), (p.mean(0) * 0.25).mean().item<double>() * 16, 1e-6);

  moe->train();
  const at::Tensor before = moe->grid_utilization.clone();
  auto [y2, loss2] = moe->forward(x);
  EXPECT_FALSE(at::equal(before, moe->grid_utilization));
  EXPECT_NEAR(moe->grid_utilization.sum().item<double>(), 1.0, 1e-6);  // stays a distribution
  (y2.sum() + loss2).backward();
  EXPECT_TRUE(moe->proj->weight.grad().defined());
  EXPECT_GT(moe->proj->weight.grad().abs().sum().item<double>(), 0);
}

TEST(DmoeAsyncTest, ForwardAsyncOnAnotherExecutorEqualsTheBlockingForward) {
  auto server = start_expert_server({"ffn.0.0", "ffn.0.1", "ffn.1.0"}, kHidden, nullptr);
  ASSERT_TRUE(server);
  auto dht = client_dht(*server);
  RemoteMixtureOfExpertsOptions options;
  options.in_features = kHidden;
  options.grid_size = {2, 2};
  options.uid_prefix = "ffn";
  options.k_best = 2;
  RemoteMixtureOfExperts moe(options, dht);

  const at::Tensor x = at::randn({4, kHidden});
  const at::Tensor blocking = moe->forward(x);
  asio::io_context io;
  auto future = asio::co_spawn(io, moe->forward_async(x), asio::use_future);
  io.run();
  const at::Tensor async = future.get();
  EXPECT_TRUE(at::allclose(async, blocking, 1e-6, 1e-6));
  async.sum().backward();  // the autograd graph is the same
  EXPECT_GT(moe->proj->weight.grad().abs().sum().item<double>(), 0);
}

}  // namespace
}  // namespace hivemind::moe
