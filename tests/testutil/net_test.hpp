#pragma once
// Test fixture for networking tests: an io_context driven on the test thread, hosts listening on
// 127.0.0.1 with random ports, and a runner that bounds every test body by a deadline and stops
// every host afterwards (so no coroutine outlives the test).

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <gtest/gtest.h>

#include "hivemind/net/host.hpp"

/// Like ASSERT_TRUE, for coroutines (which cannot `return`).
#define HM_CO_ASSERT(cond)                            \
  do {                                                \
    if (!(cond)) {                                    \
      ADD_FAILURE() << "assertion failed: " << #cond; \
      co_return;                                      \
    }                                                 \
  } while (false)

/// Asserts that a Result holds a value, printing its error otherwise. Evaluates its argument
/// once, so `HM_CO_ASSERT_OK(co_await f())` is fine.
#define HM_CO_ASSERT_OK(expr) HM_CO_ASSERT_OK_IMPL_(expr, HM_CONCAT_(hm_assert_ok_, __LINE__))
#define HM_CO_ASSERT_OK_IMPL_(expr, name)                            \
  auto&& name = (expr);                                              \
  if (!name) {                                                       \
    ADD_FAILURE() << #expr << " failed: " << name.error().message(); \
    co_return;                                                       \
  }                                                                  \
  static_assert(true)

namespace hivemind::testing {

class NetTest : public ::testing::Test {
 protected:
  /// Creates a host listening on /ip4/127.0.0.1/tcp/0 (unless options name addresses); it is
  /// stopped automatically when the test body ends.
  /// (A plain function on purpose: g++ 12 mishandles by-value coroutine parameters initialized
  /// from default arguments.)
  std::shared_ptr<net::Host> make_host(net::HostOptions options = {});
  /// Runs `body` on the io_context, then stops all hosts. Fails the test if it takes longer
  /// than `limit`.
  void run(std::function<asio::awaitable<void>()> body,
           std::chrono::seconds limit = std::chrono::seconds(60));

  asio::io_context io_;
  std::vector<std::shared_ptr<net::Host>> hosts_;
};

/// A stream handler that echoes every byte until the remote closes its side, then closes ours.
asio::awaitable<void> echo_handler(std::shared_ptr<net::Stream> stream);

/// Polls `condition` every millisecond on the current executor until it holds or `limit` passes.
asio::awaitable<bool> wait_until(std::function<bool()> condition,
                                 std::chrono::milliseconds limit = std::chrono::seconds(10));

}  // namespace hivemind::testing
