#pragma once
/// \file
/// libp2p public keys (libp2p/specs peer-ids/peer-ids.md): a key type plus the type-specific
/// encoding of the key, carried on the wire as the `PublicKey` protobuf. Included by identity.hpp.

#include <cstddef>
#include <cstdint>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::net {

/// The libp2p `KeyType` enum; values are the protobuf enum numbers.
enum class KeyType { kRsa = 0, kEd25519 = 1, kSecp256k1 = 2, kEcdsa = 3 };

/// Largest `Data` field accepted in a key protobuf, in bytes (an RSA-16384 PKIX key is ~2.1 KB).
inline constexpr std::size_t kMaxKeyDataSize = 4096;

/// A public identity key. Value type (copyable, comparable); thread-compatible. Only Ed25519 keys
/// can verify signatures; the other types are carried so that their peer ids can be computed.
class PublicKey {
 public:
  /// Parses a libp2p `PublicKey` protobuf strictly: both fields present, in field order, with
  /// minimal varints and nothing else (the deterministic encoding peer ids are computed from), a
  /// known key type, and a data size that fits the type (Ed25519: exactly 32 bytes; secp256k1: 33
  /// or 65; RSA and ECDSA: 1..kMaxKeyDataSize). Errors: NetErrc::kMalformedKey.
  static Result<PublicKey> from_protobuf(BytesView encoded);

  /// Builds a key from its type and type-specific encoding, with the size checks of
  /// from_protobuf. Errors: NetErrc::kMalformedKey.
  static Result<PublicKey> from_raw(KeyType type, BytesView raw);

  /// The deterministic protobuf encoding: field 1 (Type) then field 2 (Data).
  Bytes to_protobuf() const;

  KeyType type() const noexcept { return type_; }

  /// The type-specific encoding (for Ed25519, the 32-byte public key).
  const Bytes& raw() const noexcept { return raw_; }

  /// True if `signature` is a valid Ed25519 signature of `message` by this key (libsodium,
  /// RFC 8032). Always false for other key types and for signatures that are not 64 bytes.
  bool verify(BytesView message, BytesView signature) const;

  friend bool operator==(const PublicKey&, const PublicKey&) = default;

 private:
  PublicKey(KeyType type, Bytes raw) : type_(type), raw_(std::move(raw)) {}

  KeyType type_;
  Bytes raw_;
};

}  // namespace hivemind::net
