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

/// Rules (hivemind's, with one fix): per query, the beam holds the `beam_size` nearest nodes known
/// so far; a candidate is explored only while it is nearer than the beam's farthest member (or the
/// beam is not full). The next request goes to the nearest candidate of the query with the fewest
/// requests in flight, and also carries up to `queries_per_call - 1` other unfinished queries for
/// which that node is unvisited, nearest first. A query finishes when no candidate can improve its
/// beam and none of its requests is in flight, or when the caller calls `finish(q)`. Fix: a node
/// that failed to answer is dropped from the beams, so `nearest()` lists only nodes that answered
/// or were never asked.
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
  struct QueryState {
    std::map<DHTID, DHTID> candidates;  // distance -> id, unvisited, explorable
    std::map<DHTID, DHTID> beam;        // distance -> id, at most beam_size
    std::unordered_set<DHTID> known;
    std::unordered_set<DHTID> visited;
    std::size_t active = 0;
    bool finished = false;
  };
  bool within_bound(const QueryState& s, const DHTID& distance) const;
  void offer(std::size_t q, const DHTID& id);
  void mark_finished(std::size_t q);
  bool prune(std::size_t q);  // drops useless candidates; returns whether one is explorable

  std::vector<DHTID> queries_;
  TraversalOptions options_;
  std::vector<QueryState> states_;
  std::unordered_map<DHTID, net::PeerId> peers_;
  std::unordered_set<DHTID> skip_;
  std::vector<std::size_t> newly_finished_;
  std::size_t unfinished_ = 0;
  std::size_t in_flight_ = 0;
};

}  // namespace hivemind::dht
