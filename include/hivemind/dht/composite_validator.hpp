#pragma once
/// \file
/// A set of record validators applied together (hivemind's `CompositeValidator`,
/// `dht/validation.py`): signing in ascending priority, validating and stripping in descending
/// priority. Build it on one thread, then share it as `const`; its const methods may then be
/// called from any thread (the validators it holds are immutable).

#include <memory>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/dht/validation.hpp"

namespace hivemind::dht {

/// Validators sorted by priority, merged where their kinds allow it.
class CompositeValidator final : public RecordValidator {
 public:
  using Ptr = std::shared_ptr<const RecordValidator>;

  CompositeValidator() = default;
  /// add() for each of `validators`, in order.
  explicit CompositeValidator(const std::vector<Ptr>& validators);

  /// Merges `validator` into the first held validator whose merge_with accepts it (that one is
  /// replaced by the merged result; the held and the added objects are not changed), else holds
  /// it as a separate validator; then re-sorts by ascending priority (stable, so equal priorities
  /// keep their order of addition). Not thread-safe: call before sharing. Throws
  /// std::invalid_argument (HM_CHECK) on nullptr.
  void add(Ptr validator);
  /// add() for each of `validators`, in order (hivemind's `extend`).
  void extend(const std::vector<Ptr>& validators);

  /// The held validators, in ascending priority.
  const std::vector<Ptr>& validators() const noexcept { return validators_; }

  /// Every validator, in descending priority, accepts the record; before each next validator
  /// sees it, the value is stripped by the one that just accepted it (so the schema validator
  /// sees the value without its signature). True when empty.
  bool validate(const DHTRecord& record) const override;
  /// The value after every validator's sign_value, in ascending priority, each seeing the value
  /// the previous one produced.
  Bytes sign_value(const DHTRecord& record) const override;
  /// The value after every validator's strip_value, in descending priority.
  Bytes strip_value(const DHTRecord& record) const override;

 private:
  std::vector<Ptr> validators_;
};

}  // namespace hivemind::dht
