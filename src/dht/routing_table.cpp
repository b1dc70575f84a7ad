// RoutingTable: hivemind's k-bucket table (hivemind/dht/routing.py; reference
// hivemind-dht-p2p.md §1.2).
//
// Buckets are kept in id order in `buckets_`; each covers a prefix range (lower, depth), and
// together they are the leaves of a binary trie over the id space (every split creates two
// children). Nodes live in per-bucket std::lists (LRU order); `by_id_` points at each node's list
// element, so updates, moves between buckets (splice) and removals are O(log n) with no scans.
//
// Deviations from hivemind:
//  - split assigns an id by its bit at the bucket's depth; hivemind puts an id equal to the
//    midpoint into the left half (reference §6.3), which is outside that half's range;
//  - the replacement cache is bounded by `max_replacements` (the oldest entry is dropped);
//  - id <-> peer stays one-to-one: a peer that comes back with a new id loses its old entry, and an
//    id announced by a new peer is re-bound to it (hivemind leaves stale reverse mappings);
//  - nearest() visits buckets in XOR-distance order (see collect_nearest) instead of widening to
//    parent subtrees and heap-sorting everything collected.
#include "hivemind/dht/routing_table.hpp"

#include <algorithm>
#include <iterator>

#include "hivemind/core/check.hpp"

namespace hivemind::dht {
namespace {

DHTID with_bit_set(const DHTID& id, std::size_t index) {
  DHTID::Raw raw = id.raw();
  raw[index / 8] = static_cast<std::uint8_t>(raw[index / 8] | (0x80u >> (index % 8)));
  return DHTID(raw);
}

}  // namespace

RoutingTable::RoutingTable(const DHTID& self, RoutingTableOptions options)
    : self_(self), options_(options) {
  HM_CHECK(options_.bucket_size >= 1, "bucket_size must be at least 1");
  HM_CHECK(options_.depth_modulo >= 1, "depth_modulo must be at least 1");
  buckets_.push_back(std::make_unique<Bucket>());
}

std::size_t RoutingTable::bucket_index(const DHTID& id) const {
  // The first bucket starts at id 0, so the partition point is always >= 1.
  auto after = std::partition_point(
      buckets_.begin(), buckets_.end(), [&](const auto& bucket) { return bucket->lower <= id; });
  return static_cast<std::size_t>(std::distance(buckets_.begin(), after)) - 1;
}

bool RoutingTable::may_split(const Bucket& bucket) const {
  if (bucket.depth >= DHTID::kBits)
    return false;
  const bool holds_self = self_.common_prefix_length(bucket.lower) >= bucket.depth;
  return holds_self || bucket.depth % options_.depth_modulo != 0;
}

void RoutingTable::place(Bucket& bucket, SlotList& from, SlotList::iterator slot) {
  Location& location = by_id_.find(slot->info.id)->second;
  if (!location.active) {
    location.active = true;
    ++active_count_;
  }
  slot->ping_requested = false;
  bucket.nodes.splice(bucket.nodes.end(), from, slot);
}

void RoutingTable::add_replacement(Bucket& bucket, SlotList& from, SlotList::iterator slot) {
  Location& location = by_id_.find(slot->info.id)->second;
  if (location.active) {
    location.active = false;
    --active_count_;
  }
  slot->ping_requested = false;
  bucket.replacements.splice(bucket.replacements.end(), from, slot);
  while (bucket.replacements.size() > options_.max_replacements) {
    // The oldest goes; with max_replacements == 0 that is the node just added.
    const NodeInfo oldest = bucket.replacements.front().info;
    bucket.replacements.pop_front();
    forget(oldest.id, oldest.peer);
  }
}

void RoutingTable::forget(const DHTID& id, const net::PeerId& peer) {
  auto location = by_id_.find(id);
  if (location == by_id_.end())
    return;
  if (location->second.active)
    --active_count_;
  by_id_.erase(location);
  auto by_peer = by_peer_.find(peer);
  if (by_peer != by_peer_.end() && by_peer->second == id)
    by_peer_.erase(by_peer);
}

std::optional<NodeInfo> RoutingTable::request_ping(Bucket& bucket) {
  for (Slot& slot : bucket.nodes) {
    if (!slot.ping_requested) {
      slot.ping_requested = true;
      return slot.info;
    }
  }
  return std::nullopt;
}

// Splits bucket `index` in two at bit `depth` and deals its nodes out in hivemind's order: active
// nodes (least recently seen first), then replacements (oldest first); each child takes them as
// active nodes while it has room and as replacements after that.
void RoutingTable::split(std::size_t index, Expiration now) {
  Bucket& parent = *buckets_[index];
  const std::size_t depth = parent.depth;
  auto left = std::make_unique<Bucket>();
  auto right = std::make_unique<Bucket>();
  left->lower = parent.lower;
  right->lower = with_bit_set(parent.lower, depth);
  left->depth = right->depth = depth + 1;
  left->last_updated = right->last_updated = now;
  for (SlotList* from : {&parent.nodes, &parent.replacements}) {
    while (!from->empty()) {
      const auto slot = from->begin();
      Bucket& child = slot->info.id.bit(depth) ? *right : *left;
      if (child.nodes.size() < options_.bucket_size) {
        place(child, *from, slot);
      } else {
        add_replacement(child, *from, slot);
      }
    }
  }
  buckets_[index] = std::move(left);
  buckets_.insert(buckets_.begin() + static_cast<std::ptrdiff_t>(index) + 1, std::move(right));
}

std::optional<NodeInfo> RoutingTable::add_or_update(const NodeInfo& node, Expiration now) {
  if (node.id == self_)
    return std::nullopt;
  // Keep id <-> peer one-to-one before touching the buckets.
  if (auto known = by_peer_.find(node.peer); known != by_peer_.end() && known->second != node.id) {
    remove(known->second);
  }
  auto location = by_id_.find(node.id);
  SlotList fresh;  // holds the slot of a node not yet in any bucket
  if (location == by_id_.end()) {
    fresh.push_back(Slot{node});
    location = by_id_.emplace(node.id, Location{false, fresh.begin()}).first;
    by_peer_[node.peer] = node.id;
  } else if (location->second.slot->info.peer != node.peer) {
    by_peer_.erase(location->second.slot->info.peer);
    location->second.slot->info.peer = node.peer;
    by_peer_[node.peer] = node.id;
  }

  while (true) {
    const std::size_t index = bucket_index(node.id);
    Bucket& bucket = *buckets_[index];
    bucket.last_updated = now;
    const SlotList::iterator slot = location->second.slot;
    if (location->second.active) {
      slot->ping_requested = false;
      bucket.nodes.splice(bucket.nodes.end(), bucket.nodes, slot);
      return std::nullopt;
    }
    SlotList& from = fresh.empty() ? bucket.replacements : fresh;
    if (bucket.nodes.size() < options_.bucket_size) {
      place(bucket, from, slot);
      return std::nullopt;
    }
    if (may_split(bucket)) {
      split(index, now);
      continue;
    }
    add_replacement(bucket, from, slot);  // `location` may be gone now (max_replacements == 0)
    return request_ping(bucket);
  }
}

bool RoutingTable::remove(const DHTID& id) {
  auto location = by_id_.find(id);
  if (location == by_id_.end())
    return false;
  Bucket& bucket = *buckets_[bucket_index(id)];
  const bool was_active = location->second.active;
  const auto slot = location->second.slot;
  const NodeInfo info = slot->info;
  (was_active ? bucket.nodes : bucket.replacements).erase(slot);
  forget(info.id, info.peer);
  if (was_active && !bucket.replacements.empty()) {
    // hivemind promotes `replacement_nodes.popitem()`: the most recently added replacement.
    place(bucket, bucket.replacements, std::prev(bucket.replacements.end()));
  }
  return true;
}

// Visits the buckets [lo, hi), which form the subtree of ids sharing their first `depth` bits,
// in order of XOR distance to `query`: the child whose bit `depth` equals the query's is visited
// first. The distance intervals of the visited buckets are disjoint and increasing, so every node
// collected later is farther than every node collected before; hence once `wanted` nodes are
// collected, no unvisited bucket can hold a nearer one and the walk stops.
void RoutingTable::collect_nearest(std::size_t lo,
                                   std::size_t hi,
                                   std::size_t depth,
                                   const DHTID& query,
                                   std::size_t wanted,
                                   const std::optional<DHTID>& exclude,
                                   std::vector<std::pair<DHTID, const NodeInfo*>>& out) const {
  if (out.size() >= wanted)
    return;
  if (hi - lo == 1) {
    for (const Slot& slot : buckets_[lo]->nodes) {
      if (!exclude || slot.info.id != *exclude)
        out.emplace_back(query.distance(slot.info.id), &slot.info);
    }
    return;
  }
  // At least two leaves: this trie node was split at bit `depth`, so both halves are non-empty.
  const auto first = buckets_.begin() + static_cast<std::ptrdiff_t>(lo);
  const auto last = buckets_.begin() + static_cast<std::ptrdiff_t>(hi);
  const std::size_t mid = static_cast<std::size_t>(std::distance(
      buckets_.begin(),
      std::partition_point(first, last, [&](const auto& b) { return !b->lower.bit(depth); })));
  if (query.bit(depth)) {
    collect_nearest(mid, hi, depth + 1, query, wanted, exclude, out);
    collect_nearest(lo, mid, depth + 1, query, wanted, exclude, out);
  } else {
    collect_nearest(lo, mid, depth + 1, query, wanted, exclude, out);
    collect_nearest(mid, hi, depth + 1, query, wanted, exclude, out);
  }
}

// Ranks (distance, node) pairs and copies nothing but the winners' pointers; distances are
// unique (so are ids), hence the order is total.
std::vector<const NodeInfo*> RoutingTable::nearest_refs(const DHTID& query,
                                                        std::size_t k,
                                                        const std::optional<DHTID>& exclude) const {
  std::vector<const NodeInfo*> result;
  if (k == 0 || active_count_ == 0)
    return result;
  std::vector<std::pair<DHTID, const NodeInfo*>> ranked;
  ranked.reserve(std::min(k, active_count_) + options_.bucket_size);
  collect_nearest(0, buckets_.size(), 0, query, k, exclude, ranked);
  const std::size_t take = std::min(k, ranked.size());
  const auto middle = ranked.begin() + static_cast<std::ptrdiff_t>(take);
  std::partial_sort(ranked.begin(), middle, ranked.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });
  result.reserve(take);
  for (auto it = ranked.begin(); it != middle; ++it)
    result.push_back(it->second);
  return result;
}

std::vector<NodeInfo> RoutingTable::nearest(const DHTID& query,
                                            std::size_t k,
                                            const std::optional<DHTID>& exclude) const {
  const auto refs = nearest_refs(query, k, exclude);
  std::vector<NodeInfo> result;
  result.reserve(refs.size());
  for (const NodeInfo* node : refs)
    result.push_back(*node);
  return result;
}

std::optional<net::PeerId> RoutingTable::peer_of(const DHTID& id) const {
  auto location = by_id_.find(id);
  if (location == by_id_.end())
    return std::nullopt;
  return location->second.slot->info.peer;
}

std::optional<DHTID> RoutingTable::id_of(const net::PeerId& peer) const {
  auto known = by_peer_.find(peer);
  if (known == by_peer_.end())
    return std::nullopt;
  return known->second;
}

bool RoutingTable::contains(const DHTID& id) const {
  auto location = by_id_.find(id);
  return location != by_id_.end() && location->second.active;
}

std::size_t RoutingTable::size() const noexcept {
  return active_count_;
}

std::size_t RoutingTable::replacement_count() const noexcept {
  return by_id_.size() - active_count_;
}

std::vector<BucketView> RoutingTable::buckets() const {
  std::vector<BucketView> views;
  views.reserve(buckets_.size());
  for (const auto& bucket : buckets_) {
    views.push_back(BucketView{bucket->lower,
                               bucket->depth,
                               bucket->nodes.size(),
                               bucket->replacements.size(),
                               bucket->last_updated});
  }
  return views;
}

std::vector<NodeInfo> RoutingTable::nodes() const {
  std::vector<NodeInfo> all;
  all.reserve(active_count_);
  for (const auto& bucket : buckets_) {
    for (const Slot& slot : bucket->nodes)
      all.push_back(slot.info);
  }
  return all;
}

}  // namespace hivemind::dht
