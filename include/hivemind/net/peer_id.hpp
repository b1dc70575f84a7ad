#pragma once
/// \file
/// libp2p peer ids (libp2p/specs peer-ids/peer-ids.md): the multihash of a protobuf-encoded public
/// key, written as base58btc text ("12D3KooW..." for Ed25519, "Qm..." for sha2-256 ids).

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/public_key.hpp"

namespace hivemind::net {

/// Largest public key protobuf that is embedded verbatim (identity multihash) in a peer id.
inline constexpr std::size_t kMaxInlineKeyLength = 42;

/// A peer id: a validated multihash, either identity (code 0x00, 1..42 bytes of key protobuf) or
/// sha2-256 (code 0x12, 32-byte digest). Value type: copyable, totally ordered by its bytes,
/// hashable (std::hash below); thread-compatible.
class PeerId {
 public:
  /// The id of `key`: identity multihash (0x00, len, protobuf) if the key's protobuf encoding is
  /// at most 42 bytes, otherwise sha2-256 multihash (0x12, 0x20, SHA-256 of the protobuf).
  static PeerId from_public_key(const PublicKey& key);

  /// Validates a binary multihash: identity with a one-byte length of 1..42 matching the rest,
  /// or sha2-256 with length 32 matching the rest. Errors: NetErrc::kMalformedPeerId.
  static Result<PeerId> from_bytes(BytesView multihash);

  /// Parses base58btc text ("12D3KooW...", "Qm..."). Multibase/CIDv1 forms are not accepted.
  /// Errors: NetErrc::kMalformedPeerId.
  static Result<PeerId> from_string(std::string_view text);

  /// The binary multihash.
  const Bytes& bytes() const noexcept { return bytes_; }

  /// base58btc text of bytes().
  std::string to_string() const;

  /// The embedded public key for identity multihashes whose digest parses as a key protobuf;
  /// nullopt for sha2-256 ids (the key must then be learned from the peer).
  std::optional<PublicKey> public_key() const;

  auto operator<=>(const PeerId&) const = default;

 private:
  explicit PeerId(Bytes bytes) : bytes_(std::move(bytes)) {}

  Bytes bytes_;
};

}  // namespace hivemind::net

/// Hash of the multihash bytes, for unordered containers.
template <>
struct std::hash<hivemind::net::PeerId> {
  std::size_t operator()(const hivemind::net::PeerId& id) const noexcept {
    return std::hash<std::string_view>{}(hivemind::as_chars(id.bytes()));
  }
};
