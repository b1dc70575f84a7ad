#pragma once
/// \file
/// Beam search over the DHT for many keys at once (hivemind `traverse_dht`), as a state machine
/// without I/O: the caller asks `next()` for a node to query and for which keys, sends the
/// request however it likes, and reports what came back. A coroutine driver with `num_workers`
/// requests in flight lives in the node; tests drive it over a simulated network.
/// Not thread-safe; one owner.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/routing_table.hpp"

namespace hivemind::dht {

/// Parameters of one traversal.
struct TraversalOptions {
  std::size_t beam_size = 20;        ///< nearest nodes kept per query
  std::size_t queries_per_call = 1;  ///< keys asked of one node in one request (>= 1)
};

/// Rules (hivemind's, with one fix): per query, the beam is the `beam_size` nearest nodes known
/// so far; a node is explored only while it is in the beam. The next request goes to the nearest
/// unexplored beam member of the query with the fewest requests in flight, and also carries up to
/// `queries_per_call - 1` other unfinished queries for which that node is unvisited, nearest
/// first. A query finishes when every beam member was asked and none of its requests is in
/// flight, or when the caller calls `finish(q)`. Fix: a node that failed to answer leaves the
/// beam and the next nearest known node takes its place, so `nearest()` lists only nodes that
/// answered or were never asked (hivemind keeps dead nodes in the beam).
class Traversal {
 public:
  /// One request to send: ask `node` about `queries` (indexes into the constructor's list).
  struct Request {
    NodeInfo node;
    std::vector<std::size_t> queries;
  };

  /// `skip` are ids never queried nor kept in beams (e.g. our own id). Duplicate queries are
  /// allowed and searched independently.
  Traversal(std::vector<DHTID> queries,
            const std::vector<NodeInfo>& initial_nodes,
            TraversalOptions options,
            const std::vector<DHTID>& skip = {});

  /// The next request, or nullopt when nothing is explorable now (then: if `in_flight() == 0`,
  /// every query is finished; otherwise wait for a response).
  std::optional<Request> next();

  /// Neighbours that `request.node` returned for query `q` (must be one of request.queries).
  void add_neighbors(std::size_t q, const std::vector<NodeInfo>& neighbors);
  /// One neighbour, as add_neighbors (saves the caller building a vector).
  void add_neighbor(std::size_t q, const NodeInfo& neighbor);
  /// Ends `request` (call exactly once per request, after add_neighbors). `answered` = false
  /// drops the node from every beam.
  void complete(const Request& request, bool answered);
  /// Finishes query `q` now (value found, or the caller gave up).
  void finish(std::size_t q);

  /// Queries that finished since the last call, in the order they finished.
  std::vector<std::size_t> take_finished();

  bool finished(std::size_t q) const { return states_[q].finished; }

  bool all_finished() const noexcept { return unfinished_ == 0; }

  std::size_t in_flight() const noexcept { return in_flight_; }

  std::size_t size() const noexcept { return queries_.size(); }

  const DHTID& query(std::size_t q) const { return queries_[q]; }

  /// The beam of `q`: up to beam_size nearest known nodes, nearest first.
  std::vector<NodeInfo> nearest(std::size_t q) const;

  /// Whether `id` was queried (successfully or not) for `q`.
  bool visited(std::size_t q, const DHTID& id) const;

 private:
  /// A node heard of for one query: its distance to the query and its index in `nodes_`.
  struct Known {
    DHTID distance;
    std::uint32_t node = 0;
    bool visited = false;
    bool failed = false;  ///< did not answer: out of the beam, never offered again
  };

  struct QueryState {
    std::vector<Known> known;   // every node heard of, sorted by distance (a flat map)
    std::vector<bool> visited;  // by node index; shorter than nodes_ = not visited
    std::size_t active = 0;
    bool finished = false;
    // explorable() memo: valid until `known` or a visited flag of this query changes.
    mutable bool candidate_valid = false;
    mutable std::size_t candidate = 0;  // index into `known`; known.size() = none
  };

  static constexpr std::uint32_t kSkipped = UINT32_MAX;  ///< index_ value of a `skip` id

  /// Index in `known` of the nearest unvisited beam member of `q`, or known.size().
  std::size_t explorable(std::size_t q) const;
  /// First entry of `s.known` not nearer than `distance` (the insertion point).
  static std::vector<Known>::iterator lower_bound_known(QueryState& s, const DHTID& distance);
  /// The entry of query `q` at exactly `distance`, or known.end().
  std::vector<Known>::iterator find_known(std::size_t q, const DHTID& distance);

  bool was_visited(const QueryState& s, std::uint32_t node) const {
    return node < s.visited.size() && s.visited[node];
  }

  void offer(std::size_t q, std::uint32_t node);
  /// The node's number (registering a new node), or nullopt for a `skip` id.
  std::optional<std::uint32_t> number_of(const NodeInfo& node);
  void add_neighbor_to_all(const NodeInfo& node);
  void mark_finished(std::size_t q);
  /// Finishes `q` if nothing is left to explore and nothing in flight; returns whether something
  /// is explorable.
  bool refresh(std::size_t q);

  std::vector<DHTID> queries_;
  TraversalOptions options_;
  std::vector<QueryState> states_;
  // Every node heard of, numbered in order of arrival; `index_` (one hash lookup per neighbour)
  // maps ids to those numbers, and `skip` ids to kSkipped. The first peer id heard for a DHTID
  // sticks: a later claim cannot redirect our requests.
  std::vector<NodeInfo> nodes_;
  std::unordered_map<DHTID, std::uint32_t> index_;
  std::vector<std::size_t> newly_finished_;
  std::size_t unfinished_ = 0;
  std::size_t in_flight_ = 0;
  std::vector<std::pair<DHTID, std::size_t>> scratch_;  // next(): reused, so no malloc per request
};

}  // namespace hivemind::dht
