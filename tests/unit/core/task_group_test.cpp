#include "hivemind/core/task_group.hpp"

#include <chrono>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "hivemind/core/async_signal.hpp"
#include "hivemind/core/clock.hpp"
#include "hivemind/core/error.hpp"
#include "hivemind/core/timeout.hpp"

namespace hivemind {
namespace {

using namespace std::chrono_literals;

asio::awaitable<void> sleep_for(std::chrono::milliseconds d, int* finished) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
  ++*finished;
}

TEST(TaskGroup, StopCancelsRunningTasksAndWaitsForThem) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  int finished = 0;
  bool stopped = false;
  for (int i = 0; i < 5; ++i)
    group.spawn(sleep_for(std::chrono::hours(1), &finished));
  EXPECT_EQ(group.size(), 5u);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await group.stop();
        stopped = true;
      },
      asio::detached);
  io.run_for(10s);
  EXPECT_TRUE(stopped);
  EXPECT_EQ(finished, 0);  // cancelled, not completed
  EXPECT_EQ(group.size(), 0u);
  group.spawn(sleep_for(1ms, &finished));  // refused after stop
  EXPECT_EQ(group.size(), 0u);
}

TEST(TaskGroup, WaitIdleReturnsWhenTasksFinish) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  int finished = 0;
  bool idle = false;
  group.spawn(sleep_for(2ms, &finished));
  group.spawn(sleep_for(4ms, &finished));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await group.wait_idle();
        idle = true;
      },
      asio::detached);
  io.run_for(10s);
  EXPECT_TRUE(idle);
  EXPECT_EQ(finished, 2);
}

TEST(AsyncSignal, WakesEveryWaiter) {
  asio::io_context io;
  AsyncSignal signal(io.get_executor());
  int woken = 0;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await signal.wait();
          ++woken;
        },
        asio::detached);
  }
  io.poll();  // all three are now waiting
  EXPECT_EQ(woken, 0);
  signal.notify_all();
  io.poll();
  EXPECT_EQ(woken, 3);
}

TEST(WithTimeout, ReportsTimeoutAndPassesResultsThrough) {
  asio::io_context io;
  std::optional<Result<int>> slow, fast;
  auto value_after = [](std::chrono::milliseconds d, int v) -> asio::awaitable<Result<int>> {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
    co_return v;
  };
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        slow = co_await with_timeout(value_after(std::chrono::hours(1), 1), 5ms);
        fast = co_await with_timeout(value_after(1ms, 2), std::chrono::hours(1));
      },
      asio::detached);
  io.run_for(10s);
  ASSERT_TRUE(slow && fast);
  EXPECT_EQ(slow->error(), CoreErrc::kTimeout);
  EXPECT_EQ(**fast, 2);
}

TEST(ManualClock, MovesOnlyWhenAdvanced) {
  ManualClock clock(1000.0);
  const auto t0 = clock.now();
  EXPECT_EQ(clock.now(), t0);
  clock.advance(1500ms);
  EXPECT_EQ(clock.now() - t0, 1500ms);
  EXPECT_DOUBLE_EQ(clock.unix_seconds(), 1001.5);
}

}  // namespace
}  // namespace hivemind
