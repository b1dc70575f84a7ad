// Fuzz target for DHTProtocol without sockets: raw bytes into the server side (handle_store,
// handle_find, decode_ping_request of request_handler.hpp) against a node's real storage, cache
// and routing table, and into the client-side decoders (decode_find_response,
// decode_store_response of protocol.hpp). Input layout:
//   byte 0: target (mod 5): 0 store, 1 find, 2 ping, 3 find response, 4 store response;
//   byte 1: keys the decoders expect (mod 5);
//   the rest: the message bytes.
// Besides not crashing, every answer must be consistent: one store_ok per key, one find result
// per key, neighbours never the node itself nor the requester and at most bucket_size of them,
// and the storage within its bounds. The state persists across inputs (bounded by the limits).
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "hivemind/core/clock.hpp"
#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/signature_validator.hpp"
#include "hivemind/dht/storage.hpp"
#include "hivemind/net/identity.hpp"
#include "hivemind_proto/dht.pb.h"
#include "protocol.hpp"
#include "request_handler.hpp"

namespace {

namespace dht = hivemind::dht;
namespace pb = hivemind::proto::dht;
using hivemind::Bytes;
using hivemind::BytesView;

constexpr std::size_t kBucketSize = 8;
constexpr std::size_t kMaxKeys = 16;

void require(bool condition) {
  if (!condition)
    std::abort();
}

dht::DHTID id_from(std::uint8_t seed) {
  dht::DHTID::Raw raw;
  raw.fill(seed);
  raw[0] = static_cast<std::uint8_t>(seed * 37);
  return dht::DHTID(raw);
}

hivemind::net::PeerId peer_from(std::uint8_t seed) {
  std::array<std::uint8_t, 32> key;
  key.fill(seed);
  return hivemind::net::KeyPair::from_seed(key).peer_id();
}

dht::StorageLimits small_limits() {
  dht::StorageLimits limits;
  limits.max_items = 64;
  limits.max_total_bytes = 1 << 20;
  limits.max_value_bytes = 64 * 1024;
  limits.max_subkeys = 64;
  return limits;
}

struct Node {
  hivemind::ManualClock clock{1.7e9};
  dht::DHTID self = id_from(0xaa);
  dht::RoutingTable table{self, dht::RoutingTableOptions{kBucketSize, 5, 8}};
  dht::LocalStorage storage{clock, small_limits()};
  dht::LocalStorage cache{clock, small_limits()};
  std::array<std::uint8_t, 32> seed{};
  dht::SignatureValidator validator{hivemind::net::KeyPair::from_seed(seed)};
  std::vector<dht::DHTID> response_keys;

  Node() {
    for (std::uint8_t i = 1; i <= 40; ++i)
      table.add_or_update(dht::NodeInfo{id_from(i), peer_from(i)}, 0);
    for (std::uint8_t i = 0; i < 5; ++i)
      response_keys.push_back(id_from(static_cast<std::uint8_t>(0xf0 + i)));
  }

  dht::RequestContext context() {
    return dht::RequestContext{self, table, storage, cache, &validator, kMaxKeys, kBucketSize, {}};
  }
};

Node& node() {
  static Node n;
  return n;
}

template <class Message>
Message parse_ok(const Bytes& bytes) {
  Message message;
  require(message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  return message;
}

void check_neighbors(const pb::FindResult& result, const Node& n, const dht::Sender& sender) {
  require(result.nearest_node_ids_size() == result.nearest_peer_ids_size());
  require(static_cast<std::size_t>(result.nearest_node_ids_size()) <= kBucketSize);
  for (const auto& raw : result.nearest_node_ids()) {
    auto id = dht::DHTID::from_bytes(hivemind::as_bytes(raw));
    require(id.has_value() && *id != n.self && (!sender.id || *id != *sender.id));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2)
    return 0;
  Node& n = node();
  n.clock.advance(std::chrono::milliseconds(10));  // entries expire as the inputs go by
  const BytesView message(data + 2, size - 2);
  const std::size_t expected_keys = data[1] % 5;
  switch (data[0] % 5) {
    case 0: {
      auto context = n.context();
      dht::Sender sender;
      auto response = dht::handle_store(context, message, sender);
      if (response) {
        pb::StoreRequest request;
        require(request.ParseFromArray(message.data(), static_cast<int>(message.size())));
        auto parsed = parse_ok<pb::StoreResponse>(*response);
        require(parsed.store_ok_size() == request.keys_size());
        require(parsed.peer().node_id().size() == dht::DHTID::kBytes);
      }
      require(n.storage.size() <= small_limits().max_items);
      require(n.storage.total_bytes() <= small_limits().max_total_bytes);
      require(n.cache.total_bytes() <= small_limits().max_total_bytes);
      break;
    }
    case 1: {
      auto context = n.context();
      dht::Sender sender;
      auto response = dht::handle_find(context, message, sender);
      if (response) {
        pb::FindRequest request;
        require(request.ParseFromArray(message.data(), static_cast<int>(message.size())));
        auto parsed = parse_ok<pb::FindResponse>(*response);
        require(parsed.results_size() == request.keys_size());
        for (const auto& result : parsed.results())
          check_neighbors(result, n, sender);
      }
      break;
    }
    case 2: {
      auto info = dht::decode_ping_request(message);
      if (info && info->sender.id)
        require(info->sender.id->raw().size() == dht::DHTID::kBytes);
      break;
    }
    case 3: {
      std::vector<dht::DHTID> keys(
          n.response_keys.begin(),
          n.response_keys.begin() + static_cast<std::ptrdiff_t>(expected_keys));
      auto response = dht::protocol::decode_find_response(message, keys, &n.validator);
      if (response) {
        require(response->results.size() == keys.size());
        for (const auto& result : response->results)
          require(result.nearest.size() <= dht::protocol::DecodeLimits{}.max_neighbors);
      }
      break;
    }
    default: {
      auto response = dht::protocol::decode_store_response(message, expected_keys);
      if (response)
        require(response->store_ok.size() == expected_keys);
      break;
    }
  }
  return 0;
}
