// LocalStorage: hivemind's tests/test_dht_storage.py behaviours (reference hivemind-dht-p2p.md §4)
// plus the bounds and the rules where we deviate from hivemind (§1.5, §6.1). Time is a
// ManualClock; nothing sleeps.
#include "hivemind/dht/storage.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "hivemind/core/clock.hpp"
#include "hivemind/dht/error.hpp"

namespace hivemind::dht {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

DHTID key(const char* name) {
  return DHTID::from_key(msgpack::Value(name));
}

Bytes bytes(const std::string& text) {
  return to_bytes(text);
}

/// msgpack of a str subkey (hivemind stores subkeys serialized).
Bytes subkey(const char* name) {
  return msgpack::pack(msgpack::Value(name));
}

const Bytes& plain(const StoredEntry& entry) {
  return std::get<Bytes>(entry.value);
}

const DictionaryValue& dict(const StoredEntry& entry) {
  return std::get<DictionaryValue>(entry.value);
}

class StorageTest : public ::testing::Test {
 protected:
  double now() const { return clock_.unix_seconds(); }

  ManualClock clock_;
  LocalStorage storage_{clock_};
};

TEST_F(StorageTest, StoreThenGet) {
  ASSERT_TRUE(storage_.store(key("key"), bytes("val"), now() + 0.5));
  auto entry = storage_.get(key("key"));
  ASSERT_TRUE(entry);
  EXPECT_FALSE(entry->is_dictionary());
  EXPECT_EQ(plain(*entry), bytes("val"));
  EXPECT_EQ(entry->expiration, now() + 0.5);
  EXPECT_EQ(storage_.size(), 1u);
  EXPECT_EQ(storage_.total_bytes(), 3u);
}

TEST_F(StorageTest, ExpiredValueIsGone) {
  ASSERT_TRUE(storage_.store(key("key"), bytes("val"), now() + 0.1));
  clock_.advance(milliseconds(500));
  EXPECT_FALSE(storage_.get(key("key")));
  EXPECT_EQ(storage_.size(), 0u);
  EXPECT_EQ(storage_.total_bytes(), 0u);
  EXPECT_TRUE(storage_.items().empty());
}

TEST_F(StorageTest, ServedUntilItsExpirationInclusive) {
  const double expiration = now() + 1;
  ASSERT_TRUE(storage_.store(key("key"), bytes("val"), expiration));
  clock_.advance(seconds(1));
  ASSERT_EQ(now(), expiration);
  EXPECT_TRUE(storage_.get(key("key")));
  clock_.advance(milliseconds(1));
  EXPECT_FALSE(storage_.get(key("key")));
}

TEST_F(StorageTest, MissingKey) {
  EXPECT_FALSE(storage_.get(key("key")));
  EXPECT_FALSE(storage_.erase(key("key")));
}

TEST_F(StorageTest, EraseRemovesTheKey) {
  ASSERT_TRUE(storage_.store(key("key"), bytes("val"), now() + 10));
  EXPECT_TRUE(storage_.erase(key("key")));
  EXPECT_FALSE(storage_.get(key("key")));
  EXPECT_EQ(storage_.total_bytes(), 0u);
  // The key can be stored again with any expiration.
  EXPECT_TRUE(storage_.store(key("key"), bytes("v"), now() + 1));
}

TEST_F(StorageTest, LaterExpirationReplacesAndSurvivesTheOldExpiry) {
  ASSERT_TRUE(storage_.store(key("key"), bytes("val1"), now() + 1));
  EXPECT_EQ(plain(*storage_.get(key("key"))), bytes("val1"));
  ASSERT_TRUE(storage_.store(key("key"), bytes("val2"), now() + 200));
  clock_.advance(seconds(1) + milliseconds(1));
  auto entry = storage_.get(key("key"));
  ASSERT_TRUE(entry);
  EXPECT_EQ(plain(*entry), bytes("val2"));
  EXPECT_EQ(storage_.total_bytes(), 4u);
}

TEST_F(StorageTest, TieIsRejected) {
  const double expiration = now() + 10;
  ASSERT_TRUE(storage_.store(key("key"), bytes("first"), expiration));
  auto tie = storage_.store(key("key"), bytes("second"), expiration);
  ASSERT_FALSE(tie);
  EXPECT_EQ(tie.error(), DhtErrc::kRejected);
  EXPECT_EQ(plain(*storage_.get(key("key"))), bytes("first"));
}

TEST_F(StorageTest, RejectedOlderStoreDoesNotShortenTheKeptValue) {
  // hivemind's TimedStorage would drop the kept value at the rejected expiration (§6.1).
  ASSERT_TRUE(storage_.store(key("key"), bytes("new"), now() + 10));
  auto older = storage_.store(key("key"), bytes("old"), now() + 5);
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error(), DhtErrc::kRejected);
  clock_.advance(seconds(7));
  auto entry = storage_.get(key("key"));
  ASSERT_TRUE(entry);
  EXPECT_EQ(plain(*entry), bytes("new"));
  EXPECT_EQ(entry->expiration, now() + 3);
}

TEST_F(StorageTest, BadExpirationsAreRefused) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const double too_far = now() + storage_.limits().max_expiration_ahead_s + 1;
  for (double expiration : {nan, now() - 1, -inf, too_far, inf}) {
    auto plain_store = storage_.store(key("key"), bytes("v"), expiration);
    ASSERT_FALSE(plain_store) << expiration;
    EXPECT_EQ(plain_store.error(), DhtErrc::kBadExpiration) << expiration;
    auto sub_store = storage_.store_subkey(key("key"), subkey("s"), bytes("v"), expiration);
    ASSERT_FALSE(sub_store) << expiration;
    EXPECT_EQ(sub_store.error(), DhtErrc::kBadExpiration) << expiration;
  }
  EXPECT_EQ(storage_.size(), 0u);
  // The bounds themselves are accepted.
  EXPECT_TRUE(storage_.store(key("a"), bytes("v"), now()));
  EXPECT_TRUE(
      storage_.store(key("b"), bytes("v"), now() + storage_.limits().max_expiration_ahead_s));
}

TEST(StorageLimitsTest, OversizedValuesAreRefused) {
  ManualClock clock;
  LocalStorage storage(clock, StorageLimits{.max_value_bytes = 8});
  const double expiration = clock.unix_seconds() + 10;
  auto big = storage.store(key("key"), Bytes(9, 1), expiration);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), DhtErrc::kValueTooLarge);
  EXPECT_TRUE(storage.store(key("key"), Bytes(8, 1), expiration));
  // A dictionary entry counts its subkey and its value.
  auto big_entry = storage.store_subkey(key("dict"), Bytes(4, 2), Bytes(5, 1), expiration);
  ASSERT_FALSE(big_entry);
  EXPECT_EQ(big_entry.error(), DhtErrc::kValueTooLarge);
  auto big_subkey = storage.store_subkey(key("dict"), Bytes(9, 2), Bytes(), expiration);
  ASSERT_FALSE(big_subkey);
  EXPECT_EQ(big_subkey.error(), DhtErrc::kValueTooLarge);
  EXPECT_TRUE(storage.store_subkey(key("dict"), Bytes(4, 2), Bytes(4, 1), expiration));
}

TEST(StorageLimitsTest, MaxItemsEvictsTheEarliestExpiring) {
  ManualClock clock;
  const double now = clock.unix_seconds();
  LocalStorage storage(clock, StorageLimits{.max_items = 1});
  ASSERT_TRUE(storage.store(key("key1"), bytes("val1"), now + 1));
  ASSERT_TRUE(storage.store(key("key2"), bytes("val2"), now + 200));
  EXPECT_EQ(plain(*storage.get(key("key2"))), bytes("val2"));
  EXPECT_FALSE(storage.get(key("key1")));
  EXPECT_EQ(storage.size(), 1u);
}

TEST(StorageLimitsTest, MaxItemsKeepsTheNewerAndRefusesAnEarlierNewcomer) {
  ManualClock clock;
  const double now = clock.unix_seconds();
  LocalStorage storage(clock, StorageLimits{.max_items = 3});
  ASSERT_TRUE(storage.store(key("key1"), bytes("val1"), now + 1));
  ASSERT_TRUE(storage.store(key("key2"), bytes("val2"), now + 2));
  ASSERT_TRUE(storage.store(key("key3"), bytes("val3"), now + 4));
  // Updating a key does not count as a new one.
  ASSERT_TRUE(storage.store(key("key1"), bytes("val1_new"), now + 3));
  EXPECT_EQ(storage.size(), 3u);
  ASSERT_TRUE(storage.erase(key("key2")));
  ASSERT_TRUE(storage.store(key("key2"), bytes("val2_new"), now + 5));
  ASSERT_TRUE(storage.store(key("key4"), bytes("val4"), now + 6));  // pushes key1 (now + 3) out
  EXPECT_FALSE(storage.get(key("key1")));
  EXPECT_EQ(plain(*storage.get(key("key3"))), bytes("val3"));
  EXPECT_EQ(plain(*storage.get(key("key2"))), bytes("val2_new"));
  EXPECT_EQ(plain(*storage.get(key("key4"))), bytes("val4"));
  // A newcomer that would expire before everything stored is refused; nothing is evicted.
  auto early = storage.store(key("key5"), bytes("val5"), now + 4);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), DhtErrc::kRejected);
  EXPECT_EQ(storage.size(), 3u);
  EXPECT_TRUE(storage.get(key("key3")));
}

TEST(StorageLimitsTest, ByteBoundEvictsTheEarliestExpiring) {
  ManualClock clock;
  const double now = clock.unix_seconds();
  LocalStorage storage(clock, StorageLimits{.max_total_bytes = 10});
  ASSERT_TRUE(storage.store(key("k1"), Bytes(4, 1), now + 1));
  ASSERT_TRUE(storage.store(key("k2"), Bytes(4, 2), now + 2));
  ASSERT_TRUE(storage.store(key("k3"), Bytes(4, 3), now + 3));  // 12 > 10: k1 goes
  EXPECT_FALSE(storage.get(key("k1")));
  EXPECT_EQ(storage.total_bytes(), 8u);
  // 10 bytes expiring before k2 and k3 do not fit without evicting later values: refused.
  auto early = storage.store(key("k4"), Bytes(10, 4), now + 1.5);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), DhtErrc::kRejected);
  EXPECT_EQ(storage.size(), 2u);
  EXPECT_EQ(storage.total_bytes(), 8u);
  // Growing a key counts only the difference: k3 grows to 6 bytes, k2 (4) still fits.
  ASSERT_TRUE(storage.store(key("k3"), Bytes(6, 3), now + 4));
  EXPECT_EQ(storage.total_bytes(), 10u);
  EXPECT_TRUE(storage.get(key("k2")));
  // A later 10-byte value pushes both out.
  ASSERT_TRUE(storage.store(key("k5"), Bytes(10, 5), now + 5));
  EXPECT_EQ(storage.size(), 1u);
  EXPECT_EQ(storage.total_bytes(), 10u);
  EXPECT_FALSE(storage.get(key("k2")));
  EXPECT_FALSE(storage.get(key("k3")));
}

TEST(StorageLimitsTest, ByteBoundCountsDictionaryEntries) {
  ManualClock clock;
  const double now = clock.unix_seconds();
  LocalStorage storage(clock, StorageLimits{.max_total_bytes = 12});
  ASSERT_TRUE(storage.store(key("plain"), Bytes(4, 1), now + 1));
  ASSERT_TRUE(storage.store_subkey(key("dict"), Bytes(2, 7), Bytes(2, 2), now + 2));
  EXPECT_EQ(storage.total_bytes(), 8u);
  // A second entry of 6 bytes makes 14 > 12: the plain value (earlier) is evicted.
  ASSERT_TRUE(storage.store_subkey(key("dict"), Bytes(2, 8), Bytes(4, 2), now + 3));
  EXPECT_FALSE(storage.get(key("plain")));
  EXPECT_EQ(storage.total_bytes(), 10u);
  // Overwriting a subkey counts only the difference.
  ASSERT_TRUE(storage.store_subkey(key("dict"), Bytes(2, 7), Bytes(4, 2), now + 4));
  EXPECT_EQ(storage.total_bytes(), 12u);
  EXPECT_EQ(dict(*storage.get(key("dict"))).size(), 2u);
}

TEST(StorageLimitsTest, DictionarySubkeyLimit) {
  ManualClock clock;
  const double now = clock.unix_seconds();
  LocalStorage storage(clock, StorageLimits{.max_subkeys = 2});
  ASSERT_TRUE(storage.store_subkey(key("dict"), subkey("a"), bytes("1"), now + 1));
  ASSERT_TRUE(storage.store_subkey(key("dict"), subkey("b"), bytes("2"), now + 10));
  auto third = storage.store_subkey(key("dict"), subkey("c"), bytes("3"), now + 10);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), DhtErrc::kRejected);
  // Existing subkeys can still be refreshed.
  EXPECT_TRUE(storage.store_subkey(key("dict"), subkey("b"), bytes("2+"), now + 11));
  // Once "a" has expired its place is free again.
  clock.advance(seconds(2));
  ASSERT_TRUE(storage.store_subkey(key("dict"), subkey("c"), bytes("3"), now + 12));
  auto entry = storage.get(key("dict"));
  ASSERT_TRUE(entry);
  EXPECT_EQ(dict(*entry).size(), 2u);
  EXPECT_FALSE(dict(*entry).entries().contains(subkey("a")));
  EXPECT_EQ(storage.total_bytes(), 2 * subkey("b").size() + bytes("2+").size() + 1);
}

}  // namespace
}  // namespace hivemind::dht
