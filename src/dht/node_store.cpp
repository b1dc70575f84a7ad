// Storing values on the num_replicas nearest nodes (hivemind `DHTNode.store_many`).
#include <algorithm>
#include <map>

#include "hivemind/core/parallel.hpp"
#include "node_state.hpp"

namespace hivemind::dht {
namespace {

/// One item, serialized and signed, ready for the wire.
struct PreparedItem {
  std::size_t index;  ///< position in the caller's list
  protocol::StoreRecord record;
};

}  // namespace

asio::awaitable<std::vector<bool>> DhtNode::State::store_many(std::vector<StoreItem> items) {
  std::vector<bool> ok(items.size(), false);
  // Group items by key id; serialize and sign each.
  std::map<DHTID, std::vector<PreparedItem>> by_key;
  for (std::size_t i = 0; i < items.size(); ++i) {
    DHTID key = DHTID::from_key(items[i].key);
    Bytes subkey = items[i].subkey ? msgpack::pack(*items[i].subkey) : kRegularValueTag;
    Bytes value = msgpack::pack(items[i].value);
    if (const RecordValidator* v = validator()) {
      DHTRecord record{key.to_bytes(), subkey, std::move(value), items[i].expiration};
      value = v->sign_value(record);
    }
    by_key[key].push_back(PreparedItem{
        i, protocol::StoreRecord{key, std::move(subkey), std::move(value), items[i].expiration,
                                 false}});
  }
  std::vector<DHTID> keys;
  for (const auto& [key, prepared] : by_key) keys.push_back(key);
  // A client-mode node is unreachable by others, so it never keeps a replica itself.
  auto nearest = co_await find_nearest(keys, options.num_replicas, options.client_mode);

  auto store_key = [&](std::size_t k) -> asio::awaitable<void> {
    const auto& prepared = by_key[keys[k]];
    std::vector<protocol::StoreRecord> records;
    for (const auto& item : prepared) records.push_back(item.record);
    const auto& candidates = nearest[k];
    std::size_t next = 0;
    std::size_t replicas = 0;
    // Stores go to the nearest candidates first, num_replicas at a time; a candidate that does
    // not answer is replaced by the next one. An item succeeds if any replica accepted it
    // (hivemind reports only the last replica's answer).
    while (replicas < options.num_replicas && next < candidates.size()) {
      std::size_t wave = std::min(options.num_replicas - replicas, candidates.size() - next);
      std::size_t first = next;
      next += wave;
      co_await for_each_concurrently(first, first + wave, [&](std::size_t c) -> asio::awaitable<void> {
        const NodeInfo& node = candidates[c];
        if (node.id == id) {
          bool any = false;
          for (std::size_t j = 0; j < prepared.size(); ++j) {
            const auto& r = prepared[j].record;
            bool stored = false;
            if (protocol::validate(validator(), r.key, r.subkey, r.value, r.expiration)) {
              stored = r.subkey == kRegularValueTag
                           ? storage.store(r.key, r.value, r.expiration).has_value()
                           : storage.store_subkey(r.key, r.subkey, r.value, r.expiration).has_value();
            }
            if (stored) ok[prepared[j].index] = true;
            any = true;
          }
          if (any) ++replicas;
          co_return;
        }
        auto answer = co_await call_store(node.peer, records);
        if (!answer) co_return;
        ++replicas;
        for (std::size_t j = 0; j < prepared.size() && j < answer->size(); ++j)
          if ((*answer)[j]) ok[prepared[j].index] = true;
      });
    }
    if (options.cache_on_store) {
      for (const auto& item : prepared) {
        if (!ok[item.index]) continue;
        const auto& r = item.record;
        if (r.subkey == kRegularValueTag)
          (void)cache.store(r.key, r.value, r.expiration);
        else
          (void)cache.store_subkey(r.key, r.subkey, r.value, r.expiration);
      }
    }
  };
  co_await for_each_concurrently(0, keys.size(), store_key);
  co_return ok;
}

}  // namespace hivemind::dht
