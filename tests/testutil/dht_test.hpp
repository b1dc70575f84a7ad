#pragma once
// Test fixture for DHT tests: swarms of DhtNodes on hosts listening on 127.0.0.1, all in one
// io_context on the test thread; every node is shut down after the test body, before its host.
#include <memory>
#include <vector>

#include "hivemind/dht/node.hpp"
#include "testutil/net_test.hpp"

namespace hivemind::testing {

class DhtTest : public NetTest {
 protected:
  /// Creates a node on a fresh host. `bootstrap` nodes become its initial peers.
  asio::awaitable<Result<std::shared_ptr<dht::DhtNode>>> make_node(
      dht::DhtNodeOptions options, std::vector<std::shared_ptr<dht::DhtNode>> bootstrap);
  /// `count` nodes, each bootstrapping from up to `initial_peers` random earlier ones (seeded).
  asio::awaitable<std::vector<std::shared_ptr<dht::DhtNode>>> make_swarm(
      std::size_t count, dht::DhtNodeOptions options, std::size_t initial_peers);
  /// Runs `body`, then shuts every node down; bounded by `limit` like NetTest::run.
  void run_dht(std::function<asio::awaitable<void>()> body,
               std::chrono::seconds limit = std::chrono::seconds(120));

  std::vector<std::shared_ptr<dht::DhtNode>> nodes_;
};

/// The /p2p/ multiaddrs other peers use to reach `node`.
std::vector<net::Multiaddr> addrs_of(const dht::DhtNode& node);

}  // namespace hivemind::testing
