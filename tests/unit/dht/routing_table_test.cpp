// RoutingTable: hivemind's tests/test_routing.py (reference hivemind-dht-p2p.md §1.2, §4) with
// deterministic pseudo-random ids, plus the split rule, the replacement cache and the ping rule
// on hand-built ids.
#include "hivemind/dht/routing_table.hpp"

#include <algorithm>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "routing_table_test_util.hpp"

namespace hivemind::dht {
namespace {

using testutil::check_coverage;
using testutil::id_from_bits;
using testutil::peer;
using testutil::random_id;

std::vector<NodeInfo> brute_force_nearest(const std::vector<NodeInfo>& all,
                                          const DHTID& query,
                                          std::size_t k,
                                          const std::optional<DHTID>& exclude) {
  std::vector<std::pair<DHTID, const NodeInfo*>> by_distance;
  for (const NodeInfo& n : all) {
    if (!exclude || n.id != *exclude)
      by_distance.emplace_back(query.distance(n.id), &n);
  }
  const std::size_t count = std::min(k, by_distance.size());
  std::partial_sort(by_distance.begin(),
                    by_distance.begin() + static_cast<std::ptrdiff_t>(count),
                    by_distance.end());
  std::vector<NodeInfo> nearest;
  for (std::size_t i = 0; i < count; ++i)
    nearest.push_back(*by_distance[i].second);
  return nearest;
}

struct Filled {
  RoutingTable table;
  std::vector<NodeInfo> inserted;
};

Filled fill(std::mt19937_64& rng, std::size_t count, RoutingTableOptions options) {
  Filled filled{RoutingTable(random_id(rng), options), {}};
  for (std::size_t i = 0; i < count; ++i) {
    NodeInfo node{random_id(rng), peer(i)};
    filled.inserted.push_back(node);
    (void)filled.table.add_or_update(node, 1000.0 + static_cast<double>(i));
  }
  return filled;
}

TEST(RoutingTableTest, HundredInsertsMapBothWaysWithoutReplacements) {
  for (std::uint64_t seed : {1, 2, 3}) {
    std::mt19937_64 rng(seed);
    auto [table, inserted] = fill(rng, 100, {.bucket_size = 20, .depth_modulo = 5});
    EXPECT_EQ(table.size(), 100u);
    EXPECT_EQ(table.replacement_count(), 0u);
    for (const NodeInfo& node : inserted) {
      EXPECT_TRUE(table.contains(node.id));
      EXPECT_EQ(table.peer_of(node.id), node.peer);
      EXPECT_EQ(table.id_of(node.peer), node.id);
    }
    const auto buckets = table.buckets();
    EXPECT_GE(buckets.size(), 3u);
    EXPECT_LE(buckets.size(), 10u);
    check_coverage(table);
  }
}

TEST(RoutingTableTest, BucketCountsAfterTenThousandInserts) {
  struct Case {
    std::size_t k, b, min_buckets, max_buckets;
  };

  for (const Case& c :
       {Case{20, 5, 45, 65}, Case{50, 5, 35, 45}, Case{20, 10, 650, 800}, Case{20, 1, 7, 15}}) {
    std::mt19937_64 rng(c.k * 100 + c.b);
    auto [table, inserted] =
        fill(rng, 10'000, {.bucket_size = c.k, .depth_modulo = c.b, .max_replacements = 10'000});
    const auto buckets = table.buckets();
    EXPECT_GE(buckets.size(), c.min_buckets) << c.k << " " << c.b;
    EXPECT_LE(buckets.size(), c.max_buckets) << c.k << " " << c.b;
    for (const BucketView& bucket : buckets) {
      EXPECT_LE(bucket.size, c.k);
      if (bucket.replacements > 0) {
        EXPECT_EQ(bucket.size, c.k);
      }
    }
    EXPECT_EQ(table.size() + table.replacement_count(), inserted.size());
    check_coverage(table);
  }
}

TEST(RoutingTableTest, ReplacementCacheIsBounded) {
  std::mt19937_64 rng(7);
  auto [table, inserted] =
      fill(rng, 10'000, {.bucket_size = 20, .depth_modulo = 5, .max_replacements = 3});
  std::size_t replacements = 0;
  for (const BucketView& bucket : table.buckets()) {
    EXPECT_LE(bucket.replacements, 3u);
    replacements += bucket.replacements;
  }
  EXPECT_EQ(replacements, table.replacement_count());
  std::size_t known = 0;
  for (const NodeInfo& node : inserted)
    known += table.peer_of(node.id).has_value();
  EXPECT_EQ(known, table.size() + table.replacement_count());
  EXPECT_LT(known, inserted.size());
  check_coverage(table);
}

TEST(RoutingTableTest, NearestEqualsBruteForce) {
  std::mt19937_64 rng(11);
  auto [table, inserted] = fill(rng, 10'000, {.max_replacements = 100'000});
  EXPECT_GE(table.size(), 800u);
  EXPECT_LE(table.size(), 1100u);
  EXPECT_EQ(table.size() + table.replacement_count(), 10'000u);
  const std::vector<NodeInfo> active = table.nodes();
  ASSERT_EQ(active.size(), table.size());

  std::uniform_int_distribution<std::size_t> pick_k(1, 100);
  std::uniform_int_distribution<std::size_t> pick_node(0, active.size() - 1);
  for (int i = 0; i < 1000; ++i) {
    const std::size_t k = pick_k(rng);
    const DHTID query = random_id(rng);
    std::optional<DHTID> exclude;
    if (i % 3 == 1)
      exclude = active[pick_node(rng)].id;  // a node in the table
    if (i % 3 == 2)
      exclude = query;  // not in the table
    EXPECT_EQ(table.nearest(query, k, exclude), brute_force_nearest(active, query, k, exclude))
        << "query " << query.to_hex() << " k " << k;
    const auto refs = table.nearest_refs(query, k, exclude);
    const auto copies = table.nearest(query, k, exclude);
    ASSERT_EQ(refs.size(), copies.size());
    for (std::size_t j = 0; j < refs.size(); ++j)
      EXPECT_EQ(*refs[j], copies[j]);
  }
  // Queries taken from the table.
  for (int i = 0; i < 300; ++i) {
    const std::size_t k = pick_k(rng);
    const NodeInfo& node = active[pick_node(rng)];
    auto without_self = table.nearest(node.id, k, node.id);
    EXPECT_EQ(without_self, brute_force_nearest(active, node.id, k, node.id));
    EXPECT_EQ(table.nearest(node.id, k).front(), node);
  }
}

TEST(RoutingTableTest, NearestEdgeCases) {
  RoutingTable table(id_from_bits("0", 1));
  EXPECT_TRUE(table.nearest(id_from_bits("1", 1), 5).empty());
  const NodeInfo a{id_from_bits("10", 1), peer(1)};
  const NodeInfo b{id_from_bits("11", 1), peer(2)};
  (void)table.add_or_update(a, 1);
  (void)table.add_or_update(b, 1);
  EXPECT_TRUE(table.nearest(a.id, 0).empty());
  EXPECT_EQ(table.nearest(a.id, 10), (std::vector<NodeInfo>{a, b}));
  EXPECT_EQ(table.nearest(a.id, 10, a.id), (std::vector<NodeInfo>{b}));
  EXPECT_EQ(table.nearest(b.id, 1), (std::vector<NodeInfo>{b}));
  // Our own id is never a neighbour: it is never added.
  EXPECT_FALSE(table.add_or_update(NodeInfo{table.self(), peer(3)}, 1));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_FALSE(table.contains(table.self()));
}

}  // namespace
}  // namespace hivemind::dht
