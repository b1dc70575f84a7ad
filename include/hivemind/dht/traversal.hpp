#pragma once
/// \file
/// Beam search over the DHT for many keys at once (hivemind `traverse_dht`), as a state machine
/// without I/O: the caller asks `next()` for a node to query and for which keys, sends the
/// request however it likes, and reports what came back. A coroutine driver with `num_workers`
/// requests in flight lives in the node; tests drive it over a simulated network.
/// Not thread-safe; one owner.

#include <cstddef>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
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

  /// Nodes queried (successfully or not) for `q`.
  const std::unordered_set<DHTID>& visited(std::size_t q) const { return states_[q].visited; }

 private:
  /// A node heard of for one query, keyed by its distance to the query.
  struct Known {
    DHTID id;
    bool visited = false;
  };

  using KnownMap = std::map<DHTID, Known>;

  struct QueryState {
    KnownMap known;             // distance -> node: every node heard of that has not failed
    std::vector<DHTID> failed;  // distances of nodes that failed (sorted), for dedup
    std::unordered_set<DHTID> visited;
    std::size_t active = 0;
    bool finished = false;
    // explorable() memo: valid until `known` or a visited flag of this query changes.
    mutable bool candidate_valid = false;
    mutable KnownMap::const_iterator candidate;
  };

  /// The nearest unvisited beam member of `q`, or known.end().
  KnownMap::const_iterator explorable(std::size_t q) const;
  void offer(std::size_t q, const DHTID& id);
  void mark_finished(std::size_t q);
  /// Finishes `q` if nothing is left to explore and nothing in flight; returns whether something
  /// is explorable.
  bool refresh(std::size_t q);

  std::vector<DHTID> queries_;
  TraversalOptions options_;
  std::vector<QueryState> states_;
  std::unordered_map<DHTID, net::PeerId> peers_;
  std::unordered_set<DHTID> skip_;
  std::vector<std::size_t> newly_finished_;
  std::size_t unfinished_ = 0;
  std::size_t in_flight_ = 0;
  std::vector<std::pair<DHTID, std::size_t>> scratch_;  // next(): reused, so no malloc per request
};

}  // namespace hivemind::dht
