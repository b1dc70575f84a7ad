// Outgoing DHTProtocol calls and the routing-table bookkeeping every call feeds
// (hivemind `DHTProtocol.call_*` and `update_routing_table`).
#include <algorithm>
#include <cmath>

#include "hivemind/net/error.hpp"
#include "hivemind/net/rpc.hpp"
#include "node_state.hpp"

namespace hivemind::dht {
namespace {

/// A peer that did not answer, or answered with bytes that do not decode (garbage, a wrong result
/// count), is banned for a while and dropped from the routing table (hivemind: any failure of
/// call_* means responded=False).
void drop_unresponsive(DhtNode::State& state, const net::PeerId& peer) {
  state.blacklist.register_failure(peer, state.now());
  if (auto known = state.table.id_of(peer))
    state.table.remove(*known);
}

}  // namespace

asio::awaitable<std::optional<Bytes>> DhtNode::State::call(const net::PeerId& peer,
                                                           const std::string& method,
                                                           Bytes request,
                                                           std::chrono::milliseconds timeout) {
  if (stopping || peer == host.peer_id() || blacklist.is_banned(peer, now()))
    co_return std::nullopt;
  auto reply = co_await net::call_unary(host, peer, method, request, timeout);
  if (!reply) {
    logger("dht")->debug("{} to {} failed: {}", method, peer.to_string(), reply.error().message());
    // Our caller was cancelled (e.g. a component stopping mid-store): not the peer's fault.
    if (stopping || reply.error() == net::NetErrc::kCancelled)
      co_return std::nullopt;
    drop_unresponsive(*this, peer);
    co_return std::nullopt;
  }
  // Success is recorded by the caller once the reply decodes: a peer answering garbage keeps
  // its growing ban.
  co_return std::move(*reply);
}

asio::awaitable<std::optional<protocol::PingResponse>> DhtNode::State::call_ping(net::PeerId peer,
                                                                                 bool validate) {
  double sent_at = now();
  auto reply = co_await call(peer,
                             protocol::kPing,
                             protocol::encode_ping_request(self_info(), validate),
                             options.wait_timeout);
  if (!reply)
    co_return std::nullopt;
  auto response = protocol::decode_ping_response(*reply);
  if (!response) {
    drop_unresponsive(*this, peer);
    co_return std::nullopt;
  }
  if (validate) {
    if (!options.client_mode && !response->available)
      logger("dht")->warn(
          "{} could not reach us back: other peers may not be able to connect to this node "
          "(behind NAT or firewall?)",
          peer.to_string());
    double received_at = now();
    if (response->dht_time != 0
        && (response->dht_time < sent_at - protocol::kMaxTimeDiscrepancyS
            || response->dht_time > received_at + protocol::kMaxTimeDiscrepancyS))
      logger("dht")->warn("clock of {} differs from ours by more than {} s",
                          peer.to_string(),
                          protocol::kMaxTimeDiscrepancyS);
  }
  blacklist.register_success(peer);
  if (response->peer)
    on_contact(NodeInfo{*response->peer, peer}, true);
  co_return std::move(*response);
}

asio::awaitable<std::optional<std::vector<bool>>> DhtNode::State::call_store(
    net::PeerId peer, std::vector<protocol::StoreRecord> records) {
  auto reply = co_await call(peer,
                             protocol::kStore,
                             protocol::encode_store_request(self_info(), records),
                             options.wait_timeout);
  if (!reply)
    co_return std::nullopt;
  auto response = protocol::decode_store_response(*reply, records.size());
  if (!response) {
    drop_unresponsive(*this, peer);
    co_return std::nullopt;
  }
  blacklist.register_success(peer);
  if (response->peer)
    on_contact(NodeInfo{*response->peer, peer}, true);
  co_return std::move(response->store_ok);
}

asio::awaitable<std::optional<protocol::FindResponse>> DhtNode::State::call_find(
    net::PeerId peer, std::vector<DHTID> keys) {
  auto reply = co_await call(peer,
                             protocol::kFind,
                             protocol::encode_find_request(self_info(), keys),
                             options.wait_timeout);
  if (!reply)
    co_return std::nullopt;
  // Addresses we already hold exactly as the responder reports them are not decoded again (adding
  // them would change nothing).
  protocol::AddrsKnown known = [this](const net::PeerId& neighbor,
                                      const std::vector<BytesView>& raw) {
    const net::PeerInfo* info = host.peer_store().find(neighbor);
    if (info == nullptr || raw.empty() || info->addrs.size() < raw.size())
      return false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const Bytes& have = info->addrs[i].bytes();
      const BytesView& got = raw[raw.size() - 1 - i];  // the last reported ends up first
      if (!std::equal(have.begin(), have.end(), got.begin(), got.end()))
        return false;
    }
    return true;
  };
  auto response = protocol::decode_find_response(*reply, keys, validator(), {}, known);
  if (!response) {
    drop_unresponsive(*this, peer);
    co_return std::nullopt;
  }
  blacklist.register_success(peer);
  if (response->peer)
    on_contact(NodeInfo{*response->peer, peer}, true);
  co_return std::move(*response);
}

void DhtNode::State::on_contact(const NodeInfo& node, bool responded) {
  if (stopping || node.id == id || node.peer == host.peer_id())
    return;
  if (!responded) {
    if (table.peer_of(node.id) == node.peer)
      table.remove(node.id);
    return;
  }
  // An id already held by another peer is not taken over: the holder keeps it until it stops
  // answering (hivemind lets any sender overwrite the mapping).
  if (auto holder = table.peer_of(node.id); holder && *holder != node.peer) {
    logger("dht")->debug(
        "{} claims the id of {}; ignored", node.peer.to_string(), holder->to_string());
    return;
  }
  bool is_new = !table.contains(node.id);
  if (is_new && !options.client_mode) {
    auto records = hand_off_records(node);  // before adding: "nearest" must not include it yet
    if (!records.empty())
      tasks.spawn([](State& self,
                     net::PeerId peer,
                     std::vector<protocol::StoreRecord> batch) -> asio::awaitable<void> {
        co_await self.call_store(std::move(peer), std::move(batch));
      }(*this, node.peer, std::move(records)));
  }
  if (auto stale = table.add_or_update(node, now())) {
    // The bucket is full: keep its least recently seen node only if it still answers.
    tasks.spawn([](State& self, NodeInfo oldest) -> asio::awaitable<void> {
      auto answer = co_await self.call_ping(oldest.peer, false);
      if (!answer)
        self.table.remove(oldest.id);
    }(*this, *stale));
  }
}

void DhtNode::State::on_request_from(const net::PeerId& peer, const std::optional<DHTID>& claimed) {
  if (!claimed || stopping)
    return;
  if (table.peer_of(*claimed) == peer) {
    table.add_or_update(NodeInfo{*claimed, peer}, now());
    return;
  }
  if (!pings_in_flight.insert(peer).second)
    return;
  tasks.spawn([](State& self, net::PeerId remote) -> asio::awaitable<void> {
    co_await self.call_ping(remote, false);  // adds the node through on_contact if it answers
    self.pings_in_flight.erase(remote);
  }(*this, peer));
}

std::vector<protocol::StoreRecord> DhtNode::State::hand_off_records(const NodeInfo& node) {
  // Kademlia's store-on-join: give the new node what it is now among the nearest to hold, when we
  // are nearer than any other holder we know (hivemind `update_routing_table`).
  std::vector<protocol::StoreRecord> records;
  for (auto& [key, entry] : storage.items()) {
    auto neighbors = table.nearest_refs(key, options.num_replicas, id);
    bool send = neighbors.empty();
    if (!send) {
      DHTID new_distance = key.distance(node.id);
      send = new_distance < key.distance(neighbors.back()->id)
             && key.distance(id) < key.distance(neighbors.front()->id);
    }
    if (!send)
      continue;
    if (auto* plain = std::get_if<Bytes>(&entry.value)) {
      records.push_back(
          protocol::StoreRecord{key, kRegularValueTag, std::move(*plain), entry.expiration, false});
    } else {
      records.push_back(protocol::StoreRecord{key,
                                              protocol::kDictionaryTag,
                                              std::get<DictionaryValue>(entry.value).pack(),
                                              entry.expiration,
                                              false});
    }
    if (records.size() >= options.max_keys_per_request)
      break;
  }
  return records;
}

}  // namespace hivemind::dht
