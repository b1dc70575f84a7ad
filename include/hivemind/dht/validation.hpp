#pragma once
/// \file
/// Record validators (hivemind `dht/validation.py`): checks every record a node stores or returns,
/// and lets owners sign what they publish. Validators are immutable once installed in a node and
/// their const methods may be called from any thread.

#include <memory>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/dht/value.hpp"

namespace hivemind::dht {

/// The record a validator sees (hivemind's `DHTRecord`): `key` is the 20-byte DHTID, `subkey` the
/// msgpack-serialized subkey or `0xc0` (msgpack nil) for a plain value, `value` the serialized
/// value as stored (with any signature), `expiration` in unix seconds.
struct DHTRecord {
  Bytes key;
  Bytes subkey;
  Bytes value;
  Expiration expiration = 0;
};

/// msgpack nil: the subkey tag of a plain (non-dictionary) value.
inline const Bytes kRegularValueTag{0xc0};

/// One validation rule. hivemind's `RecordValidatorBase`.
class RecordValidator {
 public:
  virtual ~RecordValidator() = default;
  /// Whether `record` is acceptable (signatures still attached).
  virtual bool validate(const DHTRecord& record) const = 0;
  /// The value to publish for `record` (e.g. with a signature appended). Default: unchanged.
  virtual Bytes sign_value(const DHTRecord& record) const { return record.value; }
  /// `record.value` without what sign_value added. Default: unchanged.
  virtual Bytes strip_value(const DHTRecord& record) const { return record.value; }
  /// Validators sign in ascending and validate/strip in descending priority.
  virtual int priority() const { return 0; }
  /// hivemind's `merge_with`, without mutation: a new validator that applies this kind's merging
  /// policy to `*this` and `other` (e.g. two schemas ORed), or nullptr when they do not merge
  /// (the default; then a CompositeValidator applies both in turn). Neither operand changes.
  virtual std::shared_ptr<const RecordValidator> merge_with(const RecordValidator& other) const {
    (void)other;
    return nullptr;
  }
};

}  // namespace hivemind::dht
