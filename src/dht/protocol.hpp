#pragma once
/// \file
/// DHTProtocol messages (dht.proto) to and from C++ types, without I/O: the client side encodes
/// requests and decodes responses here; the server side (request_handler.hpp) decodes requests
/// and encodes responses. Every decoder treats its input as hostile.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/dht_id.hpp"
#include "hivemind/dht/routing_table.hpp"
#include "hivemind/dht/validation.hpp"
#include "hivemind/dht/value.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::dht::protocol {

inline const std::string kPing = "DHTProtocol.rpc_ping";
inline const std::string kStore = "DHTProtocol.rpc_store";
inline const std::string kFind = "DHTProtocol.rpc_find";

/// hivemind's `MAX_DHT_TIME_DISCREPANCY_SECONDS`.
inline constexpr double kMaxTimeDiscrepancyS = 3;

/// Subkey tag of a whole dictionary in a StoreRequest (hivemind `IS_DICTIONARY`).
inline const Bytes kDictionaryTag{};

/// Limits applied to responses we decode.
struct DecodeLimits {
  std::size_t max_results = 1024;       ///< results of one find response
  std::size_t max_neighbors = 256;      ///< nearest nodes per result
  std::size_t max_addrs_per_peer = 16;  ///< extra addresses are ignored
  msgpack::UnpackLimits msgpack;
};

// --- ping ---
Bytes encode_ping_request(const std::optional<DHTID>& self, bool validate);

struct PingResponse {
  std::optional<DHTID> peer;  ///< nullopt: the responder is a client-mode node
  double dht_time = 0;
  bool available = false;
};

Result<PingResponse> decode_ping_response(BytesView bytes);

// --- store ---
/// One record of a StoreRequest: `subkey` is kRegularValueTag, kDictionaryTag (value = packed
/// DictionaryValue) or a msgpack subkey.
struct StoreRecord {
  DHTID key;
  Bytes subkey;
  Bytes value;
  Expiration expiration = 0;
  bool in_cache = false;
};

Bytes encode_store_request(const std::optional<DHTID>& self,
                           const std::vector<StoreRecord>& records);

struct StoreResponse {
  std::optional<DHTID> peer;
  std::vector<bool> store_ok;
};

Result<StoreResponse> decode_store_response(BytesView bytes, std::size_t expected);

// --- find ---
Bytes encode_find_request(const std::optional<DHTID>& self, const std::vector<DHTID>& keys);

/// A neighbour reported by a find response, with the addresses the responder knows for it.
struct Neighbor {
  NodeInfo node;
  std::vector<net::Multiaddr> addrs;
};

struct FindResult {
  std::optional<StoredEntry> value;  ///< validated; nullopt when not found or invalid
  std::vector<Neighbor> nearest;
};

struct FindResponse {
  std::optional<DHTID> peer;
  std::vector<FindResult> results;  ///< one per requested key, in order
};

/// Says whether a neighbour's reported addresses (raw, in wire order) are already known exactly as
/// adding them would leave them; their decoding is then skipped (Neighbor::addrs stays empty).
using AddrsKnown = std::function<bool(const net::PeerId&, const std::vector<BytesView>&)>;

/// Decodes a find response for `keys`. Records are checked with `validator` (may be null);
/// dictionary entries that fail are dropped, a plain value that fails counts as not found;
/// malformed neighbours are skipped. Errors: kMalformedRequest (unparsable, wrong result count).
Result<FindResponse> decode_find_response(BytesView bytes,
                                          const std::vector<DHTID>& keys,
                                          const RecordValidator* validator,
                                          const DecodeLimits& limits,
                                          const AddrsKnown& addrs_known);

inline Result<FindResponse> decode_find_response(BytesView bytes,
                                                 const std::vector<DHTID>& keys,
                                                 const RecordValidator* validator,
                                                 const DecodeLimits& limits = {}) {
  return decode_find_response(bytes, keys, validator, limits, nullptr);
}

/// Whether `record` passes `validator` (null validator: always).
bool validate(const RecordValidator* validator,
              const DHTID& key,
              BytesView subkey,
              BytesView value,
              Expiration expiration);

}  // namespace hivemind::dht::protocol
