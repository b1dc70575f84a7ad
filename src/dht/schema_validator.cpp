// Typed DHT keys: hivemind's pydantic-based SchemaValidator (hivemind/dht/schema.py) as a small
// rule DSL. hivemind patches every model field to be optional, builds `{field: value}` (or
// `{field: {subkey: value}}` for a subkey record), and accepts the record if some merged schema
// parses it without type conversion. Here each field's rule is checked directly against the
// decoded msgpack value; "no conversion" is built into the rules (strict types only).
// Deviations:
// - bytes_with_owner accepts a marker anywhere; hivemind's regex `.*\[owner:(.+?)\].*` under
//   re.match needs the marker before the first '\n' of the subkey (an accident of `.`).
// - Decoding applies msgpack::UnpackLimits (depth, items), which hivemind does not.
#include "hivemind/dht/schema_validator.hpp"

#include <set>
#include <utility>

#include "hivemind/core/check.hpp"
#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/signature_validator.hpp"

namespace hivemind::dht {
namespace schema {

Rule any() {
  return Rule(Rule::Kind::kAny);
}

Rule bytes() {
  return Rule(Rule::Kind::kBytes);
}

Rule str() {
  return Rule(Rule::Kind::kStr);
}

Rule boolean() {
  return Rule(Rule::Kind::kBool);
}

Rule bytes_with_owner() {
  return Rule(Rule::Kind::kBytesWithOwner);
}

Rule integer(IntegerBounds bounds) {
  Rule rule(Rule::Kind::kInteger);
  rule.int_bounds_ = bounds;
  return rule;
}

Rule floating(FloatBounds bounds) {
  Rule rule(Rule::Kind::kFloat);
  rule.float_bounds_ = bounds;
  return rule;
}

Rule list_of(Rule item) {
  Rule rule(Rule::Kind::kList);
  rule.children_.push_back(std::move(item));
  return rule;
}

Rule dictionary(Rule subkey, Rule value) {
  Rule rule(Rule::Kind::kDictionary);
  rule.children_.push_back(std::move(subkey));
  rule.children_.push_back(std::move(value));
  return rule;
}

bool Rule::matches(const msgpack::Value& value) const {
  switch (kind_) {
    case Kind::kAny:
      return true;
    case Kind::kBytes:
      return value.is<msgpack::Bin>();
    case Kind::kStr:
      return value.is<msgpack::Str>();
    case Kind::kBool:
      return value.is<bool>();
    case Kind::kBytesWithOwner:
      return value.is<msgpack::Bin>() && !find_owner_markers(value.as<msgpack::Bin>().data).empty();
    case Kind::kInteger: {
      // The decoder yields uint64 only above INT64_MAX, so such a value exceeds any int64 bound.
      if (value.is<std::uint64_t>())
        return !int_bounds_.max.has_value();
      if (!value.is<std::int64_t>())
        return false;  // bools, floats (even 779.0) and everything else
      const std::int64_t v = value.as<std::int64_t>();
      return (!int_bounds_.min || v >= *int_bounds_.min)
             && (!int_bounds_.max || v <= *int_bounds_.max);
    }
    case Kind::kFloat: {
      if (!value.is<double>())
        return false;
      const double v = value.as<double>();
      return (!float_bounds_.min || v >= *float_bounds_.min)
             && (!float_bounds_.max || v <= *float_bounds_.max);
    }
    case Kind::kList: {
      if (!value.is<msgpack::Array>())
        return false;
      for (const msgpack::Value& item : value.as<msgpack::Array>().items)
        if (!first_child().matches(item))
          return false;
      return true;
    }
    case Kind::kDictionary: {
      if (!value.is<msgpack::Map>())
        return false;
      for (const auto& [k, v] : value.as<msgpack::Map>().entries)
        if (!first_child().matches(k) || !second_child().matches(v))
          return false;
      return true;
    }
  }
  return false;
}

}  // namespace schema

namespace {

// Whether a record written under a field with `rule` is acceptable. `subkey` is null for a plain
// value.
bool field_accepts(const schema::Rule& rule,
                   const msgpack::Value* subkey,
                   const msgpack::Value& value) {
  using Kind = schema::Rule::Kind;
  if (rule.kind() == Kind::kAny)
    return true;
  if (subkey == nullptr)
    return rule.kind() != Kind::kDictionary && rule.matches(value);
  return rule.kind() == Kind::kDictionary && rule.first_child().matches(*subkey)
         && rule.second_child().matches(value);
}

}  // namespace

SchemaValidator::SchemaValidator(std::vector<SchemaField> fields, SchemaOptions options)
    : allow_extra_keys_(options.allow_extra_keys) {
  std::set<std::string> names;
  for (SchemaField& field : fields) {
    HM_CHECK(names.insert(field.name).second, "duplicate schema field '" + field.name + "'");
    std::string raw_key = options.prefix ? *options.prefix + "_" + field.name : field.name;
    Bytes key_id = DHTID::from_key(msgpack::Str{std::move(raw_key)}).to_bytes();
    rules_by_key_[std::move(key_id)].push_back(std::move(field.rule));
  }
}

bool SchemaValidator::validate(const DHTRecord& record) const {
  const auto it = rules_by_key_.find(record.key);
  if (it == rules_by_key_.end())
    return allow_extra_keys_;

  auto value = msgpack::unpack(record.value);
  if (!value)
    return false;
  // hivemind's RESERVED_SUBKEYS: the regular-value tag (msgpack nil) and the empty tag of a whole
  // dictionary both mean "no subkey".
  const bool plain = record.subkey == kRegularValueTag || record.subkey.empty();
  std::optional<msgpack::Value> subkey;
  if (!plain) {
    auto decoded = msgpack::unpack(record.subkey);
    if (!decoded)
      return false;
    subkey = std::move(*decoded);
  } else if (value->is<msgpack::Map>()) {
    return false;  // a plain dict bypasses the DictionaryDHTValue convention
  }

  for (const schema::Rule& rule : it->second)
    if (field_accepts(rule, subkey ? &*subkey : nullptr, *value))
      return true;
  return false;
}

std::shared_ptr<const RecordValidator> SchemaValidator::merge_with(
    const RecordValidator& other) const {
  const auto* schema = dynamic_cast<const SchemaValidator*>(&other);
  if (schema == nullptr)
    return nullptr;
  std::shared_ptr<SchemaValidator> merged(new SchemaValidator());
  merged->rules_by_key_ = rules_by_key_;
  for (const auto& [key, rules] : schema->rules_by_key_) {
    auto& into = merged->rules_by_key_[key];
    into.insert(into.end(), rules.begin(), rules.end());
  }
  merged->allow_extra_keys_ = allow_extra_keys_ || schema->allow_extra_keys_;
  merged->schema_count_ = schema_count_ + schema->schema_count_;
  return merged;
}

}  // namespace hivemind::dht
