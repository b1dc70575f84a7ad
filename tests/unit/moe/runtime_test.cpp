// Runtime: error propagation, oldest-work-first scheduling across pools, concurrency between
// pools but never within one, min_batch_size, shutdown and the stats report.

#include "hivemind/moe/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>

#include "hivemind/core/log.hpp"
#include "hivemind/moe/error.hpp"
#include "task_pool_test_util.hpp"

namespace hivemind::moe {
namespace {

using test::Completed;
using test::Gate;
using test::Rendezvous;
using test::rows;
using test::TaskResult;

// Identity batch function that appends "<name>:<first value>" to a shared order log.
struct OrderLog {
  std::mutex mutex;
  std::vector<std::string> order;

  BatchFunction fn(std::string name) {
    return [this, name](std::vector<at::Tensor> batch) -> TaskResult {
      std::lock_guard lock(mutex);
      order.push_back(name + ":" + std::to_string(batch[0][0][0].item<float>()));
      return std::vector<at::Tensor>(1, batch[0]);
    };
  }
};

TEST(Runtime, ErrorsAndExceptionsReachEveryTaskOfTheBatchAndServingGoesOn) {
  std::atomic<int> calls{0};
  auto pool = std::make_shared<TaskPool>(
      TaskPoolOptions{.name = "faulty", .max_batch_size = 2},
      [&](std::vector<at::Tensor> batch) -> TaskResult {
        switch (++calls) {
          case 1:
            return Err(MoeErrc::kExpertFailed, "expert says no");
          case 2:
            throw std::runtime_error("expert threw");
          case 3:
            return std::vector<at::Tensor>(1, batch[0].slice(0, 0, 1));  // wrong row count
          case 4:
            return std::vector<at::Tensor>(1, batch[0].view({7}));  // torch throws c10::Error
          default:
            return std::vector<at::Tensor>(1, batch[0] + 1);
        }
      });
  std::vector<Completed> done(9);
  for (auto& d : done)
    pool->submit({rows(1, 0), rows(1, 0)}, d.callback());  // batches of 2 tasks; last one alone
  Runtime runtime({pool}, RuntimeOptions{});
  runtime.start();
  for (int i : {0, 1}) {
    auto r = done[i].get();
    EXPECT_EQ(r.error(), MoeErrc::kExpertFailed);
    EXPECT_EQ(r.error().message(), "expert says no");
  }
  for (int i : {2, 3}) {
    auto r = done[i].get();
    EXPECT_EQ(r.error(), MoeErrc::kExpertFailed);
    EXPECT_EQ(r.error().message(), "expert threw");
  }
  for (int i : {4, 5, 6, 7}) {
    auto r = done[i].get();
    EXPECT_EQ(r.error(), MoeErrc::kExpertFailed);
    if (i < 6)
      EXPECT_NE(r.error().message().find("does not have 2 rows"), std::string::npos);
    else
      EXPECT_EQ(r.error().message().find("frame #"), std::string::npos);  // no torch backtrace
  }
  auto last = done[8].get();
  ASSERT_TRUE(last.has_value()) << last.error().message();
  EXPECT_TRUE(at::equal(last->at(0), rows(1, 0) + 1));
  EXPECT_EQ(pool->stats().batches, 5U);
}

TEST(Runtime, ServesThePoolWithTheOldestWaitingTaskFirst) {
  OrderLog log;
  auto options = [](std::string name) {
    return TaskPoolOptions{.name = std::move(name), .max_batch_size = 1};
  };
  auto a = std::make_shared<TaskPool>(options("a"), log.fn("a"));
  auto b = std::make_shared<TaskPool>(options("b"), log.fn("b"));
  auto c = std::make_shared<TaskPool>(options("c"), log.fn("c"));
  std::vector<Completed> done(6);
  // Queue built before start(): a1 b1 a2 c1 b2 a3 (values name the submission).
  a->submit({rows(1, 1)}, done[0].callback());
  b->submit({rows(1, 2)}, done[1].callback());
  a->submit({rows(1, 3)}, done[2].callback());
  c->submit({rows(1, 4)}, done[3].callback());
  b->submit({rows(1, 5)}, done[4].callback());
  a->submit({rows(1, 6)}, done[5].callback());
  Runtime runtime({c, b, a}, RuntimeOptions{.num_threads = 1});
  runtime.start();
  for (auto& d : done)
    ASSERT_TRUE(d.get().has_value());
  EXPECT_EQ(
      log.order,
      (std::vector<std::string>{
          "a:1.000000", "b:2.000000", "a:3.000000", "c:4.000000", "b:5.000000", "a:6.000000"}));
}

TEST(Runtime, TwoThreadsProcessDifferentPoolsConcurrently) {
  Rendezvous both(2);
  std::atomic<int> met{0};
  auto meeting = [&](std::vector<at::Tensor> batch) -> TaskResult {
    if (both.arrive_and_wait())  // only returns true if the other pool's batch runs meanwhile
      ++met;
    return std::vector<at::Tensor>(1, batch[0]);
  };
  auto a = std::make_shared<TaskPool>(TaskPoolOptions{.name = "a"}, meeting);
  auto b = std::make_shared<TaskPool>(TaskPoolOptions{.name = "b"}, meeting);
  Completed da, db;
  a->submit({rows(1, 0)}, da.callback());
  b->submit({rows(1, 0)}, db.callback());
  Runtime runtime({a, b}, RuntimeOptions{.num_threads = 2});
  runtime.start();
  EXPECT_TRUE(da.get().has_value());
  EXPECT_TRUE(db.get().has_value());
  EXPECT_EQ(met.load(), 2);
}

TEST(Runtime, NeverRunsTwoBatchesOfOnePoolAtOnce) {
  // a1 blocks until b1 has run. a2 is older than b1, so an idle second thread would take a2
  // unless pool a is excluded while busy; b1 checks that a2 has not started.
  Gate release_a;
  std::atomic<int> a_in_flight{0};
  std::atomic<int> a_max_in_flight{0};
  std::atomic<bool> a2_started{false};
  std::atomic<bool> a2_started_before_b1{true};
  auto a = std::make_shared<TaskPool>(TaskPoolOptions{.name = "a", .max_batch_size = 1},
                                      [&](std::vector<at::Tensor> batch) -> TaskResult {
                                        const int now = ++a_in_flight;
                                        a_max_in_flight = std::max(a_max_in_flight.load(), now);
                                        if (batch[0][0][0].item<float>() == 2.0F)
                                          a2_started = true;
                                        else if (!release_a.wait())
                                          throw std::runtime_error("a1 was never released");
                                        --a_in_flight;
                                        return std::vector<at::Tensor>(1, batch[0]);
                                      });
  auto b = std::make_shared<TaskPool>(TaskPoolOptions{.name = "b"},
                                      [&](std::vector<at::Tensor> batch) -> TaskResult {
                                        a2_started_before_b1 = a2_started.load();
                                        release_a.open();
                                        return std::vector<at::Tensor>(1, batch[0]);
                                      });
  Completed a1, a2, b1;
  a->submit({rows(1, 1)}, a1.callback());
  a->submit({rows(1, 2)}, a2.callback());
  b->submit({rows(1, 3)}, b1.callback());
  Runtime runtime({a, b}, RuntimeOptions{.num_threads = 2});
  runtime.start();
  EXPECT_TRUE(a1.get().has_value());
  EXPECT_TRUE(a2.get().has_value());
  EXPECT_TRUE(b1.get().has_value());
  EXPECT_FALSE(a2_started_before_b1.load());
  EXPECT_EQ(a_max_in_flight.load(), 1);
}

TEST(Runtime, PoolWaitsForMinBatchSize) {
  OrderLog log;
  auto a =
      std::make_shared<TaskPool>(TaskPoolOptions{.name = "a", .min_batch_size = 3}, log.fn("a"));
  auto b = std::make_shared<TaskPool>(TaskPoolOptions{.name = "b"}, log.fn("b"));
  Completed a1, a2, a3, b1;
  a->submit({rows(1, 1)}, a1.callback());
  a->submit({rows(1, 2)}, a2.callback());
  b->submit({rows(1, 3)}, b1.callback());
  Runtime runtime({a, b}, RuntimeOptions{.num_threads = 1});
  runtime.start();
  ASSERT_TRUE(b1.get().has_value());
  // One thread, a's tasks are older: had a been ready it would have run before b1.
  EXPECT_EQ(a->stats().batches, 0U);
  EXPECT_FALSE(a1.ready());
  a->submit({rows(1, 4)}, a3.callback());
  ASSERT_TRUE(a1.get().has_value());
  ASSERT_TRUE(a3.get().has_value());
  EXPECT_EQ(a->stats().batches, 1U);
  EXPECT_EQ(a->stats().samples, 3U);
}

TEST(Runtime, StopFailsQueuedTasksWithShuttingDownAndLetsRunningBatchesFinish) {
  Gate entered, release;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "s", .max_batch_size = 1},
                                         [&](std::vector<at::Tensor> batch) -> TaskResult {
                                           entered.open();
                                           if (!release.wait())
                                             throw std::runtime_error("never released");
                                           return std::vector<at::Tensor>(1, batch[0]);
                                         });
  Completed running, queued1, queued2, after;
  pool->submit({rows(1, 0)}, running.callback());
  pool->submit({rows(1, 0)}, queued1.callback());
  pool->submit({rows(1, 0)}, queued2.callback());
  Runtime runtime({pool}, RuntimeOptions{});
  runtime.start();
  ASSERT_TRUE(entered.wait());
  std::thread stopper([&] { runtime.stop(); });
  EXPECT_EQ(queued1.get().error(), MoeErrc::kShuttingDown);
  EXPECT_EQ(queued2.get().error(), MoeErrc::kShuttingDown);
  EXPECT_FALSE(running.ready());
  release.open();
  stopper.join();
  EXPECT_TRUE(running.get().has_value());
  pool->submit({rows(1, 0)}, after.callback());
  EXPECT_EQ(after.get().error(), MoeErrc::kShuttingDown);
  runtime.stop();  // idempotent
  EXPECT_EQ(pool->stats().batches, 1U);
}

TEST(Runtime, StopBeforeStartAndPoolOwnershipRules) {
  OrderLog log;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "p"}, log.fn("p"));
  Completed queued;
  pool->submit({rows(1, 0)}, queued.callback());
  {
    Runtime runtime({pool}, RuntimeOptions{});
    EXPECT_THROW(Runtime({pool}, RuntimeOptions{}), std::invalid_argument);  // already attached
  }                                                                          // destructor stops
  EXPECT_EQ(queued.get().error(), MoeErrc::kShuttingDown);
  EXPECT_TRUE(log.order.empty());
  EXPECT_THROW(Runtime({}, RuntimeOptions{.num_threads = 0}), std::invalid_argument);
}

// Collects formatted log lines and wakes a waiter on each one.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  bool wait_for_line_containing(const std::string& text) {
    std::unique_lock lock(lines_mutex_);
    return cv_.wait_for(lock, test::kDeadline, [&] {
      for (const auto& l : lines_)
        if (l.find(text) != std::string::npos)
          return true;
      return false;
    });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    {
      std::lock_guard lock(lines_mutex_);
      lines_.emplace_back(msg.payload.data(), msg.payload.size());
    }
    cv_.notify_all();
  }

  void flush_() override {}

 private:
  std::mutex lines_mutex_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

TEST(Runtime, ReportsStatsPeriodically) {
  auto sink = std::make_shared<CaptureSink>();
  auto moe_logger = logger("moe");
  moe_logger->sinks().push_back(sink);
  const auto level = moe_logger->level();
  moe_logger->set_level(spdlog::level::info);
  OrderLog log;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "reported_pool"}, log.fn("p"));
  Completed done;
  pool->submit({rows(4, 0)}, done.callback());
  {
    Runtime runtime({pool}, RuntimeOptions{.stats_report_interval = std::chrono::milliseconds(10)});
    runtime.start();
    ASSERT_TRUE(done.get().has_value());
    EXPECT_TRUE(sink->wait_for_line_containing("reported_pool: "));
    EXPECT_TRUE(sink->wait_for_line_containing("mean batch size 4.00"));
  }
  moe_logger->sinks().pop_back();
  moe_logger->set_level(level);
}

}  // namespace
}  // namespace hivemind::moe
