#pragma once
// Runs a coroutine to completion on a private io_context in the calling thread: the blocking
// entry points of the client (forward(), backward) are their coroutine forms run this way, so
// every step exists once. Rethrows the coroutine's exception.

#include <exception>
#include <optional>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

namespace hivemind::moe::client {

template <class T>
T run_blocking(asio::awaitable<T> task) {
  asio::io_context io;
  std::optional<T> value;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T v) {
    error = e;
    if (!e)
      value.emplace(std::move(v));
  });
  io.run();
  if (error)
    std::rethrow_exception(error);
  return std::move(*value);
}

}  // namespace hivemind::moe::client
