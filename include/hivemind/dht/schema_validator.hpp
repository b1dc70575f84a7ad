#pragma once
/// \file
/// Typed DHT keys (hivemind's `SchemaValidator`, `dht/schema.py`). hivemind describes a schema as
/// a pydantic model; here a schema is a list of fields, each a key name plus a type rule over
/// decoded msgpack values, written with the small DSL in `schema::`:
///
///     SchemaValidator validator({
///         {"experiment_name", schema::bytes()},
///         {"n_batches", schema::dictionary(schema::bytes(), schema::integer({.min = 0}))},
///         {"signed_data", schema::dictionary(schema::bytes_with_owner(), schema::bytes())},
///     }, {.allow_extra_keys = false});
///
/// Rules never convert types (like hivemind's strict check `parsed == raw`): 779.0 is not an
/// integer, 1 is not a float, a bool is not an integer, a list is not a tuple. Immutable after
/// construction; const methods may be called from any thread. docs/protocols/dht-validation.md.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/dht/msgpack.hpp"
#include "hivemind/dht/validation.hpp"

namespace hivemind::dht {
namespace schema {

/// Inclusive bounds of an integer rule (pydantic `conint(ge=, le=, strict=True)`).
struct IntegerBounds {
  std::optional<std::int64_t> min = std::nullopt;
  std::optional<std::int64_t> max = std::nullopt;
};

/// Inclusive bounds of a float rule (`confloat(ge=, le=, strict=True)`); NaN fails any bound.
struct FloatBounds {
  std::optional<double> min = std::nullopt;
  std::optional<double> max = std::nullopt;
};

/// A type rule over one decoded msgpack value. Value type (copyable); build it with the factory
/// functions below.
class Rule {
 public:
  enum class Kind {
    kAny,
    kBytes,
    kStr,
    kBool,
    kInteger,
    kFloat,
    kList,
    kDictionary,
    kBytesWithOwner
  };

  /// Whether `value` satisfies the rule as it is, without conversion. A dictionary rule nested in
  /// another rule matches a msgpack map whose every key and value match; as a field's top-level
  /// rule it describes subkey records instead (see SchemaValidator::validate).
  bool matches(const msgpack::Value& value) const;

  Kind kind() const noexcept { return kind_; }

  /// The item rule of a list, the subkey rule of a dictionary. Precondition: such a kind.
  const Rule& first_child() const { return children_.at(0); }

  /// The value rule of a dictionary. Precondition: kind() == Kind::kDictionary.
  const Rule& second_child() const { return children_.at(1); }

 private:
  friend Rule any();
  friend Rule bytes();
  friend Rule str();
  friend Rule boolean();
  friend Rule integer(IntegerBounds bounds);
  friend Rule floating(FloatBounds bounds);
  friend Rule list_of(Rule item);
  friend Rule dictionary(Rule subkey, Rule value);
  friend Rule bytes_with_owner();

  explicit Rule(Kind kind) : kind_(kind) {}

  Kind kind_;
  IntegerBounds int_bounds_;
  FloatBounds float_bounds_;
  std::vector<Rule> children_;
};

/// Any value (pydantic `Any`); as a field's rule it accepts plain values and subkey records.
Rule any();
/// msgpack bin (Python `bytes`).
Rule bytes();
/// msgpack str (Python `str`).
Rule str();
/// msgpack bool (`StrictBool`).
Rule boolean();
/// A msgpack integer within `bounds` (`conint(strict=True)`); floats and bools fail.
Rule integer(IntegerBounds bounds = {});
/// A msgpack float within `bounds` (`confloat(strict=True)`); integers fail.
Rule floating(FloatBounds bounds = {});
/// A msgpack array whose every item matches `item` (`List[...]`); a tuple (ext 0x40) fails.
Rule list_of(Rule item);
/// A dictionary value (`Dict[subkey, value]`): as a field's rule, the key must be written with
/// subkeys, and each record's decoded subkey must match `subkey` and its value `value`.
Rule dictionary(Rule subkey, Rule value);
/// msgpack bin containing an `[owner:...]` marker (hivemind's `BytesWithPublicKey`); any marker
/// contents are accepted here, the SignatureValidator checks the key.
Rule bytes_with_owner();

}  // namespace schema

/// One schema field: the key's name and the rule for what is stored under it.
struct SchemaField {
  std::string name;
  schema::Rule rule;
};

/// How a SchemaValidator maps names to keys and treats keys it does not know.
struct SchemaOptions {
  /// Accept records whose key no field describes. Merged validators accept them if either did.
  bool allow_extra_keys = true;
  /// When set, a field `f` lives at key `prefix + "_" + f` (hivemind's `prefix` argument).
  std::optional<std::string> prefix = std::nullopt;
};

/// Validator for typed keys. Immutable; merging builds a new validator (see merge_with).
class SchemaValidator final : public RecordValidator {
 public:
  /// hivemind's priority: runs after the SignatureValidator has stripped signatures.
  static constexpr int kPriority = 0;

  /// A validator for one schema. A field's key is `DHTID::from_key(Str(name))`, the id hivemind
  /// computes for a `str` key. Throws std::invalid_argument (HM_CHECK) on duplicate field names.
  explicit SchemaValidator(std::vector<SchemaField> fields, SchemaOptions options = {});

  /// Unknown key: allow_extra_keys(). Known key: the value (and the subkey, unless it is
  /// kRegularValueTag or empty) must decode as msgpack, a plain value must not be a msgpack map
  /// (hivemind: "use DictionaryDHTValue"), and the record must satisfy the field's rule in at
  /// least one merged schema: a plain value matches a non-dictionary rule, a subkey record a
  /// dictionary rule (subkey and value) or any().
  bool validate(const DHTRecord& record) const override;

  int priority() const override { return kPriority; }

  /// Another SchemaValidator merges: the result accepts a record valid under either's schemas,
  /// and extra keys if either accepts them. nullptr for other kinds.
  std::shared_ptr<const RecordValidator> merge_with(const RecordValidator& other) const override;

  bool allow_extra_keys() const noexcept { return allow_extra_keys_; }

  /// How many schemas were merged into this validator (1 for a fresh one).
  std::size_t schema_count() const noexcept { return schema_count_; }

 private:
  SchemaValidator() = default;

  /// Key id (20-byte DHTID) → the rules of every merged schema that declares it.
  std::map<Bytes, std::vector<schema::Rule>> rules_by_key_;
  bool allow_extra_keys_ = true;
  std::size_t schema_count_ = 1;
};

}  // namespace hivemind::dht
