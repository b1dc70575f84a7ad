// Lookups of values (hivemind `DHTNode.get_many_by_id`): local storage and cache first, then a
// beam search that stops per key once a value is fresh enough, concurrent gets of one key
// sharing a search, caching of what was found, and refresh of cached keys before they expire.
#include <algorithm>
#include <cmath>
#include <limits>

#include "hivemind/core/parallel.hpp"
#include "node_state.hpp"

namespace hivemind::dht {

void SearchResult::add(const StoredEntry& candidate, const std::optional<net::PeerId>& from) {
  if (best && best->is_dictionary() && candidate.is_dictionary()) {
    auto& merged = std::get<DictionaryValue>(best->value);
    merged.merge(std::get<DictionaryValue>(candidate.value));
    if (candidate.expiration > best->expiration) {
      best->expiration = candidate.expiration;
      source = from;
    }
    return;
  }
  if (!best || candidate.expiration > best->expiration) {
    best = candidate;
    source = from;
  }
}

namespace {

/// Ends the searches a get registered for others to join if the get ends early (cancelled or
/// failed), so that no joiner waits forever.
class PendingGuard {
 public:
  PendingGuard(DhtNode::State& state, const std::vector<DHTID>& keys,
               const std::vector<std::shared_ptr<PendingSearch>>& ours)
      : state_(state), keys_(keys), ours_(ours) {}
  PendingGuard(const PendingGuard&) = delete;
  PendingGuard& operator=(const PendingGuard&) = delete;
  ~PendingGuard() {
    for (std::size_t i = 0; i < ours_.size(); ++i) {
      const auto& pending = ours_[i];
      if (!pending || pending->done) continue;
      pending->done = true;
      pending->finished->notify_all();
      auto it = state_.pending_gets.find(keys_[i]);
      if (it == state_.pending_gets.end()) continue;
      std::erase(it->second, pending);
      if (it->second.empty()) state_.pending_gets.erase(it);
    }
  }

 private:
  DhtNode::State& state_;
  const std::vector<DHTID>& keys_;
  const std::vector<std::shared_ptr<PendingSearch>>& ours_;
};

}  // namespace

asio::awaitable<std::vector<SearchResult>> DhtNode::State::get_many_by_id(std::vector<DHTID> keys,
                                                                         Expiration sufficient,
                                                                         bool is_refresh) {
  std::vector<SearchResult> results(keys.size());
  std::vector<std::size_t> to_search;
  std::vector<std::pair<std::size_t, std::shared_ptr<PendingSearch>>> to_join;
  std::vector<std::shared_ptr<PendingSearch>> ours(keys.size());
  PendingGuard guard(*this, keys, ours);

  // Stage 1: local storage and cache; joining searches already in flight.
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (auto stored = storage.get(keys[i])) results[i].add(*stored, std::nullopt);
    if (!is_refresh)
      if (auto cached = cache.get(keys[i])) {
        results[i].add(*cached, std::nullopt);
        if (cached->expiration >= sufficient && results[i].satisfies(sufficient))
          refresh_due.insert_or_assign(keys[i], cached->expiration -
                                                    options.cache_refresh_before_expiry_s);
      }
    if (results[i].satisfies(sufficient)) continue;
    if (options.reuse_get_requests && !is_refresh) {
      auto it = pending_gets.find(keys[i]);
      if (it != pending_gets.end()) {
        // A search at least as demanding as ours serves us whatever it finds. A plain get
        // (finite `sufficient`: the time it was called) also joins an earlier plain get, whose
        // "now" is only a little older than ours; stage 3 drops a value that expired in between.
        // (hivemind runs both searches and lets the first success end the other.)
        auto match = std::find_if(it->second.begin(), it->second.end(),
                                  [&](const auto& p) { return p->sufficient >= sufficient; });
        if (match == it->second.end() && std::isfinite(sufficient))
          match = std::max_element(it->second.begin(), it->second.end(),
                                   [](const auto& a, const auto& b) {
                                     return a->sufficient < b->sufficient;
                                   });
        if (match != it->second.end()) {
          to_join.emplace_back(i, *match);
          continue;
        }
      }
    }
    auto pending = std::make_shared<PendingSearch>();
    pending->sufficient = sufficient;
    pending->finished = std::make_shared<AsyncSignal>(host.executor());
    pending_gets[keys[i]].push_back(pending);
    ours[i] = pending;
    to_search.push_back(i);
  }
  if (refresh_signal && !refresh_due.empty()) refresh_signal->notify_all();

  // Stage 2: one traversal for every key still unsatisfied.
  if (!to_search.empty()) {
    std::vector<DHTID> queries;
    for (std::size_t i : to_search) queries.push_back(keys[i]);
    TraversalOptions traversal_options;
    traversal_options.beam_size = options.bucket_size;
    traversal_options.queries_per_call = std::clamp<std::size_t>(
        static_cast<std::size_t>(std::sqrt(static_cast<double>(queries.size()))), 1,
        options.chunk_size);
    auto seeds = initial_nodes(queries, options.bucket_size);
    std::vector<DHTID> skip(1, id);
    Traversal traversal(queries, seeds, traversal_options, skip);
    Visit visit = [&](Traversal& t, const Traversal::Request& request) -> asio::awaitable<bool> {
      std::vector<DHTID> request_keys;
      for (std::size_t q : request.queries) request_keys.push_back(t.query(q));
      auto response = co_await call_find(request.node.peer, std::move(request_keys));
      if (!response) co_return false;
      for (std::size_t j = 0; j < request.queries.size(); ++j) {
        std::size_t q = request.queries[j];
        auto& found = response->results[j];
        SearchResult& result = results[to_search[q]];
        if (found.value) result.add(*found.value, request.node.peer);
        learn(t, q, found.nearest);
        if (result.satisfies(sufficient)) t.finish(q);
      }
      co_return true;
    };
    auto on_finished = [&](std::size_t q) {
      std::size_t i = to_search[q];
      cache_result(keys[i], results[i], traversal.nearest(q), is_refresh);
      // Every pending search of this key that this result satisfies ends now (hivemind reuses
      // only successful results).
      auto it = pending_gets.find(keys[i]);
      if (it == pending_gets.end()) return;
      Expiration reach = results[i].best ? std::max(results[i].best->expiration, sufficient)
                                         : -std::numeric_limits<double>::infinity();
      std::erase_if(it->second, [&](const std::shared_ptr<PendingSearch>& p) {
        bool ends = p == ours[i] || (results[i].best && p->sufficient <= reach);
        if (!ends) return false;
        p->result = results[i];
        p->done = true;
        p->finished->notify_all();
        return true;
      });
      if (it->second.empty()) pending_gets.erase(it);
    };
    co_await drive(traversal, visit, on_finished);
  }

  // Stage 3: results of searches we joined.
  for (auto& [i, pending] : to_join) {
    while (!pending->done) co_await pending->finished->wait();
    const auto& best = pending->result.best;
    if (best && (pending->sufficient >= sufficient || best->expiration >= sufficient))
      results[i].add(*best, pending->result.source);
  }
  co_return results;
}

void DhtNode::State::cache_result(const DHTID& key, const SearchResult& result,
                                  const std::vector<NodeInfo>& nearest, bool is_refresh) {
  if (!result.best || !result.source) return;  // nothing found, or found locally
  const StoredEntry& best = *result.best;
  auto stored = storage.get(key);
  auto cached = cache.get(key);
  if ((stored && stored->expiration >= best.expiration) ||
      (cached && cached->expiration >= best.expiration))
    return;
  Bytes tag = best.is_dictionary() ? protocol::kDictionaryTag : kRegularValueTag;
  Bytes value = best.is_dictionary() ? std::get<DictionaryValue>(best.value).pack()
                                     : std::get<Bytes>(best.value);
  if (options.cache_locally || is_refresh) {
    if (const auto* plain = std::get_if<Bytes>(&best.value)) {
      (void)cache.store(key, *plain, best.expiration);
    } else {
      for (const auto& [subkey, entry] : std::get<DictionaryValue>(best.value).entries())
        (void)cache.store_subkey(key, subkey, entry.value, entry.expiration);
    }
  }
  // Also on the nearest visited nodes (not the one that supplied the value), so that the next
  // lookup of this key ends sooner.
  std::size_t sent = 0;
  for (const NodeInfo& node : nearest) {
    if (sent >= options.cache_nearest) break;
    if (node.peer == *result.source) continue;
    ++sent;
    std::vector<protocol::StoreRecord> records(
        1, protocol::StoreRecord{key, tag, value, best.expiration, true});
    tasks.spawn([](State& self, net::PeerId peer,
                   std::vector<protocol::StoreRecord> batch) -> asio::awaitable<void> {
      co_await self.call_store(std::move(peer), std::move(batch));
    }(*this, node.peer, std::move(records)));
  }
}

asio::awaitable<void> DhtNode::State::refresh_loop() {
  // Keys served from the local cache are looked up again shortly before they expire, in batches
  // of up to chunk_size, so that hot keys stay cached (hivemind `_refresh_stale_cache_entries`).
  asio::steady_timer timer(host.executor());
  for (;;) {
    while (refresh_due.empty()) co_await refresh_signal->wait();
    double t = now();
    auto first_due = std::min_element(refresh_due.begin(), refresh_due.end(),
                                      [](auto& a, auto& b) { return a.second < b.second; });
    if (first_due->second > t) {
      timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(std::min(first_due->second - t, 1.0))));
      co_await timer.async_wait(asio::use_awaitable);
      continue;
    }
    std::vector<DHTID> batch;
    Expiration latest = -std::numeric_limits<double>::infinity();
    for (auto it = refresh_due.begin(); it != refresh_due.end() && batch.size() < options.chunk_size;) {
      if (it->second > t) {
        ++it;
        continue;
      }
      batch.push_back(it->first);
      if (auto cached = cache.get(it->first)) latest = std::max(latest, cached->expiration);
      it = refresh_due.erase(it);
    }
    co_await get_many_by_id(std::move(batch),
                            latest + options.cache_refresh_before_expiry_s + 1, true);
  }
}

}  // namespace hivemind::dht
