// LocalStorage: hivemind's DHTLocalStorage / TimedStorage rules with bounded memory.
//
// Layout: `slots_` maps each key to its entry and byte count; `by_expiration_` holds one
// (expiration, key) pair per key, so both lazy expiry (pop from the front while expired) and
// eviction (pop the earliest-expiring key) cost O(log n) per removed key. Every public call first
// drops the keys that have expired ("expired" means expiration < now, as in hivemind, so a value
// is still served at exactly its expiration time).
//
// Deviations from hivemind (reference hivemind-dht-p2p.md §1.5, §6.1):
//  - a rejected store never touches the kept value's expiration (hivemind overwrites its heap
//    entry before the check, so the kept value is evicted at the rejected expiration);
//  - expirations that are NaN or further ahead than `max_expiration_ahead_s` are refused
//    (hivemind has no cap at all);
//  - size limits: max_value_bytes, max_subkeys and max_total_bytes besides max_items. When full,
//    only keys expiring strictly before the new value are evicted; hivemind always inserts and then
//    evicts the earliest-expiring entry, possibly the one it has just accepted.
#include "hivemind/dht/storage.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <variant>

#include "hivemind/dht/error.hpp"

namespace hivemind::dht {
namespace {

std::size_t dictionary_entry_bytes(const Bytes& subkey, const ValueWithExpiration& entry) {
  return subkey.size() + entry.value.size();
}

}  // namespace

LocalStorage::LocalStorage(const Clock& clock, StorageLimits limits)
    : clock_(clock), limits_(limits) {}

Result<void> LocalStorage::check_expiration(Expiration expiration,
                                            Expiration now,
                                            double max_ahead) {
  if (std::isnan(expiration)) {
    return Err(DhtErrc::kBadExpiration, "expiration is NaN");
  }
  if (expiration < now) {
    return Err(DhtErrc::kBadExpiration, "expiration is in the past");
  }
  if (expiration - now > max_ahead) {
    return Err(DhtErrc::kBadExpiration, "expiration is too far ahead");
  }
  return {};
}

void LocalStorage::erase_slot(Slots::iterator it) {
  by_expiration_.erase({it->second.entry.expiration, it->first});
  total_bytes_ -= it->second.bytes;
  slots_.erase(it);
}

void LocalStorage::drop_expired(Expiration now) {
  while (!by_expiration_.empty() && by_expiration_.begin()->first < now) {
    erase_slot(slots_.find(by_expiration_.begin()->second));
  }
}

void LocalStorage::set_expiration(const DHTID& key, Slot& slot, Expiration expiration) {
  if (slot.entry.expiration == expiration)
    return;
  by_expiration_.erase({slot.entry.expiration, key});
  slot.entry.expiration = expiration;
  by_expiration_.insert({expiration, key});
}

// Drops expired subkeys and recomputes the dictionary's byte count and earliest expiration. The
// outer expiration stays latest_expiration() (hivemind keeps it too).
void LocalStorage::prune_dictionary(Slot& slot, Expiration now) {
  auto& dictionary = std::get<DictionaryValue>(slot.entry.value);
  dictionary.remove_expired(now);
  std::size_t bytes = 0;
  Expiration earliest = std::numeric_limits<Expiration>::infinity();
  for (const auto& [subkey, entry] : dictionary.entries()) {
    bytes += dictionary_entry_bytes(subkey, entry);
    earliest = std::min(earliest, entry.expiration);
  }
  total_bytes_ = total_bytes_ - slot.bytes + bytes;
  slot.bytes = bytes;
  slot.min_subkey_expiration = earliest;
}

// Evicts the earliest-expiring keys other than `key` until `key` can hold `new_bytes` (instead of
// `old_bytes`) and, if `adds_key`, one more key fits. A key whose expiration is not strictly
// before `new_expiration` is never evicted for it: then the store is refused instead.
Result<void> LocalStorage::make_room(const DHTID& key,
                                     Expiration new_expiration,
                                     std::size_t old_bytes,
                                     std::size_t new_bytes,
                                     bool adds_key) {
  std::size_t items = slots_.size() + (adds_key ? 1 : 0);
  std::size_t bytes = total_bytes_ - old_bytes + new_bytes;
  while (items > limits_.max_items || bytes > limits_.max_total_bytes) {
    auto victim = by_expiration_.begin();
    if (victim != by_expiration_.end() && victim->second == key)
      ++victim;
    if (victim == by_expiration_.end() || !(victim->first < new_expiration)) {
      return Err(DhtErrc::kRejected, "storage is full of values that expire later");
    }
    auto slot = slots_.find(victim->second);
    items -= 1;
    bytes -= slot->second.bytes;
    erase_slot(slot);
  }
  return {};
}

Result<void> LocalStorage::store(const DHTID& key, Bytes value, Expiration expiration) {
  const Expiration now = clock_.unix_seconds();
  HM_TRY_VOID(check_expiration(expiration, now, limits_.max_expiration_ahead_s));
  if (value.size() > limits_.max_value_bytes) {
    return Err(DhtErrc::kValueTooLarge, "value exceeds max_value_bytes");
  }
  drop_expired(now);

  auto it = slots_.find(key);
  const bool exists = it != slots_.end();
  // A dictionary's expiration is its latest_expiration(), so one comparison covers both kinds.
  if (exists && !(expiration > it->second.entry.expiration)) {
    return Err(DhtErrc::kRejected, "a value that expires no earlier is stored");
  }
  const std::size_t old_bytes = exists ? it->second.bytes : 0;
  HM_TRY_VOID(make_room(key, expiration, old_bytes, value.size(), !exists));

  if (!exists)
    it = slots_.emplace(key, Slot{}).first;
  Slot& slot = it->second;
  total_bytes_ = total_bytes_ - old_bytes + value.size();
  slot.bytes = value.size();
  slot.min_subkey_expiration = 0;
  slot.entry.value = std::move(value);
  if (exists) {
    set_expiration(key, slot, expiration);
  } else {
    slot.entry.expiration = expiration;
    by_expiration_.insert({expiration, key});
  }
  return {};
}

Result<void> LocalStorage::store_subkey(const DHTID& key,
                                        Bytes subkey,
                                        Bytes value,
                                        Expiration expiration) {
  const Expiration now = clock_.unix_seconds();
  HM_TRY_VOID(check_expiration(expiration, now, limits_.max_expiration_ahead_s));
  if (subkey.size() > limits_.max_value_bytes
      || value.size() > limits_.max_value_bytes - subkey.size()) {
    return Err(DhtErrc::kValueTooLarge, "subkey and value exceed max_value_bytes");
  }
  drop_expired(now);

  auto it = slots_.find(key);
  const bool exists = it != slots_.end();
  if (exists && it->second.entry.is_dictionary()) {
    return store_into_dictionary(
        key, it->second, std::move(subkey), std::move(value), expiration, now);
  }
  // Absent key (hivemind: `(b"", -inf)`) or a plain value: becomes a one-entry dictionary when
  // the subkey's expiration is strictly later.
  if (exists && !(expiration > it->second.entry.expiration)) {
    return Err(DhtErrc::kRejected, "a plain value that expires no earlier is stored");
  }
  if (limits_.max_subkeys == 0) {
    return Err(DhtErrc::kRejected, "max_subkeys is 0");
  }
  const std::size_t old_bytes = exists ? it->second.bytes : 0;
  const std::size_t new_bytes = subkey.size() + value.size();
  HM_TRY_VOID(make_room(key, expiration, old_bytes, new_bytes, !exists));

  DictionaryValue dictionary;
  if (!dictionary.store(std::move(subkey), std::move(value), expiration)) {
    return Err(DhtErrc::kRejected, "dictionary refused the entry");
  }
  if (!exists)
    it = slots_.emplace(key, Slot{}).first;
  Slot& slot = it->second;
  total_bytes_ = total_bytes_ - old_bytes + new_bytes;
  slot.bytes = new_bytes;
  slot.min_subkey_expiration = expiration;
  slot.entry.value = std::move(dictionary);
  if (exists) {
    set_expiration(key, slot, expiration);
  } else {
    slot.entry.expiration = expiration;
    by_expiration_.insert({expiration, key});
  }
  return {};
}

Result<void> LocalStorage::store_into_dictionary(const DHTID& key,
                                                 Slot& slot,
                                                 Bytes subkey,
                                                 Bytes value,
                                                 Expiration expiration,
                                                 Expiration now) {
  auto* dictionary = &std::get<DictionaryValue>(slot.entry.value);
  auto found = dictionary->entries().find(subkey);
  if (found != dictionary->entries().end() && !(expiration > found->second.expiration)) {
    return Err(DhtErrc::kRejected, "the subkey holds a value that expires no earlier");
  }
  if (found == dictionary->entries().end() && dictionary->size() >= limits_.max_subkeys) {
    // Scan for expired subkeys only when one may have expired since the last scan.
    if (slot.min_subkey_expiration < now)
      prune_dictionary(slot, now);
    if (dictionary->size() >= limits_.max_subkeys) {
      return Err(DhtErrc::kRejected, "dictionary holds max_subkeys entries");
    }
    found = dictionary->entries().end();
  }
  const std::size_t replaced =
      found != dictionary->entries().end() ? dictionary_entry_bytes(subkey, found->second) : 0;
  const std::size_t new_bytes = slot.bytes - replaced + subkey.size() + value.size();
  const Expiration new_expiration = std::max(slot.entry.expiration, expiration);
  // make_room never evicts `key` itself, so `slot` stays valid.
  HM_TRY_VOID(make_room(key, new_expiration, slot.bytes, new_bytes, false));

  if (!dictionary->store(std::move(subkey), std::move(value), expiration)) {
    return Err(DhtErrc::kRejected, "dictionary refused the entry");
  }
  total_bytes_ = total_bytes_ - slot.bytes + new_bytes;
  slot.bytes = new_bytes;
  slot.min_subkey_expiration = std::min(slot.min_subkey_expiration, expiration);
  set_expiration(key, slot, new_expiration);
  return {};
}

std::optional<StoredEntry> LocalStorage::get(const DHTID& key) {
  const Expiration now = clock_.unix_seconds();
  drop_expired(now);
  auto it = slots_.find(key);
  if (it == slots_.end())
    return std::nullopt;
  if (it->second.entry.is_dictionary()) {
    prune_dictionary(it->second, now);
    // Not reachable while the latest subkey is alive; kept so that an empty dictionary is never
    // served.
    if (std::get<DictionaryValue>(it->second.entry.value).empty()) {
      erase_slot(it);
      return std::nullopt;
    }
  }
  return it->second.entry;
}

bool LocalStorage::erase(const DHTID& key) {
  drop_expired(clock_.unix_seconds());
  auto it = slots_.find(key);
  if (it == slots_.end())
    return false;
  erase_slot(it);
  return true;
}

std::vector<std::pair<DHTID, StoredEntry>> LocalStorage::items() {
  const Expiration now = clock_.unix_seconds();
  drop_expired(now);
  std::vector<std::pair<DHTID, StoredEntry>> result;
  result.reserve(slots_.size());
  for (auto it = slots_.begin(); it != slots_.end();) {
    auto next = std::next(it);
    if (it->second.entry.is_dictionary()) {
      prune_dictionary(it->second, now);
      if (std::get<DictionaryValue>(it->second.entry.value).empty()) {
        erase_slot(it);
        it = next;
        continue;
      }
    }
    result.emplace_back(it->first, it->second.entry);
    it = next;
  }
  return result;
}

std::size_t LocalStorage::size() {
  drop_expired(clock_.unix_seconds());
  return slots_.size();
}

}  // namespace hivemind::dht
