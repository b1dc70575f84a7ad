// DhtNode: creation, bootstrap, shutdown and the public API over DhtNode::State.
#include "hivemind/dht/node.hpp"

#include <algorithm>
#include <limits>

#include "hivemind/core/check.hpp"
#include "hivemind/core/parallel.hpp"
#include "hivemind/core/timeout.hpp"
#include "hivemind/dht/error.hpp"
#include "node_state.hpp"

namespace hivemind::dht {
namespace {

const Clock& clock_of(const DhtNodeOptions& options) {
  return options.clock != nullptr ? *options.clock : SystemClock::instance();
}

RoutingTableOptions table_options(const DhtNodeOptions& options) {
  RoutingTableOptions out;
  out.bucket_size = options.bucket_size;
  out.depth_modulo = options.depth_modulo;
  out.max_replacements = options.bucket_size;
  return out;
}

/// Strips a validator's signature and decodes the msgpack value; nullopt if it does not decode.
std::optional<msgpack::Value> user_value(const RecordValidator* validator, const DHTID& key,
                                         const Bytes& subkey, const Bytes& value,
                                         Expiration expiration) {
  Bytes plain = value;
  if (validator != nullptr) {
    DHTRecord record{key.to_bytes(), subkey, value, expiration};
    plain = validator->strip_value(record);
  }
  auto decoded = msgpack::unpack(plain);
  if (!decoded) return std::nullopt;
  return std::move(*decoded);
}

std::optional<FoundValue> to_found_value(const RecordValidator* validator, const DHTID& key,
                                         const SearchResult& result) {
  if (!result.best) return std::nullopt;
  const StoredEntry& entry = *result.best;
  FoundValue out;
  out.expiration = entry.expiration;
  if (const auto* plain = std::get_if<Bytes>(&entry.value)) {
    auto value = user_value(validator, key, kRegularValueTag, *plain, entry.expiration);
    if (!value) return std::nullopt;
    out.value = std::move(*value);
    return out;
  }
  out.is_dictionary = true;
  for (const auto& [subkey, item] : std::get<DictionaryValue>(entry.value).entries()) {
    auto subkey_value = msgpack::unpack(subkey);
    auto value = user_value(validator, key, subkey, item.value, item.expiration);
    if (!subkey_value || !value) continue;
    out.subkeys.emplace_back(std::move(*subkey_value), FoundValue::Entry{std::move(*value),
                                                                         item.expiration});
  }
  return out;
}

}  // namespace

const FoundValue::Entry* FoundValue::find(const msgpack::Value& subkey) const {
  for (const auto& [k, entry] : subkeys)
    if (k == subkey) return &entry;
  return nullptr;
}

DhtNode::State::State(net::Host& host_ref, DhtNodeOptions opts)
    : host(host_ref),
      options(std::move(opts)),
      clock(clock_of(options)),
      id(options.node_id.value_or(DHTID::random())),
      table(id, table_options(options)),
      storage(clock, options.storage_limits),
      cache(clock, options.cache_limits),
      blacklist(options.blacklist_time_s, options.backoff_rate),
      tasks(host_ref.executor(), "dht") {}

DhtNode::DhtNode(std::shared_ptr<net::Host> host, DhtNodeOptions options)
    : host_(std::move(host)), state_(std::make_unique<State>(*host_, std::move(options))) {}

DhtNode::~DhtNode() = default;

asio::awaitable<Result<std::shared_ptr<DhtNode>>> DhtNode::create(std::shared_ptr<net::Host> host,
                                                                  DhtNodeOptions options) {
  HM_CHECK(host != nullptr, "DhtNode::create needs a host");
  HM_CHECK(options.bucket_size >= 1 && options.num_replicas >= 1 && options.depth_modulo >= 1,
           "bucket_size, num_replicas and depth_modulo must be positive");
  std::shared_ptr<DhtNode> node(new DhtNode(std::move(host), std::move(options)));
  State& state = *node->state_;
  state.owner = node;
  state.refresh_signal = std::make_shared<AsyncSignal>(state.host.executor());
  state.register_handlers();
  if (!state.options.initial_peers.empty()) {
    auto bootstrapped = co_await state.bootstrap();
    if (!bootstrapped) {
      co_await node->shutdown();
      co_return bootstrapped.error();
    }
  }
  state.tasks.spawn(state.refresh_loop());
  if (state.options.refresh_period) state.tasks.spawn(state.refresh_buckets_loop());
  co_return node;
}

asio::awaitable<Result<void>> DhtNode::State::bootstrap() {
  auto deadline = std::chrono::steady_clock::now() + options.bootstrap_timeout.value_or(options.wait_timeout);
  std::vector<net::PeerId> peers;
  for (const auto& addr : options.initial_peers) {
    auto peer = addr.peer_id();
    if (!peer) {
      logger("dht")->warn("initial peer {} has no /p2p/ component; skipped", addr.to_string());
      continue;
    }
    if (*peer == host.peer_id()) continue;
    host.peer_store().add_addrs(*peer, std::vector<net::Multiaddr>(1, addr));
    peers.push_back(*peer);
  }
  std::size_t answered = 0;
  co_await for_each_concurrently(0, peers.size(), [&](std::size_t i) -> asio::awaitable<void> {
    auto ping = [&]() -> asio::awaitable<Result<bool>> {
      auto response = co_await call_ping(peers[i], options.ensure_bootstrap_success);
      co_return response.has_value();
    };
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto result = co_await with_timeout(ping(), std::max(left, std::chrono::milliseconds(1)));
    if (result && *result) ++answered;
  });
  if (answered == 0) {
    if (options.ensure_bootstrap_success)
      co_return Err(DhtErrc::kBootstrapFailed,
                    "none of the " + std::to_string(options.initial_peers.size()) +
                        " initial peers responded to a ping (set ensure_bootstrap_success=false "
                        "to start anyway)");
    logger("dht")->warn("DHT bootstrap: none of the initial peers responded");
  }
  // Fill the routing table (and receive the values we should now hold) with a lookup of our id.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() > 0) {
    auto lookup = [this]() -> asio::awaitable<Result<bool>> {
      std::vector<DHTID> self(1, id);
      co_await find_nearest(self, options.bucket_size, false);
      co_return true;
    };
    (void)co_await with_timeout(lookup(), left);
  }
  co_return ok();
}

asio::awaitable<void> DhtNode::State::refresh_buckets_loop() {
  // Buckets not updated for refresh_period are refreshed with a lookup of a random id in their
  // range (hivemind `_refresh_routing_table`, whose call is broken upstream).
  asio::steady_timer timer(host.executor());
  const auto period = *options.refresh_period;
  for (;;) {
    timer.expires_after(period);
    co_await timer.async_wait(asio::use_awaitable);
    double stale_before = now() - std::chrono::duration<double>(period).count();
    std::vector<DHTID> queries;
    for (const auto& bucket : table.buckets())
      if (bucket.last_updated < stale_before)
        queries.push_back(DHTID::random_with_prefix(bucket.prefix, bucket.depth));
    if (!queries.empty()) co_await find_nearest(std::move(queries), options.bucket_size, false);
  }
}

asio::awaitable<void> DhtNode::shutdown() {
  State& state = *state_;
  if (state.stopping) co_return;
  state.stopping = true;
  state.unregister_handlers();
  co_await state.tasks.stop();
}

asio::awaitable<bool> DhtNode::store(msgpack::Value key, msgpack::Value value,
                                     Expiration expiration, std::optional<msgpack::Value> subkey) {
  std::vector<StoreItem> items(1);
  items[0].key = std::move(key);
  items[0].value = std::move(value);
  items[0].expiration = expiration;
  items[0].subkey = std::move(subkey);
  auto ok = co_await store_many(std::move(items));
  co_return ok[0];
}

asio::awaitable<std::vector<bool>> DhtNode::store_many(std::vector<StoreItem> items) {
  if (state_->stopping) co_return std::vector<bool>(items.size(), false);
  co_return co_await state_->store_many(std::move(items));
}

asio::awaitable<std::optional<FoundValue>> DhtNode::get(msgpack::Value key, bool latest) {
  std::vector<msgpack::Value> keys(1, std::move(key));
  auto found = co_await get_many(std::move(keys), latest);
  co_return std::move(found[0]);
}

asio::awaitable<std::vector<std::optional<FoundValue>>> DhtNode::get_many(
    std::vector<msgpack::Value> keys, bool latest) {
  std::vector<std::optional<FoundValue>> out(keys.size());
  if (state_->stopping) co_return out;
  std::vector<DHTID> ids;
  for (const auto& key : keys) ids.push_back(DHTID::from_key(key));
  Expiration sufficient = latest ? std::numeric_limits<double>::infinity() : state_->now();
  auto results = co_await state_->get_many_by_id(ids, sufficient, false);
  for (std::size_t i = 0; i < ids.size(); ++i)
    out[i] = to_found_value(state_->validator(), ids[i], results[i]);
  co_return out;
}

asio::awaitable<std::vector<std::vector<NodeInfo>>> DhtNode::find_nearest_nodes(
    std::vector<DHTID> queries, std::size_t k, bool exclude_self) {
  co_return co_await state_->find_nearest(std::move(queries), k, exclude_self);
}

const DHTID& DhtNode::node_id() const noexcept { return state_->id; }
const net::PeerId& DhtNode::peer_id() const noexcept { return host_->peer_id(); }
bool DhtNode::client_mode() const noexcept { return state_->options.client_mode; }
const RoutingTable& DhtNode::routing_table() const noexcept { return state_->table; }
LocalStorage& DhtNode::storage() noexcept { return state_->storage; }
LocalStorage& DhtNode::cache() noexcept { return state_->cache; }
std::size_t DhtNode::blacklisted(const net::PeerId& peer) const {
  return state_->blacklist.failures(peer);
}

}  // namespace hivemind::dht
