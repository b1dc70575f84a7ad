// The fault-tolerance timing rules of a mixture call, without I/O.
#include <gtest/gtest.h>

#include "client/response_collector.hpp"

namespace hivemind::moe::client {
namespace {

using Clock = ResponseCollector::Clock;
using std::chrono::milliseconds;

TEST(ResponseCollectorTest, DoneWhenEveryCallFinished) {
  const auto t0 = Clock::now();
  ResponseCollector c({1, 1}, {{0}, {0, 1}}, std::nullopt, std::nullopt, t0);
  EXPECT_EQ(c.deadline(), Clock::time_point::max());
  EXPECT_FALSE(c.done(t0));
  c.on_finished(1, false, t0);
  EXPECT_FALSE(c.done(t0));
  c.on_finished(0, true, t0);
  EXPECT_TRUE(c.done(t0));
  EXPECT_EQ(c.successes(), (std::vector<std::size_t>{1, 0}));
}

TEST(ResponseCollectorTest, TheTotalTimeoutIsADeadline) {
  const auto t0 = Clock::now();
  ResponseCollector c({1}, {{0}}, std::chrono::duration<double>(0.5), std::nullopt, t0);
  EXPECT_EQ(c.deadline(), t0 + milliseconds(500));
  EXPECT_FALSE(c.done(t0 + milliseconds(499)));
  EXPECT_TRUE(c.done(t0 + milliseconds(500)));
}

TEST(ResponseCollectorTest, AfterEverySampleHasKMinTheWaitShrinks) {
  const auto t0 = Clock::now();
  // samples 0 and 1 need 1 answer each; call 0 serves both, calls 1 and 2 one each
  ResponseCollector c({1, 1},
                      {{0, 1}, {0}, {1}},
                      std::chrono::duration<double>(10),
                      std::chrono::duration<double>(0.2),
                      t0);
  c.on_finished(1, true, t0 + milliseconds(100));  // sample 0 served, sample 1 not yet
  EXPECT_EQ(c.deadline(), t0 + std::chrono::seconds(10));
  c.on_finished(2, true, t0 + milliseconds(300));  // now every sample is served
  EXPECT_EQ(c.deadline(), t0 + milliseconds(500));
  EXPECT_FALSE(c.done(t0 + milliseconds(400)));
  EXPECT_TRUE(c.done(t0 + milliseconds(500)));
  // a later answer never extends it
  c.on_finished(0, true, t0 + milliseconds(450));
  EXPECT_TRUE(c.done(t0 + milliseconds(450)));  // all calls finished
}

TEST(ResponseCollectorTest, FailuresDoNotCountTowardsKMin) {
  const auto t0 = Clock::now();
  ResponseCollector c({2}, {{0}, {0}, {0}}, std::nullopt, std::chrono::duration<double>(0), t0);
  c.on_finished(0, false, t0);
  c.on_finished(1, true, t0);
  EXPECT_FALSE(c.done(t0));
  c.on_finished(2, true, t0);
  EXPECT_TRUE(c.done(t0));
  EXPECT_EQ(c.successes()[0], 2u);
}

TEST(ResponseCollectorTest, NothingRequiredWaitsOnlyForTheGracePeriod) {
  const auto t0 = Clock::now();
  ResponseCollector c({0, 0}, {{0}, {1}}, std::nullopt, std::chrono::duration<double>(0.1), t0);
  EXPECT_EQ(c.deadline(), t0 + milliseconds(100));
  // samples without calls need nothing either
  ResponseCollector empty({1, 1}, {}, std::nullopt, std::nullopt, t0);
  EXPECT_TRUE(empty.done(t0));
}

TEST(ResponseCollectorTest, HugeTimeoutsSaturate) {
  const auto t0 = Clock::now();
  ResponseCollector c({1}, {{0}}, std::chrono::duration<double>(1e300), std::nullopt, t0);
  EXPECT_EQ(c.deadline(), Clock::time_point::max());
}

TEST(ResponseCollectorTest, MisuseIsRefused) {
  const auto t0 = Clock::now();
  EXPECT_THROW(ResponseCollector({1}, {{3}}, std::nullopt, std::nullopt, t0),
               std::invalid_argument);
  ResponseCollector c({1}, {{0}}, std::nullopt, std::nullopt, t0);
  c.on_finished(0, true, t0);
  EXPECT_THROW(c.on_finished(0, true, t0), std::invalid_argument);
  EXPECT_THROW(c.on_finished(5, true, t0), std::invalid_argument);
}

}  // namespace
}  // namespace hivemind::moe::client
