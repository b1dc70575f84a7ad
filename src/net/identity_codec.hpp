#pragma once
/// \file
/// Private helpers shared by the identity files: strict libp2p key protobuf coding and libsodium
/// initialisation. Not part of the public API.

#include <utility>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/public_key.hpp"

namespace hivemind::net::detail {

/// Whether a key protobuf is a `PublicKey` or a `PrivateKey` message (same layout).
enum class KeyMessage { kPublic, kPrivate };

/// Decodes a key protobuf strictly: it must parse, carry a known type and a data field of at most
/// kMaxKeyDataSize bytes, and be byte-identical to its own deterministic re-encoding (so field
/// order, minimal varints and absence of unknown fields are all enforced). Errors: kMalformedKey.
Result<std::pair<KeyType, Bytes>> decode_key_protobuf(BytesView encoded, KeyMessage message);

/// Deterministic encoding of a key protobuf: field 1 (Type) then field 2 (Data).
Bytes encode_key_protobuf(KeyType type, BytesView data, KeyMessage message);

/// Calls sodium_init() once (thread-safe); aborts the process if libsodium cannot initialise.
void ensure_sodium();

}  // namespace hivemind::net::detail
