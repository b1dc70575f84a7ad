// hivemind's CompositeValidator (hivemind/dht/validation.py). hivemind merges by mutating the
// held validator (`existing.merge_with(new)` returns True); validators here are immutable and
// possibly shared between nodes, so merge_with returns a new validator that replaces the held one.
#include "hivemind/dht/composite_validator.hpp"

#include <algorithm>
#include <utility>

#include "hivemind/core/check.hpp"

namespace hivemind::dht {

CompositeValidator::CompositeValidator(const std::vector<Ptr>& validators) {
  extend(validators);
}

void CompositeValidator::add(Ptr validator) {
  HM_CHECK(validator != nullptr, "CompositeValidator::add needs a validator");
  bool merged = false;
  for (Ptr& existing : validators_) {
    if (Ptr combined = existing->merge_with(*validator)) {
      existing = std::move(combined);
      merged = true;
      break;
    }
  }
  if (!merged)
    validators_.push_back(std::move(validator));
  std::stable_sort(validators_.begin(), validators_.end(), [](const Ptr& a, const Ptr& b) {
    return a->priority() < b->priority();
  });
}

void CompositeValidator::extend(const std::vector<Ptr>& validators) {
  for (const Ptr& validator : validators)
    add(validator);
}

bool CompositeValidator::validate(const DHTRecord& record) const {
  DHTRecord current = record;
  for (auto it = validators_.rbegin(); it != validators_.rend(); ++it) {
    if (!(*it)->validate(current))
      return false;
    if (std::next(it) != validators_.rend())
      current.value = (*it)->strip_value(current);
  }
  return true;
}

Bytes CompositeValidator::sign_value(const DHTRecord& record) const {
  DHTRecord current = record;
  for (const Ptr& validator : validators_)
    current.value = validator->sign_value(current);
  return std::move(current.value);
}

Bytes CompositeValidator::strip_value(const DHTRecord& record) const {
  DHTRecord current = record;
  for (auto it = validators_.rbegin(); it != validators_.rend(); ++it)
    current.value = (*it)->strip_value(current);
  return std::move(current.value);
}

}  // namespace hivemind::dht
