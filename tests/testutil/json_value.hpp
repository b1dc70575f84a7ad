#pragma once
/// \file
/// `JsonValue` and `parse_json`: a small, bounds-checked JSON reader for the JSON lines that test
/// peers and CLI binaries print (tests/testutil/child_process.hpp reads them). Not a
/// general-purpose JSON library: numbers are doubles, objects are sorted maps.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hivemind/core/result.hpp"

namespace hivemind::testing {

/// A parsed JSON value: null, bool, number (double), string, array or object. Immutable value
/// type (copies share arrays and objects); safe to read from any thread. Enough for the JSON
/// lines test peers print; not a general-purpose JSON library.
class JsonValue {
 public:
  using Array = std::vector<JsonValue>;
  using Object = std::map<std::string, JsonValue, std::less<>>;

  JsonValue() = default;

  JsonValue(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)

  JsonValue(bool b) : data_(b) {}  // NOLINT(google-explicit-constructor)

  JsonValue(double d) : data_(d) {}  // NOLINT(google-explicit-constructor)

  JsonValue(std::string s) : data_(std::move(s)) {}  // NOLINT(google-explicit-constructor)

  JsonValue(const char* s) : data_(std::string(s)) {}  // NOLINT: not the bool overload

  JsonValue(Array a) : data_(std::make_shared<Array>(std::move(a))) {}  // NOLINT

  JsonValue(Object o) : data_(std::make_shared<Object>(std::move(o))) {}  // NOLINT

  bool is_null() const { return data_.index() == 0; }

  bool is_bool() const { return data_.index() == 1; }

  bool is_number() const { return data_.index() == 2; }

  bool is_string() const { return data_.index() == 3; }

  bool is_array() const { return data_.index() == 4; }

  bool is_object() const { return data_.index() == 5; }

  /// The member `key` of an object; a null value if this is not an object or has no such key.
  const JsonValue& operator[](std::string_view key) const;
  /// Typed accessors with a fallback for a value of another type.
  bool as_bool(bool fallback = false) const;
  double as_number(double fallback = 0) const;
  std::string as_string(std::string fallback = {}) const;
  /// The elements of an array (empty for any other type).
  const Array& as_array() const;
  /// The members of an object (empty for any other type).
  const Object& as_object() const;

 private:
  std::variant<std::monostate,
               bool,
               double,
               std::string,
               std::shared_ptr<const Array>,
               std::shared_ptr<const Object>>
      data_;
};

/// Parses one JSON text (surrounding whitespace allowed). Errors: std::errc::invalid_argument
/// with the offset of the first problem. Nesting is limited to 64 levels.
Result<JsonValue> parse_json(std::string_view text);

}  // namespace hivemind::testing
