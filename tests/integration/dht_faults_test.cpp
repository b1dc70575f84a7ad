// Peers that lie, babble, stay silent or die (issue 3, "Bad input" and "Tests"): a peer claiming
// another node's id, fake peers answering rpc_find / rpc_store with garbage, a wrong result count
// or nothing at all, dead peers blacklisted after stores (hivemind's test_dhtnode_blacklist), and
// a swarm that keeps answering after 10% of its nodes are killed.
#include <chrono>
#include <random>

#include "dht_fake_peer.hpp"
#include "testutil/dht_test.hpp"

namespace hivemind::dht {
namespace {

using testing::DhtTest;
using namespace std::chrono_literals;

const std::vector<std::shared_ptr<DhtNode>> kNoPeers;

double now() {
  return SystemClock::instance().unix_seconds();
}

DhtNodeOptions fault_options() {
  DhtNodeOptions options;
  options.wait_timeout = 500ms;
  options.cache_locally = false;
  options.cache_on_store = false;
  options.cache_nearest = 0;
  return options;
}

TEST_F(DhtTest, PeerClaimingAnotherNodesIdDoesNotTakeOverItsEntry) {
  run_dht([&]() -> asio::awaitable<void> {
    auto a = co_await make_node(fault_options(), kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto b = co_await make_node(fault_options(), std::vector(1, *a));
    HM_CO_ASSERT_OK(b);
    HM_CO_ASSERT((*a)->routing_table().peer_of((*b)->node_id()) == (*b)->peer_id());

    // Mallory answers pings with B's id, and then with A's own id.
    test::FakeDhtPeer mallory(make_host(), (*b)->node_id());
    EXPECT_TRUE(co_await mallory.introduce_to(**a));
    EXPECT_EQ(mallory.state().pings, 1u);  // A did ping her back
    test::FakeDhtPeer echo(make_host(), (*a)->node_id());
    EXPECT_TRUE(co_await echo.introduce_to(**a));
    EXPECT_EQ(echo.state().pings, 1u);
    // Requests claiming B's id do not help either.
    const Bytes key = DHTID::random().to_bytes();
    test::pb::FindRequest find;
    find.add_keys(test::str(key));
    find.mutable_peer()->set_node_id(test::str((*b)->node_id().to_bytes()));
    auto found = co_await test::raw_call(
        mallory.host(), (*a)->peer_id(), test::kFind, test::serialize(find));
    EXPECT_TRUE(found.has_value());
    bool pinged = co_await testing::wait_until([&] { return mallory.state().pings == 2; });
    EXPECT_TRUE(pinged);
    EXPECT_TRUE(co_await mallory.introduce_to(**a));  // after the ping-back's answer

    const RoutingTable& table = (*a)->routing_table();
    EXPECT_EQ(table.peer_of((*b)->node_id()), (*b)->peer_id());
    EXPECT_FALSE(table.id_of(mallory.peer_id()).has_value());
    EXPECT_FALSE(table.id_of(echo.peer_id()).has_value());
    EXPECT_EQ(table.size(), 1u);
    // B is still the one A asks about B's id.
    std::vector<DHTID> query(1, (*b)->node_id());
    auto nearest = co_await (*a)->find_nearest_nodes(query, 1, true);
    HM_CO_ASSERT(nearest.size() == 1 && nearest[0].size() == 1);
    EXPECT_EQ(nearest[0][0], (NodeInfo{(*b)->node_id(), (*b)->peer_id()}));
  });
}

struct Misbehavior {
  test::FakeBehavior find;
  test::FakeBehavior store;
  const char* name;
};

class DhtMisbehavingPeerTest : public DhtTest, public ::testing::WithParamInterface<Misbehavior> {};

TEST_P(DhtMisbehavingPeerTest, StoresAndGetsSucceedAndThePeerIsDropped) {
  run_dht([&]() -> asio::awaitable<void> {
    const DhtNodeOptions options = fault_options();
    auto swarm = co_await make_swarm(4, options, 3);
    HM_CO_ASSERT(swarm.size() == 4);
    test::FakeDhtPeer fake(make_host(), DHTID::random());
    fake.state().find = GetParam().find;
    fake.state().store = GetParam().store;
    for (auto& node : swarm) {
      EXPECT_TRUE(co_await fake.introduce_to(*node));
      EXPECT_TRUE(node->routing_table().contains(fake.id()));
    }

    const auto started = std::chrono::steady_clock::now();
    const msgpack::Value key = std::string("key");
    const msgpack::Value value = std::string("value");
    const double expiration = now() + 60;
    // Five replicas wanted, four honest nodes: every node, the fake included, is asked to store.
    EXPECT_TRUE(co_await swarm[0]->store(key, value, expiration));
    EXPECT_GE(fake.state().finds + fake.state().stores, 1u);
    EXPECT_GE(swarm[0]->blacklisted(fake.peer_id()), 1u);
    EXPECT_FALSE(swarm[0]->routing_table().contains(fake.id()));
    EXPECT_FALSE(swarm[0]->routing_table().id_of(fake.peer_id()).has_value());
    std::size_t holders = 0;
    for (auto& node : swarm)
      holders += node->storage().get(DHTID::from_key(key)) ? 1 : 0;
    EXPECT_EQ(holders, 4u);

    auto found = co_await swarm[3]->get(key, true);
    HM_CO_ASSERT(found.has_value());
    EXPECT_EQ(found->value, value);
    EXPECT_EQ(found->expiration, expiration);
    if (GetParam().find != test::FakeBehavior::kHonest) {
      EXPECT_GE(swarm[3]->blacklisted(fake.peer_id()), 1u);
      EXPECT_FALSE(swarm[3]->routing_table().contains(fake.id()));
    }
    // Bounded by wait_timeout: a silent peer costs one timeout per operation, not a hang.
    EXPECT_LT(std::chrono::steady_clock::now() - started, 20 * options.wait_timeout);
    for (auto& node : swarm)
      EXPECT_EQ(node->blacklisted(swarm[0]->peer_id()), 0u);
  });
}

INSTANTIATE_TEST_SUITE_P(
    Behaviors,
    DhtMisbehavingPeerTest,
    ::testing::Values(
        Misbehavior{test::FakeBehavior::kGarbage, test::FakeBehavior::kHonest, "FindGarbage"},
        Misbehavior{test::FakeBehavior::kWrongCount, test::FakeBehavior::kHonest, "FindWrongCount"},
        Misbehavior{test::FakeBehavior::kSilent, test::FakeBehavior::kHonest, "FindSilent"},
        Misbehavior{test::FakeBehavior::kHonest, test::FakeBehavior::kGarbage, "StoreGarbage"},
        Misbehavior{
            test::FakeBehavior::kHonest, test::FakeBehavior::kWrongCount, "StoreWrongCount"},
        Misbehavior{test::FakeBehavior::kHonest, test::FakeBehavior::kSilent, "StoreSilent"}),
    [](const ::testing::TestParamInfo<Misbehavior>& param) {
      return std::string(param.param.name);
    });

TEST_F(DhtTest, DeadPeersAreBlacklistedAfterStores) {
  run_dht([&]() -> asio::awaitable<void> {
    DhtNodeOptions options = fault_options();
    options.blacklist_time_s = 999;
    auto center = co_await make_node(options, kNoPeers);
    HM_CO_ASSERT_OK(center);
    std::vector<std::shared_ptr<DhtNode>> star(1, *center);
    for (int i = 0; i < 3; ++i) {
      auto node = co_await make_node(options, std::vector(1, *center));
      HM_CO_ASSERT_OK(node);
      star.push_back(*node);
    }
    auto& writer = star[1];
    const double expiration = now() + 99;
    const msgpack::Value abc = std::string("abc");
    const msgpack::Value def = std::string("def");
    EXPECT_TRUE(co_await writer->store(abc, std::int64_t(123), expiration));
    for (auto& node : star)
      EXPECT_EQ(writer->blacklisted(node->peer_id()), 0u);

    for (std::size_t dead = 2; dead < star.size(); ++dead) {
      co_await star[dead]->shutdown();
      co_await star[dead]->host().stop();
    }
    EXPECT_TRUE(co_await writer->store(def, std::int64_t(456), expiration));
    EXPECT_GE(writer->blacklisted(star[2]->peer_id()), 1u);
    EXPECT_GE(writer->blacklisted(star[3]->peer_id()), 1u);
    EXPECT_EQ(writer->blacklisted(star[0]->peer_id()), 0u);
    EXPECT_FALSE(writer->routing_table().contains(star[2]->node_id()));
    EXPECT_FALSE(writer->routing_table().contains(star[3]->node_id()));

    // The center crawls the swarm and discovers the dead, not the living.
    auto found = co_await star[0]->get(abc, true);
    HM_CO_ASSERT(found.has_value());
    EXPECT_EQ(found->value, msgpack::Value(std::int64_t(123)));
    EXPECT_GE(star[0]->blacklisted(star[2]->peer_id()), 1u);
    EXPECT_GE(star[0]->blacklisted(star[3]->peer_id()), 1u);
    EXPECT_EQ(star[0]->blacklisted(writer->peer_id()), 0u);
  });
}

TEST_F(DhtTest, SwarmKeepsAnsweringAfterTenPercentOfItsNodesAreKilled) {
  run_dht(
      [&]() -> asio::awaitable<void> {
        auto swarm = co_await make_swarm(30, fault_options(), 4);
        HM_CO_ASSERT(swarm.size() == 30);
        std::mt19937 rng(2024);
        const double expiration = now() + 300;
        std::vector<msgpack::Value> keys;
        for (int i = 0; i < 10; ++i) {
          keys.push_back(msgpack::Value("key" + std::to_string(i)));
          const msgpack::Value value = std::int64_t(i);
          EXPECT_TRUE(co_await swarm[rng() % swarm.size()]->store(keys.back(), value, expiration));
        }
        // Kill three nodes abruptly: their hosts stop, connections drop, nothing is handed over.
        std::vector<std::size_t> order(swarm.size());
        for (std::size_t i = 0; i < order.size(); ++i)
          order[i] = i;
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<bool> killed(swarm.size(), false);
        for (std::size_t i = 0; i < 3; ++i) {
          killed[order[i]] = true;
          co_await swarm[order[i]]->host().stop();
        }
        for (std::size_t n = 0; n < swarm.size(); ++n) {
          if (killed[n])
            continue;
          auto found = co_await swarm[n]->get_many(keys);
          for (std::size_t i = 0; i < keys.size(); ++i) {
            EXPECT_TRUE(found[i].has_value()) << "node " << n << " key " << i;
            if (found[i]) {
              EXPECT_EQ(found[i]->value, msgpack::Value(static_cast<std::int64_t>(i)));
            }
          }
        }
      },
      std::chrono::seconds(120));
}

}  // namespace
}  // namespace hivemind::dht
