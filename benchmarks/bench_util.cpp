// hm-bench-net: result lines, statistics, the loopback harness and host setup.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include <fmt/format.h>

#include "bench_net.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::bench {
double median(std::vector<double> values) {
  return percentile(std::move(values), 0.5);
}

double percentile(std::vector<double> values, double q) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Loopback::Loopback(bool two_threads) : two_threads_(two_threads) {
  if (two_threads_) {
    work_.emplace(server_io_.get_executor());
    server_thread_ = std::thread([this] { server_io_.run(); });
  }
}

Loopback::~Loopback() {
  if (two_threads_) {
    work_.reset();
    server_io_.stop();  // stop any leftover (already cancelled) work
    server_thread_.join();
  }
}

std::string Loopback::setup() const {
  return two_threads_ ? "server_thread" : "one_thread";
}

asio::any_io_executor Loopback::server_executor() {
  return two_threads_ ? server_io_.get_executor() : client_io_.get_executor();
}

void Loopback::run_client(std::function<asio::awaitable<void>()> task) {
  // A plain handler runs on client_io_ itself (use_future would complete on asio's system
  // executor, another thread, while this thread sleeps in run_one()).
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(client_io_, std::move(task), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  while (!done) {
    if (client_io_.stopped())
      client_io_.restart();
    client_io_.run_one();
  }
  if (failure)
    std::rethrow_exception(failure);
}

void Loopback::run_server(std::function<asio::awaitable<void>()> task) {
  if (!two_threads_) {
    run_client(std::move(task));
    return;
  }
  asio::co_spawn(server_io_, std::move(task), asio::use_future).get();
}

Result<HostPair> start_hosts(Loopback& loop,
                             net::Security security,
                             std::function<void(net::Host&)> serve,
                             std::uint32_t receive_window) {
  HostPair pair;
  Result<void> listening = ok();
  net::Multiaddr server_addr;
  loop.run_server([&]() -> asio::awaitable<void> {
    net::HostOptions options;
    options.security.assign(1, security);
    if (receive_window != 0)
      options.yamux.receive_window = receive_window;
    options.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
    pair.server = net::Host::create(loop.server_executor(), std::move(options));
    listening = pair.server->listen();
    if (listening && serve)
      serve(*pair.server);
    if (listening)
      server_addr = pair.server->visible_addrs().front();
    co_return;
  });
  if (!listening) {
    stop_hosts(loop, pair);
    return Err(listening.error());
  }
  Result<net::PeerId> connected = Err(net::NetErrc::kCancelled);
  loop.run_client([&]() -> asio::awaitable<void> {
    net::HostOptions options;
    options.security.assign(1, security);
    if (receive_window != 0)
      options.yamux.receive_window = receive_window;
    pair.client = net::Host::create(loop.client_executor(), std::move(options));
    connected = co_await pair.client->connect(server_addr);
  });
  if (!connected) {
    stop_hosts(loop, pair);
    return Err(connected.error());
  }
  return pair;
}

void stop_hosts(Loopback& loop, HostPair& pair) {
  if (pair.client) {
    loop.run_client([&]() -> asio::awaitable<void> { co_await pair.client->stop(); });
    pair.client.reset();
  }
  if (pair.server) {
    loop.run_server([&]() -> asio::awaitable<void> { co_await pair.server->stop(); });
    pair.server.reset();
  }
}

}  // namespace hivemind::bench
