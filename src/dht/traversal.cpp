// Traversal: beam search state. Hot path (one call per neighbour of every find reply): one hash
// lookup in index_ (skip check and node number at once), then a binary search in the query's
// flat sorted `known` vector; no per-neighbour allocation once a node is known.
#include "hivemind/dht/traversal.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "hivemind/core/check.hpp"

namespace hivemind::dht {

Traversal::Traversal(std::vector<DHTID> queries,
                     const std::vector<NodeInfo>& initial_nodes,
                     TraversalOptions options,
                     const std::vector<DHTID>& skip)
    : queries_(std::move(queries)),
      options_(options),
      states_(queries_.size()),
      unfinished_(queries_.size()) {
  HM_CHECK(options_.beam_size >= 1 && options_.queries_per_call >= 1, "bad traversal options");
  for (const auto& id : skip)
    index_.insert_or_assign(id, kSkipped);
  for (const auto& node : initial_nodes)
    add_neighbor_to_all(node);
}

std::optional<std::uint32_t> Traversal::number_of(const NodeInfo& node) {
  if (nodes_.size() >= kSkipped && !index_.contains(node.id))
    return std::nullopt;  // node numbers exhausted (never in practice): new nodes are ignored
  auto [it, added] = index_.try_emplace(node.id, static_cast<std::uint32_t>(nodes_.size()));
  if (it->second == kSkipped)
    return std::nullopt;
  if (added)
    nodes_.push_back(node);
  return it->second;
}

void Traversal::add_neighbor_to_all(const NodeInfo& node) {
  if (const auto number = number_of(node)) {
    for (std::size_t q = 0; q < queries_.size(); ++q)
      offer(q, *number);
  }
}

std::vector<Traversal::Known>::iterator Traversal::lower_bound_known(QueryState& s,
                                                                     const DHTID& distance) {
  return std::lower_bound(
      s.known.begin(), s.known.end(), distance, [](const Known& k, const DHTID& d) {
        return k.distance < d;
      });
}

std::vector<Traversal::Known>::iterator Traversal::find_known(std::size_t q,
                                                              const DHTID& distance) {
  auto& known = states_[q].known;
  auto it = lower_bound_known(states_[q], distance);
  return it != known.end() && it->distance == distance ? it : known.end();
}

void Traversal::offer(std::size_t q, std::uint32_t node) {
  QueryState& s = states_[q];
  if (s.finished)
    return;
  // The distance identifies the node for this query: a node is offered once, and never again
  // after it failed (its entry stays, marked failed).
  const DHTID distance = queries_[q].distance(nodes_[node].id);
  auto it = lower_bound_known(s, distance);
  if (it != s.known.end() && it->distance == distance)
    return;
  // visited: asked already, for another query's sake
  s.known.insert(it, Known{distance, node, was_visited(s, node), false});
  s.candidate_valid = false;
}

std::size_t Traversal::explorable(std::size_t q) const {
  const QueryState& s = states_[q];
  if (s.candidate_valid)
    return s.candidate;
  std::size_t found = s.known.size();
  std::size_t rank = 0;
  for (std::size_t i = 0; i < s.known.size() && rank < options_.beam_size; ++i) {
    const Known& k = s.known[i];
    if (k.failed)
      continue;
    if (!k.visited) {
      found = i;
      break;
    }
    ++rank;
  }
  s.candidate = found;
  s.candidate_valid = true;
  return found;
}

bool Traversal::refresh(std::size_t q) {
  if (states_[q].finished)
    return false;
  if (explorable(q) != states_[q].known.size())
    return true;
  if (states_[q].active == 0)
    mark_finished(q);
  return false;
}

std::optional<Traversal::Request> Traversal::next() {
  // One explorable() scan per query (it walks the visited prefix of the query's known nodes);
  // this loop runs for every request, so it dominates long multi-key lookups.
  std::size_t best = queries_.size();
  DHTID best_distance;
  std::uint32_t node = 0;
  for (std::size_t q = 0; q < queries_.size(); ++q) {
    QueryState& s = states_[q];
    if (s.finished)
      continue;
    const std::size_t candidate = explorable(q);
    if (candidate == s.known.size()) {
      if (s.active == 0)
        mark_finished(q);
      continue;
    }
    const Known& k = s.known[candidate];
    if (best == queries_.size() || s.active < states_[best].active
        || (s.active == states_[best].active && k.distance < best_distance)) {
      best = q;
      best_distance = k.distance;
      node = k.node;
    }
  }
  if (best == queries_.size())
    return std::nullopt;

  Request request{nodes_[node], {best}};
  const DHTID& node_id = nodes_[node].id;

  // Pack other unfinished queries for which this node is unvisited, nearest to the node first.
  if (options_.queries_per_call > 1) {
    auto& extra = scratch_;
    extra.clear();
    for (std::size_t q = 0; q < queries_.size(); ++q) {
      if (q == best || states_[q].finished || was_visited(states_[q], node))
        continue;
      extra.emplace_back(queries_[q].distance(node_id), q);
    }
    std::size_t take = std::min(extra.size(), options_.queries_per_call - 1);
    std::partial_sort(
        extra.begin(), extra.begin() + static_cast<std::ptrdiff_t>(take), extra.end());
    for (std::size_t i = 0; i < take; ++i)
      request.queries.push_back(extra[i].second);
  }
  for (std::size_t q : request.queries) {
    QueryState& s = states_[q];
    if (s.visited.size() <= node)
      s.visited.resize(nodes_.size());
    s.visited[node] = true;
    if (auto it = find_known(q, queries_[q].distance(node_id)); it != s.known.end()) {
      it->visited = true;
      s.candidate_valid = false;
    }
    ++s.active;
  }
  ++in_flight_;
  return request;
}

void Traversal::add_neighbor(std::size_t q, const NodeInfo& neighbor) {
  HM_CHECK(q < queries_.size(), "query index out of range");
  if (const auto number = number_of(neighbor))
    offer(q, *number);
}

void Traversal::add_neighbors(std::size_t q, const std::vector<NodeInfo>& neighbors) {
  for (const auto& node : neighbors)
    add_neighbor(q, node);
}

void Traversal::complete(const Request& request, bool answered) {
  HM_CHECK(in_flight_ > 0, "complete() without a request in flight");
  --in_flight_;
  for (std::size_t q : request.queries) {
    QueryState& s = states_[q];
    if (s.active > 0)
      --s.active;
    if (!answered) {
      // A node that failed is never offered again for this query (unless it was not known yet:
      // then it may be offered later, and stays visited).
      auto it = find_known(q, queries_[q].distance(request.node.id));
      if (it != s.known.end() && !it->failed) {
        it->failed = true;
        s.candidate_valid = false;
      }
    }
    refresh(q);
  }
}

bool Traversal::visited(std::size_t q, const DHTID& id) const {
  auto it = index_.find(id);
  return it != index_.end() && it->second != kSkipped && was_visited(states_[q], it->second);
}

void Traversal::finish(std::size_t q) {
  HM_CHECK(q < queries_.size(), "query index out of range");
  mark_finished(q);
}

void Traversal::mark_finished(std::size_t q) {
  QueryState& s = states_[q];
  if (s.finished)
    return;
  s.finished = true;
  --unfinished_;
  newly_finished_.push_back(q);
}

std::vector<std::size_t> Traversal::take_finished() {
  return std::exchange(newly_finished_, {});
}

std::vector<NodeInfo> Traversal::nearest(std::size_t q) const {
  std::vector<NodeInfo> out;
  for (const Known& k : states_[q].known) {
    if (out.size() >= options_.beam_size)
      break;
    if (!k.failed)
      out.push_back(nodes_[k.node]);
  }
  return out;
}

}  // namespace hivemind::dht
