#pragma once
// Helpers for the TaskPool / Runtime tests: futures for task completions, a gate and a
// rendezvous that wait on condition variables with a deadline (no sleeps; a broken scheduler
// fails the test instead of hanging it).

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <ATen/ATen.h>

#include "hivemind/moe/task_pool.hpp"

namespace hivemind::moe::test {

using TaskResult = Result<std::vector<at::Tensor>>;
inline constexpr auto kDeadline = std::chrono::seconds(60);

/// A completion that fulfils a future.
struct Completed {
  std::shared_ptr<std::promise<TaskResult>> promise = std::make_shared<std::promise<TaskResult>>();
  std::future<TaskResult> future = promise->get_future();

  TaskCompletion callback() {
    return [p = promise](TaskResult r) {
      p->set_value(std::move(r));
    };
  }

  bool ready() const {
    return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

  /// The result; throws (failing the test) if it does not arrive within kDeadline.
  TaskResult get() {
    if (future.wait_for(kDeadline) != std::future_status::ready)
      throw std::runtime_error("task did not complete before the deadline");
    return future.get();
  }
};

/// `rows` x 2 float rows with distinct values starting at `start`.
inline at::Tensor rows(std::int64_t n, float start) {
  return at::arange(start, start + static_cast<float>(2 * n), at::kFloat).view({n, 2});
}

/// A one-shot gate: wait() blocks until open() (true) or the deadline (false).
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

  bool wait() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kDeadline, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

/// arrive_and_wait() returns true once `count` threads have arrived, false at the deadline.
class Rendezvous {
 public:
  explicit Rendezvous(int count) : count_(count) {}

  bool arrive_and_wait() {
    std::unique_lock lock(mutex_);
    if (--count_ <= 0)
      cv_.notify_all();
    return cv_.wait_for(lock, kDeadline, [this] { return count_ <= 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_;
};

}  // namespace hivemind::moe::test
