#pragma once
/// \file
/// `with_timeout`: races a coroutine against a timer; the loser is cancelled.

#include <chrono>

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "hivemind/core/error.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind {

/// Runs `op`; if it has not finished after `timeout`, cancels it (terminal cancellation reaches
/// the operation it is suspended in) and returns CoreErrc::kTimeout. Runs on the caller's
/// executor; `op` must not ignore cancellation for long or the timeout is late by as much.
template <typename T>
asio::awaitable<Result<T>> with_timeout(asio::awaitable<Result<T>> op,
                                        std::chrono::steady_clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  // as_tuple: the losing timer completes with operation_aborted as a value, not an exception
  // (an exception per call cost more than the rest of a unary RPC).
  auto winner = co_await (std::move(op) ||
                          timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
  if (winner.index() == 0)
    co_return std::move(std::get<0>(winner));
  co_return Err(CoreErrc::kTimeout);
}

}  // namespace hivemind
