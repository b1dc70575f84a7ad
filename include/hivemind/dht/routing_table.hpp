#pragma once
/// \file
/// Kademlia routing table with hivemind's rules (`hivemind/dht/routing.py`): k-buckets that split
/// when they hold our own id or when their depth is not a multiple of `depth_modulo`, a bounded
/// replacement cache per bucket, and the least-recently-seen node offered for a ping when a full
/// bucket cannot split. Not thread-safe: owned by one node, used on its network thread. No I/O.

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/value.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::dht {

/// A node known to the routing table.
struct NodeInfo {
  DHTID id;
  net::PeerId peer;
  bool operator==(const NodeInfo&) const = default;
};

/// Routing table parameters (hivemind defaults).
struct RoutingTableOptions {
  std::size_t bucket_size = 20;       ///< k
  std::size_t depth_modulo = 5;       ///< b: buckets at depths not divisible by it always split
  std::size_t max_replacements = 20;  ///< per bucket (hivemind: unbounded)
};

/// A bucket as seen from outside: the ids it covers are those whose first `depth` bits equal
/// those of `prefix`.
struct BucketView {
  DHTID prefix;
  std::size_t depth = 0;
  std::size_t size = 0;
  std::size_t replacements = 0;
  Expiration last_updated = 0;  ///< unix seconds of the latest add/update in this bucket
};

/// The table. Move-only (it holds iterators into its own buckets).
class RoutingTable {
 public:
  /// `options.bucket_size` and `options.depth_modulo` must be >= 1 (HM_CHECK).
  RoutingTable(const DHTID& self, RoutingTableOptions options = {});

  /// Adds `node` or marks it as just seen (moves it to the most-recently-seen end). When its
  /// bucket is full and may not split, the node goes to the replacement cache and the
  /// least-recently-seen node that is not already awaiting a ping is returned: the caller should
  /// ping it and call `remove` if it does not answer. Our own id is never added. A peer that comes
  /// back under another DHTID replaces its old entry.
  std::optional<NodeInfo> add_or_update(const NodeInfo& node, Expiration now);

  /// Removes the node with `id` (active or replacement). A removed active node is replaced by the
  /// most recently added replacement. Returns whether anything was removed.
  bool remove(const DHTID& id);

  /// Up to `k` active nodes nearest to `query` by XOR distance, nearest first, never `exclude`.
  std::vector<NodeInfo> nearest(const DHTID& query,
                                std::size_t k,
                                const std::optional<DHTID>& exclude = std::nullopt) const;
  /// As `nearest`, without copying the nodes: the pointers stay valid until the table changes.
  std::vector<const NodeInfo*> nearest_refs(
      const DHTID& query, std::size_t k, const std::optional<DHTID>& exclude = std::nullopt) const;

  std::optional<net::PeerId> peer_of(const DHTID& id) const;  ///< active or replacement
  std::optional<DHTID> id_of(const net::PeerId& peer) const;  ///< active or replacement
  bool contains(const DHTID& id) const;                       ///< active only

  std::size_t size() const noexcept;               ///< active nodes
  std::size_t replacement_count() const noexcept;  ///< nodes in replacement caches
  std::vector<BucketView> buckets() const;         ///< in id order, covering the whole id space
  /// All active nodes (any order).
  std::vector<NodeInfo> nodes() const;

  const DHTID& self() const noexcept { return self_; }

  const RoutingTableOptions& options() const noexcept { return options_; }

 private:
  struct Slot {
    NodeInfo info;
    bool ping_requested = false;  ///< returned by add_or_update and not seen since
  };

  using SlotList = std::list<Slot>;

  /// Covers the ids whose first `depth` bits equal those of `lower` (its other bits are 0).
  struct Bucket {
    DHTID lower;
    std::size_t depth = 0;
    SlotList nodes;         ///< least recently seen first
    SlotList replacements;  ///< least recently added first
    Expiration last_updated = 0;
  };

  struct Location {
    bool active = false;
    SlotList::iterator slot;  ///< in the bucket's `nodes` or `replacements`
  };

  std::size_t bucket_index(const DHTID& id) const;
  bool may_split(const Bucket& bucket) const;
  void split(std::size_t index, Expiration now);
  void place(Bucket& bucket, SlotList& from, SlotList::iterator slot);
  void add_replacement(Bucket& bucket, SlotList& from, SlotList::iterator slot);
  void forget(const DHTID& id, const net::PeerId& peer);
  std::optional<NodeInfo> request_ping(Bucket& bucket);
  void collect_nearest(std::size_t lo,
                       std::size_t hi,
                       std::size_t depth,
                       const DHTID& query,
                       std::size_t wanted,
                       const std::optional<DHTID>& exclude,
                       std::vector<std::pair<DHTID, const NodeInfo*>>& out) const;

  DHTID self_;
  RoutingTableOptions options_;
  std::vector<std::unique_ptr<Bucket>> buckets_;  ///< in id order, partitioning the id space
  // Ordered maps: ids and peer ids come from the network, so no hash flooding.
  std::map<DHTID, Location> by_id_;  ///< active and replacement nodes
  std::map<net::PeerId, DHTID> by_peer_;
  std::size_t active_count_ = 0;
};

}  // namespace hivemind::dht
