#pragma once
// Shared fixture of the RPC integration tests (net_rpc_test.cpp, net_rpc_streaming_test.cpp):
// a server host with echo, slow and streaming-echo handlers, a client host, and event counters
// that coroutines await with deadlines (no sleeps).
#include <chrono>
#include <memory>
#include <string>

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "hivemind/core/async_signal.hpp"
#include "hivemind/core/timeout.hpp"
#include "hivemind/net/rpc.hpp"
#include "testutil/net_test.hpp"

namespace hivemind::net::rpc_test {

using namespace std::chrono_literals;

inline constexpr char kEcho[] = "EchoServicer.rpc_echo";
inline constexpr char kSlow[] = "EchoServicer.rpc_slow";
inline constexpr char kStream[] = "EchoServicer.rpc_stream";

/// Counts events and lets a coroutine wait, with a deadline, until enough have happened.
/// Shared by handlers and the test body through shared_ptr (handlers may outlive the body).
struct Events {
  explicit Events(const asio::any_io_executor& executor) : signal(executor) {}

  void add() {
    ++count;
    signal.notify_all();
  }

  /// True once `n` events happened; false if `limit` passed first.
  asio::awaitable<bool> wait_for(int n, std::chrono::milliseconds limit = 10s) {
    auto reached = co_await with_timeout(until(n), limit);
    co_return reached.has_value();
  }

  asio::awaitable<Result<void>> until(int n) {
    while (count < n)
      co_await signal.wait();
    co_return ok();
  }

  AsyncSignal signal;
  int count = 0;
};

/// Waits on a long timer; records whether the wait was aborted (the handler was cancelled).
inline asio::awaitable<void> wait_long(std::shared_ptr<Events> started,
                                       std::shared_ptr<Events> aborted) {
  started->add();
  asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
  auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (ec == asio::error::operation_aborted)
    aborted->add();
}

inline Bytes filled(std::size_t n, std::uint8_t seed) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>(seed + i * 7);
  return out;
}

/// Two hosts: `server_` with the handlers above (plus what a test adds), `client_` knowing its
/// address. Events: `started_`/`aborted_` for kSlow, `calls_` for kEcho.
class RpcFixture : public testing::NetTest {
 protected:
  /// A server with the standard handlers, and a client that knows its address.
  asio::awaitable<void> make_pair(RpcOptions server_options = {}) {
    server_ = make_host();
    client_ = make_host();
    client_->peer_store().add_addrs(server_->peer_id(), server_->listen_addrs());
    started_ = std::make_shared<Events>(io_.get_executor());
    aborted_ = std::make_shared<Events>(io_.get_executor());
    auto calls = calls_ = std::make_shared<Events>(io_.get_executor());
    const PeerId client_id = client_->peer_id();
    add_unary_handler(
        *server_,
        kEcho,
        [calls, client_id](RpcContext context, Bytes request) -> asio::awaitable<Result<Bytes>> {
          calls->add();
          EXPECT_EQ(context.remote, client_id);
          EXPECT_EQ(context.method, kEcho);
          co_return request;
        },
        server_options);
    add_unary_handler(*server_,
                      kSlow,
                      [started = started_, aborted = aborted_](
                          RpcContext, Bytes) -> asio::awaitable<Result<Bytes>> {
                        co_await wait_long(started, aborted);
                        co_return Bytes{};
                      });
    // Streaming echo: every request back as it arrives, then "done:<count>".
    add_streaming_handler(
        *server_,
        kStream,
        [](RpcContext, RpcStreamReader& in, RpcStreamWriter& out) -> asio::awaitable<Result<void>> {
          int count = 0;
          while (true) {
            HM_CO_TRY(auto request, co_await in.next());
            if (!request)
              break;
            ++count;
            HM_CO_TRY_VOID(co_await out.write(*request));
          }
          co_return co_await out.write(to_bytes("done:" + std::to_string(count)));
        },
        server_options);
    co_return;  // (g++ 12 with -fsanitize=undefined warns on coroutines ending without one)
  }

  std::shared_ptr<Host> server_, client_;
  std::shared_ptr<Events> started_, aborted_, calls_;
};

}  // namespace hivemind::net::rpc_test
