#pragma once
/// \file
/// A node's local key-value storage with hivemind's expiration rules (`DHTLocalStorage` over
/// `TimedStorage`), plus bounds so that a peer cannot fill our memory. Not thread-safe: owned by
/// one DHT node and used on its network thread. No I/O.

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "hivemind/core/clock.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/value.hpp"

namespace hivemind::dht {

/// Bounds on what one storage accepts. Defaults suit a node of a public swarm.
struct StorageLimits {
  std::size_t max_items = 1'000'000;       ///< keys; the earliest-expiring key is evicted above it
  std::size_t max_total_bytes = 1u << 30;  ///< values + subkeys; evicts like max_items
  std::size_t max_value_bytes = 1u << 20;  ///< one value (or one dictionary entry), in bytes
  std::size_t max_subkeys = 100'000;       ///< entries of one dictionary
  double max_expiration_ahead_s = 30 * 86400.0;  ///< expirations later than now + this are refused
};

/// Storage rules (hivemind `timed_storage.py` / `dht/storage.py`, minus its bugs):
///  - a store with expiration < now, NaN or beyond `max_expiration_ahead_s` is refused
///    (kBadExpiration); a value above `max_value_bytes` is refused (kValueTooLarge);
///  - a key is replaced only by a strictly later expiration (ties and older stores: kRejected;
///    unlike hivemind, a rejected store never shortens the life of the kept value);
///  - `store_subkey` on a key holding a plain value converts it into a dictionary only when the
///    new expiration is later than the plain value's; on a dictionary it follows the per-subkey
///    rule and raises the dictionary's expiration;
///  - a plain store over a dictionary wins only when later than the dictionary's latest expiration;
///  - expired keys and subkeys disappear lazily on access.
class LocalStorage {
 public:
  /// `clock` must outlive the storage.
  explicit LocalStorage(const Clock& clock, StorageLimits limits = {});

  /// Stores a plain value (see the rules above). When the limits are exceeded, keys expiring
  /// before `expiration` are evicted earliest first; if that is not enough the store fails with
  /// kRejected (the keys already evicted stay evicted: they expired sooner than the new value).
  Result<void> store(const DHTID& key, Bytes value, Expiration expiration);
  /// Stores `value` under `subkey` (its msgpack bytes) of the dictionary at `key`. Errors as
  /// store(); kRejected also when the dictionary already holds `max_subkeys` live entries.
  Result<void> store_subkey(const DHTID& key, Bytes subkey, Bytes value, Expiration expiration);

  /// The entry for `key` if it has not expired (expired subkeys removed from dictionaries).
  std::optional<StoredEntry> get(const DHTID& key);

  /// Removes `key`; returns whether it was there.
  bool erase(const DHTID& key);

  /// Live keys and their entries, for handing data over to a new neighbour.
  std::vector<std::pair<DHTID, StoredEntry>> items();

  /// Number of live keys.
  std::size_t size();

  /// Bytes held (values, subkeys and dictionary values); may still count expired entries that
  /// no call has dropped yet.
  std::size_t total_bytes() const noexcept { return total_bytes_; }

  const StorageLimits& limits() const noexcept { return limits_; }

 private:
  struct Slot {
    StoredEntry entry;
    std::size_t bytes = 0;  ///< what this key counts towards max_total_bytes
    /// Dictionaries only: no subkey expires before this (a lower bound, exact after a prune).
    Expiration min_subkey_expiration = 0;
  };

  // Ordered containers only: keys come from the network, and std::hash<DHTID> (8 bytes of the
  // id) would let a peer choose colliding keys.
  using Slots = std::map<DHTID, Slot>;

  static Result<void> check_expiration(Expiration expiration, Expiration now, double max_ahead);
  void drop_expired(Expiration now);
  void erase_slot(Slots::iterator it);
  void set_expiration(const DHTID& key, Slot& slot, Expiration expiration);
  void prune_dictionary(Slot& slot, Expiration now);
  Result<void> make_room(const DHTID& key,
                         Expiration new_expiration,
                         std::size_t old_bytes,
                         std::size_t new_bytes,
                         bool adds_key);
  Result<void> store_into_dictionary(const DHTID& key,
                                     Slot& slot,
                                     Bytes subkey,
                                     Bytes value,
                                     Expiration expiration,
                                     Expiration now);

  const Clock& clock_;
  StorageLimits limits_;
  Slots slots_;
  std::set<std::pair<Expiration, DHTID>> by_expiration_;  ///< earliest first; one per key
  std::size_t total_bytes_ = 0;
};

}  // namespace hivemind::dht
