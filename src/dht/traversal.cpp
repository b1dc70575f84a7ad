#include "hivemind/dht/traversal.hpp"

#include <algorithm>
#include <limits>

#include "hivemind/core/check.hpp"

namespace hivemind::dht {

Traversal::Traversal(std::vector<DHTID> queries,
                     const std::vector<NodeInfo>& initial_nodes,
                     TraversalOptions options,
                     const std::vector<DHTID>& skip)
    : queries_(std::move(queries)),
      options_(options),
      states_(queries_.size()),
      skip_(skip.begin(), skip.end()),
      unfinished_(queries_.size()) {
  HM_CHECK(options_.beam_size >= 1 && options_.queries_per_call >= 1, "bad traversal options");
  for (const auto& node : initial_nodes) {
    if (skip_.contains(node.id))
      continue;
    peers_.try_emplace(node.id, node.peer);
    for (std::size_t q = 0; q < queries_.size(); ++q)
      offer(q, node.id);
  }
}

void Traversal::offer(std::size_t q, const DHTID& id) {
  QueryState& s = states_[q];
  if (s.finished)
    return;
  // The distance identifies the node for this query: a node is offered once, and never again
  // after it failed.
  DHTID distance = queries_[q].distance(id);
  if (std::binary_search(s.failed.begin(), s.failed.end(), distance))
    return;
  auto [it, added] = s.known.try_emplace(distance, Known{id, false});
  if (!added)
    return;
  it->second.visited = s.visited.contains(id);  // asked already, for another query's sake
  s.candidate_valid = false;
}

Traversal::KnownMap::const_iterator Traversal::explorable(std::size_t q) const {
  const QueryState& s = states_[q];
  if (s.candidate_valid)
    return s.candidate;
  auto found = s.known.end();
  std::size_t rank = 0;
  for (auto it = s.known.begin(); it != s.known.end() && rank < options_.beam_size; ++it, ++rank)
    if (!it->second.visited) {
      found = it;
      break;
    }
  s.candidate = found;
  s.candidate_valid = true;
  return found;
}

bool Traversal::refresh(std::size_t q) {
  if (states_[q].finished)
    return false;
  if (explorable(q) != states_[q].known.end())
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
  DHTID node_id;
  for (std::size_t q = 0; q < queries_.size(); ++q) {
    QueryState& s = states_[q];
    if (s.finished)
      continue;
    auto candidate = explorable(q);
    if (candidate == s.known.end()) {
      if (s.active == 0)
        mark_finished(q);
      continue;
    }
    if (best == queries_.size() || s.active < states_[best].active
        || (s.active == states_[best].active && candidate->first < best_distance)) {
      best = q;
      best_distance = candidate->first;
      node_id = candidate->second.id;
    }
  }
  if (best == queries_.size())
    return std::nullopt;

  Request request{NodeInfo{node_id, peers_.at(node_id)}, {best}};

  // Pack other unfinished queries for which this node is unvisited, nearest to the node first.
  if (options_.queries_per_call > 1) {
    auto& extra = scratch_;
    extra.clear();
    for (std::size_t q = 0; q < queries_.size(); ++q) {
      if (q == best || states_[q].finished || states_[q].visited.contains(node_id))
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
    s.visited.insert(node_id);
    if (auto it = s.known.find(queries_[q].distance(node_id)); it != s.known.end()) {
      it->second.visited = true;
      s.candidate_valid = false;
    }
    ++s.active;
  }
  ++in_flight_;
  return request;
}

void Traversal::add_neighbors(std::size_t q, const std::vector<NodeInfo>& neighbors) {
  HM_CHECK(q < queries_.size(), "query index out of range");
  for (const auto& node : neighbors) {
    if (skip_.contains(node.id))
      continue;
    // The first peer id heard for a DHTID sticks: a later claim cannot redirect our requests.
    peers_.try_emplace(node.id, node.peer);
    offer(q, node.id);
  }
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
      DHTID distance = queries_[q].distance(request.node.id);
      if (s.known.erase(distance) != 0) {
        s.failed.insert(std::lower_bound(s.failed.begin(), s.failed.end(), distance), distance);
        s.candidate_valid = false;
      }
    }
    refresh(q);
  }
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
  for (const auto& [distance, node] : states_[q].known) {
    if (out.size() >= options_.beam_size)
      break;
    out.push_back(NodeInfo{node.id, peers_.at(node.id)});
  }
  return out;
}

}  // namespace hivemind::dht
