#pragma once
/// \file
/// Declaring experts in the DHT and finding them (hivemind/moe/server/dht_handler.py): a server
/// stores `uid -> its peer id` and, for every prefix that clients' beam search walks, a
/// dictionary entry `prefix -> {coordinate: (uid, peer id)}`; `ExpertDeclarer` refreshes these
/// records every `update_period` and withdraws them on a clean shutdown. Keys, values and
/// expirations: docs/protocols/moe-dht.md.
///
/// Thread affinity: everything here runs on the DhtNode's host thread (coroutines are awaited
/// there). No torch.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "hivemind/core/clock.hpp"
#include "hivemind/core/task_group.hpp"
#include "hivemind/dht/node.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::moe {

/// Where an expert is served (hivemind `ExpertInfo`).
struct ExpertInfo {
  std::string uid;
  net::PeerId peer_id;
  bool operator==(const ExpertInfo&) const = default;
};

/// The records that declare `uids` as served by `peer`, expiring at `expiration` (DHT time,
/// seconds since the Unix epoch), exactly as hivemind's `declare_experts` builds them:
///  - key `uid` (str), no subkey, value `peer.to_string()` (base58 str);
///  - for a uid with >= 2 coordinates, `count('.') - 1` prefix records: repeatedly split the
///    uid at its last coordinate c, key = the prefix (ends with `.`), subkey = c (int),
///    value = the tuple `(uid, peer base58)` (msgpack ext 0x40); the bare type prefix `ffn.` is
///    not stored. A 1-D uid `ffn.5` gets key `ffn.5.`, subkey kFlatExpert (-1);
///  - (key, subkey) duplicates keep the position of their first occurrence and the value of the
///    last (Python dict semantics).
/// Precondition (HM_CHECK): every uid is_valid_uid.
std::vector<dht::StoreItem> declare_items(const std::vector<std::string>& uids,
                                          const net::PeerId& peer,
                                          double expiration);

/// Tombstones for withdrawing `uids`: the same keys and subkeys as declare_items() with a msgpack
/// nil value, expiring at `expiration`, which must be strictly later than the expiration of the
/// declaration to replace (the DHT keeps the record with the later expiration). Deviation from
/// hivemind, which cannot withdraw: see docs/protocols/moe-dht.md. Precondition as above.
std::vector<dht::StoreItem> withdraw_items(const std::vector<std::string>& uids, double expiration);

/// Stores declare_items(uids, node.host().peer_id(), expiration) with one store_many. Result i
/// says whether any replica accepted item i (declare_items order). Precondition: valid uids.
asio::awaitable<std::vector<bool>> declare_experts(dht::DhtNode& node,
                                                   std::vector<std::string> uids,
                                                   double expiration);

/// Stores withdraw_items(uids, expiration). Result as declare_experts().
asio::awaitable<std::vector<bool>> withdraw_experts(dht::DhtNode& node,
                                                    std::vector<std::string> uids,
                                                    double expiration);

/// hivemind's `get_experts`: looks every uid up (get_many; the first unexpired value found
/// suffices) and returns, per uid, ExpertInfo when the value is a str that parses as a peer id,
/// else nullopt (not found, withdrawn, or anything else a peer stored there).
asio::awaitable<std::vector<std::optional<ExpertInfo>>> get_experts(dht::DhtNode& node,
                                                                    std::vector<std::string> uids);
/// As above; with `latest`, asks every replica and keeps the record with the latest expiration
/// (slower, but a withdrawal is seen even where a stale copy is still cached).
asio::awaitable<std::vector<std::optional<ExpertInfo>>> get_experts(dht::DhtNode& node,
                                                                    std::vector<std::string> uids,
                                                                    bool latest);

/// Options of ExpertDeclarer; defaults are hivemind's `Server`/`DHTHandlerThread` defaults.
struct ExpertDeclarerOptions {
  /// Time between declarations (hivemind `update_period = 30`). Must be > 0.
  std::chrono::duration<double> update_period = std::chrono::duration<double>(30);
  /// How long each declaration lives; unset: max(2 * update_period, 3 s) as in hivemind
  /// (`MAX_DHT_TIME_DISCREPANCY_SECONDS` = 3). Must be > 0.
  std::optional<std::chrono::duration<double>> expiration;
  /// DHT time source (unix_seconds()); SystemClock when null. Must outlive the declarer.
  const Clock* clock = nullptr;
};

/// Keeps a server's experts declared in the DHT (hivemind `DHTHandlerThread`): declares once in
/// start(), then every update_period with expiration now + expiration, until stop().
/// Thread affinity: host thread of the node only. Ownership: shares the node; call and await
/// stop() (or stop_without_withdrawal()) before destroying the declarer and before shutting the
/// node down.
class ExpertDeclarer {
 public:
  /// Preconditions (HM_CHECK): node non-null, every uid valid, positive durations.
  ExpertDeclarer(std::shared_ptr<dht::DhtNode> node,
                 std::vector<std::string> uids,
                 ExpertDeclarerOptions options);
  ExpertDeclarer(const ExpertDeclarer&) = delete;
  ExpertDeclarer& operator=(const ExpertDeclarer&) = delete;
  ~ExpertDeclarer();

  /// Declares every uid now, then starts the background refresh. Completes when the first
  /// declaration is done; returns whether every store succeeded (a failed store is retried at
  /// the next refresh either way). Call once.
  asio::awaitable<bool> start();

  /// Stops refreshing, then withdraws every record (tombstones expiring 1 ms after the latest
  /// declared expiration, so a restart a moment later can declare again). Idempotent.
  asio::awaitable<void> stop();

  /// Stops refreshing; the records stay until they expire (hivemind's behaviour). Idempotent.
  asio::awaitable<void> stop_without_withdrawal();

  const std::vector<std::string>& uids() const noexcept { return uids_; }

  /// How long each declaration lives.
  std::chrono::duration<double> expiration() const noexcept { return expiration_; }

  /// The expiration of the latest declaration (DHT time); -inf before start().
  double last_expiration() const noexcept { return last_expiration_; }

  /// Declarations made so far (start() counts as one).
  std::size_t declarations() const noexcept { return declarations_; }

 private:
  asio::awaitable<bool> declare_once();
  asio::awaitable<void> refresh_loop();
  asio::awaitable<void> stop_impl(bool withdraw);

  std::shared_ptr<dht::DhtNode> node_;
  std::vector<std::string> uids_;
  std::chrono::duration<double> update_period_;
  std::chrono::duration<double> expiration_;
  const Clock* clock_;
  TaskGroup tasks_;
  double last_expiration_;
  std::size_t declarations_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace hivemind::moe
