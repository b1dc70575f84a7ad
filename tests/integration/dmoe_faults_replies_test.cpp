// RemoteMixtureOfExperts against experts that answer wrongly (shapes, NaN, garbage, tensor count,
// batch size), break a streamed reply off after one part, or die between forward and backward:
// the bad answers are masked, or the pass fails with kTooFewExperts naming them.
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "dmoe_fake_expert.hpp"
#include "dmoe_faults_fixture.hpp"

namespace hivemind::moe {
namespace {

using testing::contains;
using testing::expect_matches_local;
using testing::expect_too_few;
using testing::ExpertFn;
using testing::failures_of;
using testing::FakeExpertServer;
using testing::FakeMode;
using testing::honest;
using testing::make_moe;
using testing::Seconds;
using Counts = testing::FakeExpertStats::Counts;

constexpr std::int64_t kHidden = 16;

// 4: every kind of bad reply is dropped (k_min = 1) or named in the error (k_min = 2).
TEST(DmoeFaultsRepliesTest, BadRepliesAreMaskedOrNamed) {
  auto fake = FakeExpertServer::start({{"ffn.0.0", FakeMode::kHonest},
                                       {"ffn.0.1", FakeMode::kWrongShape},
                                       {"ffn.0.2", FakeMode::kNaN},
                                       {"ffn.0.3", FakeMode::kGarbage},
                                       {"ffn.0.4", FakeMode::kWrongCount},
                                       {"ffn.0.5", FakeMode::kWrongBatch}},
                                      kHidden);
  ASSERT_TRUE(fake);
  auto dht = testing::client_dht_of(fake->visible_multiaddrs());
  auto moe = make_moe(dht, 6, kHidden, {});
  const at::Tensor x = at::randn({5, kHidden}).requires_grad_(true);
  const at::Tensor y = moe->forward(x);
  const auto report = moe->last_report();
  const std::string failures = failures_of(report);
  EXPECT_EQ(report.expert_calls, 6u);
  EXPECT_EQ(report.failed_calls, 5u) << failures;
  EXPECT_TRUE(contains(failures, "[ffn.0.1: output 0: expected shape")) << failures;
  EXPECT_TRUE(contains(failures, "[ffn.0.2: ")) << failures;
  EXPECT_TRUE(contains(failures, "[ffn.0.3: reply does not parse")) << failures;
  EXPECT_TRUE(contains(failures, "[ffn.0.4: expected 1 tensors, got 2]")) << failures;
  EXPECT_TRUE(contains(failures, "[ffn.0.5: expected batch size 5, got 6]")) << failures;
  expect_matches_local(moe, x, y, 6, {{"ffn.0.0", honest("ffn.0.0")}});
  EXPECT_EQ(fake->stats().counts().calls, 7);  // six forwards, one backward (the honest one)

  auto strict = make_moe(dht, 6, kHidden, {.k_min = 2});
  expect_too_few([&] { strict->forward(x.detach()); },
                 {"needs 2", "ffn.0.1: ", "ffn.0.2: ", "ffn.0.3: ", "ffn.0.4: ", "ffn.0.5: "});
}

// 5: requests above 2 MiB stream; a reply stream that breaks off after one part (with an error,
// or by the server disconnecting) fails that expert only.
TEST(DmoeFaultsRepliesTest, StreamBrokenMidReplyIsMasked) {
  constexpr std::int64_t kWide = 512;
  constexpr std::int64_t kBatch = 1100;  // 1100 * 512 * 4 bytes = 2.15 MiB per request
  auto fake = FakeExpertServer::start(
      {{"ffn.0.0", FakeMode::kHonest}, {"ffn.0.1", FakeMode::kPartialThenFail}}, kWide);
  ASSERT_TRUE(fake);
  auto doomed = FakeExpertServer::start(
      {{"ffn.0.2", FakeMode::kPartialThenHang}}, kWide, fake->visible_multiaddrs());
  ASSERT_TRUE(doomed);
  auto dht = testing::client_dht_of(fake->visible_multiaddrs());
  auto moe = make_moe(dht, 3, kWide, {.forward_timeout = Seconds(60)});
  const at::Tensor x = at::randn({kBatch, kWide}).requires_grad_(true);

  auto pending = std::async(std::launch::async, [&] { return moe->forward(x); });
  ASSERT_TRUE(doomed->stats().wait([](const Counts& c) { return c.partial_sent == 1; },
                                   std::chrono::seconds(60)));
  doomed->shutdown();  // the connection drops in the middle of the reply
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  const at::Tensor y = pending.get();

  const std::string failures = failures_of(moe->last_report());
  EXPECT_EQ(moe->last_report().failed_calls, 2u) << failures;
  EXPECT_TRUE(contains(failures, "[ffn.0.1: ")) << failures;
  EXPECT_TRUE(contains(failures, "broke off after one part")) << failures;
  EXPECT_TRUE(contains(failures, "[ffn.0.2: ")) << failures;
  EXPECT_FALSE(contains(failures, "no answer before the deadline")) << failures;
  EXPECT_EQ(fake->stats().counts().partial_sent, 1);
  expect_matches_local(moe, x, y, 3, {{"ffn.0.0", honest("ffn.0.0")}});
  EXPECT_TRUE(fake->stats().wait([](const Counts& c) { return c.in_flight == 0 && c.calls == 3; }));
}

// 6: a server killed after forward: with backward_k_min met, its slots get no gradient (its
// output is a constant) and the rest equals the local gradient; with it not met, backward fails.
TEST(DmoeFaultsRepliesTest, ServerKilledBeforeBackward) {
  auto survivor = FakeExpertServer::start({{"ffn.0.0", FakeMode::kHonest}}, kHidden);
  ASSERT_TRUE(survivor);
  auto victim = FakeExpertServer::start(
      {{"ffn.0.1", FakeMode::kHonest}}, kHidden, survivor->visible_multiaddrs());
  ASSERT_TRUE(victim);
  auto dht = testing::client_dht_of(survivor->visible_multiaddrs());
  auto tolerant = make_moe(dht, 2, kHidden, {.k_min = 2, .backward_k_min = 1});
  auto strict = make_moe(dht, 2, kHidden, {.k_min = 2, .backward_k_min = 2});
  const at::Tensor x = at::randn({4, kHidden}).requires_grad_(true);
  const at::Tensor x_strict = x.detach().clone().requires_grad_(true);
  const at::Tensor y = tolerant->forward(x);
  const at::Tensor y_strict = strict->forward(x_strict);
  EXPECT_EQ(tolerant->last_report().failed_calls, 0u);
  victim->shutdown();

  const ExpertFn dead = [f = honest("ffn.0.1")](const at::Tensor& in) {
    return f(in).detach();
  };
  const auto start = std::chrono::steady_clock::now();
  expect_matches_local(tolerant, x, y, 2, {{"ffn.0.0", honest("ffn.0.0")}, {"ffn.0.1", dead}});
  EXPECT_LT(Seconds(std::chrono::steady_clock::now() - start).count(), 20.0)
      << "backward waited for backward_timeout instead of seeing the dead server";
  expect_too_few([&] { y_strict.sum().backward(); }, {"backward", "needs 2", "ffn.0.1: "});
  EXPECT_EQ(survivor->stats().counts().calls, 4);  // two forwards, two backwards
}

}  // namespace
}  // namespace hivemind::moe
