#include "testutil/net_test.hpp"

#include <exception>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace hivemind::testing {

std::shared_ptr<net::Host> NetTest::make_host(net::HostOptions options) {
  if (options.listen_addrs.empty()) {
    options.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
  }
  auto host = net::Host::create(io_.get_executor(), std::move(options));
  hosts_.push_back(host);
  auto listening = host->listen();
  EXPECT_TRUE(listening) << listening.error().message();
  return host;
}

void NetTest::run(std::function<asio::awaitable<void>()> body, std::chrono::seconds limit) {
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        try {
          co_await body();
        } catch (...) {
          failure = std::current_exception();
        }
        for (auto& host : hosts_)
          co_await host->stop();
        finished = true;
      },
      asio::detached);
  io_.run_for(limit);
  if (!finished) {
    ADD_FAILURE() << "test body did not finish within " << limit.count() << " s";
    // Stop the hosts anyway so that nothing dangles, then drain.
    io_.restart();
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          for (auto& host : hosts_)
            co_await host->stop();
        },
        asio::detached);
    io_.run_for(std::chrono::seconds(10));
  }
  hosts_.clear();
  if (failure)
    std::rethrow_exception(failure);
}

asio::awaitable<void> echo_handler(std::shared_ptr<net::Stream> stream) {
  Bytes buffer;
  while (true) {
    buffer.clear();
    auto n = co_await stream->read_some(buffer, 64 * 1024);
    if (!n || *n == 0)
      break;
    if (!co_await stream->write(buffer))
      co_return;
  }
  (void)stream->close_write();
}

asio::awaitable<bool> wait_until(std::function<bool()> condition, std::chrono::milliseconds limit) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline)
      co_return false;
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return true;
}

}  // namespace hivemind::testing
