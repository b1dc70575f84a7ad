// Beam-search lookups: the coroutine driver of Traversal and find_nearest_nodes
// (hivemind `traverse_dht` and `DHTNode.find_nearest_nodes`).
#include <algorithm>
#include <cmath>

#include "hivemind/core/parallel.hpp"
#include "node_state.hpp"

namespace hivemind::dht {

asio::awaitable<void> DhtNode::State::drive(Traversal& traversal,
                                            Visit visit,
                                            std::function<void(std::size_t)> on_finished) {
  AsyncSignal changed(co_await asio::this_coro::executor);
  auto flush = [&] {
    for (std::size_t q : traversal.take_finished())
      on_finished(q);
  };
  auto worker = [&](std::size_t) -> asio::awaitable<void> {
    for (;;) {
      flush();
      if (traversal.all_finished())
        break;
      auto request = traversal.next();
      flush();
      if (!request) {
        if (traversal.in_flight() == 0)
          break;
        co_await changed.wait();
        continue;
      }
      bool answered = co_await visit(traversal, *request);
      traversal.complete(*request, answered);
      changed.notify_all();
    }
    changed.notify_all();
  };
  co_await for_each_concurrently(0, std::max<std::size_t>(options.num_workers, 1), worker);
  flush();
}

std::vector<NodeInfo> DhtNode::State::initial_nodes(const std::vector<DHTID>& queries,
                                                    std::size_t beam) {
  // hivemind seeds every query from the same set: the union of each query's nearest nodes.
  std::vector<NodeInfo> nodes;
  std::unordered_set<DHTID> seen;
  double t = now();
  for (const auto& query : queries) {
    for (const NodeInfo* node : table.nearest_refs(query, beam)) {
      if (blacklist.is_banned(node->peer, t) || !seen.insert(node->id).second)
        continue;
      nodes.push_back(*node);
    }
    if (nodes.size() >= 16 * beam)
      break;  // enough to seed any number of queries
  }
  return nodes;
}

void DhtNode::State::learn(Traversal& traversal,
                           std::size_t q,
                           const std::vector<protocol::Neighbor>& neighbors) {
  for (const auto& neighbor : neighbors) {
    if (neighbor.node.peer == host.peer_id())
      continue;
    if (!neighbor.addrs.empty())
      host.peer_store().add_addrs(neighbor.node.peer, neighbor.addrs);
    traversal.add_neighbor(q, neighbor.node);
  }
}

asio::awaitable<std::vector<std::vector<NodeInfo>>> DhtNode::State::find_nearest(
    std::vector<DHTID> queries, std::size_t k, bool exclude_self) {
  const std::size_t beam = std::max(options.bucket_size, k);
  const auto per_call = static_cast<std::size_t>(std::sqrt(static_cast<double>(queries.size())));
  TraversalOptions traversal_options;
  traversal_options.beam_size = beam;
  traversal_options.queries_per_call = std::clamp<std::size_t>(per_call, 1, options.chunk_size);
  auto seeds = initial_nodes(queries, beam);
  std::vector<DHTID> skip(1, id);
  Traversal traversal(queries, seeds, traversal_options, skip);
  Visit visit = [this](Traversal& t, const Traversal::Request& request) -> asio::awaitable<bool> {
    std::vector<DHTID> keys;
    for (std::size_t q : request.queries)
      keys.push_back(t.query(q));
    auto response = co_await call_find(request.node.peer, std::move(keys));
    if (!response)
      co_return false;
    for (std::size_t i = 0; i < request.queries.size(); ++i)
      learn(t, request.queries[i], response->results[i].nearest);
    co_return true;
  };
  co_await drive(traversal, visit, [](std::size_t) {});

  std::vector<std::vector<NodeInfo>> out(queries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    auto nearest = traversal.nearest(q);
    if (!exclude_self)
      nearest.push_back(NodeInfo{id, host.peer_id()});
    std::sort(nearest.begin(), nearest.end(), [&](const NodeInfo& a, const NodeInfo& b) {
      return queries[q].distance(a.id) < queries[q].distance(b.id);
    });
    if (nearest.size() > k)
      nearest.erase(nearest.begin() + static_cast<std::ptrdiff_t>(k), nearest.end());
    out[q] = std::move(nearest);
  }
  co_return out;
}

}  // namespace hivemind::dht
