// DhtNode behaviours from hivemind's tests/test_dht_node.py, in one process: nearest-node search
// against brute force, an isolated node, store/get and store_many/get_many across nodes, the
// subkey dictionary rules, the exact replica count in a star swarm, and edge-case keys.
#include <algorithm>
#include <random>
#include <set>

#include "testutil/dht_test.hpp"

namespace hivemind::dht {
namespace {

using namespace std::chrono_literals;

const std::vector<std::shared_ptr<DhtNode>> kNoPeers;

double now() {
  return SystemClock::instance().unix_seconds();
}

DhtNodeOptions plain_options() {
  DhtNodeOptions options;
  options.wait_timeout = 1000ms;
  return options;
}

DHTID random_id(std::mt19937& rng) {
  DHTID::Raw raw;
  for (auto& byte : raw)
    byte = static_cast<std::uint8_t>(rng());
  return DHTID(raw);
}

NodeInfo info(const DhtNode& node) {
  return NodeInfo{node.node_id(), node.peer_id()};
}

FoundValue::Entry entry(std::int64_t value, double expiration) {
  return FoundValue::Entry{msgpack::Value(value), expiration};
}

/// hivemind's edge cases: 0, "", False, True, "abyrvalg", 4555.
std::vector<msgpack::Value> edge_cases() {
  std::vector<msgpack::Value> out;
  out.emplace_back(0);
  out.emplace_back(std::string());
  out.emplace_back(false);
  out.emplace_back(true);
  out.emplace_back(std::string("abyrvalg"));
  out.emplace_back(4555);
  return out;
}

std::vector<msgpack::Value> edge_case_keys() {  // plus the empty tuple
  auto out = edge_cases();
  out.emplace_back(msgpack::Tuple{});
  return out;
}

std::vector<msgpack::Value> edge_case_values() {  // plus the empty list
  auto out = edge_cases();
  out.emplace_back(msgpack::Array{});
  return out;
}

msgpack::Value one_two_three() {
  msgpack::Array array;
  for (int i = 1; i <= 3; ++i)
    array.items.emplace_back(i);
  return array;
}

/// The k nearest of `everyone` to `query` by XOR distance, without `exclude`.
std::vector<NodeInfo> brute_force(std::vector<NodeInfo> everyone,
                                  const DHTID& query,
                                  std::size_t k,
                                  const std::optional<DHTID>& exclude) {
  std::erase_if(everyone, [&](const NodeInfo& n) { return exclude && n.id == *exclude; });
  std::sort(everyone.begin(), everyone.end(), [&](const NodeInfo& a, const NodeInfo& b) {
    return query.distance(a.id) < query.distance(b.id);
  });
  if (everyone.size() > k)
    everyone.erase(everyone.begin() + static_cast<std::ptrdiff_t>(k), everyone.end());
  return everyone;
}

class DhtBehaviourTest : public testing::DhtTest {
 protected:
  /// `count` nodes that all bootstrap from the first (hivemind's launch_star_shaped_swarm).
  asio::awaitable<std::vector<std::shared_ptr<DhtNode>>> make_star(std::size_t count,
                                                                   DhtNodeOptions options) {
    std::vector<std::shared_ptr<DhtNode>> star;
    for (std::size_t i = 0; i < count; ++i) {
      std::vector<std::shared_ptr<DhtNode>> center(star.begin(), star.begin() + (i > 0 ? 1 : 0));
      auto node = co_await make_node(options, center);
      if (!node) {
        ADD_FAILURE() << "node " << i << ": " << node.error().message();
        co_return star;
      }
      star.push_back(*node);
    }
    co_return star;
  }
};

TEST_F(DhtBehaviourTest, FindNearestNodesMatchesBruteForce) {
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(20, plain_options(), 4);
    HM_CO_ASSERT(swarm.size() == 20);
    std::vector<std::shared_ptr<DhtNode>> boot(swarm.begin() + 7, swarm.begin() + 12);
    auto me_result = co_await make_node(plain_options(), boot);
    HM_CO_ASSERT_OK(me_result);
    DhtNode& me = **me_result;
    std::vector<NodeInfo> everyone;
    for (auto& node : swarm)
      everyone.push_back(info(*node));
    everyone.push_back(info(me));

    std::vector<DHTID> query(1, me.node_id());
    auto self = co_await me.find_nearest_nodes(query, 1, false);
    EXPECT_EQ(self[0], std::vector<NodeInfo>(1, info(me)));
    for (std::size_t i = 0; i < swarm.size(); i += 3) {
      query[0] = swarm[i]->node_id();
      auto found = co_await me.find_nearest_nodes(query, 1, false);
      EXPECT_EQ(found[0], std::vector<NodeInfo>(1, info(*swarm[i]))) << i;
    }

    std::mt19937 rng(99);
    const int rounds = 30;
    std::size_t top1 = 0;
    std::size_t shared = 0;
    std::size_t wanted = 0;
    for (int round = 0; round < rounds; ++round) {
      query[0] = random_id(rng);
      const std::size_t k = 1 + rng() % 10;
      const bool exclude_self = rng() % 2 == 1;
      auto nearest = (co_await me.find_nearest_nodes(query, k, exclude_self))[0];
      HM_CO_ASSERT(nearest.size() == k);
      EXPECT_TRUE(std::is_sorted(nearest.begin(), nearest.end(), [&](auto& a, auto& b) {
        return query[0].distance(a.id) < query[0].distance(b.id);
      }));
      if (exclude_self) {
        EXPECT_TRUE(std::none_of(
            nearest.begin(), nearest.end(), [&](auto& n) { return n.id == me.node_id(); }));
      }
      auto reference = brute_force(
          everyone, query[0], k, exclude_self ? std::optional(me.node_id()) : std::nullopt);
      top1 += nearest[0] == reference[0] ? 1 : 0;
      for (const auto& n : nearest)
        shared += std::count(reference.begin(), reference.end(), n);
      wanted += k;
    }
    // hivemind's bounds (test_dht_node: top-1 accuracy and Jaccard index >= 0.9).
    EXPECT_GE(static_cast<double>(top1) / rounds, 0.9);
    EXPECT_GE(static_cast<double>(shared) / static_cast<double>(wanted), 0.9);

    // k above the swarm size: everyone, us included.
    auto all = (co_await me.find_nearest_nodes(query, everyone.size() + 100, false))[0];
    EXPECT_EQ(all.size(), everyone.size());
    std::set<std::pair<DHTID, net::PeerId>> got;
    std::set<std::pair<DHTID, net::PeerId>> expected;
    for (const auto& n : all)
      got.emplace(n.id, n.peer);
    for (const auto& n : everyone)
      expected.emplace(n.id, n.peer);
    EXPECT_EQ(got, expected);

    // A node without peers knows only itself.
    auto detached = co_await make_node(plain_options(), kNoPeers);
    HM_CO_ASSERT_OK(detached);
    auto alone = co_await (*detached)->find_nearest_nodes(query, 5, false);
    EXPECT_EQ(alone[0], std::vector<NodeInfo>(1, info(**detached)));
    auto nobody = co_await (*detached)->find_nearest_nodes(query, 5, true);
    EXPECT_TRUE(nobody[0].empty());
  });
}

TEST_F(DhtBehaviourTest, StoreGetStoreManyAndSubkeyRules) {
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(8, plain_options(), 3);
    HM_CO_ASSERT(swarm.size() == 8);
    DhtNode& me = *swarm[0];
    DhtNodeOptions no_cache = plain_options();
    no_cache.cache_locally = false;
    std::vector<std::shared_ptr<DhtNode>> boot(swarm.begin() + 4, swarm.end());
    auto that_guy = co_await make_node(no_cache, boot);
    HM_CO_ASSERT_OK(that_guy);
    auto detached = co_await make_node(plain_options(), kNoPeers);
    HM_CO_ASSERT_OK(detached);

    msgpack::Array array;
    array.items.emplace_back(std::string("Value"));
    array.items.emplace_back(10);
    const msgpack::Value value = array;
    const msgpack::Value mykey = std::string("mykey");
    const double true_time = now() + 1200;
    EXPECT_TRUE(co_await me.store(mykey, value, true_time));
    std::vector<DhtNode*> readers;
    readers.push_back(that_guy->get());
    readers.push_back(&me);
    for (DhtNode* node : readers) {
      auto found = co_await node->get(mykey);
      HM_CO_ASSERT(found.has_value());
      EXPECT_EQ(found->value, value);
      EXPECT_EQ(found->expiration, true_time);
    }
    EXPECT_FALSE((co_await (*detached)->get(mykey)).has_value());

    // store_many of four keys, get_many in reverse order.
    std::vector<StoreItem> items(4);
    const char* names[] = {"foo", "bar", "baz", "zzz"};
    items[0].value = std::int64_t(3);
    items[1].value = std::int64_t(2);
    items[2].value = std::string("batman");
    items[3].value = one_two_three();
    std::vector<msgpack::Value> reversed;
    for (std::size_t i = 0; i < items.size(); ++i) {
      items[i].key = std::string(names[i]);
      items[i].expiration = now() + 999;
      reversed.insert(reversed.begin(), items[i].key);
    }
    EXPECT_EQ(co_await me.store_many(items), std::vector<bool>(4, true));
    auto many = co_await me.get_many(reversed);
    HM_CO_ASSERT(many.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
      HM_CO_ASSERT(many[3 - i].has_value());
      EXPECT_EQ(many[3 - i]->value, items[i].value) << names[i];
    }

    // Subkeys: a dictionary whose entries expire on their own; older writes rejected.
    const msgpack::Value upper = std::string("ololo");
    const msgpack::Value k1 = std::string("k1");
    const msgpack::Value k2 = std::string("k2");
    const msgpack::Value k3 = std::string("k3");
    const double t = now();
    EXPECT_TRUE(co_await me.store(upper, std::int64_t(123), t + 10, k1));
    EXPECT_TRUE(co_await me.store(upper, std::int64_t(456), t + 20, k2));
    for (DhtNode* node : readers) {
      auto found = co_await node->get(upper);
      HM_CO_ASSERT(found.has_value() && found->is_dictionary);
      EXPECT_EQ(found->expiration, t + 20);
      EXPECT_EQ(found->subkeys.size(), 2u);
      EXPECT_EQ(*found->find(k1), entry(123, t + 10));
      EXPECT_EQ(*found->find(k2), entry(456, t + 20));
    }
    EXPECT_FALSE(co_await me.store(upper, std::int64_t(345), t + 10, k2));
    EXPECT_TRUE(co_await me.store(upper, std::int64_t(567), t + 30, k2));
    EXPECT_TRUE(co_await me.store(upper, std::int64_t(890), t + 50, k3));
    for (DhtNode* node : readers) {
      auto found = co_await node->get(upper, true);
      HM_CO_ASSERT(found.has_value() && found->is_dictionary);
      EXPECT_EQ(found->expiration, t + 50);
      EXPECT_EQ(found->subkeys.size(), 3u);
      EXPECT_EQ(*found->find(k1), entry(123, t + 10));
      EXPECT_EQ(*found->find(k2), entry(567, t + 30));
      EXPECT_EQ(*found->find(k3), entry(890, t + 50));
    }
  });
}

TEST_F(DhtBehaviourTest, StarSwarmHoldsExactlyNumReplicasCopies) {
  run_dht([&]() -> asio::awaitable<void> {
    std::mt19937 rng(31337);
    DhtNodeOptions options = plain_options();
    options.num_replicas = 1 + rng() % 20;
    auto star = co_await make_star(20, options);
    HM_CO_ASSERT(star.size() == 20);
    auto total = [&] {
      std::size_t sum = 0;
      for (auto& node : star)
        sum += node->storage().size();
      return sum;
    };
    DhtNode& you = *star[rng() % star.size()];
    const msgpack::Value key1 = std::string("key1");
    const msgpack::Value key2 = std::string("key2");
    EXPECT_TRUE(co_await you.store(key1, std::string("foo"), now() + 999));
    const std::size_t key1_replicas = total();
    EXPECT_EQ(key1_replicas, options.num_replicas);
    EXPECT_TRUE(co_await you.store(key2, std::string("bar"), now() + 999));
    const std::size_t size = total();
    EXPECT_EQ(size - key1_replicas, options.num_replicas);
    // A newer value replaces the old copies without adding any.
    EXPECT_TRUE(co_await you.store(key2, std::string("baz"), now() + 1000));
    EXPECT_EQ(total(), size);
    std::size_t newest = 0;
    for (auto& node : star)
      if (auto entry = node->storage().get(DHTID::from_key(key2)))
        newest += std::get<Bytes>(entry->value) == msgpack::pack(std::string("baz")) ? 1 : 0;
    EXPECT_EQ(newest, options.num_replicas);
  });
}

TEST_F(DhtBehaviourTest, EdgeCaseKeysSubkeysAndValuesRoundTrip) {
  run_dht([&]() -> asio::awaitable<void> {
    auto star = co_await make_star(4, plain_options());
    HM_CO_ASSERT(star.size() == 4);
    const std::vector<msgpack::Value> subkeys = edge_cases();
    const std::vector<msgpack::Value> keys = edge_case_keys();
    const std::vector<msgpack::Value> values = edge_case_values();
    std::mt19937 rng(4);
    double expiration = now() + 999;
    for (const auto& key : keys)
      for (const auto& subkey : subkeys)
        for (const auto& value : values) {
          expiration += 0.001;  // each write newer than the last one under the same subkey
          std::optional<msgpack::Value> sub = subkey;
          EXPECT_TRUE(co_await star[rng() % 4]->store(key, value, expiration, sub));
          auto stored = co_await star[rng() % 4]->get(key, true);
          HM_CO_ASSERT(stored.has_value() && stored->is_dictionary);
          const auto* entry = stored->find(subkey);
          HM_CO_ASSERT(entry != nullptr);
          EXPECT_EQ(entry->value, value)
              << msgpack::to_string(key) << " " << msgpack::to_string(subkey);
        }
  });
}

}  // namespace
}  // namespace hivemind::dht
