#include "request_handler.hpp"

#include <cmath>

#include <google/protobuf/arena.h>

#include "hivemind/dht/error.hpp"
#include "hivemind/dht/value.hpp"
#include "hivemind_proto/dht.pb.h"
#include "protocol.hpp"

namespace hivemind::dht {
namespace pb = hivemind::proto::dht;

namespace {

template <class Message>
Result<Message> parse(BytesView bytes) {
  Message message;
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())
      || !message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return Err(DhtErrc::kMalformedRequest, "unparsable request");
  return message;
}

Bytes serialize(const google::protobuf::MessageLite& message) {
  Bytes out(message.ByteSizeLong());
  message.SerializeToArray(out.data(), static_cast<int>(out.size()));
  return out;
}

Sender sender_of(const pb::NodeInfo& info) {
  auto id = DHTID::from_bytes(as_bytes(info.node_id()));
  return Sender{id ? std::optional<DHTID>(*id) : std::nullopt};
}

void set_self(pb::NodeInfo* info, const DHTID& self) {
  info->set_node_id(self.raw().data(), DHTID::kBytes);
}

bool store_one(RequestContext& context,
               const DHTID& key,
               BytesView tag,
               BytesView value,
               Expiration expiration,
               bool in_cache) {
  LocalStorage& target = in_cache ? context.cache : context.storage;
  if (tag.empty()) {
    // A whole dictionary: every entry is validated and stored on its own.
    auto dictionary = DictionaryValue::unpack(value);
    if (!dictionary || dictionary->empty())
      return false;
    bool all_ok = true;
    for (const auto& [subkey, entry] : dictionary->entries()) {
      bool ok = protocol::validate(context.validator, key, subkey, entry.value, entry.expiration)
                && target.store_subkey(key, subkey, entry.value, entry.expiration).has_value();
      all_ok = all_ok && ok;
    }
    return all_ok;
  }
  if (!protocol::validate(context.validator, key, tag, value, expiration))
    return false;
  Bytes value_bytes(value.begin(), value.end());
  if (std::equal(tag.begin(), tag.end(), kRegularValueTag.begin(), kRegularValueTag.end()))
    return target.store(key, std::move(value_bytes), expiration).has_value();
  // A subkey: it must be one msgpack value; it is kept in canonical form.
  auto subkey = msgpack::unpack(tag);
  if (!subkey)
    return false;
  return target.store_subkey(key, msgpack::pack(*subkey), std::move(value_bytes), expiration)
      .has_value();
}

void fill_result(RequestContext& context,
                 const DHTID& key,
                 const std::optional<DHTID>& requester,
                 pb::FindResult* result) {
  auto stored = context.storage.get(key);
  auto cached = context.cache.get(key);
  const StoredEntry* best = stored ? &*stored : nullptr;
  if (cached && (!best || cached->expiration > best->expiration))
    best = &*cached;
  if (best != nullptr) {
    if (const auto* plain = std::get_if<Bytes>(&best->value)) {
      result->set_type(pb::FOUND_REGULAR);
      result->set_value(plain->data(), plain->size());
    } else {
      result->set_type(pb::FOUND_DICTIONARY);
      Bytes packed = std::get<DictionaryValue>(best->value).pack();
      result->set_value(packed.data(), packed.size());
    }
    result->set_expiration_time(best->expiration);
  }
  for (const NodeInfo* node : context.table.nearest_refs(key, context.bucket_size, requester)) {
    if (node->id == context.self)
      continue;
    result->add_nearest_node_ids(node->id.raw().data(), DHTID::kBytes);
    result->add_nearest_peer_ids(node->peer.bytes().data(), node->peer.bytes().size());
    pb::PeerAddrs* addrs = result->add_nearest_peer_addrs();
    if (const auto* known = context.addrs_of ? context.addrs_of(node->peer) : nullptr)
      for (const auto& addr : *known)
        addrs->add_addrs(addr.bytes().data(), addr.bytes().size());
  }
}

}  // namespace

Result<PingRequestInfo> decode_ping_request(BytesView request) {
  HM_TRY(auto message, parse<pb::PingRequest>(request));
  return PingRequestInfo{sender_of(message.peer()), message.validate()};
}

Bytes encode_ping_response(const DHTID& self, double dht_time, bool available) {
  pb::PingResponse response;
  set_self(response.mutable_peer(), self);
  response.set_dht_time(dht_time);
  response.set_available(available);
  return serialize(response);
}

Result<Bytes> handle_store(RequestContext& context, BytesView request, Sender& sender) {
  HM_TRY(auto message, parse<pb::StoreRequest>(request));
  sender = sender_of(message.peer());
  const int n = message.keys_size();
  if (static_cast<std::size_t>(n) > context.max_keys_per_request)
    return Err(DhtErrc::kTooManyKeys, "store request with " + std::to_string(n) + " keys");
  if (message.values_size() != n || message.subkeys_size() != n
      || message.expiration_time_size() != n || message.in_cache_size() != n)
    return Err(DhtErrc::kMalformedRequest, "store request lists differ in length");
  pb::StoreResponse response;
  for (int i = 0; i < n; ++i) {
    auto key = DHTID::from_bytes(as_bytes(message.keys(i)));
    bool ok = key.has_value()
              && store_one(context,
                           *key,
                           as_bytes(message.subkeys(i)),
                           as_bytes(message.values(i)),
                           message.expiration_time(i),
                           message.in_cache(i));
    response.add_store_ok(ok);
  }
  set_self(response.mutable_peer(), context.self);
  return serialize(response);
}

Result<Bytes> handle_find(RequestContext& context, BytesView request, Sender& sender) {
  HM_TRY(auto message, parse<pb::FindRequest>(request));
  sender = sender_of(message.peer());
  if (static_cast<std::size_t>(message.keys_size()) > context.max_keys_per_request)
    return Err(DhtErrc::kTooManyKeys,
               "find request with " + std::to_string(message.keys_size()) + " keys");
  // Up to bucket_size neighbours with addresses per key: the response is built on an arena.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 16 * 1024;
  arena_options.max_block_size = 256 * 1024;
  google::protobuf::Arena arena(arena_options);
  auto* response = google::protobuf::Arena::CreateMessage<pb::FindResponse>(&arena);
  for (const auto& raw_key : message.keys()) {
    auto key = DHTID::from_bytes(as_bytes(raw_key));
    if (!key)
      return Err(DhtErrc::kMalformedRequest, "find request key is not 20 bytes");
    fill_result(context, *key, sender.id, response->add_results());
  }
  set_self(response->mutable_peer(), context.self);
  return serialize(*response);
}

}  // namespace hivemind::dht
