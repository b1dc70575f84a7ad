#pragma once
// DHTProtocol by hand for the protocol-level tests: store records, a client that calls one node's
// rpc_ping / rpc_store / rpc_find from a plain host, and the DhtProtocolTest fixture (a node with
// a manual clock, small limits, and signature + schema validators).
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dht_fake_peer.hpp"
#include "hivemind/core/clock.hpp"
#include "hivemind/dht/composite_validator.hpp"
#include "hivemind/dht/schema_validator.hpp"
#include "hivemind/dht/signature_validator.hpp"
#include "hivemind/net/error.hpp"
#include "testutil/dht_test.hpp"

namespace hivemind::dht::test {

/// One entry of a StoreRequest, as raw wire fields.
struct Record {
  Bytes key;
  Bytes subkey;
  Bytes value;
  double expiration;
  bool in_cache;
};

inline Record record(
    Bytes key, Bytes subkey, Bytes value, double expiration, bool in_cache = false) {
  return Record{std::move(key), std::move(subkey), std::move(value), expiration, in_cache};
}

inline std::vector<Record> records_of(Record r) {
  return std::vector<Record>(1, std::move(r));
}

/// A StoreRequest with parallel lists built from `records`; `sender` fills peer.node_id.
inline pb::StoreRequest store_request(const std::vector<Record>& records,
                                      const std::optional<DHTID>& sender = std::nullopt) {
  pb::StoreRequest request;
  for (const auto& r : records) {
    request.add_keys(str(r.key));
    request.add_subkeys(str(r.subkey));
    request.add_values(str(r.value));
    request.add_expiration_time(r.expiration);
    request.add_in_cache(r.in_cache);
  }
  if (sender)
    request.mutable_peer()->set_node_id(str(sender->to_bytes()));
  return request;
}

inline std::vector<bool> ok_list(const pb::StoreResponse& response) {
  return std::vector<bool>(response.store_ok().begin(), response.store_ok().end());
}

/// The neighbours a find result lists (entries that do not parse are kept as a zero id / a
/// failed peer id would not be: the test then sees a shorter list).
inline std::vector<NodeInfo> neighbors_of(const pb::FindResult& result) {
  std::vector<NodeInfo> out;
  for (int i = 0; i < result.nearest_node_ids_size() && i < result.nearest_peer_ids_size(); ++i) {
    auto id = DHTID::from_bytes(as_bytes(result.nearest_node_ids(i)));
    auto peer = net::PeerId::from_bytes(as_bytes(result.nearest_peer_ids(i)));
    if (id && peer)
      out.push_back(NodeInfo{*id, *peer});
  }
  return out;
}

/// Fields no dht.proto message has: varint #50, length-delimited #99, fixed64 #120, fixed32 #121.
inline Bytes unknown_fields() {
  return Bytes{0x90, 0x03, 0x07,                                 // #50 varint 7
               0x9a, 0x06, 0x05, 'h', 'e', 'l', 'l', 'o',        // #99 "hello"
               0xc1, 0x07, 1,    2,   3,   4,   5,   6,   7, 8,  // #120 fixed64
               0xcd, 0x07, 1,    2,   3,   4};                   // #121 fixed32
}

inline Bytes with_unknown_fields(Bytes message) {
  Bytes extra = unknown_fields();
  message.insert(message.end(), extra.begin(), extra.end());
  return message;
}

/// Calls one node's DHTProtocol from a plain host, as a client-mode peer (no node id) unless
/// `self` is given. Host thread only; the host must outlive the client.
class ProtocolClient {
 public:
  ProtocolClient(net::Host& host, DhtNode& node, std::optional<DHTID> self = std::nullopt)
      : host_(host), node_(node.peer_id()), self_(self) {
    host_.peer_store().add_addrs(node_, node.host().listen_addrs());
  }

  /// Sends `request` to `method` and parses the reply as a `Response`.
  template <class Response>
  asio::awaitable<Result<Response>> call(std::string method, Bytes request) {
    HM_CO_TRY(auto reply, co_await raw_call(host_, node_, std::move(method), std::move(request)));
    auto parsed = parse<Response>(reply);
    if (!parsed)
      co_return Err(net::NetErrc::kMalformedMessage, "reply does not parse");
    co_return std::move(*parsed);
  }

  asio::awaitable<Result<pb::PingResponse>> ping() {
    pb::PingRequest request;
    if (self_)
      request.mutable_peer()->set_node_id(str(self_->to_bytes()));
    co_return co_await call<pb::PingResponse>(kPing, serialize(request));
  }

  asio::awaitable<Result<pb::StoreResponse>> store(std::vector<Record> records) {
    co_return co_await call<pb::StoreResponse>(kStore, serialize(store_request(records, self_)));
  }

  asio::awaitable<Result<pb::FindResponse>> find(std::vector<Bytes> keys) {
    pb::FindRequest request;
    for (const auto& key : keys)
      request.add_keys(str(key));
    if (self_)
      request.mutable_peer()->set_node_id(str(self_->to_bytes()));
    co_return co_await call<pb::FindResponse>(kFind, serialize(request));
  }

  /// store_ok of storing `records`; empty when the call failed.
  asio::awaitable<std::vector<bool>> store_ok(std::vector<Record> records) {
    auto response = co_await store(std::move(records));
    co_return response ? ok_list(*response) : std::vector<bool>();
  }

  /// Whether a store of a fresh key and a find of it both work (the node still serves).
  asio::awaitable<bool> still_serves(double expiration) {
    const Bytes key = DHTID::random().to_bytes();
    const Bytes value = msgpack::pack(std::string("still here"));
    auto ok = co_await store_ok(records_of(record(key, kRegularValueTag, value, expiration)));
    if (ok != std::vector<bool>(1, true))
      co_return false;
    auto found = co_await find(std::vector<Bytes>(1, key));
    co_return found && found->results_size() == 1 && found->results(0).type() == pb::FOUND_REGULAR
        && found->results(0).value() == str(value);
  }

 private:
  net::Host& host_;
  net::PeerId node_;
  std::optional<DHTID> self_;
};

/// Nodes with a manual clock (exact expirations), at most 8 keys per request, values of at most
/// 4 KiB, and validators: owner signatures, and key "typed" holding bytes only.
class DhtProtocolTest : public hivemind::testing::DhtTest {
 protected:
  static constexpr std::size_t kMaxKeys = 8;
  static constexpr std::size_t kMaxValueBytes = 4096;

  DhtNodeOptions node_options() {
    DhtNodeOptions options;
    options.clock = &clock_;
    options.max_keys_per_request = kMaxKeys;
    options.storage_limits.max_value_bytes = kMaxValueBytes;
    std::vector<SchemaField> fields;
    fields.push_back(SchemaField{"typed", schema::bytes()});
    auto composite = std::make_shared<CompositeValidator>();
    composite->add(std::make_shared<SignatureValidator>());
    composite->add(std::make_shared<SchemaValidator>(std::move(fields)));
    options.validator = composite;
    return options;
  }

  double now() const { return clock_.unix_seconds(); }

  ManualClock clock_;
};

}  // namespace hivemind::dht::test
