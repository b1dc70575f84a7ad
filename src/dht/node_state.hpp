#pragma once
/// \file
/// The inside of a DhtNode: its tables and the coroutines that talk to other nodes. Everything
/// runs on the host's executor thread. Split by concern over node_*.cpp files.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "blacklist.hpp"
#include "hivemind/core/async_signal.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/core/task_group.hpp"
#include "hivemind/dht/node.hpp"
#include "hivemind/dht/traversal.hpp"
#include "protocol.hpp"

namespace hivemind::dht {

/// The best value found so far for one key of a get (hivemind `_SearchState`).
struct SearchResult {
  std::optional<StoredEntry> best;
  std::optional<net::PeerId> source;  ///< who supplied `best` (nullopt: local)
  /// Keeps the entry with the later expiration; two dictionaries are merged subkey by subkey.
  void add(const StoredEntry& candidate, const std::optional<net::PeerId>& from);
  bool satisfies(Expiration sufficient) const { return best && best->expiration >= sufficient; }
};

/// A search of one key that other gets may join (reuse_get_requests).
struct PendingSearch {
  Expiration sufficient = 0;
  bool done = false;
  SearchResult result;
  std::shared_ptr<AsyncSignal> finished;
};

struct DhtNode::State {
  State(net::Host& host, DhtNodeOptions options);

  net::Host& host;
  std::weak_ptr<DhtNode> owner;  ///< handlers hold the node alive while they run
  DhtNodeOptions options;
  const Clock& clock;
  DHTID id;
  RoutingTable table;
  LocalStorage storage;
  LocalStorage cache;
  Blacklist blacklist;
  TaskGroup tasks;
  bool stopping = false;
  std::unordered_set<net::PeerId> pings_in_flight;  ///< ping-backs of new requesters
  std::unordered_map<DHTID, std::vector<std::shared_ptr<PendingSearch>>> pending_gets;
  std::map<DHTID, Expiration> refresh_due;  ///< cached keys to refresh, and when
  std::shared_ptr<AsyncSignal> refresh_signal;

  double now() const { return clock.unix_seconds(); }
  /// What we put in NodeInfo: our id, or nothing in client mode.
  std::optional<DHTID> self_info() const {
    return options.client_mode ? std::nullopt : std::optional<DHTID>(id);
  }
  const RecordValidator* validator() const { return options.validator.get(); }

  // --- node_server.cpp ---
  void register_handlers();
  void unregister_handlers();

  // --- node_rpc.cpp: outgoing calls; failures blacklist the peer and drop it from the table ---
  asio::awaitable<std::optional<Bytes>> call(const net::PeerId& peer, const std::string& method,
                                             Bytes request, std::chrono::milliseconds timeout);
  /// The responder's DHTID (nullopt id inside: client-mode responder); outer nullopt: no answer.
  asio::awaitable<std::optional<protocol::PingResponse>> call_ping(net::PeerId peer, bool validate);
  asio::awaitable<std::optional<std::vector<bool>>> call_store(
      net::PeerId peer, std::vector<protocol::StoreRecord> records);
  asio::awaitable<std::optional<protocol::FindResponse>> call_find(net::PeerId peer,
                                                                   std::vector<DHTID> keys);
  /// hivemind `update_routing_table`: adds a node that answered (handing it the values it should
  /// now hold), or forgets one that did not.
  void on_contact(const NodeInfo& node, bool responded);
  /// An inbound request from `peer` claiming `claimed`: known nodes are refreshed, new ones are
  /// pinged back first and added only if they answer with the id they claimed.
  void on_request_from(const net::PeerId& peer, const std::optional<DHTID>& claimed);
  /// Kademlia's store-on-join: what a newly met node should receive from our storage.
  std::vector<protocol::StoreRecord> hand_off_records(const NodeInfo& node);

  // --- node_search.cpp ---
  /// Calls `visit` for requests of `traversal` with up to num_workers in flight, `on_finished`
  /// once per query as it finishes; returns when all queries finished.
  using Visit = std::function<asio::awaitable<bool>(Traversal&, const Traversal::Request&)>;
  asio::awaitable<void> drive(Traversal& traversal, Visit visit,
                              std::function<void(std::size_t)> on_finished);
  /// Initial nodes for a traversal: nearest from the routing table, minus blacklisted peers.
  std::vector<NodeInfo> initial_nodes(const std::vector<DHTID>& queries, std::size_t beam);
  asio::awaitable<std::vector<std::vector<NodeInfo>>> find_nearest(std::vector<DHTID> queries,
                                                                   std::size_t k,
                                                                   bool exclude_self);
  /// Adds `neighbors` to the traversal and their addresses to the peer store.
  void learn(Traversal& traversal, std::size_t q, const std::vector<protocol::Neighbor>& neighbors);

  // --- node_get.cpp ---
  asio::awaitable<std::vector<SearchResult>> get_many_by_id(std::vector<DHTID> keys,
                                                             Expiration sufficient,
                                                             bool is_refresh);
  asio::awaitable<void> refresh_loop();
  void cache_result(const DHTID& key, const SearchResult& result,
                    const std::vector<NodeInfo>& nearest, bool is_refresh);

  // --- node_store.cpp ---
  asio::awaitable<std::vector<bool>> store_many(std::vector<StoreItem> items);

  // --- node.cpp ---
  asio::awaitable<Result<void>> bootstrap();
  asio::awaitable<void> refresh_buckets_loop();
};

}  // namespace hivemind::dht
