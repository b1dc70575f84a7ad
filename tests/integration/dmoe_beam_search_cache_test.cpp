// MoEBeamSearcher: hostile records in the DHT are ignored; the searcher's prefix cache (positive
// and negative entries, their expiry on a ManualClock) and shared lookups of a batch.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dmoe_beam_search_fixture.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::moe::client {
namespace {

using hivemind::testing::DhtTest;
using namespace testing;  // NOLINT(google-build-using-namespace): the fixture's helpers
namespace mp = dht::msgpack;

mp::Value tuple_of(std::vector<mp::Value> items) {
  return mp::Value(mp::Tuple{std::move(items)});
}

dht::StoreItem item(std::string key, mp::Value subkey, mp::Value value, double expiration) {
  dht::StoreItem out;
  out.key = mp::Value(std::move(key));
  out.subkey = std::move(subkey);
  out.value = std::move(value);
  out.expiration = expiration;
  return out;
}

/// Records under `g.` (grid 4 x 10) that are not experts of that grid, except g.1.8 and g.1.9.
std::vector<dht::StoreItem> hostile_items(const net::PeerId& peer, double expiration) {
  const std::string id = peer.to_string();
  std::vector<dht::StoreItem> items;
  auto add = [&](std::string key, mp::Value subkey, mp::Value value) {
    items.push_back(item(std::move(key), std::move(subkey), std::move(value), expiration));
  };
  add("g.1.", mp::Value("x"), tuple_of({mp::Value("g.1.1"), mp::Value(id)}));  // str subkey
  add("g.1.", mp::Value(10), tuple_of({mp::Value("g.1.10"), mp::Value(id)}));  // out of range
  add("g.1.", mp::Value(-1), tuple_of({mp::Value("g.1"), mp::Value(id)}));     // flat, 2-D grid
  add("g.1.", mp::Value(std::uint64_t{1} << 63), tuple_of({mp::Value("g.1.3"), mp::Value(id)}));
  add("g.1.", mp::Value(2.0), tuple_of({mp::Value("g.1.2"), mp::Value(id)}));  // float subkey
  add("g.1.", mp::Value(1), mp::Value(5));                                     // not a pair
  add("g.1.", mp::Value(3), tuple_of({mp::Value("g.1.3"), mp::Value(id), mp::Value("x")}));
  add("g.1.", mp::Value(4), tuple_of({mp::Value("g.1.4"), mp::Value("not a peer id")}));
  add("g.1.", mp::Value(5), tuple_of({mp::Value("g.1.5"), mp::Value(Bytes(4, 1))}));  // bin
  add("g.1.", mp::Value(6), tuple_of({mp::Value("g.2.6"), mp::Value(id)}));           // elsewhere
  add("g.1.", mp::Value(7), tuple_of({mp::Value("g.1.7.1"), mp::Value(id)}));  // 3 coordinates
  add("g.1.", mp::Value(0), mp::Value(mp::Nil{}));                             // tombstone
  add("g.1.", mp::Value(8), mp::Value(mp::Array{{mp::Value("g.1.8"), mp::Value(id)}}));
  add("g.1.", mp::Value(9), tuple_of({mp::Value("g.1.9"), mp::Value(id)}));
  add("g.3.", mp::Value(0), tuple_of({mp::Value("g.3.00"), mp::Value(id)}));   // invalid uid
  add("g.3.", mp::Value(1), tuple_of({mp::Value(7), mp::Value(id)}));          // uid not a str
  items.push_back(item("g.2.", mp::Value(), mp::Value("g.2.0"), expiration));  // not a dict
  items.back().subkey.reset();
  return items;
}

TEST_F(DhtTest, DmoeBeamSearchIgnoresHostileRecords) {
  GridScores scores(2);
  scores[0] = {0, 0, 0, 0};
  for (int i = 0; i < 10; ++i)
    scores[1].push_back(static_cast<float>(i));
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(2, dht::DhtNodeOptions(), 1);
    HM_CO_ASSERT(swarm.size() == 2);
    const std::vector<std::string> real = {"g.0.1"};
    auto declared = co_await declare_experts(*swarm[0], real, dht_now() + 600);
    HM_CO_ASSERT(declared.size() == 2 && declared[0] && declared[1]);
    auto stored =
        co_await swarm[0]->store_many(hostile_items(swarm[0]->peer_id(), dht_now() + 600));
    HM_CO_ASSERT(std::count(stored.begin(), stored.end(), false) == 0);

    auto searcher = make_searcher(swarm[1], "g.", {4, 10});
    auto found = co_await searcher->find_best_experts(scores, 10);
    EXPECT_EQ(uids_of(found), (std::vector<std::string>{"g.1.9", "g.1.8", "g.0.1"}));
    for (const auto& expert : found)
      EXPECT_EQ(expert.info.peer_id, swarm[0]->peer_id());
    HM_CO_ASSERT(found.size() == 3);
    EXPECT_EQ(found[1].coordinates, (std::vector<int>{1, 8}));
    EXPECT_EQ(found[1].score, 8.0);
  });
}

TEST_F(DhtTest, DmoeBeamSearchCachesPrefixesAndSharesLookupsOfABatch) {
  const Box box = make_box("c.", {0, 0, 0}, {4, 4, 4});
  const std::vector<int> grid = {6, 4, 4};
  std::mt19937 rng(99);
  const GridScores scores = random_scores(grid, rng);
  const std::vector<GridScores> identical(16, scores);
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(3, dht::DhtNodeOptions(), 2);
    HM_CO_ASSERT(swarm.size() == 3);
    auto stored = co_await declare_experts(*swarm[0], box.uids, dht_now() + 600);
    HM_CO_ASSERT(std::count(stored.begin(), stored.end(), false) == 0);

    auto searcher = make_searcher(swarm[1], "c.", grid);
    auto first = co_await searcher->find_best_experts(scores, 3);
    const std::size_t lookups = searcher->dht_lookups();
    EXPECT_GT(lookups, 0u);
    auto second = co_await searcher->find_best_experts(scores, 3);
    EXPECT_EQ(second, first);
    EXPECT_EQ(searcher->dht_lookups(), lookups);  // everything came from the cache
    searcher->clear_cache();
    auto third = co_await searcher->find_best_experts(scores, 3);
    EXPECT_EQ(third, first);
    EXPECT_EQ(searcher->dht_lookups(), 2 * lookups);

    // 16 identical samples cost what one costs: one lookup per distinct prefix.
    auto batch_searcher = make_searcher(swarm[2], "c.", grid);
    auto batch = co_await batch_searcher->batch_find_best_experts(identical, 3);
    HM_CO_ASSERT(batch.size() == identical.size());
    for (const auto& result : batch)
      EXPECT_EQ(result, first);
    EXPECT_EQ(batch_searcher->dht_lookups(), lookups);
  });
}

TEST_F(DhtTest, DmoeBeamSearchNegativeEntriesExpire) {
  ManualClock clock;
  const GridScores scores = {{0, 1, 2, 3}};  // n.3 is the best coordinate, n.1 is declared
  run_dht([&]() -> asio::awaitable<void> {
    auto swarm = co_await make_swarm(2, dht::DhtNodeOptions(), 1);
    HM_CO_ASSERT(swarm.size() == 2);
    const std::vector<std::string> early = {"n.1"};
    const std::vector<std::string> late = {"n.3"};
    auto declared = co_await declare_experts(*swarm[0], early, dht_now() + 600);
    HM_CO_ASSERT(declared.size() == 2 && declared[0] && declared[1]);
    // Defaults: found prefixes live 5 s, empty ones 10 s.
    auto searcher = make_searcher(swarm[1], "n.", {4}, 64, &clock);
    auto found = co_await searcher->find_best_experts(scores, 1);
    EXPECT_EQ(uids_of(found), std::vector<std::string>{"n.1"});
    EXPECT_EQ(searcher->dht_lookups(), 3u);  // n.3. and n.2. missing, n.1. found

    declared = co_await declare_experts(*swarm[0], late, dht_now() + 600);
    HM_CO_ASSERT(declared.size() == 2 && declared[0] && declared[1]);
    found = co_await searcher->find_best_experts(scores, 1);
    EXPECT_EQ(uids_of(found), std::vector<std::string>{"n.1"});  // n.3. is cached as empty
    EXPECT_EQ(searcher->dht_lookups(), 3u);

    clock.advance(std::chrono::seconds(6));  // n.1. expired, the negative entries not yet
    found = co_await searcher->find_best_experts(scores, 1);
    EXPECT_EQ(uids_of(found), std::vector<std::string>{"n.1"});
    EXPECT_EQ(searcher->dht_lookups(), 4u);

    clock.advance(std::chrono::seconds(5));  // 11 s: the negative entries expired too
    found = co_await searcher->find_best_experts(scores, 1);
    EXPECT_EQ(uids_of(found), std::vector<std::string>{"n.3"});
    EXPECT_EQ(searcher->dht_lookups(), 5u);
  });
}

}  // namespace
}  // namespace hivemind::moe::client
