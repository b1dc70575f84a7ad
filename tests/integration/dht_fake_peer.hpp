#pragma once
// Helpers of the DHT integration tests that talk DHTProtocol by hand: protobuf (de)serialization,
// raw unary calls, and FakeDhtPeer, a plain Host that serves DHTProtocol.rpc_* with scripted
// answers (garbage, wrong result counts, silence, or a value) and counts the calls it receives.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/node.hpp"
#include "hivemind/net/rpc.hpp"
#include "hivemind_proto/dht.pb.h"

namespace hivemind::dht::test {

namespace pb = hivemind::proto::dht;

inline const std::string kPing = "DHTProtocol.rpc_ping";
inline const std::string kStore = "DHTProtocol.rpc_store";
inline const std::string kFind = "DHTProtocol.rpc_find";

/// A protobuf message's serialized bytes.
inline Bytes serialize(const google::protobuf::MessageLite& message) {
  std::string s = message.SerializeAsString();
  return Bytes(s.begin(), s.end());
}

/// Parses `bytes` as a `Message`; nullopt when it does not parse.
template <class Message>
std::optional<Message> parse(const Bytes& bytes) {
  Message message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return std::nullopt;
  return message;
}

/// `bytes` as a std::string (protobuf bytes fields).
inline std::string str(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

/// One unary DHTProtocol call from `client` to `peer`.
inline asio::awaitable<Result<Bytes>> raw_call(net::Host& client,
                                               net::PeerId peer,
                                               std::string method,
                                               Bytes request) {
  co_return co_await net::call_unary(client, peer, method, request, std::chrono::seconds(5));
}

/// How FakeDhtPeer answers rpc_find or rpc_store.
enum class FakeBehavior {
  kGarbage,     ///< bytes that are no protobuf message
  kWrongCount,  ///< a well-formed response with one result too many
  kSilent,      ///< never answers (until the caller gives up)
  kHonest,      ///< a correct response (find: `value` if set, no neighbours; store: all true)
};

/// A plain Host posing as a DHT node with id `id`. It answers rpc_ping honestly (with `id`) and
/// rpc_find / rpc_store as scripted. Host thread only; its handlers share `state`, so they stay
/// valid after the FakeDhtPeer object is gone.
class FakeDhtPeer {
 public:
  struct State {
    DHTID id;
    FakeBehavior find = FakeBehavior::kHonest;
    FakeBehavior store = FakeBehavior::kHonest;
    std::optional<StoredEntry> value;  ///< what an honest find returns for every key
    std::size_t pings = 0;
    std::size_t finds = 0;
    std::size_t stores = 0;
    bool hold_finds = false;  ///< honest finds wait while this is true
  };

  FakeDhtPeer(std::shared_ptr<net::Host> host, DHTID id)
      : host_(std::move(host)), state_(std::make_shared<State>()) {
    state_->id = id;
    net::add_unary_handler(
        *host_, kPing, [s = state_](net::RpcContext, Bytes) -> asio::awaitable<Result<Bytes>> {
          ++s->pings;
          pb::PingResponse response;
          response.mutable_peer()->set_node_id(str(s->id.to_bytes()));
          co_return serialize(response);
        });
    net::add_unary_handler(
        *host_,
        kFind,
        [s = state_](net::RpcContext, Bytes request) -> asio::awaitable<Result<Bytes>> {
          ++s->finds;
          auto parsed = parse<pb::FindRequest>(request);
          int keys = parsed ? parsed->keys_size() : 0;
          if (s->find == FakeBehavior::kHonest) {
            asio::steady_timer timer(co_await asio::this_coro::executor);
            while (s->hold_finds) {
              timer.expires_after(std::chrono::milliseconds(1));
              co_await timer.async_wait(asio::use_awaitable);
            }
          }
          co_return co_await answer(s, s->find, serialize(find_response(*s, keys)));
        });
    net::add_unary_handler(
        *host_,
        kStore,
        [s = state_](net::RpcContext, Bytes request) -> asio::awaitable<Result<Bytes>> {
          ++s->stores;
          auto parsed = parse<pb::StoreRequest>(request);
          int keys = parsed ? parsed->keys_size() : 0;
          pb::StoreResponse response;
          int results = s->store == FakeBehavior::kWrongCount ? keys + 1 : keys;
          for (int i = 0; i < results; ++i)
            response.add_store_ok(true);
          response.mutable_peer()->set_node_id(str(s->id.to_bytes()));
          co_return co_await answer(s, s->store, serialize(response));
        });
  }

  /// Makes `node` add us to its routing table: a validating ping claiming `id`, which the node
  /// answers only after pinging us back (and adding us). Returns whether the node answered.
  asio::awaitable<bool> introduce_to(DhtNode& node) {
    host_->peer_store().add_addrs(node.peer_id(), node.host().listen_addrs());
    pb::PingRequest request;
    request.mutable_peer()->set_node_id(str(state_->id.to_bytes()));
    request.set_validate(true);
    auto reply = co_await raw_call(*host_, node.peer_id(), kPing, serialize(request));
    co_return reply.has_value();
  }

  net::Host& host() { return *host_; }

  const net::PeerId& peer_id() const { return host_->peer_id(); }

  const DHTID& id() const { return state_->id; }

  State& state() { return *state_; }

 private:
  static pb::FindResponse find_response(const State& s, int keys) {
    pb::FindResponse response;
    int results = s.find == FakeBehavior::kWrongCount ? keys + 1 : keys;
    for (int i = 0; i < results; ++i) {
      pb::FindResult* result = response.add_results();
      if (!s.value)
        continue;
      if (const auto* plain = std::get_if<Bytes>(&s.value->value)) {
        result->set_type(pb::FOUND_REGULAR);
        result->set_value(str(*plain));
      } else {
        result->set_type(pb::FOUND_DICTIONARY);
        result->set_value(str(std::get<DictionaryValue>(s.value->value).pack()));
      }
      result->set_expiration_time(s.value->expiration);
    }
    response.mutable_peer()->set_node_id(str(s.id.to_bytes()));
    return response;
  }

  static asio::awaitable<Result<Bytes>> answer(std::shared_ptr<State>,
                                               FakeBehavior behavior,
                                               Bytes honest) {
    if (behavior == FakeBehavior::kGarbage)
      co_return Bytes(64, 0xff);
    if (behavior == FakeBehavior::kSilent) {
      // Until the caller resets the stream (its timeout) or the host stops: both cancel us.
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::minutes(10));
      co_await timer.async_wait(asio::use_awaitable);
    }
    co_return honest;
  }

  std::shared_ptr<net::Host> host_;
  std::shared_ptr<State> state_;
};

}  // namespace hivemind::dht::test
