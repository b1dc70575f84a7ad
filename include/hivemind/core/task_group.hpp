#pragma once
/// \file
/// `TaskGroup`: owns the coroutines a long-lived component starts, so that shutdown can cancel
/// them all and wait until every one has finished (no coroutine outlives its owner's state).

#include <cstddef>
#include <list>
#include <memory>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/steady_timer.hpp>

namespace hivemind {

/// A set of detached coroutines with cancel-and-wait. Thread affinity: every member function must
/// be called on the (single-threaded) executor the group was created with. Exceptions escaping a
/// task are logged and dropped: tasks should report failures through their own channels.
class TaskGroup {
 public:
  /// `name` appears in log lines about tasks that threw.
  explicit TaskGroup(asio::any_io_executor executor, std::string name = "tasks");
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  /// Precondition: no task is running (call and await `stop()` first). Checked by assert.
  ~TaskGroup();

  /// Starts `task` on the group's executor. After `stop()` began, the task is dropped unstarted.
  void spawn(asio::awaitable<void> task);

  /// Emits terminal cancellation to every running task, then completes when all have finished.
  /// Tasks spawned after this call are refused. Safe to call more than once.
  asio::awaitable<void> stop();

  /// Completes when no task is running (without cancelling anything).
  asio::awaitable<void> wait_idle();

  /// Number of tasks that have started and not finished.
  std::size_t size() const noexcept { return tasks_.size(); }

  bool stopping() const noexcept { return stopping_; }

 private:
  struct Entry {
    asio::cancellation_signal signal;
  };

  void on_task_done(std::list<Entry>::iterator it);

  asio::any_io_executor executor_;
  std::string name_;
  std::list<Entry> tasks_;
  bool stopping_ = false;
  // Waiters on "group became empty": one timer that never expires on its own, cancelled to wake.
  std::shared_ptr<asio::steady_timer> idle_signal_;
};

}  // namespace hivemind
