// SchemaValidator: every record-level line of hivemind's tests/test_dht_schema.py (the node-level
// "stored dictionary has 2 entries" checks come with the DHT node), plus the DSL's rules.
#include "hivemind/dht/schema_validator.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include <gtest/gtest.h>

#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht {
namespace {

using msgpack::Array;
using msgpack::Map;
using msgpack::Tuple;
using msgpack::Value;

Value bin(std::string_view s) {
  return Value(to_bytes(s));
}

// A record as DHTNode.store(key, value, subkey=...) builds it for a `str` key.
DHTRecord record(std::string_view key, const Value& value, std::optional<Value> subkey = {}) {
  return DHTRecord{DHTID::from_key(msgpack::Str{std::string(key)}).to_bytes(),
                   subkey ? msgpack::pack(*subkey) : kRegularValueTag,
                   msgpack::pack(value),
                   1'700'000'000.0};
}

// hivemind's SampleSchema.
SchemaValidator sample_schema(SchemaOptions options = {}) {
  return SchemaValidator(
      {{"experiment_name", schema::bytes()},
       {"n_batches", schema::dictionary(schema::bytes(), schema::integer({.min = 0}))},
       {"signed_data", schema::dictionary(schema::bytes_with_owner(), schema::bytes())}},
      std::move(options));
}

TEST(SchemaValidatorTest, ExpectingRegularValue) {
  const SchemaValidator v = sample_schema();
  EXPECT_TRUE(v.validate(record("experiment_name", bin("foo_bar"))));
  EXPECT_FALSE(v.validate(record("experiment_name", 666)));
  EXPECT_FALSE(v.validate(record("experiment_name", bin("foo_bar"), bin("subkey"))));
  // No conversions (pydantic would turn [] and [1, 2, 3] into bytes).
  EXPECT_FALSE(v.validate(record("experiment_name", Array{})));
  EXPECT_FALSE(v.validate(record("experiment_name", Array{{1, 2, 3}})));
  EXPECT_FALSE(v.validate(record("experiment_name", "foo_bar")));  // str is not bytes
}

TEST(SchemaValidatorTest, ExpectingDictionary) {
  const SchemaValidator v = sample_schema();
  EXPECT_TRUE(v.validate(record("n_batches", 777, bin("uid1"))));
  EXPECT_TRUE(v.validate(record("n_batches", 778, bin("uid2"))));
  EXPECT_TRUE(v.validate(record("n_batches", 0, bin("uid0"))));
  EXPECT_FALSE(v.validate(record("n_batches", -666, bin("uid3"))));
  EXPECT_FALSE(v.validate(record("n_batches", 666)));  // not a subkey store
  EXPECT_FALSE(v.validate(record("n_batches", bin("not_integer"), bin("uid1"))));
  EXPECT_FALSE(v.validate(record("n_batches", 666, 666)));  // int subkey
  // A plain dictionary bypassing the DictionaryDHTValue convention.
  EXPECT_FALSE(v.validate(record("n_batches", Map{{{bin("uid3"), 779}}})));
  EXPECT_FALSE(v.validate(record("n_batches", 779.5, bin("uid3"))));
  EXPECT_FALSE(v.validate(record("n_batches", 779.0, bin("uid3"))));
  EXPECT_FALSE(v.validate(record("n_batches", Array{})));
  EXPECT_FALSE(v.validate(record("n_batches", Array{{Tuple{{bin("uid3"), 779}}}})));
  EXPECT_FALSE(v.validate(record("n_batches", "")));
  EXPECT_FALSE(v.validate(record("n_batches", true, bin("uid3"))));  // bool is not an integer
}

TEST(SchemaValidatorTest, ExpectingPublicKeys) {
  const SchemaValidator v = sample_schema();
  EXPECT_TRUE(v.validate(record("signed_data", bin("foo_bar"), bin("uid[owner:public-key]"))));
  EXPECT_FALSE(v.validate(record("signed_data", bin("foo_bar"), bin("uid-without-public-key"))));
  EXPECT_FALSE(v.validate(record("signed_data", bin("foo_bar"), "uid[owner:public-key]")));  // str
}

TEST(SchemaValidatorTest, KeysOutsideSchemaFollowAllowExtraKeysOred) {
  for (bool allow_extra_keys : {false, true}) {
    const SchemaValidator first({{"some_field", schema::integer()}},
                                {.allow_extra_keys = allow_extra_keys});
    const auto merged = first.merge_with(
        SchemaValidator({{"another_field", schema::integer()}}, {.allow_extra_keys = false}));
    ASSERT_NE(merged, nullptr);
    EXPECT_EQ(merged->validate(record("unknown_key", bin("foo_bar"))), allow_extra_keys);
    EXPECT_TRUE(merged->validate(record("some_field", 1)));
    EXPECT_TRUE(merged->validate(record("another_field", 2)));
  }
  // The default allows extra keys, also for keys that are not DHTIDs at all.
  EXPECT_TRUE(sample_schema().validate(DHTRecord{to_bytes("raw"), kRegularValueTag, {0x01}, 0}));
}

TEST(SchemaValidatorTest, PrefixMapsFieldNames) {
  const SchemaValidator v({{"field", schema::integer()}},
                          {.allow_extra_keys = false, .prefix = "prefix"});
  EXPECT_TRUE(v.validate(record("prefix_field", 777)));
  EXPECT_FALSE(v.validate(record("prefix_field", "string_value")));
  EXPECT_FALSE(v.validate(record("field", 777)));
}

class TrivialValidator final : public RecordValidator {
 public:
  bool validate(const DHTRecord&) const override { return true; }
};

TEST(SchemaValidatorTest, MergingSchemaValidators) {
  const SchemaValidator sample = sample_schema();
  EXPECT_EQ(sample.merge_with(TrivialValidator()), nullptr);  // a different kind
  EXPECT_EQ(sample.schema_count(), 1u);

  std::shared_ptr<const RecordValidator> merged = sample.merge_with(
      SchemaValidator({{"some_field", schema::integer()}, {"another_field", schema::str()}},
                      {.allow_extra_keys = false}));
  ASSERT_NE(merged, nullptr);
  // ThirdSchema allows another_field to be an integer as well.
  merged = merged->merge_with(
      SchemaValidator({{"another_field", schema::integer()}}, {.allow_extra_keys = false}));
  ASSERT_NE(merged, nullptr);
  const auto& v = dynamic_cast<const SchemaValidator&>(*merged);
  EXPECT_EQ(v.schema_count(), 3u);
  EXPECT_TRUE(v.allow_extra_keys());

  EXPECT_TRUE(v.validate(record("experiment_name", bin("foo_bar"))));
  EXPECT_TRUE(v.validate(record("some_field", 777)));
  EXPECT_FALSE(v.validate(record("some_field", "string_value")));
  EXPECT_TRUE(v.validate(record("another_field", 42)));
  EXPECT_TRUE(v.validate(record("another_field", "string_value")));
  EXPECT_FALSE(v.validate(record("another_field", 4.2)));
  EXPECT_TRUE(v.validate(record("unknown_key", 999)));  // the first schema allows extra keys
  // The operands did not change: some_field is still an extra key to `sample`.
  EXPECT_TRUE(sample.validate(record("some_field", "string_value")));
  EXPECT_EQ(sample.schema_count(), 1u);
}

TEST(SchemaValidatorTest, UndecodableValueOrSubkeyIsRejected) {
  const SchemaValidator v = sample_schema();
  DHTRecord r = record("experiment_name", bin("foo_bar"));
  r.value = {0xc1};  // reserved byte
  EXPECT_FALSE(v.validate(r));
  r.value = {0xc4, 0x05, 'a'};  // truncated bin
  EXPECT_FALSE(v.validate(r));
  r = record("n_batches", 7, bin("uid"));
  r.subkey.pop_back();
  EXPECT_FALSE(v.validate(r));
  r = record("n_batches", 7, bin("uid"));
  r.value.push_back(0x00);  // trailing bytes
  EXPECT_FALSE(v.validate(r));
}

TEST(SchemaValidatorTest, EmptySubkeyMeansPlainValueAsInHivemind) {
  const SchemaValidator v = sample_schema();
  DHTRecord r = record("experiment_name", bin("foo_bar"));
  r.subkey.clear();  // hivemind's IS_DICTIONARY tag, one of RESERVED_SUBKEYS
  EXPECT_TRUE(v.validate(r));
}

TEST(SchemaValidatorTest, AnyFieldAcceptsPlainValuesAndSubkeysButNotPlainMaps) {
  const SchemaValidator v({{"anything", schema::any()}}, {.allow_extra_keys = false});
  EXPECT_TRUE(v.validate(record("anything", 1)));
  EXPECT_TRUE(v.validate(record("anything", Array{{1, "two", bin("three")}})));
  EXPECT_TRUE(v.validate(record("anything", 1.5, Tuple{{1, 2}})));
  EXPECT_FALSE(v.validate(record("anything", Map{{{1, 2}}})));
}

TEST(SchemaRuleTest, ScalarRulesAreStrict) {
  EXPECT_TRUE(schema::boolean().matches(false));
  EXPECT_FALSE(schema::boolean().matches(0));
  EXPECT_TRUE(schema::str().matches(""));
  EXPECT_FALSE(schema::str().matches(bin("")));
  EXPECT_TRUE(schema::bytes().matches(bin("")));
  EXPECT_FALSE(schema::bytes().matches(msgpack::Nil{}));
  EXPECT_TRUE(schema::floating().matches(1.0));
  EXPECT_FALSE(schema::floating().matches(1));  // no int -> float conversion
  EXPECT_TRUE(schema::floating().matches(std::nan("")));
  EXPECT_FALSE(schema::floating({.min = 0.0}).matches(std::nan("")));
  EXPECT_FALSE(schema::floating({.min = 0.0, .max = 1.0}).matches(1.5));
  EXPECT_TRUE(schema::floating({.min = 0.0, .max = 1.0}).matches(1.0));
  EXPECT_FALSE(schema::bytes_with_owner().matches(bin("[owner:]")));
  EXPECT_TRUE(schema::bytes_with_owner().matches(bin("x[owner:k]y")));
}

TEST(SchemaRuleTest, IntegerBoundsCoverTheWholeMsgpackRange) {
  const auto big = Value(std::numeric_limits<std::uint64_t>::max());
  const auto small = Value(std::numeric_limits<std::int64_t>::min());
  EXPECT_TRUE(schema::integer().matches(big));
  EXPECT_TRUE(schema::integer().matches(small));
  EXPECT_TRUE(schema::integer({.min = 0}).matches(big));
  EXPECT_FALSE(schema::integer({.max = std::numeric_limits<std::int64_t>::max()}).matches(big));
  EXPECT_FALSE(schema::integer({.min = -5}).matches(small));
  EXPECT_TRUE(schema::integer({.min = -5, .max = 5}).matches(-5));
  EXPECT_TRUE(schema::integer({.min = -5, .max = 5}).matches(5));
  EXPECT_FALSE(schema::integer({.min = -5, .max = 5}).matches(6));
  EXPECT_FALSE(schema::integer().matches(779.0));
}

TEST(SchemaRuleTest, ContainersCheckEveryElement) {
  const auto ints = schema::list_of(schema::integer());
  EXPECT_TRUE(ints.matches(Array{}));
  EXPECT_TRUE(ints.matches(Array{{1, 2, 3}}));
  EXPECT_FALSE(ints.matches(Array{{1, "2"}}));
  EXPECT_FALSE(ints.matches(Tuple{{1, 2}}));  // a tuple is not a list
  const auto table = schema::list_of(schema::dictionary(schema::str(), schema::integer()));
  EXPECT_TRUE(table.matches(Array{{Map{{{"a", 1}, {"b", 2}}}}}));
  EXPECT_FALSE(table.matches(Array{{Map{{{"a", 1}, {bin("b"), 2}}}}}));
  EXPECT_EQ(table.kind(), schema::Rule::Kind::kList);
  EXPECT_EQ(table.first_child().kind(), schema::Rule::Kind::kDictionary);
}

TEST(SchemaValidatorTest, DuplicateFieldNamesAreRejected) {
  EXPECT_THROW(SchemaValidator({{"a", schema::bytes()}, {"a", schema::str()}}),
               std::invalid_argument);
}

}  // namespace
}  // namespace hivemind::dht
