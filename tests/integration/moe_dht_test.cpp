// Experts declared in a DhtNode swarm on 127.0.0.1: hivemind's uid and prefix records found from
// other nodes, ExpertDeclarer refreshing expirations, and withdrawal by tombstones.
#include <chrono>
#include <string>
#include <vector>

#include "hivemind/core/clock.hpp"
#include "hivemind/moe/expert_dht.hpp"
#include "hivemind/moe/expert_uid.hpp"
#include "testutil/dht_test.hpp"

namespace hivemind::moe {
namespace {

using testing::DhtTest;
namespace mp = dht::msgpack;

double now() {
  return SystemClock::instance().unix_seconds();
}

mp::Value pair_of(const std::string& uid, const net::PeerId& peer) {
  mp::Tuple tuple;
  tuple.items.emplace_back(uid);
  tuple.items.emplace_back(peer.to_string());
  return mp::Value(std::move(tuple));
}

dht::DhtNodeOptions node_options() {
  return dht::DhtNodeOptions();
}

/// Built outside the coroutines (g++ 12, docs/threading.md).
ExpertDeclarerOptions declarer_options(double update_period_s, double expiration_s) {
  ExpertDeclarerOptions options;
  options.update_period = std::chrono::duration<double>(update_period_s);
  if (expiration_s > 0)
    options.expiration = std::chrono::duration<double>(expiration_s);
  return options;
}

TEST_F(DhtTest, MoeDeclaredExpertsAreFoundFromAnotherNode) {
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(4, node_options(), 2);
    HM_CO_ASSERT(swarm.size() == 4);
    auto& server = *swarm[0];
    auto& client = *swarm[3];
    const std::vector<std::string> uids = {"ffn.1.2.3", "ffn.1.2.5", "ffn.2.0", "flat.7"};
    auto stored = co_await declare_experts(server, uids, now() + 60);
    EXPECT_EQ(stored.size(), 3u + 2u + 2u + 2u);  // ffn.1. / 2 is shared
    for (bool ok : stored)
      EXPECT_TRUE(ok);

    std::vector<std::string> wanted = uids;
    wanted.push_back("ffn.9.9.9");
    auto found = co_await get_experts(client, wanted);
    HM_CO_ASSERT(found.size() == wanted.size());
    for (std::size_t i = 0; i < uids.size(); ++i) {
      HM_CO_ASSERT(found[i].has_value());
      EXPECT_EQ(found[i]->uid, uids[i]);
      EXPECT_EQ(found[i]->peer_id, server.peer_id());
    }
    EXPECT_FALSE(found.back().has_value());

    // Prefix dictionaries that beam search walks: (uid, peer) tuples under int subkeys.
    auto level2 = co_await swarm[2]->get(mp::Value("ffn.1.2."));
    HM_CO_ASSERT(level2.has_value() && level2->is_dictionary);
    EXPECT_EQ(level2->subkeys.size(), 2u);
    const auto* three = level2->find(mp::Value(3));
    const auto* five = level2->find(mp::Value(5));
    HM_CO_ASSERT(three && five);
    EXPECT_EQ(three->value, pair_of("ffn.1.2.3", server.peer_id()));
    EXPECT_EQ(five->value, pair_of("ffn.1.2.5", server.peer_id()));
    auto level1 = co_await swarm[1]->get(mp::Value("ffn.1."));
    HM_CO_ASSERT(level1.has_value() && level1->is_dictionary);
    const auto* two = level1->find(mp::Value(2));
    HM_CO_ASSERT(two != nullptr);
    EXPECT_EQ(two->value, pair_of("ffn.1.2.5", server.peer_id()));  // last declared wins
    auto flat = co_await client.get(mp::Value("flat.7."));
    HM_CO_ASSERT(flat.has_value() && flat->is_dictionary);
    const auto* flat_entry = flat->find(mp::Value(kFlatExpert));
    HM_CO_ASSERT(flat_entry != nullptr);
    EXPECT_EQ(flat_entry->value, pair_of("flat.7", server.peer_id()));
    auto bare_type = co_await client.get(mp::Value("ffn."));
    EXPECT_FALSE(bare_type.has_value());  // hivemind does not store the bare type prefix

    // Values other than a peer id string are not experts.
    EXPECT_TRUE(co_await server.store(mp::Value("bad.1"), mp::Value(5), now() + 60));
    EXPECT_TRUE(co_await server.store(mp::Value("bad.2"), mp::Value("not a peer id"), now() + 60));
    std::vector<std::string> bad = {"bad.1", "bad.2"};
    auto bad_found = co_await get_experts(client, bad);
    HM_CO_ASSERT(bad_found.size() == 2);
    EXPECT_FALSE(bad_found[0].has_value());
    EXPECT_FALSE(bad_found[1].has_value());
  });
}

TEST_F(DhtTest, MoeDeclarerRefreshesAndWithdraws) {
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(4, node_options(), 2);
    HM_CO_ASSERT(swarm.size() == 4);
    const std::vector<std::string> uids = {"ffn.1.2.3", "ffn.4.0.1"};
    ExpertDeclarer declarer(swarm[0], uids, declarer_options(0.2, 0));
    EXPECT_DOUBLE_EQ(declarer.expiration().count(), 3.0);  // max(2 * 0.2 s, 3 s)
    EXPECT_TRUE(co_await declarer.start());
    const double first = declarer.last_expiration();
    auto found = co_await get_experts(*swarm[1], uids);
    EXPECT_TRUE(found.size() == 2 && found[0] && found[1]);

    // A third declaration starts only after the second one's stores finished.
    bool refreshed = co_await testing::wait_until([&] { return declarer.declarations() >= 3; });
    EXPECT_TRUE(refreshed);
    auto uid_record = co_await swarm[2]->get(mp::Value("ffn.1.2.3"), true);
    auto prefix_record = co_await swarm[3]->get(mp::Value("ffn.4.0."), true);
    EXPECT_TRUE(uid_record && uid_record->expiration >= first + 0.1);
    EXPECT_TRUE(prefix_record && prefix_record->expiration >= first + 0.1);

    co_await declarer.stop();
    const std::size_t declarations = declarer.declarations();
    for (auto& node : swarm) {
      auto gone = co_await get_experts(*node, uids);  // nodes 1-3 may have cached the records
      HM_CO_ASSERT(gone.size() == 2);
      EXPECT_FALSE(gone[0].has_value());
      EXPECT_FALSE(gone[1].has_value());
    }
    auto tombstoned = co_await swarm[1]->get(mp::Value("ffn.1.2."));
    HM_CO_ASSERT(tombstoned.has_value() && tombstoned->is_dictionary);
    const auto* entry = tombstoned->find(mp::Value(3));
    HM_CO_ASSERT(entry != nullptr);
    EXPECT_EQ(entry->value, mp::Value(mp::Nil{}));
    EXPECT_GT(entry->expiration, declarer.last_expiration());
    EXPECT_EQ(declarer.declarations(), declarations);  // no refresh after stop()

    // A server restarting later declares again over the tombstones.
    ExpertDeclarer restarted(swarm[0], uids, declarer_options(30, 10));
    EXPECT_TRUE(co_await restarted.start());
    auto back = co_await get_experts(*swarm[2], uids);
    EXPECT_TRUE(back.size() == 2 && back[0] && back[1]);
    co_await restarted.stop_without_withdrawal();
    auto still = co_await get_experts(*swarm[3], uids);
    EXPECT_TRUE(still.size() == 2 && still[0] && still[1]);
  });
}

}  // namespace
}  // namespace hivemind::moe
