// Two peers on loopback, each with its own network thread: the second dials the first by its
// multiaddr, the Noise handshake authenticates both, then they ping, identify, call a unary RPC
// (hivemind 1.x framing) and stream 64 MiB through one Yamux stream.
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include "hivemind/net/host.hpp"
#include "hivemind/net/rpc.hpp"

using hivemind::Bytes;
using hivemind::Result;
namespace net = hivemind::net;

namespace {

/// One host on its own io_context thread, as a real peer would run.
struct Peer {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::shared_ptr<net::Host> host;
  std::thread thread;

  Peer() {
    net::HostOptions options;
    options.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
    host = net::Host::create(io.get_executor(), options);
  }

  /// Starts the network thread (after handlers are registered and listen() was called).
  void start() {
    thread = std::thread([this] { io.run(); });
  }

  /// Runs `task` on this peer's network thread and waits for its result.
  template <typename T>
  T run(asio::awaitable<T> task) {
    return asio::co_spawn(io, std::move(task), asio::use_future).get();
  }

  void shutdown() {
    run([](std::shared_ptr<net::Host> h) -> asio::awaitable<int> {
      co_await h->stop();
      co_return 0;
    }(host));
    work.reset();
    thread.join();
  }
};

asio::awaitable<Result<Bytes>> greet(net::RpcContext context, Bytes request) {
  std::string reply = "hello " + std::string(request.begin(), request.end()) + ", you are "
                      + context.remote.to_string();
  co_return Bytes(reply.begin(), reply.end());
}

asio::awaitable<void> count_bytes(std::shared_ptr<net::Stream> stream) {
  Bytes buffer;
  std::uint64_t total = 0;
  while (true) {
    buffer.clear();
    auto n = co_await stream->read_some(buffer, 256 * 1024);
    if (!n || *n == 0)
      break;
    total += *n;
  }
  Bytes answer;
  hivemind::append_be<std::uint64_t>(answer, total);
  if (co_await stream->write(answer))
    (void)stream->close_write();
}

asio::awaitable<int> client_main(std::shared_ptr<net::Host> client, net::Multiaddr server_addr) {
  auto server = co_await client->connect(server_addr);
  if (!server) {
    std::printf("connect failed: %s\n", server.error().message().c_str());
    co_return 1;
  }
  std::printf("connected, authenticated server as %s\n", server->to_string().c_str());
  if (auto rtt = co_await client->ping(*server)) {
    std::printf("ping: %lld us\n", static_cast<long long>(rtt->count()));
  }
  if (auto info = co_await client->identify(*server)) {
    std::printf(
        "identify: agent %s, %zu protocols\n", info->agent_version.c_str(), info->protocols.size());
  }
  const std::string name = "demo";
  auto reply = co_await net::call_unary(
      *client, *server, "Demo.rpc_greet", Bytes(name.begin(), name.end()), std::chrono::seconds(5));
  if (!reply) {
    std::printf("rpc failed: %s\n", reply.error().message().c_str());
    co_return 1;
  }
  std::printf("rpc Demo.rpc_greet -> \"%s\"\n", std::string(reply->begin(), reply->end()).c_str());

  auto stream = co_await client->new_stream(*server, std::string("/demo/count/1.0.0"));
  if (!stream)
    co_return 1;
  const Bytes chunk(1 << 20, 0x5a);
  const int mib = 64;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < mib; ++i) {
    if (!co_await (*stream)->write(chunk))
      co_return 1;
  }
  (void)(*stream)->close_write();
  Bytes answer;
  if (!co_await (*stream)->read_exact(answer, 8))
    co_return 1;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("streamed %d MiB (server counted %llu bytes) in %.2f s: %.0f MB/s encrypted\n",
              mib,
              static_cast<unsigned long long>(hivemind::load_be<std::uint64_t>(answer.data())),
              seconds,
              mib * 1.048576 / seconds);
  co_return 0;
}

}  // namespace

int main() {
  Peer server;
  Peer client;
  net::add_unary_handler(*server.host, "Demo.rpc_greet", greet);
  server.host->set_stream_handler("/demo/count/1.0.0", count_bytes);
  auto listening = server.host->listen();
  if (!listening) {
    std::printf("listen failed: %s\n", listening.error().message().c_str());
    return 1;
  }
  server.start();
  client.start();
  const net::Multiaddr addr = server.host->visible_addrs().front();
  std::printf("server listening at %s\n", addr.to_string().c_str());
  const int status = client.run(client_main(client.host, addr));
  client.shutdown();
  server.shutdown();
  std::printf(status == 0 ? "demo finished\n" : "demo failed\n");
  return status;
}
