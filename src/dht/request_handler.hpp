#pragma once
/// \file
/// The server side of DHTProtocol without I/O: decodes a request, applies it to the node's
/// storage, cache and routing table (read only), encodes the response. The node's handlers wrap
/// these in coroutines; the fuzz target calls them directly.

#include <functional>
#include <optional>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/routing_table.hpp"
#include "hivemind/dht/storage.hpp"
#include "hivemind/dht/validation.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::dht {

/// What a handler needs from its node. References must outlive the calls.
struct RequestContext {
  const DHTID& self;
  const RoutingTable& table;
  LocalStorage& storage;
  LocalStorage& cache;
  const RecordValidator* validator = nullptr;
  std::size_t max_keys_per_request = 1024;
  std::size_t bucket_size = 20;
  /// Known addresses of a peer (for the nearest_peer_addrs extension), or null (none known);
  /// the pointer is used before the handler returns.
  std::function<const std::vector<net::Multiaddr>*(const net::PeerId&)> addrs_of;
};

/// A decoded request's sender: the DHTID it claims (nullopt for client-mode senders or an empty
/// or malformed node_id).
struct Sender {
  std::optional<DHTID> id;
};

struct PingRequestInfo {
  Sender sender;
  bool validate = false;
};

Result<PingRequestInfo> decode_ping_request(BytesView request);
Bytes encode_ping_response(const DHTID& self, double dht_time, bool available);

/// rpc_store: every record is validated and stored (or cached) independently; one store_ok per
/// record. Errors (the whole request refused): kMalformedRequest (unparsable, list lengths
/// differ), kTooManyKeys.
Result<Bytes> handle_store(RequestContext& context, BytesView request, Sender& sender);

/// rpc_find: per key the stored or (when strictly newer) cached entry, and up to bucket_size
/// nearest neighbours, never the requester nor ourselves. Errors: kMalformedRequest,
/// kTooManyKeys.
Result<Bytes> handle_find(RequestContext& context, BytesView request, Sender& sender);

}  // namespace hivemind::dht
