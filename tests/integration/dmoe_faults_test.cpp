// RemoteMixtureOfExperts and RemoteSwitchMixtureOfExperts under faults: crashed, hanging, slow and
// lying experts, streams broken mid-way, servers killed between forward and backward. With enough
// answers a step succeeds and equals the local mixture over the experts that answered; otherwise
// it fails with kTooFewExperts naming the failures; no call is left behind.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "dmoe_fake_expert.hpp"
#include "dmoe_faults_fixture.hpp"
#include "dmoe_fixture.hpp"
#include "hivemind/moe/client/remote_expert.hpp"
#include "hivemind/moe/client/switch_moe.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe {
namespace {

using testing::contains;
using testing::expect_matches_local;
using testing::expect_too_few;
using testing::failures_of;
using testing::FakeExpertServer;
using testing::FakeMode;
using testing::honest;
using testing::make_moe;
using testing::Seconds;
using Counts = testing::FakeExpertStats::Counts;

constexpr std::int64_t kHidden = 16;

// 1 + 7: a crashed server's stale records lead to refused calls, masked with k_min = 1 and
// fatal with k_min = 2.
TEST(DmoeFaultsTest, CrashedServerIsMaskedOrTooFew) {
  auto first = testing::start_expert_server({"ffn.0.0"}, kHidden, nullptr);
  auto second = testing::start_expert_server({"ffn.0.1"}, kHidden, first.get());
  ASSERT_TRUE(first && second);
  auto dht = testing::client_dht(*first);
  auto local = testing::local_copy(*first->backends()[0], "ffn", kHidden);
  const net::PeerId dead = second->peer_id();
  second->shutdown();  // withdraws its records; a second DHT declares them again, stale:
  // (not through the client's node: it would keep a local copy of the "ffn.0." dictionary
  // holding only the stale subkey, and its lookups would stop there)
  testing::declare_stale(first->dht(), {"ffn.0.1"}, dead);

  auto moe = make_moe(dht, 2, kHidden, {});
  const at::Tensor x = at::randn({5, kHidden}).requires_grad_(true);
  const at::Tensor y = moe->forward(x);
  const auto report = moe->last_report();
  EXPECT_EQ(report.expert_calls, 2u);
  EXPECT_EQ(report.failed_calls, 1u) << failures_of(report);
  EXPECT_TRUE(contains(failures_of(report), "[ffn.0.1: cannot connect")) << failures_of(report);
  expect_matches_local(moe, x, y, 2, {{"ffn.0.0", [&](const at::Tensor& in) {
                                         return local->forward({in})[0];
                                       }}});
  EXPECT_EQ(first->backends()[0]->update_count(), 1);

  auto strict = make_moe(dht, 2, kHidden, {.k_min = 2});
  expect_too_few([&] { strict->forward(x.detach()); }, {"forward", "needs 2", "ffn.0.1: "});
}

// 2: a hanging expert is cancelled once k_min answered (or at the deadline); its handler sees
// the cancellation.
TEST(DmoeFaultsTest, HangingExpertIsCancelledAndMasked) {
  auto fake = FakeExpertServer::start(
      {{"ffn.0.0", FakeMode::kHonest}, {"ffn.0.1", FakeMode::kHang}}, kHidden);
  ASSERT_TRUE(fake);
  auto dht = testing::client_dht_of(fake->visible_multiaddrs());
  auto moe = make_moe(
      dht, 2, kHidden, {.forward_timeout = Seconds(30), .timeout_after_k_min = Seconds(0.3)});
  const at::Tensor x = at::randn({4, kHidden}).requires_grad_(true);
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor y = moe->forward(x);
  EXPECT_LT(Seconds(std::chrono::steady_clock::now() - start).count(), 10.0)
      << "waited for forward_timeout instead of timeout_after_k_min";
  EXPECT_TRUE(contains(failures_of(moe->last_report()), "[ffn.0.1: no answer before the deadline]"))
      << failures_of(moe->last_report());
  EXPECT_TRUE(fake->stats().wait(
      [](const Counts& c) { return c.in_flight == 0 && c.hung == 1 && c.cancelled == 1; }));
  expect_matches_local(moe, x, y, 2, {{"ffn.0.0", honest("ffn.0.0")}});

  // (the pass's deadline and the call's own, both forward_timeout, race: either reason is right)
  auto strict = make_moe(dht, 2, kHidden, {.k_min = 2, .forward_timeout = Seconds(0.5)});
  expect_too_few([&] { strict->forward(x.detach()); }, {"needs 2", "[ffn.0.1: ", "deadline"});
  EXPECT_TRUE(fake->stats().wait(
      [](const Counts& c) { return c.in_flight == 0 && c.hung == 2 && c.cancelled == 2; }));
}

// 3: slow (nop_delay, 0.5 s) experts are left behind once the fast one answered.
TEST(DmoeFaultsTest, SlowExpertsAreLeftBehind) {
  constexpr double kNopDelaySeconds = 0.5;  // ExpertRegistry::with_builtins: nop_delay
  auto fast = testing::start_expert_server({"ffn.0.0"}, kHidden, nullptr, "none", "nop");
  auto slow = testing::start_expert_server({"ffn.0.1"}, kHidden, fast.get(), "none", "nop_delay");
  ASSERT_TRUE(fast && slow);
  auto dht = testing::client_dht(*fast);
  auto moe = make_moe(dht, 2, kHidden, {.timeout_after_k_min = Seconds(0.02)});
  for (int step = 0; step < 2; ++step) {  // the first step also fetches the schema
    const at::Tensor x = at::randn({3, kHidden});
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor y = moe->forward(x);
    const double took = Seconds(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(at::allclose(y, x, 1e-6, 1e-6));  // nop alone, weight 1
    EXPECT_TRUE(
        contains(failures_of(moe->last_report()), "[ffn.0.1: no answer before the deadline]"))
        << failures_of(moe->last_report());
    if (step == 1) {
      EXPECT_LT(took, kNopDelaySeconds) << "the step waited for the slow expert";
    }
  }
}

// 7: hivemind's test_no_experts: a switch layer whose experts are all dead or hanging returns
// exactly its input (the residual), with finite gradients.
TEST(DmoeFaultsTest, SwitchOverNoWorkingExpertsReturnsTheResidual) {
  auto hanging = FakeExpertServer::start(
      {{"ffn.0.0", FakeMode::kHang}, {"ffn.0.1", FakeMode::kHang}}, kHidden);
  ASSERT_TRUE(hanging);
  auto crashed = FakeExpertServer::start(
      {{"ffn.0.2", FakeMode::kHonest}}, kHidden, hanging->visible_multiaddrs());
  ASSERT_TRUE(crashed);
  crashed->shutdown();  // its records stay
  auto dht = testing::client_dht_of(hanging->visible_multiaddrs());
  client::RemoteSwitchMixtureOfExpertsOptions options;
  options.in_features = kHidden;
  options.grid_size = {1, 3};
  options.uid_prefix = "ffn";
  options.k_best = 3;
  options.fault_tolerance.forward_timeout = Seconds(0.5);
  client::RemoteSwitchMixtureOfExperts moe(options, dht);

  const at::Tensor x = at::randn({4, kHidden}).requires_grad_(true);
  auto [y, balancing_loss] = moe->forward(x);
  EXPECT_TRUE(at::equal(y, x));
  EXPECT_EQ(moe->last_report().failed_calls, 3u) << failures_of(moe->last_report());
  (y.sum() + balancing_loss).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(x.grad().isfinite().all().item<bool>());
  ASSERT_TRUE(moe->proj->weight.grad().defined());
  EXPECT_TRUE(moe->proj->weight.grad().isfinite().all().item<bool>());
  EXPECT_TRUE(hanging->stats().wait(
      [](const Counts& c) { return c.in_flight == 0 && c.hung == 2 && c.cancelled == 2; }));
}

// 8: thirty steps beside a hanging expert leave no handler running after any step, and do not
// get slower step over step.
TEST(DmoeFaultsTest, NoCallIsLeftBehindStepAfterStep) {
  auto fake = FakeExpertServer::start(
      {{"ffn.0.0", FakeMode::kHonest}, {"ffn.0.1", FakeMode::kHang}}, kHidden);
  ASSERT_TRUE(fake);
  auto dht = testing::client_dht_of(fake->visible_multiaddrs());
  auto moe = make_moe(
      dht, 2, kHidden, {.forward_timeout = Seconds(10), .timeout_after_k_min = Seconds(0.02)});
  constexpr int kSteps = 30;
  std::vector<double> seconds;
  for (int step = 1; step <= kSteps; ++step) {
    const at::Tensor x = at::randn({4, kHidden}).requires_grad_(true);
    const auto start = std::chrono::steady_clock::now();
    moe->forward(x).square().sum().backward();
    seconds.push_back(Seconds(std::chrono::steady_clock::now() - start).count());
    ASSERT_TRUE(x.grad().isfinite().all().item<bool>());
    ASSERT_TRUE(fake->stats().wait([step](const Counts& c) {
      return c.in_flight == 0 && c.hung == step && c.cancelled == step;
    })) << "step "
        << step << ": a call is still in flight";
  }
  // One forward to each expert and one backward to the honest one per step, nothing else.
  EXPECT_EQ(fake->stats().counts().calls, 3 * kSteps);
  auto mean = [](auto first, auto last) {
    double sum = 0;
    for (auto it = first; it != last; ++it)
      sum += *it;
    return sum / static_cast<double>(last - first);
  };
  const double early = mean(seconds.begin() + 1, seconds.begin() + 11);
  const double late = mean(seconds.end() - 10, seconds.end());
  EXPECT_LT(late, 2 * early + 0.1) << "steps got slower: " << early << " s -> " << late << " s";
  {  // the same holds for a single RemoteExpert
    client::RemoteExpert expert(ExpertInfo{.uid = "ffn.0.0", .peer_id = fake->peer_id()}, dht);
    const at::Tensor x = at::randn({2, kHidden}).requires_grad_(true);
    expert->forward({x})[0].sum().backward();
    EXPECT_TRUE(at::allclose(x.grad(), at::full_like(x, testing::fake_factor("ffn.0.0"))));
  }
  // Once the caller lets go of the layer, nothing (no cycle through the steps' autograd graphs)
  // keeps its machinery and the client's DHT alive.
  const std::weak_ptr<dht::DHT> client = dht;
  dht.reset();
  moe = nullptr;
  EXPECT_TRUE(client.expired()) << "the layer leaked (a reference cycle through autograd?)";
}

}  // namespace
}  // namespace hivemind::moe
