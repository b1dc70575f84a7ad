#include "testutil/dht_test.hpp"

#include <random>

namespace hivemind::testing {

std::vector<net::Multiaddr> addrs_of(const dht::DhtNode& node) {
  auto& host = const_cast<dht::DhtNode&>(node).host();
  std::vector<net::Multiaddr> out;
  for (const auto& addr : host.listen_addrs()) out.push_back(addr.with_peer_id(host.peer_id()));
  return out;
}

asio::awaitable<Result<std::shared_ptr<dht::DhtNode>>> DhtTest::make_node(
    dht::DhtNodeOptions options, std::vector<std::shared_ptr<dht::DhtNode>> bootstrap) {
  auto host = make_host();
  for (const auto& peer : bootstrap)
    for (const auto& addr : addrs_of(*peer)) options.initial_peers.push_back(addr);
  auto node = co_await dht::DhtNode::create(host, std::move(options));
  if (node) nodes_.push_back(*node);
  co_return node;
}

asio::awaitable<std::vector<std::shared_ptr<dht::DhtNode>>> DhtTest::make_swarm(
    std::size_t count, dht::DhtNodeOptions options, std::size_t initial_peers) {
  std::mt19937 rng(1234);
  std::vector<std::shared_ptr<dht::DhtNode>> swarm;
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<std::shared_ptr<dht::DhtNode>> bootstrap = swarm;
    std::shuffle(bootstrap.begin(), bootstrap.end(), rng);
    if (bootstrap.size() > initial_peers) bootstrap.resize(initial_peers);
    auto node = co_await make_node(options, std::move(bootstrap));
    if (!node) {
      ADD_FAILURE() << "node " << i << ": " << node.error().message();
      co_return swarm;
    }
    swarm.push_back(*node);
  }
  co_return swarm;
}

void DhtTest::run_dht(std::function<asio::awaitable<void>()> body, std::chrono::seconds limit) {
  run(
      [this, body]() -> asio::awaitable<void> {
        co_await body();
        for (auto& node : nodes_) co_await node->shutdown();
      },
      limit);
  nodes_.clear();
}

}  // namespace hivemind::testing
