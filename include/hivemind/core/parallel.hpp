#pragma once
/// \file
/// `for_each_concurrently`: structured fan-out of coroutines on the caller's executor.

#include <cstddef>
#include <functional>

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace hivemind {

/// Runs `fn(i)` (returning `asio::awaitable<void>`) for every i in [begin, end) concurrently on
/// the caller's executor and completes when all have completed. Cancelling the caller cancels
/// every running `fn`; an exception thrown by one cancels the others and is rethrown. The tasks
/// form a balanced binary tree of `&&` groups, so any count works. `fn` lives in this coroutine's
/// frame until all tasks are done, so a lambda may capture by reference whatever outlives the
/// call.
template <class Fn>
asio::awaitable<void> for_each_concurrently(std::size_t begin, std::size_t end, Fn fn) {
  if (begin >= end) co_return;
  if (end - begin == 1) {
    co_await fn(begin);
    co_return;
  }
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  const std::size_t middle = begin + (end - begin) / 2;
  co_await (for_each_concurrently(begin, middle, std::ref(fn)) &&
            for_each_concurrently(middle, end, std::ref(fn)));
}

}  // namespace hivemind
