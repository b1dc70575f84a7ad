// RoutingTable rules on hand-built ids (our own id is 0): hivemind's split rule, the bounded
// replacement cache, promotion on remove, the ping-candidate rule and the id <-> peer indexes
// (reference hivemind-dht-p2p.md §1.2).
#include <stdexcept>

#include <gtest/gtest.h>

#include "hivemind/dht/routing_table.hpp"
#include "routing_table_test_util.hpp"

namespace hivemind::dht {
namespace {

using testutil::check_coverage;
using testutil::id_from_bits;
using testutil::peer;

NodeInfo node(std::string_view bits, std::uint8_t last_byte, std::uint64_t peer_index) {
  return NodeInfo{id_from_bits(bits, last_byte), peer(peer_index)};
}

struct Shape {
  std::string bits;
  std::size_t depth, size, replacements;
};

void expect_shape(const RoutingTable& table, const std::vector<Shape>& expected) {
  const auto buckets = table.buckets();
  ASSERT_EQ(buckets.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(buckets[i].prefix, id_from_bits(expected[i].bits)) << i;
    EXPECT_EQ(buckets[i].depth, expected[i].depth) << i;
    EXPECT_EQ(buckets[i].size, expected[i].size) << i;
    EXPECT_EQ(buckets[i].replacements, expected[i].replacements) << i;
  }
  check_coverage(table);
}

TEST(RoutingTableRulesTest, SplitsBucketsHoldingSelfOrAtDepthsNotDivisibleByModulo) {
  RoutingTable table(DHTID(), {.bucket_size = 1, .depth_modulo = 2});
  const NodeInfo f1 = node("10", 1, 1), f2 = node("11", 1, 2), f3 = node("10", 2, 3);
  EXPECT_FALSE(table.add_or_update(f1, 1));
  expect_shape(table, {{"", 0, 1, 0}});
  // Full and holding our id: split at depth 0; [1] (depth 1, odd) is full again and splits too.
  EXPECT_FALSE(table.add_or_update(f2, 2));
  expect_shape(table, {{"0", 1, 0, 0}, {"10", 2, 1, 0}, {"11", 2, 1, 0}});
  // [10] is full, at an even depth and far from us: f3 waits as a replacement, f1 gets pinged.
  EXPECT_EQ(table.add_or_update(f3, 3), f1);
  expect_shape(table, {{"0", 1, 0, 0}, {"10", 2, 1, 1}, {"11", 2, 1, 0}});
  // Near our id buckets keep splitting whatever their depth.
  EXPECT_FALSE(table.add_or_update(node("01", 1, 4), 4));
  EXPECT_FALSE(table.add_or_update(node("001", 1, 5), 5));
  EXPECT_FALSE(table.add_or_update(node("0001", 1, 6), 6));
  expect_shape(
      table,
      {{"000", 3, 1, 0}, {"001", 3, 1, 0}, {"01", 2, 1, 0}, {"10", 2, 1, 1}, {"11", 2, 1, 0}});
  EXPECT_EQ(table.size(), 5u);
  EXPECT_EQ(table.replacement_count(), 1u);
}

TEST(RoutingTableRulesTest, BucketsRecordTheirLastUpdate) {
  RoutingTable table(DHTID(), {.bucket_size = 1, .depth_modulo = 1});
  (void)table.add_or_update(node("1", 1, 1), 5);
  EXPECT_EQ(table.buckets().front().last_updated, 5);
  (void)table.add_or_update(node("1", 1, 1), 7);
  EXPECT_EQ(table.buckets().front().last_updated, 7);
  (void)table.add_or_update(node("01", 1, 2), 9);  // splits: both halves are new at 9
  const auto buckets = table.buckets();
  ASSERT_EQ(buckets.size(), 2u);
  for (const BucketView& bucket : buckets)
    EXPECT_EQ(bucket.last_updated, 9);
}

TEST(RoutingTableRulesTest, ReplacementCacheKeepsTheMostRecentAndPromotesOnRemove) {
  RoutingTable table(DHTID(), {.bucket_size = 2, .depth_modulo = 1, .max_replacements = 3});
  std::vector<NodeInfo> far;
  for (std::uint8_t i = 1; i <= 10; ++i)
    far.push_back(node("1", i, i));
  for (const NodeInfo& n : far)
    (void)table.add_or_update(n, 1);
  expect_shape(table, {{"0", 1, 0, 0}, {"1", 1, 2, 3}});
  for (std::size_t i = 2; i < 7; ++i) {
    EXPECT_FALSE(table.peer_of(far[i].id)) << i;
    EXPECT_FALSE(table.id_of(far[i].peer)) << i;
  }
  for (std::size_t i = 7; i < 10; ++i) {
    EXPECT_EQ(table.peer_of(far[i].id), far[i].peer) << i;
    EXPECT_FALSE(table.contains(far[i].id)) << i;
  }
  // Seeing far[7] again makes it the most recent replacement.
  (void)table.add_or_update(far[7], 2);
  EXPECT_TRUE(table.remove(far[0].id));
  EXPECT_TRUE(table.contains(far[7].id));
  EXPECT_FALSE(table.peer_of(far[0].id));
  EXPECT_TRUE(table.remove(far[1].id));
  EXPECT_TRUE(table.contains(far[9].id));
  EXPECT_EQ(table.replacement_count(), 1u);
  // Removing a replacement promotes nothing.
  EXPECT_TRUE(table.remove(far[8].id));
  EXPECT_FALSE(table.remove(far[8].id));
  expect_shape(table, {{"0", 1, 0, 0}, {"1", 1, 2, 0}});
  // An active node removed with no replacement leaves a free place.
  EXPECT_TRUE(table.remove(far[7].id));
  EXPECT_FALSE(table.add_or_update(far[0], 3));
  EXPECT_TRUE(table.contains(far[0].id));
}

TEST(RoutingTableRulesTest, WithoutReplacementsFullBucketsStillOfferAPing) {
  RoutingTable table(DHTID(), {.bucket_size = 1, .depth_modulo = 1, .max_replacements = 0});
  const NodeInfo a = node("1", 1, 1), b = node("1", 2, 2);
  (void)table.add_or_update(a, 1);
  (void)table.add_or_update(node("0", 1, 3), 1);  // splits
  EXPECT_EQ(table.add_or_update(b, 1), a);
  EXPECT_FALSE(table.peer_of(b.id));
  EXPECT_FALSE(table.id_of(b.peer));
  EXPECT_EQ(table.replacement_count(), 0u);
}

TEST(RoutingTableRulesTest, PingCandidateIsTheLeastRecentlySeenNotYetRequested) {
  RoutingTable table(DHTID(), {.bucket_size = 3, .depth_modulo = 1, .max_replacements = 10});
  const NodeInfo a = node("1", 1, 1), b = node("1", 2, 2), c = node("1", 3, 3);
  for (const NodeInfo& n : {a, b, c})
    EXPECT_FALSE(table.add_or_update(n, 1));
  EXPECT_FALSE(table.add_or_update(a, 2));  // a moves to the most-recently-seen end: b, c, a
  EXPECT_EQ(table.add_or_update(node("1", 4, 4), 3), b);  // also splits off our half
  EXPECT_EQ(table.add_or_update(node("1", 5, 5), 3), c);
  EXPECT_EQ(table.add_or_update(node("1", 6, 6), 3), a);
  EXPECT_FALSE(table.add_or_update(node("1", 7, 7), 3));  // everyone is being pinged
  // b answers: it is seen again, so it is no longer awaiting a ping and becomes the newest.
  EXPECT_FALSE(table.add_or_update(b, 4));
  const NodeInfo h = node("1", 8, 8);
  EXPECT_EQ(table.add_or_update(h, 5), b);
  // c does not answer: the most recent replacement (h) takes its place, not awaiting a ping.
  EXPECT_TRUE(table.remove(c.id));
  EXPECT_TRUE(table.contains(h.id));
  EXPECT_EQ(table.add_or_update(node("1", 9, 9), 6), h);
}

TEST(RoutingTableRulesTest, IdAndPeerStayOneToOne) {
  RoutingTable table{DHTID()};
  const DHTID id1 = id_from_bits("1", 1), id2 = id_from_bits("1", 2);
  (void)table.add_or_update({id1, peer(1)}, 1);
  // The same peer under a new id replaces its old entry.
  (void)table.add_or_update({id2, peer(1)}, 2);
  EXPECT_FALSE(table.contains(id1));
  EXPECT_FALSE(table.peer_of(id1));
  EXPECT_EQ(table.id_of(peer(1)), id2);
  EXPECT_EQ(table.size(), 1u);
  // An id announced by another peer is re-bound to it.
  (void)table.add_or_update({id2, peer(2)}, 3);
  EXPECT_EQ(table.peer_of(id2), peer(2));
  EXPECT_EQ(table.id_of(peer(2)), id2);
  EXPECT_FALSE(table.id_of(peer(1)));
  EXPECT_EQ(table.nodes(), (std::vector<NodeInfo>{{id2, peer(2)}}));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.replacement_count(), 0u);
}

TEST(RoutingTableRulesTest, RejectsUnusableOptions) {
  EXPECT_THROW(RoutingTable(DHTID(), {.bucket_size = 0}), std::invalid_argument);
  EXPECT_THROW(RoutingTable(DHTID(), {.depth_modulo = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace hivemind::dht
