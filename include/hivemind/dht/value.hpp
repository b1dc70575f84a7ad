#pragma once
/// \file
/// Values stored in the DHT: plain values with an expiration time and hivemind's dictionary values
/// (`DictionaryDHTValue`), whose subkeys expire independently. Value types; no I/O.

#include <limits>
#include <map>
#include <optional>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht {

/// Seconds since the Unix epoch (hivemind's `DHTExpiration`, `get_dht_time() = time.time()`).
using Expiration = double;

/// A serialized value (msgpack bytes, possibly carrying a validator's signature) and the time at
/// which it expires.
struct ValueWithExpiration {
  Bytes value;
  Expiration expiration = 0;
  bool operator==(const ValueWithExpiration&) const = default;
};

/// hivemind's `DictionaryDHTValue`: subkey → (value bytes, expiration). Subkeys are kept as their
/// canonical msgpack encoding. For every subkey the entry with the strictly later expiration wins.
class DictionaryValue {
 public:
  /// Stores `value` under `subkey` (msgpack bytes) unless an entry with an expiration >= `exp`
  /// is already there. Returns whether it was stored. Raises `latest_expiration()` as needed.
  bool store(Bytes subkey, Bytes value, Expiration exp);

  /// Drops entries with expiration < `now`. `latest_expiration()` keeps its value (as in hivemind).
  void remove_expired(Expiration now);

  /// Merges `other` into this one entry by entry (newest wins); `maxsize` becomes the larger.
  void merge(const DictionaryValue& other);

  const std::map<Bytes, ValueWithExpiration>& entries() const noexcept { return entries_; }
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  Expiration latest_expiration() const noexcept { return latest_expiration_; }
  /// hivemind's `maxsize` field (infinity unless a peer says otherwise); informational here,
  /// storage applies its own limits.
  double maxsize() const noexcept { return maxsize_; }

  /// Bytes held (subkeys + values), for storage accounting.
  std::size_t byte_size() const noexcept;

  /// `MSGPackSerializer.dumps(DictionaryDHTValue)`: ext 0x50 wrapping
  /// `[maxsize, latest_expiration_time, [[subkey, value_bytes, expiration_time], ...]]`.
  Bytes pack() const;

  /// Inverse of pack(). Rejects anything but that exact shape (kMalformedValue) and applies
  /// `limits` while decoding.
  static Result<DictionaryValue> unpack(BytesView data, const msgpack::UnpackLimits& limits = {});

  /// The ext 0x50 value that pack() encodes, for embedding a dictionary in a larger msgpack value
  /// (`msgpack::pack(Array{{123, dict.to_ext()}})`).
  msgpack::Ext to_ext() const;

  /// Parses the ext 0x50 value `ext` as unpack() does (kMalformedValue on another ext type or
  /// shape); `limits` apply to decoding its payload.
  static Result<DictionaryValue> from_ext(const msgpack::Ext& ext,
                                          const msgpack::UnpackLimits& limits = {});

  bool operator==(const DictionaryValue&) const = default;

 private:
  std::map<Bytes, ValueWithExpiration> entries_;
  Expiration latest_expiration_ = -std::numeric_limits<double>::infinity();
  double maxsize_ = std::numeric_limits<double>::infinity();
};

/// What a key holds: a plain value (msgpack bytes) or a dictionary, with the key's expiration
/// (a dictionary's `latest_expiration()`).
struct StoredEntry {
  std::variant<Bytes, DictionaryValue> value;
  Expiration expiration = 0;

  bool is_dictionary() const noexcept { return value.index() == 1; }
  bool operator==(const StoredEntry&) const = default;
};

}  // namespace hivemind::dht
