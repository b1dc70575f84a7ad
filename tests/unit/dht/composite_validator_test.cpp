// CompositeValidator: hivemind's tests/test_dht_validation.py at the record level (the
// DHT-process checks come with the node), plus the ordering and stripping contract.
#include "hivemind/dht/composite_validator.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/msgpack.hpp"
#include "hivemind/dht/schema_validator.hpp"
#include "hivemind/dht/signature_validator.hpp"

namespace hivemind::dht {
namespace {

using Ptr = CompositeValidator::Ptr;

std::size_t count(BytesView haystack, std::string_view needle) {
  const std::string_view text = as_chars(haystack);
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

Bytes key_id(std::string_view name) {
  return DHTID::from_key(msgpack::Str{std::string(name)}).to_bytes();
}

// hivemind's validators_for_app fixture: two applications, each with its own validator set.
struct Apps {
  std::vector<Ptr> a{
      std::make_shared<SignatureValidator>(),
      std::make_shared<SchemaValidator>(std::vector<SchemaField>{{"field_a", schema::bytes()}},
                                        SchemaOptions{.allow_extra_keys = false})};
  std::vector<Ptr> b{std::make_shared<SchemaValidator>(
                         std::vector<SchemaField>{
                             {"field_b", schema::dictionary(schema::bytes(), schema::integer())}},
                         SchemaOptions{.allow_extra_keys = false}),
                     std::make_shared<SignatureValidator>()};
};

TEST(CompositeValidatorTest, MergesSortsSignsValidatesAndStrips) {
  Apps apps;
  CompositeValidator validator(apps.a);
  ASSERT_EQ(validator.validators().size(), 2u);
  EXPECT_NE(dynamic_cast<const SchemaValidator*>(validator.validators()[0].get()), nullptr);
  EXPECT_NE(dynamic_cast<const SignatureValidator*>(validator.validators()[1].get()), nullptr);

  validator.extend(apps.b);
  ASSERT_EQ(validator.validators().size(), 2u);
  const auto* schema = dynamic_cast<const SchemaValidator*>(validator.validators()[0].get());
  ASSERT_NE(schema, nullptr);
  EXPECT_NE(dynamic_cast<const SignatureValidator*>(validator.validators()[1].get()), nullptr);
  EXPECT_EQ(schema->schema_count(), 2u);
  // The added validators themselves did not change.
  EXPECT_EQ(dynamic_cast<const SchemaValidator&>(*apps.a[1]).schema_count(), 1u);

  const auto& owner = dynamic_cast<const SignatureValidator&>(*apps.a[0]).local_owner_marker();
  const DHTRecord record{key_id("field_b"),
                         msgpack::pack(msgpack::Value(owner)),
                         msgpack::pack(msgpack::Value(777)),
                         1'700'000'010.0};
  DHTRecord signed_record = record;
  signed_record.value = validator.sign_value(record);
  // Only one signature, since the two signature validators were merged.
  EXPECT_EQ(count(signed_record.value, "[signature:"), 1u);
  // Valid, since the second schema validator was merged into the first.
  EXPECT_TRUE(validator.validate(signed_record));
  EXPECT_EQ(validator.strip_value(signed_record), record.value);

  // Tampering, a missing signature and a value the schema refuses all fail.
  DHTRecord bad = signed_record;
  bad.expiration += 1;
  EXPECT_FALSE(validator.validate(bad));
  EXPECT_FALSE(validator.validate(record));
  DHTRecord wrong_type = record;
  wrong_type.value = msgpack::pack(msgpack::Value("777"));
  wrong_type.value = validator.sign_value(wrong_type);
  EXPECT_TRUE(validator.validators()[1]->validate(wrong_type));  // the signature is fine
  EXPECT_FALSE(validator.validate(wrong_type));                  // the schema is not

  const DHTRecord unknown{
      key_id("unknown_key"), kRegularValueTag, msgpack::pack(msgpack::Value(777)), 1'700'000'010.0};
  DHTRecord signed_unknown = unknown;
  signed_unknown.value = validator.sign_value(unknown);
  EXPECT_EQ(count(signed_unknown.value, "[signature:"), 0u);
  // Invalid, since unknown_key is in no schema and both disallow extra keys.
  EXPECT_FALSE(validator.validate(signed_unknown));

  const DHTRecord field_a{key_id("field_a"),
                          kRegularValueTag,
                          msgpack::pack(msgpack::Value(to_bytes("bytes_value"))),
                          1.0};
  EXPECT_TRUE(validator.validate(field_a));
  DHTRecord field_a_int = field_a;
  field_a_int.value = msgpack::pack(msgpack::Value(666));
  EXPECT_FALSE(validator.validate(field_a_int));
}

// Appends its tag on sign, removes a trailing tag on strip, and accepts only values that end with
// its tag; logs every call.
class TagValidator final : public RecordValidator {
 public:
  TagValidator(int priority, char tag, std::string* log)
      : priority_(priority), tag_(tag), log_(log) {}

  bool validate(const DHTRecord& record) const override {
    *log_ += std::string("v") + tag_ + ":" + std::string(as_chars(record.value)) + " ";
    return !record.value.empty() && record.value.back() == tag_;
  }

  Bytes sign_value(const DHTRecord& record) const override {
    *log_ += std::string("s") + tag_ + " ";
    Bytes value = record.value;
    value.push_back(static_cast<std::uint8_t>(tag_));
    return value;
  }

  Bytes strip_value(const DHTRecord& record) const override {
    *log_ += std::string("x") + tag_ + " ";
    Bytes value = record.value;
    if (!value.empty() && value.back() == tag_)
      value.pop_back();
    return value;
  }

  int priority() const override { return priority_; }

 private:
  int priority_;
  char tag_;
  std::string* log_;
};

TEST(CompositeValidatorTest, SignsAscendingValidatesAndStripsDescending) {
  std::string log;
  CompositeValidator validator({std::make_shared<TagValidator>(5, 'b', &log),
                                std::make_shared<TagValidator>(-1, 'a', &log),
                                std::make_shared<TagValidator>(9, 'c', &log),
                                std::make_shared<TagValidator>(5, 'B', &log)});
  std::string order;
  for (const Ptr& v : validator.validators())
    order += std::to_string(v->priority()) + " ";
  EXPECT_EQ(order, "-1 5 5 9 ");  // stable: b was added before B

  DHTRecord record{to_bytes("k"), kRegularValueTag, to_bytes("v"), 1.0};
  record.value = validator.sign_value(record);
  EXPECT_EQ(std::string(as_chars(record.value)), "vabBc");
  EXPECT_EQ(log, "sa sb sB sc ");

  log.clear();
  EXPECT_TRUE(validator.validate(record));
  // Each validator sees the value stripped by every higher-priority one; the last is not stripped.
  EXPECT_EQ(log, "vc:vabBc xc vB:vabB xB vb:vab xb va:va ");

  log.clear();
  EXPECT_EQ(std::string(as_chars(validator.strip_value(record))), "v");
  EXPECT_EQ(log, "xc xB xb xa ");

  log.clear();
  record.value = to_bytes("vabcB");  // wrong order: c must be last
  EXPECT_FALSE(validator.validate(record));
  EXPECT_EQ(log, "vc:vabcB ");  // stops at the first refusal
}

TEST(CompositeValidatorTest, EmptyCompositeAcceptsAndKeepsValues) {
  const CompositeValidator validator;
  const DHTRecord record{to_bytes("k"), kRegularValueTag, to_bytes("v"), 1.0};
  EXPECT_TRUE(validator.validate(record));
  EXPECT_EQ(validator.sign_value(record), record.value);
  EXPECT_EQ(validator.strip_value(record), record.value);
}

TEST(CompositeValidatorTest, NullValidatorIsMisuse) {
  CompositeValidator validator;
  EXPECT_THROW(validator.add(nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace hivemind::dht
