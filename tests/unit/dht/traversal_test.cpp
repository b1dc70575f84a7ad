// Traversal (beam search) driven over a simulated network: every node answers from its own
// Kademlia routing table, no sockets. Checks that lookups find the true nearest nodes and that
// the state machine's rules hold (failed nodes leave the beam, finish(), packing, one report
// per query).
#include "hivemind/dht/traversal.hpp"

#include <algorithm>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "hivemind/net/identity.hpp"

namespace hivemind::dht {
namespace {

struct SimulatedSwarm {
  std::vector<NodeInfo> nodes;
  std::map<DHTID, RoutingTable> tables;

  explicit SimulatedSwarm(std::size_t count, std::size_t bucket_size) {
    for (std::size_t i = 0; i < count; ++i)
      nodes.push_back(NodeInfo{DHTID::random(), net::KeyPair::generate().peer_id()});
    RoutingTableOptions options;
    options.bucket_size = bucket_size;
    for (const auto& self : nodes) {
      RoutingTable table(self.id, options);
      for (const auto& other : nodes)
        if (other.id != self.id)
          table.add_or_update(other, 0);
      tables.emplace(self.id, std::move(table));
    }
  }

  std::vector<DHTID> true_nearest(const DHTID& query, std::size_t k) const {
    std::vector<DHTID> ids;
    for (const auto& node : nodes)
      ids.push_back(node.id);
    std::sort(ids.begin(), ids.end(), [&](const DHTID& a, const DHTID& b) {
      return query.distance(a) < query.distance(b);
    });
    ids.resize(std::min(k, ids.size()));
    return ids;
  }

  /// Runs `traversal` to completion, one request at a time; `dead` nodes never answer.
  std::size_t run(Traversal& traversal, const std::vector<DHTID>& dead = {}) const {
    std::size_t requests = 0;
    while (auto request = traversal.next()) {
      ++requests;
      bool alive = std::find(dead.begin(), dead.end(), request->node.id) == dead.end();
      if (alive)
        for (std::size_t q : request->queries)
          traversal.add_neighbors(q, tables.at(request->node.id).nearest(traversal.query(q), 20));
      traversal.complete(*request, alive);
    }
    return requests;
  }
};

std::vector<DHTID> ids_of(const std::vector<NodeInfo>& nodes) {
  std::vector<DHTID> out;
  for (const auto& node : nodes)
    out.push_back(node.id);
  return out;
}

TEST(TraversalTest, FindsTheTrueNearestNodes) {
  SimulatedSwarm swarm(300, 5);
  std::mt19937 rng(1);
  std::vector<DHTID> queries;
  for (int i = 0; i < 40; ++i)
    queries.push_back(DHTID::random());
  for (int i = 0; i < 10; ++i)
    queries.push_back(swarm.nodes[rng() % swarm.nodes.size()].id);
  std::vector<NodeInfo> initial(swarm.nodes.begin(), swarm.nodes.begin() + 3);
  TraversalOptions options;
  options.beam_size = 10;
  options.queries_per_call = 7;
  Traversal traversal(queries, initial, options);
  std::size_t requests = swarm.run(traversal);
  EXPECT_TRUE(traversal.all_finished());
  EXPECT_EQ(traversal.in_flight(), 0u);
  // Packing several queries per request keeps the number of requests well below one lookup
  // per query at a time.
  EXPECT_LT(requests, queries.size() * 15);
  std::size_t exact = 0;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    auto found = ids_of(traversal.nearest(q));
    auto expected = swarm.true_nearest(queries[q], options.beam_size);
    EXPECT_EQ(found.front(), expected.front()) << "query " << q;
    exact += found == expected ? 1 : 0;
  }
  EXPECT_GE(exact, queries.size() * 95 / 100);
}

TEST(TraversalTest, ReportsEveryQueryExactlyOnce) {
  SimulatedSwarm swarm(50, 5);
  std::vector<DHTID> queries(5, DHTID::random());  // duplicates are searched independently
  queries.push_back(DHTID::random());
  Traversal traversal(queries, std::vector<NodeInfo>(1, swarm.nodes[0]), TraversalOptions{});
  std::vector<std::size_t> reported;
  while (auto request = traversal.next()) {
    for (std::size_t q : request->queries)
      traversal.add_neighbors(q, swarm.tables.at(request->node.id).nearest(traversal.query(q), 20));
    traversal.complete(*request, true);
    for (std::size_t q : traversal.take_finished())
      reported.push_back(q);
  }
  for (std::size_t q : traversal.take_finished())
    reported.push_back(q);
  std::sort(reported.begin(), reported.end());
  std::vector<std::size_t> all(queries.size());
  for (std::size_t q = 0; q < all.size(); ++q)
    all[q] = q;
  EXPECT_EQ(reported, all);
}

TEST(TraversalTest, NodesThatFailLeaveTheBeam) {
  SimulatedSwarm swarm(120, 5);
  DHTID query = DHTID::random();
  auto nearest = swarm.true_nearest(query, 5);
  std::vector<DHTID> dead(nearest.begin(), nearest.begin() + 2);
  TraversalOptions options;
  options.beam_size = 5;
  // Start from a live node (a dead start would leave nothing to search).
  auto start = std::find_if(swarm.nodes.begin(), swarm.nodes.end(), [&](const NodeInfo& node) {
    return std::find(dead.begin(), dead.end(), node.id) == dead.end();
  });
  Traversal traversal(std::vector<DHTID>(1, query), std::vector<NodeInfo>(1, *start), options);
  swarm.run(traversal, dead);
  auto found = ids_of(traversal.nearest(0));
  for (const auto& id : dead)
    EXPECT_EQ(std::count(found.begin(), found.end(), id), 0);
  for (const auto& id : dead)
    EXPECT_TRUE(traversal.visited(0, id));
  // The beam still fills up with live nodes.
  EXPECT_EQ(found.size(), options.beam_size);
}

TEST(TraversalTest, FinishStopsAQueryAndSkipIsNeverAsked) {
  SimulatedSwarm swarm(60, 5);
  std::vector<DHTID> queries{DHTID::random(), DHTID::random()};
  DHTID self = swarm.nodes[0].id;
  Traversal traversal(queries, swarm.nodes, TraversalOptions{}, std::vector<DHTID>(1, self));
  auto first = traversal.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_NE(first->node.id, self);
  traversal.finish(0);
  traversal.complete(*first, true);
  auto finished = traversal.take_finished();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0], 0u);
  while (auto request = traversal.next()) {
    EXPECT_NE(request->node.id, self);
    EXPECT_EQ(std::count(request->queries.begin(), request->queries.end(), 0u), 0);
    traversal.complete(*request, true);
  }
  EXPECT_TRUE(traversal.all_finished());
  for (const auto& node : traversal.nearest(1))
    EXPECT_NE(node.id, self);
}

TEST(TraversalTest, NoInitialNodesFinishesAtOnce) {
  Traversal traversal(std::vector<DHTID>(3, DHTID::random()), {}, TraversalOptions{});
  EXPECT_FALSE(traversal.next().has_value());
  EXPECT_TRUE(traversal.all_finished());
  EXPECT_EQ(traversal.take_finished().size(), 3u);
}

}  // namespace
}  // namespace hivemind::dht
