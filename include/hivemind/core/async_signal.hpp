#pragma once
/// \file
/// `AsyncSignal`: a condition-variable-like wakeup for coroutines on one single-threaded executor.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

namespace hivemind {

/// `co_await wait()` suspends until the next `notify_all()`. Use it as a condition variable:
/// `while (!condition) co_await signal.wait();`. Because the executor is single-threaded, no
/// notification can slip in between the check and the wait. Thread affinity: the executor's
/// thread only. Cancellation of the waiting coroutine (e.g. by TaskGroup::stop) ends the wait;
/// the next `co_await` in that coroutine then throws `operation_aborted`.
class AsyncSignal {
 public:
  explicit AsyncSignal(const asio::any_io_executor& executor)
      : timer_(executor, asio::steady_timer::time_point::max()) {}

  /// Completes at the next notify_all() (or on cancellation).
  asio::awaitable<void> wait();

  /// Wakes every current waiter. Waiters that start waiting afterwards wait for the next call.
  void notify_all() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace hivemind
