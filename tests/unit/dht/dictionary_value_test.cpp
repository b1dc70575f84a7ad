#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "hivemind/dht/error.hpp"
#include "hivemind/dht/value.hpp"
#include "msgpack_test_util.hpp"

namespace hivemind::dht {
namespace {

using msgpack::Value;
using testing::hex;

constexpr double kInf = std::numeric_limits<double>::infinity();

Bytes key(const Value& subkey) {
  return msgpack::pack(subkey);
}

TEST(DictionaryValue, StrictlyNewerExpirationWinsPerSubkey) {
  DictionaryValue d;
  EXPECT_EQ(d.latest_expiration(), -kInf);
  EXPECT_EQ(d.maxsize(), kInf);
  EXPECT_TRUE(d.store(key("a"), {1}, 10));
  EXPECT_FALSE(d.store(key("a"), {2}, 10));  // a tie keeps the stored value
  EXPECT_FALSE(d.store(key("a"), {3}, 9));
  EXPECT_EQ(d.entries().at(key("a")), (ValueWithExpiration{{1}, 10}));
  EXPECT_TRUE(d.store(key("a"), {4}, 11));
  EXPECT_EQ(d.entries().at(key("a")), (ValueWithExpiration{{4}, 11}));
  EXPECT_TRUE(d.store(key(7), {5}, 3));  // another subkey, older than the latest
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.latest_expiration(), 11);
  EXPECT_FALSE(d.store(key("b"), {6}, std::nan("")));
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.byte_size(), key("a").size() + 1 + key(7).size() + 1);
}

TEST(DictionaryValue, RemoveExpiredKeepsLatestExpiration) {
  DictionaryValue d;
  ASSERT_TRUE(d.store(key(1), {1}, 5));
  ASSERT_TRUE(d.store(key(2), {2}, 8));
  d.remove_expired(6);
  EXPECT_EQ(d.size(), 1u);
  EXPECT_TRUE(d.entries().contains(key(2)));
  d.remove_expired(8);  // expiration == now is still alive (hivemind drops exp < now)
  EXPECT_EQ(d.size(), 1u);
  d.remove_expired(9);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.latest_expiration(), 8);
}

TEST(DictionaryValue, MergeTakesNewestEntryPerSubkey) {
  DictionaryValue a, b;
  ASSERT_TRUE(a.store(key("x"), {1}, 10));
  ASSERT_TRUE(a.store(key("y"), {2}, 20));
  ASSERT_TRUE(b.store(key("x"), {3}, 15));
  ASSERT_TRUE(b.store(key("y"), {4}, 20));
  ASSERT_TRUE(b.store(key("z"), {5}, 5));
  a.merge(b);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.entries().at(key("x")), (ValueWithExpiration{{3}, 15}));
  EXPECT_EQ(a.entries().at(key("y")), (ValueWithExpiration{{2}, 20}));
  EXPECT_EQ(a.entries().at(key("z")), (ValueWithExpiration{{5}, 5}));
  EXPECT_EQ(a.latest_expiration(), 20);
}

// [inf, 2.0, [[7, b"", 1.5], ["a", b"\x01", 2.0]]] inside ext 0x50, written from the spec:
//   payload  93                    array of 3
//            cb 7ff0000000000000   maxsize = inf (float64)
//            cb 4000000000000000   latest_expiration = 2.0
//            92                    two entries
//            93 07 c400 cb3ff8000000000000       [7, b"", 1.5]
//            93 a161 c40101 cb4000000000000000   ["a", b"\x01", 2.0]
//   48 = 0x30 payload bytes, so the header is ext8: c7 30 50.
const char* const kTwoEntries =
    "c7 30 50 93 cb7ff0000000000000 cb4000000000000000 92"
    " 93 07 c400 cb3ff8000000000000 93 a161 c40101 cb4000000000000000";

DictionaryValue two_entries() {
  DictionaryValue d;
  d.store(key(7), {}, 1.5);
  d.store(key("a"), {0x01}, 2.0);
  return d;
}

TEST(DictionaryValue, PacksGoldenBytes) {
  EXPECT_EQ(to_hex(two_entries().pack()), to_hex(hex(kTwoEntries)));
  auto parsed = DictionaryValue::unpack(hex(kTwoEntries));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, two_entries());
  // An empty dictionary: [inf, -inf, []] = 93 cb7ff0.. cbfff0.. 90, 20 bytes.
  EXPECT_EQ(to_hex(DictionaryValue().pack()),
            to_hex(hex("c7 14 50 93 cb7ff0000000000000 cbfff0000000000000 90")));
}

TEST(DictionaryValue, RoundTripInsideAListAlongsideAnInt) {
  // test_dht_storage.py: a DictionaryDHTValue survives msgpack inside a list next to an int.
  const DictionaryValue d = two_entries();
  const Bytes packed = msgpack::pack(msgpack::Array{{123, d.to_ext()}});
  EXPECT_EQ(to_hex(packed), "927b" + to_hex(hex(kTwoEntries)));
  auto outer = msgpack::unpack(packed);
  ASSERT_TRUE(outer);
  const auto& items = outer->as<msgpack::Array>().items;
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0], Value(123));
  auto inner = DictionaryValue::from_ext(items[1].as<msgpack::Ext>());
  ASSERT_TRUE(inner) << inner.error().message();
  EXPECT_EQ(*inner, d);
  EXPECT_EQ(inner->latest_expiration(), 2.0);
}

TEST(DictionaryValue, UnpackAcceptsIntsAndCanonicalizesSubkeys) {
  // [5, 9, [[cc 07 (7 as uint8), b"v", 4], ["k", b"", 9]]]: ints for the float fields and a
  // non-canonical subkey encoding, which is re-packed as 07.
  auto parsed =
      DictionaryValue::unpack(hex("c7 11 50 93 05 09 92 93 cc07 c40176 04 93 a16b c400 09"));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->maxsize(), 5);
  EXPECT_EQ(parsed->latest_expiration(), 9);
  EXPECT_EQ(parsed->entries().at(key(7)), (ValueWithExpiration{{'v'}, 4}));
  EXPECT_EQ(parsed->entries().at(key("k")), (ValueWithExpiration{{}, 9}));
}

TEST(DictionaryValue, UnpackResolvesDuplicatesAndRaisesStaleLatest) {
  // [0, 1, [[1, b"a", 3], [1, b"b", 2], [1, b"c", 4]]]: the newest duplicate wins; maxsize 0
  // means unlimited (TimedStorage: `maxsize or inf`); latest (1) is below the entries, so it
  // becomes their maximum (4).
  auto parsed = DictionaryValue::unpack(
      hex("c7 16 50 93 00 01 93 93 01 c40161 03 93 01 c40162 02 93 01 c40163 04"));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->size(), 1u);
  EXPECT_EQ(parsed->entries().at(key(1)), (ValueWithExpiration{{'c'}, 4}));
  EXPECT_EQ(parsed->maxsize(), kInf);
  EXPECT_EQ(parsed->latest_expiration(), 4);
}

TEST(DictionaryValue, UnpackRejectsOtherShapes) {
  const char* const bad[] = {
      "93 00 00 90",                                         // not an ext
      "d4 51 90",                                            // another ext type
      "c7 03 50 92 00 00",                                   // two fields
      "c7 04 50 93 00 00 80",                                // items is a map
      "c7 04 50 93 a0 00 90",                                // maxsize is a string
      "c7 04 50 93 00 c0 90",                                // latest is nil
      "c7 0c 50 93 cb7ff8000000000000 00 90",                // maxsize NaN
      "c7 0c 50 93 00 cb7ff8000000000000 90",                // latest NaN
      "c7 08 50 93 00 00 91 92 01 c400",                     // entry of two fields
      "c7 08 50 93 00 00 91 93 01 a0 00",                    // value is a string, not bytes
      "c7 09 50 93 00 00 91 93 01 c400 c0",                  // expiration is nil
      "c7 11 50 93 00 00 91 93 01 c400 cb7ff8000000000000",  // expiration NaN
      "c7 05 50 93 00 00 91 01",                             // entry is an int
      "c7 08 50 93 00 00 91 93 01 c400",                     // payload truncated
      "c7 05 50 93 00 00 90",                                // ext truncated
      "c7 04 50 93 00 00 90 00",                             // trailing byte after the ext
      "c7 05 50 93 00 00 90 00",                             // trailing byte inside the payload
      "c1",                                                  // not msgpack at all
  };
  for (const char* text : bad) {
    auto parsed = DictionaryValue::unpack(hex(text));
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error(), DhtErrc::kMalformedValue) << text;
    EXPECT_TRUE(parsed.error().has_detail()) << text;
  }
}

TEST(DictionaryValue, UnpackAppliesLimits) {
  DictionaryValue d;
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(d.store(key(i), {1}, i));
  const Bytes packed = d.pack();
  EXPECT_TRUE(DictionaryValue::unpack(packed, {.max_items = 100}));
  EXPECT_FALSE(DictionaryValue::unpack(packed, {.max_items = 20}));  // 3 + 10 + 30 items
  EXPECT_FALSE(DictionaryValue::unpack(packed, {.max_depth = 2}));
  EXPECT_FALSE(DictionaryValue::unpack(packed, {.max_bytes = packed.size() - 1}));
}

TEST(DictionaryValue, RoundTripsManyEntriesAndTupleSubkeys) {
  DictionaryValue d;
  for (int i = 0; i < 40; ++i) {
    const Value subkey = msgpack::Tuple{{i, std::string(static_cast<std::size_t>(i), 'k')}};
    ASSERT_TRUE(d.store(key(subkey), Bytes(static_cast<std::size_t>(i), 0x42), 1e9 + i * 0.5));
  }
  auto parsed = DictionaryValue::unpack(d.pack());
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, d);
  EXPECT_EQ(parsed->pack(), d.pack());
}

}  // namespace
}  // namespace hivemind::dht
