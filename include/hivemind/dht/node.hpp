#pragma once
/// \file
/// `DhtNode`: one participant of the DHT (hivemind `DHTNode`): serves `DHTProtocol.rpc_ping`,
/// `rpc_store` and `rpc_find` on a Host, keeps a routing table, local storage and a cache, and
/// runs beam-search lookups to store and get values across the swarm.
///
/// Thread affinity: every member function runs on the host's executor thread; the coroutines
/// must be awaited there. For use from other threads see `hivemind::dht::DHT` (dht.hpp).

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <asio/awaitable.hpp>

#include "hivemind/core/clock.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/msgpack.hpp"
#include "hivemind/dht/routing_table.hpp"
#include "hivemind/dht/storage.hpp"
#include "hivemind/dht/validation.hpp"
#include "hivemind/dht/value.hpp"
#include "hivemind/net/host.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::dht {

/// Options of a DhtNode; defaults are hivemind's `DHTNode.create` defaults unless noted.
struct DhtNodeOptions {
  std::optional<DHTID> node_id;                ///< random when unset
  std::vector<net::Multiaddr> initial_peers;   ///< each with a /p2p/<peer id> component
  std::size_t bucket_size = 20;                ///< k
  std::size_t num_replicas = 5;                ///< nodes that store each value
  std::size_t depth_modulo = 5;                ///< b
  std::size_t num_workers = 4;                 ///< requests in flight per lookup
  std::size_t chunk_size = 16;                 ///< most keys asked of one node in one request
  std::chrono::milliseconds wait_timeout = std::chrono::milliseconds(3000);  ///< per RPC
  /// Bootstrap deadline (pings + first lookup); wait_timeout when unset.
  std::optional<std::chrono::milliseconds> bootstrap_timeout;
  /// Refresh buckets not updated for this long by looking up a random id in them (off when
  /// unset, as in hivemind, where the feature is broken; here it works).
  std::optional<std::chrono::milliseconds> refresh_period;
  bool client_mode = false;  ///< query only: serve nothing, never enter routing tables
  bool ensure_bootstrap_success = true;  ///< fail create() when no initial peer answers
  bool cache_locally = true;     ///< keep values found by get() in the local cache
  std::size_t cache_nearest = 1;  ///< also cache them on this many nearest visited nodes
  bool cache_on_store = true;    ///< keep what we store in the local cache
  bool reuse_get_requests = true;  ///< concurrent gets of one key share one search
  double cache_refresh_before_expiry_s = 5;  ///< refresh cached keys this long before expiry
  double blacklist_time_s = 5;   ///< first ban of an unresponsive peer; 0 disables
  double backoff_rate = 2;       ///< ban growth per successive failure
  std::size_t max_keys_per_request = 1024;  ///< larger requests are refused (ours: unbounded)
  StorageLimits storage_limits;  ///< local storage bounds
  StorageLimits cache_limits;    ///< cache bounds
  std::shared_ptr<const RecordValidator> validator;  ///< null: accept every record
  const Clock* clock = nullptr;  ///< SystemClock when null; must outlive the node
};

/// Default arguments of the coroutines below are given by plain overloads: g++ 12 miscompiles
/// coroutine parameters initialized from default arguments (docs/threading.md).

/// A value returned by get(): a plain value, or a dictionary of subkeys (each with its own
/// expiration). `expiration` is the latest expiration of what was found.
struct FoundValue {
  struct Entry {
    msgpack::Value value;
    Expiration expiration = 0;
    bool operator==(const Entry&) const = default;
  };
  bool is_dictionary = false;
  msgpack::Value value;                                      ///< when !is_dictionary
  std::vector<std::pair<msgpack::Value, Entry>> subkeys;     ///< when is_dictionary, by subkey bytes
  Expiration expiration = 0;

  /// The subkey's entry, if present.
  const Entry* find(const msgpack::Value& subkey) const;
};

/// One item of store_many().
struct StoreItem {
  msgpack::Value key;
  msgpack::Value value;
  Expiration expiration = 0;
  std::optional<msgpack::Value> subkey;
};

class DhtNode : public std::enable_shared_from_this<DhtNode> {
 public:
  /// Creates a node on `host` (which must listen already unless client_mode), registers its
  /// handlers and bootstraps from `options.initial_peers`. Errors: kBootstrapFailed (no initial
  /// peer answered within bootstrap_timeout, when ensure_bootstrap_success), malformed options.
  static asio::awaitable<Result<std::shared_ptr<DhtNode>>> create(std::shared_ptr<net::Host> host,
                                                                  DhtNodeOptions options);
  ~DhtNode();

  /// Stores `value` under `key` (and `subkey`) on the num_replicas nearest nodes (us included).
  /// Returns whether at least one replica accepted it.
  asio::awaitable<bool> store(msgpack::Value key,
                              msgpack::Value value,
                              Expiration expiration,
                              std::optional<msgpack::Value> subkey);
  asio::awaitable<bool> store(msgpack::Value key, msgpack::Value value, Expiration expiration) {
    return store(std::move(key), std::move(value), expiration, std::nullopt);
  }
  /// Many items at once, sharing one traversal. Result i = whether any replica accepted item i.
  asio::awaitable<std::vector<bool>> store_many(std::vector<StoreItem> items);

  /// The freshest value found for `key`: the first unexpired one, or with `latest` the one with
  /// the latest expiration among all nodes asked, dictionaries merged subkey by subkey.
  asio::awaitable<std::optional<FoundValue>> get(msgpack::Value key, bool latest);
  asio::awaitable<std::optional<FoundValue>> get(msgpack::Value key) {
    return get(std::move(key), false);
  }
  asio::awaitable<std::vector<std::optional<FoundValue>>> get_many(std::vector<msgpack::Value> keys,
                                                                   bool latest);
  asio::awaitable<std::vector<std::optional<FoundValue>>> get_many(
      std::vector<msgpack::Value> keys) {
    return get_many(std::move(keys), false);
  }

  /// The k nearest nodes to each query found by beam search (us included unless exclude_self),
  /// nearest first.
  asio::awaitable<std::vector<std::vector<NodeInfo>>> find_nearest_nodes(
      std::vector<DHTID> queries, std::size_t k, bool exclude_self);

  /// Stops background tasks and unregisters handlers. Idempotent. Does not stop the host.
  asio::awaitable<void> shutdown();

  const DHTID& node_id() const noexcept;
  const net::PeerId& peer_id() const noexcept;
  net::Host& host() noexcept { return *host_; }
  bool client_mode() const noexcept;
  /// Read access for status reports and tests (host thread only).
  const RoutingTable& routing_table() const noexcept;
  LocalStorage& storage() noexcept;
  LocalStorage& cache() noexcept;
  std::size_t blacklisted(const net::PeerId& peer) const;  ///< successive failures recorded

  struct State;  // internal

 private:
  DhtNode(std::shared_ptr<net::Host> host, DhtNodeOptions options);
  std::shared_ptr<net::Host> host_;
  std::unique_ptr<State> state_;
};

}  // namespace hivemind::dht
