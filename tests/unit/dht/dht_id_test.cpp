#include "hivemind/dht/dht_id.hpp"

#include <algorithm>
#include <random>
#include <unordered_set>

#include <gtest/gtest.h>

#include "hivemind/dht/error.hpp"

namespace hivemind::dht {
namespace {

using msgpack::Bin;
using msgpack::Value;

// Reference helpers computed bit by bit, independently of DHTID's byte-wise code.
std::string bit_string(const DHTID& id) {
  std::string bits;
  for (std::uint8_t byte : id.raw())
    for (int i = 7; i >= 0; --i)
      bits += ((byte >> i) & 1) ? '1' : '0';
  return bits;
}

TEST(DHTID, KeyHashVectors) {
  // Reference §1.1: SHA-1 of msgpack("key1") = sha1(a4 6b 65 79 31), and of raw bytes as they are.
  EXPECT_EQ(DHTID::from_key(Value("key1")).to_hex(), "ce27c561a2627a439cecb58acff4927706cc6418");
  EXPECT_EQ(DHTID::from_key(Value("foo")).to_hex(), "bd4339d24800a1815bb1b7382320cab96bba0cde");
  EXPECT_EQ(DHTID::from_key(Value(Bin{to_bytes("foo")})).to_hex(),
            "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33");
  EXPECT_EQ(DHTID::from_raw_key(as_bytes("foo")).to_hex(),
            "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33");
  // A non-string key hashes its msgpack encoding: 7 packs as the single byte 0x07.
  const std::uint8_t seven[] = {0x07};
  EXPECT_EQ(DHTID::from_key(Value(7)), DHTID::from_raw_key(seven));
}

TEST(DHTID, BytesRoundTripAndDistanceToSelf) {
  // test_routing.py::test_ids_basic.
  for (int i = 0; i < 100; ++i) {
    const DHTID id = DHTID::random();
    auto parsed = DHTID::from_bytes(id.to_bytes());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, id);
    EXPECT_EQ(id.distance(id), DHTID());
    EXPECT_EQ(id.common_prefix_length(id), DHTID::kBits);
  }
}

TEST(DHTID, FromBytesRejectsOtherLengths) {
  for (std::size_t n : {0, 19, 21, 32}) {
    auto parsed = DHTID::from_bytes(Bytes(n, 0xab));
    ASSERT_FALSE(parsed) << n;
    EXPECT_EQ(parsed.error(), DhtErrc::kMalformedValue);
  }
}

TEST(DHTID, DistancePrefixAndBitsMatchBitwiseReference) {
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 200; ++i) {
    const DHTID a = DHTID::random();
    // Half of the pairs share a prefix of random length so that all prefix lengths are exercised.
    const DHTID b = (i % 2 == 0) ? DHTID::random() : DHTID::random_with_prefix(a, rng() % 161);
    const std::string sa = bit_string(a), sb = bit_string(b), sd = bit_string(a.distance(b));
    std::size_t prefix = 0;
    while (prefix < DHTID::kBits && sa[prefix] == sb[prefix])
      ++prefix;
    EXPECT_EQ(a.common_prefix_length(b), prefix);
    for (std::size_t bit = 0; bit < DHTID::kBits; ++bit) {
      ASSERT_EQ(a.bit(bit), sa[bit] == '1') << bit;
      ASSERT_EQ(sd[bit], sa[bit] == sb[bit] ? '0' : '1') << bit;
    }
    // Ordering is that of the unsigned integers, i.e. of the bit strings.
    EXPECT_EQ(a < b, sa < sb);
  }
}

TEST(DHTID, RandomWithPrefixKeepsPrefix) {
  const DHTID prefix = DHTID::random();
  for (std::size_t bits : {0, 1, 7, 8, 9, 63, 64, 100, 159, 160}) {
    for (int i = 0; i < 20; ++i) {
      const DHTID id = DHTID::random_with_prefix(prefix, bits);
      EXPECT_GE(id.common_prefix_length(prefix), bits) << bits;
    }
  }
  EXPECT_EQ(DHTID::random_with_prefix(prefix, 160), prefix);
  EXPECT_THROW(DHTID::random_with_prefix(prefix, 161), std::invalid_argument);
}

TEST(DHTID, RandomIdsDifferAndVaryInEveryByte) {
  std::unordered_set<DHTID> ids;
  std::array<bool, DHTID::kBytes> seen_nonzero{};
  for (int i = 0; i < 100; ++i) {
    const DHTID id = DHTID::random();
    ids.insert(id);
    for (std::size_t b = 0; b < DHTID::kBytes; ++b)
      seen_nonzero[b] |= id.raw()[b] != 0;
  }
  EXPECT_EQ(ids.size(), 100u);
  for (bool nonzero : seen_nonzero)
    EXPECT_TRUE(nonzero);
}

TEST(DHTID, BitOutOfRangeIsFalseAndHexIsBigEndian) {
  DHTID::Raw raw{};
  raw[0] = 0x80;
  raw[19] = 0x01;
  const DHTID id(raw);
  EXPECT_TRUE(id.bit(0));
  EXPECT_FALSE(id.bit(1));
  EXPECT_TRUE(id.bit(159));
  EXPECT_FALSE(id.bit(160));
  EXPECT_EQ(id.to_hex(), "8000000000000000000000000000000000000001");
  EXPECT_GT(id, DHTID::from_bytes(Bytes(20, 0x7f)).value());
}

// The word-at-a-time comparison must order ids exactly as their big-endian bytes, also when
// they differ only in the second word or the last 4 bytes.
TEST(DHTID, OrderMatchesBytewiseOrder) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> position(0, static_cast<int>(DHTID::kBytes) - 1);
  for (int i = 0; i < 20000; ++i) {
    DHTID::Raw a{}, b{};
    for (auto& x : a)
      x = static_cast<std::uint8_t>(byte(rng));
    b = a;
    const int from = position(rng);  // b shares a's first `from` bytes
    for (int j = from; j < static_cast<int>(DHTID::kBytes); ++j)
      if (i % 4 != 0)
        b[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(byte(rng));
    const bool less = std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    const bool greater = std::lexicographical_compare(b.begin(), b.end(), a.begin(), a.end());
    EXPECT_EQ(DHTID(a) < DHTID(b), less);
    EXPECT_EQ(DHTID(a) > DHTID(b), greater);
    EXPECT_EQ(DHTID(a) == DHTID(b), !less && !greater);
  }
}

}  // namespace
}  // namespace hivemind::dht
