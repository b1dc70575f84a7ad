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
    if (skip_.contains(node.id)) continue;
    peers_.try_emplace(node.id, node.peer);
    for (std::size_t q = 0; q < queries_.size(); ++q) offer(q, node.id);
  }
}

bool Traversal::within_bound(const QueryState& s, const DHTID& distance) const {
  return s.beam.size() < options_.beam_size || distance < std::prev(s.beam.end())->first;
}

void Traversal::offer(std::size_t q, const DHTID& id) {
  QueryState& s = states_[q];
  if (s.finished || !s.known.insert(id).second) return;
  DHTID distance = queries_[q].distance(id);
  if (!within_bound(s, distance)) return;
  s.beam.emplace(distance, id);
  if (s.beam.size() > options_.beam_size) s.beam.erase(std::prev(s.beam.end()));
  if (!s.visited.contains(id)) s.candidates.emplace(distance, id);
}

bool Traversal::prune(std::size_t q) {
  QueryState& s = states_[q];
  while (!s.candidates.empty()) {
    auto first = s.candidates.begin();
    if (s.visited.contains(first->second)) {
      s.candidates.erase(first);
      continue;
    }
    if (!within_bound(s, first->first)) {
      // Candidates are sorted by distance: none of the rest can improve the beam either.
      s.candidates.clear();
      break;
    }
    return true;
  }
  if (s.active == 0) mark_finished(q);
  return false;
}

std::optional<Traversal::Request> Traversal::next() {
  std::size_t best = queries_.size();
  for (std::size_t q = 0; q < queries_.size(); ++q) {
    if (states_[q].finished || !prune(q)) continue;
    if (best == queries_.size()) {
      best = q;
      continue;
    }
    const QueryState& a = states_[q];
    const QueryState& b = states_[best];
    if (a.active < b.active ||
        (a.active == b.active && a.candidates.begin()->first < b.candidates.begin()->first))
      best = q;
  }
  if (best == queries_.size()) return std::nullopt;

  QueryState& chosen = states_[best];
  DHTID node_id = chosen.candidates.begin()->second;
  chosen.candidates.erase(chosen.candidates.begin());
  Request request{NodeInfo{node_id, peers_.at(node_id)}, {best}};

  // Pack other unfinished queries for which this node is unvisited, nearest to the node first.
  if (options_.queries_per_call > 1) {
    std::vector<std::pair<DHTID, std::size_t>> extra;
    for (std::size_t q = 0; q < queries_.size(); ++q) {
      if (q == best || states_[q].finished || states_[q].visited.contains(node_id)) continue;
      extra.emplace_back(queries_[q].distance(node_id), q);
    }
    std::size_t take = std::min(extra.size(), options_.queries_per_call - 1);
    std::partial_sort(extra.begin(), extra.begin() + static_cast<std::ptrdiff_t>(take),
                      extra.end());
    for (std::size_t i = 0; i < take; ++i) request.queries.push_back(extra[i].second);
  }
  for (std::size_t q : request.queries) {
    states_[q].visited.insert(node_id);
    ++states_[q].active;
  }
  ++in_flight_;
  return request;
}

void Traversal::add_neighbors(std::size_t q, const std::vector<NodeInfo>& neighbors) {
  HM_CHECK(q < queries_.size(), "query index out of range");
  for (const auto& node : neighbors) {
    if (skip_.contains(node.id)) continue;
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
    if (s.active > 0) --s.active;
    if (!answered) std::erase_if(s.beam, [&](const auto& e) { return e.second == request.node.id; });
    if (!s.finished) prune(q);
  }
}

void Traversal::finish(std::size_t q) {
  HM_CHECK(q < queries_.size(), "query index out of range");
  mark_finished(q);
}

void Traversal::mark_finished(std::size_t q) {
  QueryState& s = states_[q];
  if (s.finished) return;
  s.finished = true;
  s.candidates.clear();
  --unfinished_;
  newly_finished_.push_back(q);
}

std::vector<std::size_t> Traversal::take_finished() { return std::exchange(newly_finished_, {}); }

std::vector<NodeInfo> Traversal::nearest(std::size_t q) const {
  std::vector<NodeInfo> out;
  out.reserve(states_[q].beam.size());
  for (const auto& [distance, id] : states_[q].beam) out.push_back(NodeInfo{id, peers_.at(id)});
  return out;
}

}  // namespace hivemind::dht
