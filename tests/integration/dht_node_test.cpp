// DhtNode swarms on 127.0.0.1 in one process: store/get across nodes, replication, dictionaries,
// client mode, bootstrap failure.
#include <random>

#include "hivemind/core/parallel.hpp"
#include "hivemind/dht/error.hpp"
#include "testutil/dht_test.hpp"

namespace hivemind::dht {
namespace {

using testing::DhtTest;
using namespace std::chrono_literals;

double now() { return SystemClock::instance().unix_seconds(); }

DhtNodeOptions no_cache_options() {
  DhtNodeOptions options;
  options.cache_locally = false;
  options.cache_on_store = false;
  options.cache_nearest = 0;
  return options;
}

TEST_F(DhtTest, TwoNodesStoreAndGet) {
  run_dht([&]() -> asio::awaitable<void> {
    const std::vector<std::shared_ptr<DhtNode>> none;
    auto a = co_await make_node(no_cache_options(), none);
    HM_CO_ASSERT_OK(a);
    auto b = co_await make_node(no_cache_options(), std::vector(1, *a));
    HM_CO_ASSERT_OK(b);
    EXPECT_TRUE((*a)->routing_table().contains((*b)->node_id()));
    EXPECT_TRUE((*b)->routing_table().contains((*a)->node_id()));

    const double expiration = now() + 60;
    const msgpack::Value key = std::string("key");
    const msgpack::Value missing = std::string("missing");
    const msgpack::Value answer = std::int64_t(42);
    EXPECT_TRUE(co_await (*b)->store(key, answer, expiration));
    auto found = co_await (*a)->get(key);
    HM_CO_ASSERT(found.has_value());
    EXPECT_FALSE(found->is_dictionary);
    EXPECT_EQ(found->value, answer);
    EXPECT_EQ(found->expiration, expiration);
    auto not_found = co_await (*a)->get(missing);
    EXPECT_FALSE(not_found.has_value());
  });
}

TEST_F(DhtTest, SwarmFindsEveryKeyFromEveryNodeWithExactReplicas) {
  run_dht(
      [&]() -> asio::awaitable<void> {
        auto swarm = co_await make_swarm(50, no_cache_options(), 4);
        HM_CO_ASSERT(swarm.size() == 50);
        std::mt19937 rng(7);
        const double expiration = now() + 300;
        std::vector<std::string> keys;
        for (int i = 0; i < 10; ++i) {
          keys.push_back("key" + std::to_string(i));
          auto& writer = swarm[rng() % swarm.size()];
          const msgpack::Value key = keys.back();
          const msgpack::Value value = std::int64_t(i);
          bool stored = co_await writer->store(key, value, expiration);
          EXPECT_TRUE(stored);
        }
        for (std::size_t i = 0; i < keys.size(); ++i) {
          DHTID id = DHTID::from_key(keys[i]);
          std::size_t holders = 0;
          for (auto& node : swarm) holders += node->storage().get(id).has_value() ? 1 : 0;
          EXPECT_EQ(holders, 5u) << keys[i];
        }
        for (auto& reader : swarm) {
          std::vector<msgpack::Value> all_keys(keys.begin(), keys.end());
          auto found = co_await reader->get_many(all_keys);
          for (std::size_t i = 0; i < keys.size(); ++i) {
            EXPECT_TRUE(found[i].has_value()) << keys[i];
            if (found[i]) {
              EXPECT_EQ(found[i]->value, msgpack::Value(static_cast<std::int64_t>(i)));
            }
          }
        }
      },
      std::chrono::seconds(300));
}

TEST_F(DhtTest, ConcurrentSubkeyWritersMerge) {
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(10, no_cache_options(), 3);
    HM_CO_ASSERT(swarm.size() == 10);
    const double expiration = now() + 60;
    std::vector<bool> stored(swarm.size());
    co_await for_each_concurrently(0, swarm.size(), [&](std::size_t i) -> asio::awaitable<void> {
      const msgpack::Value key = std::string("dict");
      const msgpack::Value value = static_cast<std::int64_t>(i);
      std::optional<msgpack::Value> subkey = msgpack::Value("sub" + std::to_string(i));
      stored[i] = co_await swarm[i]->store(key, value, expiration + static_cast<double>(i), subkey);
    });
    for (bool ok : stored) EXPECT_TRUE(ok);
    const msgpack::Value dict_key = std::string("dict");
    auto found = co_await swarm[3]->get(dict_key, true);
    HM_CO_ASSERT(found.has_value());
    EXPECT_TRUE(found->is_dictionary);
    EXPECT_EQ(found->subkeys.size(), swarm.size());
    EXPECT_EQ(found->expiration, expiration + static_cast<double>(swarm.size() - 1));
    for (std::size_t i = 0; i < swarm.size(); ++i) {
      const auto* entry = found->find(msgpack::Value("sub" + std::to_string(i)));
      HM_CO_ASSERT(entry != nullptr);
      EXPECT_EQ(entry->value, msgpack::Value(std::int64_t(i)));
    }
  });
}

TEST_F(DhtTest, ClientModeQueriesButIsNeverAdded) {
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(5, no_cache_options(), 2);
    HM_CO_ASSERT(swarm.size() == 5);
    DhtNodeOptions client_options = no_cache_options();
    client_options.client_mode = true;
    auto client = co_await make_node(client_options, std::vector(1, swarm[0]));
    HM_CO_ASSERT_OK(client);
    const double expiration = now() + 60;
    const msgpack::Value key = std::string("from-client");
    const msgpack::Value hello = std::string("hello");
    bool stored = co_await (*client)->store(key, hello, expiration);
    EXPECT_TRUE(stored);
    auto found = co_await swarm[4]->get(key);
    HM_CO_ASSERT(found.has_value());
    EXPECT_EQ(found->value, hello);
    for (auto& node : swarm) {
      EXPECT_FALSE(node->routing_table().contains((*client)->node_id()));
      EXPECT_FALSE(node->routing_table().id_of((*client)->peer_id()).has_value());
    }
    EXPECT_FALSE((*client)->storage().get(DHTID::from_key(key)).has_value());
  });
}

TEST_F(DhtTest, BootstrapFailsClearlyWhenNoInitialPeerAnswers) {
  run_dht([&]() -> asio::awaitable<void> {
    // A peer that existed and is gone: its port is closed now.
    auto gone = make_host();
    auto addr = gone->listen_addrs().front().with_peer_id(gone->peer_id());
    co_await gone->stop();
    DhtNodeOptions options;
    options.initial_peers.push_back(addr);
    options.wait_timeout = 1000ms;
    auto host = make_host();  // not inside the co_await: make_host has a default argument
    auto node = co_await DhtNode::create(host, options);
    HM_CO_ASSERT(!node.has_value());
    EXPECT_EQ(node.error().code(), make_error_code(DhtErrc::kBootstrapFailed));
    EXPECT_NE(node.error().message().find("none of the 1 initial peers responded"),
              std::string::npos)
        << node.error().message();
  });
}

}  // namespace
}  // namespace hivemind::dht
