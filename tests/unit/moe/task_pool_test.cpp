// TaskPool: batching of concurrent submitters, size limits, queue limit, cancellation (handle and
// coroutine adapter), resumption on the caller's executor.

#include <atomic>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "hivemind/moe/error.hpp"
#include "hivemind/moe/runtime.hpp"
#include "task_pool_test_util.hpp"

namespace hivemind::moe {
namespace {

using test::Completed;
using test::rows;
using test::TaskResult;

// Row-wise function with two outputs of different widths: [2x + 1, row sums].
std::vector<at::Tensor> f(const at::Tensor& x) {
  std::vector<at::Tensor> out;
  out.push_back(x * 2 + 1);
  out.push_back(x.sum(1, /*keepdim=*/true));
  return out;
}

struct Recorder {
  std::mutex mutex;
  std::vector<std::int64_t> batch_sizes;

  BatchFunction fn() {
    return [this](std::vector<at::Tensor> batch) -> TaskResult {
      std::lock_guard lock(mutex);
      batch_sizes.push_back(batch.at(0).size(0));
      return f(batch[0]);
    };
  }
};

void expect_rows(const TaskResult& result, const at::Tensor& input) {
  ASSERT_TRUE(result.has_value()) << result.error().message();
  auto expected = f(input);
  ASSERT_EQ(result->size(), 2U);
  EXPECT_TRUE(at::equal((*result)[0], expected[0]));
  EXPECT_TRUE(at::equal((*result)[1], expected[1]));
}

TEST(TaskPool, ConcurrentSubmittersAreMergedIntoOneBatchAndSplitRowWise) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "merge"}, recorder.fn());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 3;
  std::vector<at::Tensor> inputs(kThreads * kPerThread);
  std::vector<Completed> done(kThreads * kPerThread);
  std::vector<std::thread> submitters;
  for (int t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        const int i = t * kPerThread + k;
        inputs[i] = rows(1 + i % 3, 100.0F * static_cast<float>(i));
        pool->submit({inputs[i]}, done[i].callback());
      }
    });
  }
  for (auto& s : submitters)
    s.join();
  Runtime runtime({pool}, RuntimeOptions{});
  runtime.start();
  for (std::size_t i = 0; i < done.size(); ++i)
    expect_rows(done[i].get(), inputs[i]);
  const auto stats = pool->stats();
  EXPECT_EQ(stats.batches, 1U);
  EXPECT_EQ(stats.tasks, 12U);
  EXPECT_EQ(stats.samples, 24U);  // sizes 1,2,3 four times each
  EXPECT_EQ(recorder.batch_sizes, std::vector<std::int64_t>{24});
}

TEST(TaskPool, MaxBatchSizeIsRespectedAndTooLargeTaskRefusedAtOnce) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "max", .max_batch_size = 4},
                                         recorder.fn());
  Completed too_large;
  auto handle = pool->submit({rows(5, 0)}, too_large.callback());
  ASSERT_TRUE(too_large.ready());  // reported before submit returned
  EXPECT_EQ(too_large.get().error(), MoeErrc::kBatchTooLarge);
  EXPECT_FALSE(handle->cancel());

  const std::vector<std::int64_t> sizes = {3, 1, 2, 4, 1};
  std::vector<at::Tensor> inputs;
  std::vector<Completed> done(sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    inputs.push_back(rows(sizes[i], 10.0F * static_cast<float>(i)));
    pool->submit({inputs[i]}, done[i].callback());
  }
  Runtime runtime({pool}, RuntimeOptions{});
  runtime.start();
  for (std::size_t i = 0; i < sizes.size(); ++i)
    expect_rows(done[i].get(), inputs[i]);
  // Whole tasks in queue order, stopping before a task that would not fit.
  EXPECT_EQ(recorder.batch_sizes, (std::vector<std::int64_t>{4, 2, 4, 1}));
  EXPECT_EQ(pool->stats().rejected, 1U);
}

TEST(TaskPool, QueueLimitRefusesWithQueueFullAndKeepsNothing) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(
      TaskPoolOptions{.name = "q", .max_batch_size = 2, .max_queued_samples = 4}, recorder.fn());
  Completed a, b, c;
  pool->submit({rows(2, 0)}, a.callback());
  pool->submit({rows(2, 4)}, b.callback());
  auto big = rows(1, 8);
  pool->submit({big}, c.callback());
  ASSERT_TRUE(c.ready());
  EXPECT_EQ(c.get().error(), MoeErrc::kQueueFull);
  EXPECT_EQ(big.use_count(), 1);  // the refused task's tensor is not retained
  EXPECT_EQ(pool->queued_samples(), 4);
  EXPECT_EQ(pool->stats().rejected, 1U);
  // Default limit: 8 * max_batch_size.
  auto defaults = std::make_shared<TaskPool>(TaskPoolOptions{.max_batch_size = 1}, recorder.fn());
  std::vector<Completed> many(9);
  for (auto& m : many)
    defaults->submit({rows(1, 0)}, m.callback());
  EXPECT_FALSE(many[7].ready());
  ASSERT_TRUE(many[8].ready());
  EXPECT_EQ(many[8].get().error(), MoeErrc::kQueueFull);
}

TEST(TaskPool, MalformedTasksAreRefused) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "bad"}, recorder.fn());
  Completed none, zero, mismatch, scalar;
  pool->submit({}, none.callback());
  pool->submit({rows(0, 0)}, zero.callback());
  pool->submit({rows(2, 0), rows(3, 0)}, mismatch.callback());
  pool->submit({at::ones({})}, scalar.callback());
  EXPECT_EQ(none.get().error(), MoeErrc::kEmptyBatch);
  EXPECT_EQ(zero.get().error(), MoeErrc::kEmptyBatch);
  EXPECT_EQ(mismatch.get().error(), MoeErrc::kSchemaMismatch);
  EXPECT_EQ(scalar.get().error(), MoeErrc::kSchemaMismatch);
  EXPECT_EQ(pool->stats().rejected, 4U);
  EXPECT_FALSE(pool->oldest_waiting().has_value());
  EXPECT_THROW(TaskPool(TaskPoolOptions{.max_batch_size = 2, .min_batch_size = 3}, recorder.fn()),
               std::invalid_argument);
}

TEST(TaskPool, CancelledTaskCompletesWithCancelledAndNeverRuns) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "cancel"}, recorder.fn());
  Completed first, second;
  auto h1 = pool->submit({rows(2, 0)}, first.callback());
  auto input2 = rows(3, 50);
  auto h2 = pool->submit({input2}, second.callback());
  EXPECT_EQ(pool->queued_samples(), 5);
  EXPECT_TRUE(h1->cancel());
  ASSERT_TRUE(first.ready());
  EXPECT_EQ(first.get().error(), MoeErrc::kCancelled);
  EXPECT_FALSE(h1->cancel());
  EXPECT_EQ(pool->queued_samples(), 3);
  Runtime runtime({pool}, RuntimeOptions{});
  runtime.start();
  expect_rows(second.get(), input2);
  EXPECT_FALSE(h2->cancel());  // already ran
  EXPECT_EQ(recorder.batch_sizes, std::vector<std::int64_t>{3});
  EXPECT_EQ(pool->stats().tasks, 1U);
}

TEST(TaskPool, RunResumesOnTheCallersExecutorThread) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "coro"}, recorder.fn());
  Runtime runtime({pool}, RuntimeOptions{});
  runtime.start();
  asio::io_context io;
  auto input = rows(3, 7);
  std::optional<TaskResult> result;
  std::thread::id resumed_on;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto inputs = std::vector<at::Tensor>(1, input);
        result.emplace(co_await pool->run(std::move(inputs)));
        resumed_on = std::this_thread::get_id();
      },
      asio::detached);
  io.run();  // returns only once the coroutine finished: run() keeps the context busy
  ASSERT_TRUE(result.has_value());
  expect_rows(*result, input);
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

TEST(TaskPool, RunIsCancelledWhenTheAwaitingCoroutineLosesARace) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "race"}, recorder.fn());
  asio::io_context io;
  bool timer_won = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io, std::chrono::milliseconds(1));
        auto inputs = std::vector<at::Tensor>(1, rows(2, 0));
        auto winner =
            co_await (pool->run(std::move(inputs)) || timer.async_wait(asio::use_awaitable));
        timer_won = winner.index() == 1;
      },
      asio::detached);
  io.run();  // no runtime yet: the task cannot run before the timer fires
  EXPECT_TRUE(timer_won);
  EXPECT_FALSE(pool->oldest_waiting().has_value());
  EXPECT_EQ(pool->queued_samples(), 0);
  // Started now, the runtime finds nothing: the cancelled task never runs.
  Completed later;
  auto input = rows(1, 3);
  pool->submit({input}, later.callback());
  Runtime runtime({pool}, RuntimeOptions{});
  runtime.start();
  expect_rows(later.get(), input);
  EXPECT_EQ(recorder.batch_sizes, std::vector<std::int64_t>{1});
}

TEST(TaskPool, RunIsCancelledByACancellationSignal) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(TaskPoolOptions{.name = "signal"}, recorder.fn());
  asio::io_context io;
  asio::cancellation_signal signal;
  std::optional<TaskResult> result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto inputs = std::vector<at::Tensor>(1, rows(2, 0));
        result.emplace(co_await pool->run(std::move(inputs)));
      },
      asio::bind_cancellation_slot(signal.slot(), asio::detached));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (!pool->oldest_waiting())  // until the other coroutine has submitted its task
          co_await asio::post(io, asio::use_awaitable);
        signal.emit(asio::cancellation_type::terminal);
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->has_value());
  EXPECT_EQ(result->error(), MoeErrc::kCancelled);
  EXPECT_FALSE(pool->oldest_waiting().has_value());
  EXPECT_TRUE(recorder.batch_sizes.empty());
}

}  // namespace
}  // namespace hivemind::moe
