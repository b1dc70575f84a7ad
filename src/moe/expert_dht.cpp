// Declaring experts in the DHT (hivemind/moe/server/dht_handler.py `declare_experts`,
// `get_experts`, `DHTHandlerThread`) plus withdrawal, which hivemind lacks: the DHT cannot
// delete, so a withdrawal stores a nil "tombstone" under every declared key/subkey with a later
// expiration; the DHT keeps the later record, and readers see nil instead of the expert
// (docs/protocols/moe-dht.md).
#include "hivemind/moe/expert_dht.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <asio/cancellation_state.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "hivemind/core/check.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/moe/expert_uid.hpp"

namespace hivemind::moe {
namespace {

namespace mp = dht::msgpack;

/// How much later than the last declaration a tombstone expires.
constexpr double kTombstoneMargin = 1e-3;
/// hivemind's MAX_DHT_TIME_DISCREPANCY_SECONDS: the shortest default expiration.
constexpr double kMinDefaultExpiration = 3.0;

/// One record of a declaration; `value` is nullopt for a tombstone (filled in by the caller).
struct Record {
  std::string key;
  std::optional<std::int64_t> subkey;
  std::string uid;  ///< the uid whose declaration wrote this record last
};

/// hivemind's data_to_store: first-occurrence order, last value wins.
std::vector<Record> records_of(const std::vector<std::string>& uids) {
  std::vector<Record> records;
  std::map<std::pair<std::string, std::optional<std::int64_t>>, std::size_t> position;
  auto put = [&](std::string key, std::optional<std::int64_t> subkey, const std::string& uid) {
    auto [it, inserted] = position.try_emplace({key, subkey}, records.size());
    if (inserted) {
      records.push_back(Record{std::move(key), subkey, uid});
    } else {
      records[it->second].uid = uid;
    }
  };
  for (const std::string& uid : uids) {
    HM_CHECK(is_valid_uid(uid), "not a valid expert uid: " + uid);
    put(uid, std::nullopt, uid);
    std::size_t dots = static_cast<std::size_t>(std::count(uid.begin(), uid.end(), kUidDelimiter));
    std::string prefix = dots > 1 ? uid : uid + kUidDelimiter + std::to_string(kFlatExpert);
    std::size_t steps = dots > 1 ? dots - 1 : 1;  // `prefix.count(".") - 1`
    for (std::size_t i = 0; i < steps; ++i) {
      auto split = split_uid(prefix);
      HM_CHECK(split.has_value(), "cannot split a valid uid: " + uid);
      put(split->prefix, split->index, uid);
      prefix = std::move(split->prefix);
    }
  }
  return records;
}

dht::StoreItem item_of(const Record& record, mp::Value value, double expiration) {
  dht::StoreItem item;
  item.key = mp::Value(record.key);
  item.value = std::move(value);
  item.expiration = expiration;
  if (record.subkey)
    item.subkey = mp::Value(*record.subkey);
  return item;
}

asio::any_io_executor executor_of(const std::shared_ptr<dht::DhtNode>& node) {
  HM_CHECK(node != nullptr, "ExpertDeclarer needs a node");
  return node->host().executor();
}

}  // namespace

std::vector<dht::StoreItem> declare_items(const std::vector<std::string>& uids,
                                          const net::PeerId& peer,
                                          double expiration) {
  const std::string peer_text = peer.to_string();
  std::vector<dht::StoreItem> items;
  for (const Record& record : records_of(uids)) {
    mp::Value value;
    if (record.subkey) {
      mp::Tuple pair;
      pair.items.emplace_back(record.uid);
      pair.items.emplace_back(peer_text);
      value = mp::Value(std::move(pair));
    } else {
      value = mp::Value(peer_text);
    }
    items.push_back(item_of(record, std::move(value), expiration));
  }
  return items;
}

std::vector<dht::StoreItem> withdraw_items(const std::vector<std::string>& uids,
                                           double expiration) {
  std::vector<dht::StoreItem> items;
  for (const Record& record : records_of(uids))
    items.push_back(item_of(record, mp::Value(mp::Nil{}), expiration));
  return items;
}

asio::awaitable<std::vector<bool>> declare_experts(dht::DhtNode& node,
                                                   std::vector<std::string> uids,
                                                   double expiration) {
  auto items = declare_items(uids, node.host().peer_id(), expiration);
  co_return co_await node.store_many(std::move(items));
}

asio::awaitable<std::vector<bool>> withdraw_experts(dht::DhtNode& node,
                                                    std::vector<std::string> uids,
                                                    double expiration) {
  auto items = withdraw_items(uids, expiration);
  co_return co_await node.store_many(std::move(items));
}

asio::awaitable<std::vector<std::optional<ExpertInfo>>> get_experts(dht::DhtNode& node,
                                                                    std::vector<std::string> uids) {
  co_return co_await get_experts(node, std::move(uids), false);
}

asio::awaitable<std::vector<std::optional<ExpertInfo>>> get_experts(dht::DhtNode& node,
                                                                    std::vector<std::string> uids,
                                                                    bool latest) {
  std::vector<mp::Value> keys;
  keys.reserve(uids.size());
  for (const std::string& uid : uids)
    keys.emplace_back(uid);
  auto found = co_await node.get_many(std::move(keys), latest);
  std::vector<std::optional<ExpertInfo>> experts(uids.size());
  for (std::size_t i = 0; i < uids.size() && i < found.size(); ++i) {
    if (!found[i] || found[i]->is_dictionary || !found[i]->value.is<mp::Str>())
      continue;
    auto peer = net::PeerId::from_string(found[i]->value.as<mp::Str>().text);
    if (peer)
      experts[i] = ExpertInfo{uids[i], std::move(*peer)};
  }
  co_return experts;
}

ExpertDeclarer::ExpertDeclarer(std::shared_ptr<dht::DhtNode> node,
                               std::vector<std::string> uids,
                               ExpertDeclarerOptions options)
    : node_(std::move(node)),
      uids_(std::move(uids)),
      update_period_(options.update_period),
      expiration_(options.expiration.value_or(std::chrono::duration<double>(
          std::max(2 * options.update_period.count(), kMinDefaultExpiration)))),
      clock_(options.clock ? options.clock : &SystemClock::instance()),
      tasks_(executor_of(node_), "expert-declarer"),
      last_expiration_(-std::numeric_limits<double>::infinity()) {
  HM_CHECK(update_period_.count() > 0 && std::isfinite(update_period_.count()),
           "update_period must be positive");
  HM_CHECK(expiration_.count() > 0 && std::isfinite(expiration_.count()),
           "expiration must be positive");
  for (const std::string& uid : uids_)
    HM_CHECK(is_valid_uid(uid), "not a valid expert uid: " + uid);
}

ExpertDeclarer::~ExpertDeclarer() = default;

asio::awaitable<bool> ExpertDeclarer::declare_once() {
  double expiration = clock_->unix_seconds() + expiration_.count();
  // Recorded before storing: a store cancelled midway may still have reached some replicas.
  last_expiration_ = std::max(last_expiration_, expiration);
  ++declarations_;
  auto stored = co_await declare_experts(*node_, uids_, expiration);
  std::size_t failed = static_cast<std::size_t>(std::count(stored.begin(), stored.end(), false));
  if (failed > 0)
    logger("moe")->warn(
        "declaring {} experts: {} of {} DHT stores failed", uids_.size(), failed, stored.size());
  co_return failed == 0;
}

asio::awaitable<void> ExpertDeclarer::refresh_loop() {
  asio::steady_timer timer(node_->host().executor());
  for (;;) {
    timer.expires_after(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(update_period_));
    co_await timer.async_wait(asio::use_awaitable);  // stop() cancels the loop here
    if (stopped_)
      co_return;
    // A declaration in flight is finished rather than cut (bounded by the DHT's wait_timeout):
    // cancellation is filtered out meanwhile, and stopped_ is checked afterwards instead.
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    co_await declare_once();
    if (stopped_)
      co_return;
    co_await asio::this_coro::reset_cancellation_state(asio::enable_terminal_cancellation());
  }
}

asio::awaitable<bool> ExpertDeclarer::start() {
  HM_CHECK(!started_ && !stopped_, "ExpertDeclarer::start() called twice or after stop()");
  started_ = true;
  bool ok = co_await declare_once();
  if (!stopped_)
    tasks_.spawn(refresh_loop());
  co_return ok;
}

asio::awaitable<void> ExpertDeclarer::stop() {
  co_await stop_impl(true);
}

asio::awaitable<void> ExpertDeclarer::stop_without_withdrawal() {
  co_await stop_impl(false);
}

asio::awaitable<void> ExpertDeclarer::stop_impl(bool withdraw) {
  if (stopped_)
    co_return;
  stopped_ = true;
  co_await tasks_.stop();
  if (!withdraw || !started_ || uids_.empty())
    co_return;
  double now = clock_->unix_seconds();
  if (last_expiration_ <= now)
    co_return;  // every declaration has expired already
  auto stored = co_await withdraw_experts(*node_, uids_, last_expiration_ + kTombstoneMargin);
  std::size_t failed = static_cast<std::size_t>(std::count(stored.begin(), stored.end(), false));
  if (failed > 0)
    logger("moe")->warn(
        "withdrawing {} experts: {} of {} DHT stores failed", uids_.size(), failed, stored.size());
}

}  // namespace hivemind::moe
