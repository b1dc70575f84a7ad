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

void Traversal::offer(std::size_t q, const DHTID& id) {
  QueryState& s = states_[q];
  if (s.finished || !s.heard.insert(id).second) return;
  s.known.emplace(queries_[q].distance(id), id);
}

std::map<DHTID, DHTID>::const_iterator Traversal::explorable(std::size_t q) const {
  const QueryState& s = states_[q];
  std::size_t rank = 0;
  for (auto it = s.known.begin(); it != s.known.end() && rank < options_.beam_size; ++it, ++rank)
    if (!s.visited.contains(it->second)) return it;
  return s.known.end();
}

bool Traversal::refresh(std::size_t q) {
  if (states_[q].finished) return false;
  if (explorable(q) != states_[q].known.end()) return true;
  if (states_[q].active == 0) mark_finished(q);
  return false;
}

std::optional<Traversal::Request> Traversal::next() {
  std::size_t best = queries_.size();
  DHTID best_distance;
  for (std::size_t q = 0; q < queries_.size(); ++q) {
    if (!refresh(q)) continue;
    const DHTID& distance = explorable(q)->first;
    if (best == queries_.size() || states_[q].active < states_[best].active ||
        (states_[q].active == states_[best].active && distance < best_distance)) {
      best = q;
      best_distance = distance;
    }
  }
  if (best == queries_.size()) return std::nullopt;

  DHTID node_id = explorable(best)->second;
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
    if (!answered) s.known.erase(queries_[q].distance(request.node.id));
    refresh(q);
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
  --unfinished_;
  newly_finished_.push_back(q);
}

std::vector<std::size_t> Traversal::take_finished() { return std::exchange(newly_finished_, {}); }

std::vector<NodeInfo> Traversal::nearest(std::size_t q) const {
  std::vector<NodeInfo> out;
  for (const auto& [distance, id] : states_[q].known) {
    if (out.size() >= options_.beam_size) break;
    out.push_back(NodeInfo{id, peers_.at(id)});
  }
  return out;
}

}  // namespace hivemind::dht
