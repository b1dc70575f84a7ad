// hm-bench-net (c): unary RPC latency and call rate over Noise + Yamux, next to a raw TCP
// ping-pong and libp2p ping on one stream (the floor a request/response can reach here).
#include <algorithm>

#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "bench_net.hpp"
#include "hivemind/core/async_signal.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/rpc.hpp"

namespace hivemind::bench {
namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

constexpr char kMethod[] = "Bench.rpc_echo";
constexpr std::size_t kRequestBytes = 64;
constexpr std::size_t kTcpMessage = 64;
constexpr std::size_t kPingBytes = 32;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

/// Echoes fixed-size messages until EOF.
asio::awaitable<void> tcp_echo_server(std::shared_ptr<tcp::acceptor> acceptor) {
  std::error_code ec;
  auto socket = co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
  if (ec)
    co_return;
  socket.set_option(tcp::no_delay(true));
  Bytes buffer(kTcpMessage);
  while (!ec) {
    co_await asio::async_read(
        socket, asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (!ec)
      co_await asio::async_write(
          socket, asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
  }
}

/// p50 round trip of `count` 64-byte ping-pongs over a plain TCP socket.
Result<double> tcp_rtt_p50(Loopback& loop, std::size_t count) {
  auto acceptor = std::make_shared<tcp::acceptor>(
      loop.server_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto endpoint = acceptor->local_endpoint();
  asio::co_spawn(loop.server_executor(), tcp_echo_server(acceptor), asio::detached);
  Result<double> result = Err(net::NetErrc::kCancelled);
  loop.run_client([&]() -> asio::awaitable<void> {
    std::error_code ec;
    tcp::socket socket(loop.client_executor());
    co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec)
      socket.set_option(tcp::no_delay(true), ec);
    Bytes buffer(kTcpMessage, 0x5a);
    std::vector<double> rtts;
    for (std::size_t i = 0; i < count && !ec; ++i) {
      const auto start = Clock::now();
      co_await asio::async_write(
          socket, asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (!ec)
        co_await asio::async_read(
            socket, asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      rtts.push_back(micros(Clock::now() - start));
    }
    if (ec)
      result = Err(ec);
    else
      result = median(rtts);
  });  // the client socket closes here; the server sees EOF and ends
  loop.run_server([acceptor]() -> asio::awaitable<void> {
    acceptor->close();
    co_return;
  });
  return result;
}

/// p50 round trip of `count` pings on one /ipfs/ping/1.0.0 stream (what js-libp2p's test does).
asio::awaitable<Result<double>> ping_rtt_p50(std::shared_ptr<net::Host> client,
                                             net::PeerId server,
                                             std::size_t count) {
  HM_CO_TRY(auto stream, co_await client->new_stream(server, std::string("/ipfs/ping/1.0.0")));
  Bytes payload(kPingBytes, 0x42);
  std::vector<double> rtts;
  for (std::size_t i = 0; i < count; ++i) {
    payload[0] = static_cast<std::uint8_t>(i);
    const auto start = Clock::now();
    HM_CO_TRY_VOID(co_await stream->write(payload));
    Bytes pong;
    HM_CO_TRY_VOID(co_await stream->read_exact(pong, kPingBytes));
    rtts.push_back(micros(Clock::now() - start));
    if (pong != payload)
      co_return Err(net::NetErrc::kProtocolViolation, "wrong pong");
  }
  (void)stream->close_write();
  co_return median(rtts);
}

asio::awaitable<Result<void>> unary_figures(std::shared_ptr<net::Host> client,
                                            net::PeerId server,
                                            const Options& options,
                                            RpcFigures& figures) {
  const Bytes request(kRequestBytes, 0x17);
  const auto timeout = std::chrono::milliseconds(10'000);
  for (std::size_t i = 0; i < options.rpc_warmup; ++i) {
    HM_CO_TRY_VOID(co_await call_unary(*client, server, kMethod, request, timeout));
  }
  std::vector<double> latencies;
  latencies.reserve(options.rpc_calls);
  const auto start = Clock::now();
  for (std::size_t i = 0; i < options.rpc_calls; ++i) {
    const auto t0 = Clock::now();
    HM_CO_TRY(auto reply, co_await call_unary(*client, server, kMethod, request, timeout));
    latencies.push_back(micros(Clock::now() - t0));
    if (reply != request)
      co_return Err(net::NetErrc::kProtocolViolation, "echo reply differs");
  }
  figures.calls_per_s_1 = static_cast<double>(options.rpc_calls) / seconds_since(start);
  figures.p50_us = percentile(latencies, 0.5);
  figures.p99_us = percentile(latencies, 0.99);

  // N concurrent callers share one budget of calls.
  std::size_t issued = 0;
  std::size_t running = options.rpc_concurrency;
  Result<void> failure = ok();
  AsyncSignal finished(client->executor());
  const auto concurrent_start = Clock::now();
  for (std::size_t c = 0; c < options.rpc_concurrency; ++c) {
    asio::co_spawn(
        client->executor(),
        [&]() -> asio::awaitable<void> {
          while (issued < options.rpc_concurrent_calls && failure) {
            ++issued;
            auto reply = co_await call_unary(*client, server, kMethod, request, timeout);
            if (!reply && failure)
              failure = Err(reply.error());
          }
          if (--running == 0)
            finished.notify_all();
        },
        asio::detached);
  }
  while (running > 0)
    co_await finished.wait();
  HM_CO_TRY_VOID(failure);
  figures.calls_per_s_n = static_cast<double>(issued) / seconds_since(concurrent_start);
  co_return ok();
}

}  // namespace

Result<RpcFigures> measure_rpc(Loopback& loop, const Options& options) {
  RpcFigures figures;
  HM_TRY(figures.tcp_rtt_p50_us, tcp_rtt_p50(loop, options.rpc_calls));
  HM_TRY(auto pair, start_hosts(loop, net::Security::kNoise, [](net::Host& host) {
           net::add_unary_handler(
               host, kMethod, [](net::RpcContext, Bytes request) -> asio::awaitable<Result<Bytes>> {
                 co_return request;
               });
         }));
  Result<void> outcome = ok();
  const net::PeerId server = pair.server->peer_id();
  loop.run_client([&]() -> asio::awaitable<void> {
    auto ping = co_await ping_rtt_p50(pair.client, server, options.ping_count);
    if (!ping) {
      outcome = Err(ping.error());
      co_return;
    }
    figures.ping_rtt_p50_us = *ping;
    outcome = co_await unary_figures(pair.client, server, options, figures);
  });
  stop_hosts(loop, pair);
  HM_TRY_VOID(outcome);
  return figures;
}

}  // namespace hivemind::bench
