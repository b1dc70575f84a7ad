// LocalStorage with dictionary values (hivemind's test_localstorage_nested and the store_subkey
// rules of reference hivemind-dht-p2p.md §1.5). Time is a ManualClock; nothing sleeps.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "hivemind/core/clock.hpp"
#include "hivemind/dht/error.hpp"
#include "hivemind/dht/storage.hpp"

namespace hivemind::dht {
namespace {

DHTID key(const char* name) {
  return DHTID::from_key(msgpack::Value(name));
}

Bytes bytes(const std::string& text) {
  return to_bytes(text);
}

Bytes subkey(const char* name) {
  return msgpack::pack(msgpack::Value(name));
}

const DictionaryValue& dict(const StoredEntry& entry) {
  return std::get<DictionaryValue>(entry.value);
}

class StorageDictionaryTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  const double time_ = clock_.unix_seconds();
  LocalStorage storage_{clock_};
};

TEST_F(StorageDictionaryTest, StoreSubkeyBuildsADictionaryWithTheLatestExpiration) {
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("subkey1"), bytes("value1"), time_ + 2));
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("subkey2"), bytes("value2"), time_ + 3));
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("subkey3"), bytes("value3"), time_ + 1));
  ASSERT_TRUE(storage_.store(key("bar"), bytes("456"), time_ + 2));

  auto foo = storage_.get(key("foo"));
  ASSERT_TRUE(foo);
  ASSERT_TRUE(foo->is_dictionary());
  EXPECT_EQ(foo->expiration, time_ + 3);
  EXPECT_EQ(dict(*foo).latest_expiration(), time_ + 3);
  ASSERT_EQ(dict(*foo).size(), 3u);
  EXPECT_EQ(dict(*foo).entries().at(subkey("subkey1")),
            (ValueWithExpiration{bytes("value1"), time_ + 2}));
  EXPECT_EQ(dict(*foo).entries().at(subkey("subkey3")),
            (ValueWithExpiration{bytes("value3"), time_ + 1}));

  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("subkey4"), bytes("value4"), time_ + 4));
  foo = storage_.get(key("foo"));
  EXPECT_EQ(dict(*foo).size(), 4u);
  EXPECT_EQ(foo->expiration, time_ + 4);
}

TEST_F(StorageDictionaryTest, SubkeyOverPlainValueNeedsALaterExpiration) {
  ASSERT_TRUE(storage_.store(key("bar"), bytes("456"), time_ + 2));
  auto older = storage_.store_subkey(key("bar"), subkey("subkeyA"), bytes("valueA"), time_ + 1);
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error(), DhtErrc::kRejected);
  auto tie = storage_.store_subkey(key("bar"), subkey("subkeyA"), bytes("valueA"), time_ + 2);
  ASSERT_FALSE(tie);
  EXPECT_EQ(tie.error(), DhtErrc::kRejected);
  EXPECT_FALSE(storage_.get(key("bar"))->is_dictionary());

  ASSERT_TRUE(storage_.store_subkey(key("bar"), subkey("subkeyA"), bytes("valueA"), time_ + 3));
  ASSERT_TRUE(storage_.store_subkey(key("bar"), subkey("subkeyB"), bytes("valueB"), time_ + 4));
  ASSERT_TRUE(storage_.store_subkey(key("bar"), subkey("subkeyA"), bytes("valueA+"), time_ + 5));
  auto bar = storage_.get(key("bar"));
  ASSERT_TRUE(bar && bar->is_dictionary());
  EXPECT_EQ(bar->expiration, time_ + 5);
  ASSERT_EQ(dict(*bar).size(), 2u);
  EXPECT_EQ(dict(*bar).entries().at(subkey("subkeyA")),
            (ValueWithExpiration{bytes("valueA+"), time_ + 5}));
  EXPECT_EQ(dict(*bar).entries().at(subkey("subkeyB")),
            (ValueWithExpiration{bytes("valueB"), time_ + 4}));
  // The plain value's bytes are no longer counted.
  EXPECT_EQ(storage_.total_bytes(), 2 * subkey("subkeyA").size() + 7 + 6);
}

TEST_F(StorageDictionaryTest, SubkeyRuleIsStrictlyNewerWins) {
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("s"), bytes("v1"), time_ + 5));
  auto tie = storage_.store_subkey(key("foo"), subkey("s"), bytes("v2"), time_ + 5);
  ASSERT_FALSE(tie);
  EXPECT_EQ(tie.error(), DhtErrc::kRejected);
  auto older = storage_.store_subkey(key("foo"), subkey("s"), bytes("v3"), time_ + 4);
  ASSERT_FALSE(older);
  EXPECT_EQ(dict(*storage_.get(key("foo"))).entries().at(subkey("s")).value, bytes("v1"));
  // Another subkey with an earlier expiration is fine and leaves the outer expiration alone.
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("t"), bytes("v4"), time_ + 1));
  EXPECT_EQ(storage_.get(key("foo"))->expiration, time_ + 5);
}

TEST_F(StorageDictionaryTest, PlainStoreOverDictionary) {
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("subkey1"), bytes("value1"), time_ + 2));
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("subkey2"), bytes("value2"), time_ + 3));

  auto older = storage_.store(key("foo"), bytes("nothing"), time_ + 2.5);
  ASSERT_FALSE(older);
  EXPECT_EQ(older.error(), DhtErrc::kRejected);
  auto tie = storage_.store(key("foo"), bytes("nothing"), time_ + 3);
  ASSERT_FALSE(tie);
  EXPECT_EQ(dict(*storage_.get(key("foo"))).entries().at(subkey("subkey2")),
            (ValueWithExpiration{bytes("value2"), time_ + 3}));

  ASSERT_TRUE(storage_.store(key("foo"), bytes("nothing"), time_ + 5));
  auto foo = storage_.get(key("foo"));
  ASSERT_TRUE(foo);
  EXPECT_EQ(*foo, (StoredEntry{bytes("nothing"), time_ + 5}));
  EXPECT_EQ(storage_.total_bytes(), 7u);
}

TEST_F(StorageDictionaryTest, ExpiredSubkeysDisappearAndTheDictionaryLivesUntilItsLatest) {
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("short"), bytes("a"), time_ + 1));
  ASSERT_TRUE(storage_.store_subkey(key("foo"), subkey("long"), bytes("b"), time_ + 10));
  clock_.advance(std::chrono::seconds(2));
  auto foo = storage_.get(key("foo"));
  ASSERT_TRUE(foo);
  EXPECT_EQ(dict(*foo).size(), 1u);
  EXPECT_TRUE(dict(*foo).entries().contains(subkey("long")));
  EXPECT_EQ(foo->expiration, time_ + 10);
  EXPECT_EQ(storage_.total_bytes(), subkey("long").size() + 1);

  auto items = storage_.items();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].first, key("foo"));
  EXPECT_EQ(items[0].second, *foo);

  clock_.advance(std::chrono::seconds(9));
  EXPECT_FALSE(storage_.get(key("foo")));
  EXPECT_EQ(storage_.total_bytes(), 0u);
}

TEST_F(StorageDictionaryTest, ItemsListsLiveKeysOnly) {
  ASSERT_TRUE(storage_.store(key("a"), bytes("1"), time_ + 1));
  ASSERT_TRUE(storage_.store(key("b"), bytes("2"), time_ + 10));
  ASSERT_TRUE(storage_.store_subkey(key("c"), subkey("s"), bytes("3"), time_ + 10));
  clock_.advance(std::chrono::seconds(5));
  auto items = storage_.items();
  ASSERT_EQ(items.size(), 2u);
  for (const auto& [id, entry] : items) {
    EXPECT_TRUE(id == key("b") || id == key("c"));
    EXPECT_EQ(entry.is_dictionary(), id == key("c"));
  }
  EXPECT_EQ(storage_.size(), 2u);
}

}  // namespace
}  // namespace hivemind::dht
