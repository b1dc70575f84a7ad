#pragma once
/// \file
/// msgpack values as hivemind's `MSGPackSerializer` writes them (use_bin_type, strict_types): the
/// smallest integer encoding, float64 for floats, str and bin kept apart, tuples as ext 0x40
/// wrapping an array. The encoder is byte-exact with msgpack-python for the values it can express;
/// the decoder accepts every msgpack encoding but enforces depth and size limits, so it is safe on
/// bytes from the network. Pure functions: no I/O, callable from any thread.

#include <compare>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::dht::msgpack {

/// Ext type codes registered by hivemind (`hivemind/utils/serializer.py`, `dht/storage.py`).
inline constexpr std::int8_t kTupleExt = 0x40;
inline constexpr std::int8_t kDictionaryExt = 0x50;

struct Value;

/// msgpack nil (Python `None`).
struct Nil {
  auto operator<=>(const Nil&) const = default;
};
/// msgpack str (Python `str`), UTF-8 bytes as given (not validated).
struct Str {
  std::string text;
  auto operator<=>(const Str&) const = default;
};
/// msgpack bin (Python `bytes`).
struct Bin {
  Bytes data;
  auto operator<=>(const Bin&) const = default;
};
/// msgpack array (Python `list`).
struct Array {
  std::vector<Value> items;
  bool operator==(const Array&) const;
};
/// Ext 0x40 wrapping a msgpack array (Python `tuple`).
struct Tuple {
  std::vector<Value> items;
  bool operator==(const Tuple&) const;
};
/// msgpack map (Python `dict`), entries in wire order.
struct Map {
  std::vector<std::pair<Value, Value>> entries;
  bool operator==(const Map&) const;
};
/// Any other ext type, kept raw (hivemind logs a warning and returns the payload).
struct Ext {
  std::int8_t type = 0;
  Bytes data;
  auto operator<=>(const Ext&) const = default;
};

/// One msgpack value. Integers decode to `std::int64_t` when they fit and to `std::uint64_t`
/// only above INT64_MAX, so equal numbers compare equal whatever their encoding; float32 decodes
/// to double.
struct Value {
  std::variant<Nil, bool, std::int64_t, std::uint64_t, double, Str, Bin, Array, Tuple, Map, Ext> v;

  Value() = default;
  Value(Nil n) : v(n) {}
  Value(bool b) : v(b) {}
  Value(int i) : v(static_cast<std::int64_t>(i)) {}
  Value(std::int64_t i) : v(i) {}
  Value(std::uint64_t u);  // stored as int64 when it fits
  Value(double d) : v(d) {}
  Value(const char* s) : v(Str{s}) {}
  Value(std::string s) : v(Str{std::move(s)}) {}
  Value(Bytes b) : v(Bin{std::move(b)}) {}
  Value(Str s) : v(std::move(s)) {}
  Value(Bin b) : v(std::move(b)) {}
  Value(Array a) : v(std::move(a)) {}
  Value(Tuple t) : v(std::move(t)) {}
  Value(Map m) : v(std::move(m)) {}
  Value(Ext e) : v(std::move(e)) {}

  template <class T>
  bool is() const noexcept {
    return std::holds_alternative<T>(v);
  }
  template <class T>
  const T& as() const {
    return std::get<T>(v);
  }

  bool operator==(const Value& other) const { return v == other.v; }
};

/// Limits applied while decoding untrusted bytes.
struct UnpackLimits {
  std::size_t max_depth = 32;             ///< nesting of arrays, maps, tuples
  std::size_t max_items = 1u << 20;       ///< total elements across all containers
  std::size_t max_bytes = 64u << 20;      ///< input size
};

/// Appends the encoding of `value` to `out` (msgpack-python's packer with use_bin_type=True,
/// strict_types=True and hivemind's tuple ext hook).
void pack_into(Bytes& out, const Value& value);

/// Returns the encoding of `value`.
Bytes pack(const Value& value);

/// Decodes exactly one value that must span all of `data`. Errors: DhtErrc::kMalformedMsgpack
/// with a detail saying what is wrong (truncated, trailing bytes, reserved byte 0xc1, limits).
Result<Value> unpack(BytesView data, const UnpackLimits& limits = {});

/// Human-readable rendering for logs and test failures (Python-like: None, True, b'..', (1, 2)).
std::string to_string(const Value& value);

}  // namespace hivemind::dht::msgpack
