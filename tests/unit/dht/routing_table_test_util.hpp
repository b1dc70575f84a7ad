#pragma once
/// \file
/// Helpers for the routing table tests: deterministic ids and peer ids, and a check that the
/// buckets partition the id space and hold exactly the nodes whose ids they cover.

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "hivemind/dht/routing_table.hpp"

namespace hivemind::dht {

/// gtest printer, so that failures show ids instead of byte dumps.
inline void PrintTo(const NodeInfo& node, std::ostream* os) {
  *os << node.id.to_hex() << "@" << node.peer.to_string();
}

namespace testutil {

inline DHTID random_id(std::mt19937_64& rng) {
  DHTID::Raw raw{};
  for (auto& byte : raw)
    byte = static_cast<std::uint8_t>(rng());
  return DHTID(raw);
}

/// The id whose leading bits are `bits` ('0'/'1'), then zeros, with `last_byte` in byte 19.
inline DHTID id_from_bits(std::string_view bits, std::uint8_t last_byte = 0) {
  DHTID::Raw raw{};
  for (std::size_t i = 0; i < bits.size(); ++i) {
    if (bits[i] == '1')
      raw[i / 8] = static_cast<std::uint8_t>(raw[i / 8] | (0x80u >> (i % 8)));
  }
  raw[DHTID::kBytes - 1] = static_cast<std::uint8_t>(raw[DHTID::kBytes - 1] | last_byte);
  return DHTID(raw);
}

/// A distinct, valid peer id per `index` (identity multihash of 8 bytes).
inline net::PeerId peer(std::uint64_t index) {
  Bytes multihash{0x00, 8};
  append_be(multihash, index);
  return net::PeerId::from_bytes(multihash).value();
}

/// Adds 2^(160 - depth) to `id` in place; returns false on overflow past 2^160.
inline bool advance_by_bucket(DHTID::Raw& id, std::size_t depth) {
  if (depth == 0)
    return false;
  const std::size_t bit = depth - 1;
  unsigned carry = 0x80u >> (bit % 8);
  for (std::size_t i = bit / 8 + 1; i-- > 0 && carry != 0;) {
    const unsigned sum = id[i] + carry;
    id[i] = static_cast<std::uint8_t>(sum);
    carry = sum >> 8;
  }
  return carry == 0;
}

/// Buckets are in id order, start at 0, leave no gap, end at 2^160, have no bits set past their
/// depth, and each bucket's size equals the number of active nodes it covers.
inline void check_coverage(const RoutingTable& table) {
  const auto buckets = table.buckets();
  ASSERT_FALSE(buckets.empty());
  EXPECT_EQ(buckets.front().prefix, DHTID());
  std::size_t total = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const BucketView& bucket = buckets[i];
    for (std::size_t bit = bucket.depth; bit < DHTID::kBits; ++bit) {
      ASSERT_FALSE(bucket.prefix.bit(bit)) << "bucket " << i << " has bits past its depth";
    }
    DHTID::Raw next = bucket.prefix.raw();
    const bool more = advance_by_bucket(next, bucket.depth);
    if (i + 1 < buckets.size()) {
      ASSERT_TRUE(more);
      EXPECT_EQ(DHTID(next), buckets[i + 1].prefix) << "gap or overlap after bucket " << i;
    } else {
      EXPECT_FALSE(more) << "the last bucket does not reach 2^160";
    }
    total += bucket.size;
  }
  EXPECT_EQ(total, table.size());
  std::vector<std::size_t> counts(buckets.size(), 0);
  for (const NodeInfo& node : table.nodes()) {
    auto after = std::partition_point(
        buckets.begin(), buckets.end(), [&](const BucketView& b) { return b.prefix <= node.id; });
    ASSERT_NE(after, buckets.begin());
    const auto index = static_cast<std::size_t>(after - buckets.begin()) - 1;
    EXPECT_GE(node.id.common_prefix_length(buckets[index].prefix), buckets[index].depth);
    ++counts[index];
  }
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    EXPECT_EQ(counts[i], buckets[i].size) << "bucket " << i;
  }
}

}  // namespace testutil
}  // namespace hivemind::dht
