#pragma once
/// \file
/// `DHT`: a DHT node with its own network thread, for programs that are not written around
/// asio (training loops, tools). hivemind's `DHT` runs the node in a child process; here it is a
/// thread, and calls cross over as futures.
///
/// Thread affinity: every member function may be called from any thread except the DHT's own
/// network thread (the blocking ones would deadlock there, and throw std::logic_error instead).
/// Coroutines passed to run() execute on the network thread.

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include "hivemind/core/result.hpp"
#include "hivemind/dht/node.hpp"
#include "hivemind/net/host.hpp"

namespace hivemind::dht {

/// Everything a DHT needs: the host it listens with and the node's options.
struct DHTOptions {
  /// Listen addresses default to /ip4/0.0.0.0/tcp/0 (hivemind-dht's default) when empty.
  net::HostOptions host;
  DhtNodeOptions node;
};

class DHT {
 public:
  /// Starts the network thread, the host (listening) and the node (bootstrapped); blocks until
  /// ready. Errors: listen failures (net), kBootstrapFailed.
  static Result<std::unique_ptr<DHT>> create(DHTOptions options);
  DHT(const DHT&) = delete;
  DHT& operator=(const DHT&) = delete;
  /// Shuts down (see shutdown()).
  ~DHT();

  /// Stops the node and the host, cancels pending calls (their futures then hold their
  /// "nothing" results: false / nullopt) and joins the network thread. Idempotent.
  void shutdown();

  // Futures: wait on them with a timeout (wait_for) or block (get).
  std::future<bool> store_async(msgpack::Value key, msgpack::Value value, Expiration expiration,
                                std::optional<msgpack::Value> subkey = std::nullopt);
  std::future<std::optional<FoundValue>> get_async(msgpack::Value key, bool latest = false);

  // Blocking conveniences.
  bool store(msgpack::Value key, msgpack::Value value, Expiration expiration,
             std::optional<msgpack::Value> subkey = std::nullopt);
  std::optional<FoundValue> get(msgpack::Value key, bool latest = false);

  /// Runs `fn(node)` on the network thread and returns its result through a future (hivemind
  /// `run_coroutine`). An exception thrown by `fn` is rethrown by the future's get().
  template <class T>
  std::future<T> run_coroutine(std::function<asio::awaitable<T>(DhtNode&)> fn) {
    check_not_network_thread();
    return asio::co_spawn(executor_, call_on_node(std::move(fn)), asio::use_future);
  }

  /// For coroutines on another executor: `co_await dht.run(fn)` runs `fn(node)` on the network
  /// thread and resumes the caller on its own executor with the result.
  template <class T>
  asio::awaitable<T> run(std::function<asio::awaitable<T>(DhtNode&)> fn) {
    co_return co_await asio::co_spawn(executor_, call_on_node(std::move(fn)),
                                      asio::use_awaitable);
  }

  /// Addresses other peers should use to reach this node (with /p2p/<peer id>), as of startup.
  std::vector<net::Multiaddr> visible_multiaddrs() const;
  const net::PeerId& peer_id() const noexcept { return peer_id_; }
  const DHTID& node_id() const noexcept { return node_id_; }
  bool client_mode() const noexcept { return client_mode_; }
  asio::any_io_executor executor() const { return executor_; }

 private:
  struct Runtime;
  DHT(std::unique_ptr<Runtime> runtime, std::shared_ptr<DhtNode> node,
      std::vector<net::Multiaddr> visible);
  void check_not_network_thread() const;
  template <class T>
  asio::awaitable<T> call_on_node(std::function<asio::awaitable<T>(DhtNode&)> fn) {
    co_return co_await fn(*node_);
  }

  std::unique_ptr<Runtime> runtime_;
  asio::any_io_executor executor_;
  std::shared_ptr<DhtNode> node_;
  net::PeerId peer_id_;
  DHTID node_id_;
  bool client_mode_ = false;
  std::vector<net::Multiaddr> visible_;
};

}  // namespace hivemind::dht
