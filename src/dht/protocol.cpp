#include "protocol.hpp"

#include <cmath>
#include <limits>

#include <google/protobuf/arena.h>

#include "hivemind/dht/error.hpp"
#include "hivemind_proto/dht.pb.h"

namespace hivemind::dht::protocol {
namespace pb = hivemind::proto::dht;

namespace {

Bytes serialize(const google::protobuf::MessageLite& message) {
  Bytes out(message.ByteSizeLong());
  message.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

template <class Message>
Result<Message> parse(BytesView bytes, const char* what) {
  Message message;
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())
      || !message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return Err(DhtErrc::kMalformedRequest, std::string("unparsable ") + what);
  return message;
}

google::protobuf::ArenaOptions arena_options() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 16 * 1024;
  options.max_block_size = 256 * 1024;
  return options;
}

void set_node(pb::NodeInfo* info, const std::optional<DHTID>& self) {
  if (self)
    info->set_node_id(self->raw().data(), DHTID::kBytes);
}

/// A NodeInfo's id: nullopt when empty (client mode) or malformed.
std::optional<DHTID> node_id_of(const pb::NodeInfo& info) {
  auto id = DHTID::from_bytes(as_bytes(info.node_id()));
  if (!id)
    return std::nullopt;
  return *id;
}

std::optional<StoredEntry> validated_entry(const pb::FindResult& r,
                                           const DHTID& key,
                                           const RecordValidator* validator,
                                           const DecodeLimits& limits) {
  if (!std::isfinite(r.expiration_time()))
    return std::nullopt;
  if (r.type() == pb::FOUND_REGULAR) {
    Bytes value(r.value().begin(), r.value().end());
    if (!validate(validator, key, kRegularValueTag, value, r.expiration_time()))
      return std::nullopt;
    return StoredEntry{std::move(value), r.expiration_time()};
  }
  if (r.type() != pb::FOUND_DICTIONARY)
    return std::nullopt;
  auto dictionary = DictionaryValue::unpack(as_bytes(r.value()), limits.msgpack);
  if (!dictionary)
    return std::nullopt;
  DictionaryValue valid;
  for (const auto& [subkey, entry] : dictionary->entries())
    if (validate(validator, key, subkey, entry.value, entry.expiration))
      valid.store(subkey, entry.value, entry.expiration);
  if (valid.empty())
    return std::nullopt;
  Expiration expiration = valid.latest_expiration();
  return StoredEntry{std::move(valid), expiration};
}

}  // namespace

bool validate(const RecordValidator* validator,
              const DHTID& key,
              BytesView subkey,
              BytesView value,
              Expiration expiration) {
  if (validator == nullptr)
    return true;
  DHTRecord record{key.to_bytes(),
                   Bytes(subkey.begin(), subkey.end()),
                   Bytes(value.begin(), value.end()),
                   expiration};
  return validator->validate(record);
}

Bytes encode_ping_request(const std::optional<DHTID>& self, bool validate) {
  pb::PingRequest request;
  set_node(request.mutable_peer(), self);
  request.set_validate(validate);
  return serialize(request);
}

Result<PingResponse> decode_ping_response(BytesView bytes) {
  HM_TRY(auto response, parse<pb::PingResponse>(bytes, "PingResponse"));
  return PingResponse{node_id_of(response.peer()), response.dht_time(), response.available()};
}

Bytes encode_store_request(const std::optional<DHTID>& self,
                           const std::vector<StoreRecord>& records) {
  pb::StoreRequest request;
  for (const auto& r : records) {
    request.add_keys(r.key.raw().data(), DHTID::kBytes);
    request.add_subkeys(r.subkey.data(), r.subkey.size());
    request.add_values(r.value.data(), r.value.size());
    request.add_expiration_time(r.expiration);
    request.add_in_cache(r.in_cache);
  }
  set_node(request.mutable_peer(), self);
  return serialize(request);
}

Result<StoreResponse> decode_store_response(BytesView bytes, std::size_t expected) {
  HM_TRY(auto response, parse<pb::StoreResponse>(bytes, "StoreResponse"));
  if (static_cast<std::size_t>(response.store_ok_size()) != expected)
    return Err(DhtErrc::kMalformedRequest, "StoreResponse: wrong number of results");
  StoreResponse out{node_id_of(response.peer()), {}};
  out.store_ok.assign(response.store_ok().begin(), response.store_ok().end());
  return out;
}

Bytes encode_find_request(const std::optional<DHTID>& self, const std::vector<DHTID>& keys) {
  pb::FindRequest request;
  for (const auto& key : keys)
    request.add_keys(key.raw().data(), DHTID::kBytes);
  set_node(request.mutable_peer(), self);
  return serialize(request);
}

Result<FindResponse> decode_find_response(BytesView bytes,
                                          const std::vector<DHTID>& keys,
                                          const RecordValidator* validator,
                                          const DecodeLimits& limits,
                                          const AddrsKnown& addrs_known) {
  // The response's many small strings and messages live on an arena: one allocation per block
  // instead of several per neighbour.
  google::protobuf::Arena arena(arena_options());
  auto* message = google::protobuf::Arena::CreateMessage<pb::FindResponse>(&arena);
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())
      || !message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return Err(DhtErrc::kMalformedRequest, "unparsable FindResponse");
  const pb::FindResponse& response = *message;
  if (static_cast<std::size_t>(response.results_size()) != keys.size()
      || keys.size() > limits.max_results)
    return Err(DhtErrc::kMalformedRequest, "FindResponse: wrong number of results");
  FindResponse out{node_id_of(response.peer()), {}};
  out.results.reserve(keys.size());
  std::vector<BytesView> raw;
  for (int i = 0; i < response.results_size(); ++i) {
    const pb::FindResult& r = response.results(i);
    FindResult result{validated_entry(r, keys[static_cast<std::size_t>(i)], validator, limits), {}};
    int neighbors = std::min({r.nearest_node_ids_size(),
                              r.nearest_peer_ids_size(),
                              static_cast<int>(limits.max_neighbors)});
    result.nearest.reserve(static_cast<std::size_t>(std::max(neighbors, 0)));
    for (int j = 0; j < neighbors; ++j) {
      auto id = DHTID::from_bytes(as_bytes(r.nearest_node_ids(j)));
      auto peer = net::PeerId::from_bytes(as_bytes(r.nearest_peer_ids(j)));
      if (!id || !peer)
        continue;
      Neighbor neighbor{NodeInfo{*id, std::move(*peer)}, {}};
      if (j < r.nearest_peer_addrs_size()) {
        const auto& addrs = r.nearest_peer_addrs(j).addrs();
        if (addrs_known && static_cast<std::size_t>(addrs.size()) <= limits.max_addrs_per_peer) {
          raw.clear();
          for (const auto& addr : addrs)
            raw.push_back(as_bytes(addr));
          if (addrs_known(neighbor.node.peer, raw)) {
            result.nearest.push_back(std::move(neighbor));
            continue;
          }
        }
        for (int a = 0; a < addrs.size() && neighbor.addrs.size() < limits.max_addrs_per_peer; ++a)
          if (auto addr = net::Multiaddr::from_bytes(as_bytes(addrs[a])))
            neighbor.addrs.push_back(std::move(*addr));
      }
      result.nearest.push_back(std::move(neighbor));
    }
    out.results.push_back(std::move(result));
  }
  return out;
}

}  // namespace hivemind::dht::protocol
