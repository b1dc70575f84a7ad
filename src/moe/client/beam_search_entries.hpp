#pragma once
// Private parts of MoEBeamSearcher (beam_search.hpp): validation of the prefix dictionaries found
// in the DHT (hivemind `_select_valid_entries`, stricter) and the searcher's prefix cache.
// No I/O, no torch. Thread affinity: whoever owns the object (the searcher's host thread).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hivemind/core/clock.hpp"
#include "hivemind/dht/node.hpp"
#include "hivemind/moe/expert_dht.hpp"

namespace hivemind::moe::client::detail {

/// One valid entry of a prefix dictionary: the next coordinate (kFlatExpert for a 1-D grid's
/// expert) and the expert it leads to, with all of that expert's grid coordinates.
struct Successor {
  std::int64_t coordinate = 0;
  ExpertInfo expert;
  std::vector<int> coordinates;  ///< grid_size.size() entries, each within its dimension
};

/// The valid entries of one prefix, sorted by coordinate, one per coordinate. Empty: the prefix
/// has no valid experts below it (or was not found).
using Successors = std::vector<Successor>;

/// The grid coordinates of `uid` when it is `uid_prefix` followed by exactly grid_size.size()
/// decimal coordinates (no sign, no leading zeros), each in [0, grid_size[d]); nullopt otherwise.
std::optional<std::vector<int>> parse_expert_coordinates(std::string_view uid,
                                                         std::string_view uid_prefix,
                                                         const std::vector<int>& grid_size);

/// The entries of the value found at `prefix` (which holds `depth` >= 1 coordinates after
/// `uid_prefix`) that describe an expert below that prefix. An entry counts only when: the
/// value is a dictionary; the subkey is an int in [0, grid_size[depth]) (or kFlatExpert for a
/// 1-D grid); the value is a msgpack tuple or array of two strings (uid, base58 peer id); the uid
/// is_valid_uid, extends `prefix` through the subkey's coordinate and has in-range coordinates
/// (parse_expert_coordinates); the peer id parses. Everything else is ignored (hostile input).
Successors select_valid_entries(const dht::FoundValue& found,
                                std::string_view prefix,
                                std::size_t depth,
                                std::string_view uid_prefix,
                                const std::vector<int>& grid_size);

/// Successors of prefixes found recently: positive entries live `ttl`, negative (empty) ones
/// `negative_ttl`; a non-positive ttl disables that kind. Expired entries are swept as the cache
/// grows. Not thread-safe.
class PrefixCache {
 public:
  PrefixCache(const Clock& clock,
              std::chrono::duration<double> ttl,
              std::chrono::duration<double> negative_ttl);

  /// The unexpired successors cached for `prefix` (empty successors: a negative entry), or null.
  std::shared_ptr<const Successors> find(const std::string& prefix);

  /// Caches `successors` (non-null) for `prefix`, replacing any older entry.
  void put(const std::string& prefix, std::shared_ptr<const Successors> successors);

  void clear() { entries_.clear(); }

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<const Successors> successors;
    Clock::TimePoint expires;
  };

  void sweep(Clock::TimePoint now);

  const Clock* clock_;
  std::optional<Clock::Duration> ttl_;
  std::optional<Clock::Duration> negative_ttl_;
  std::unordered_map<std::string, Entry> entries_;
  std::size_t sweep_at_ = 1024;  ///< sweep expired entries when the cache reaches this size
};

}  // namespace hivemind::moe::client::detail
