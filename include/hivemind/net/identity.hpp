#pragma once
/// \file
/// A node's identity: its Ed25519 key pair, the libp2p key protobufs, and the key file that keeps
/// the identity across restarts (libp2p/specs peer-ids/peer-ids.md).

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/peer_id.hpp"
#include "hivemind/net/public_key.hpp"

namespace hivemind::net {

/// An Ed25519 identity key pair. Holds the secret key (wiped on destruction); copyable and
/// movable; const methods are thread-safe.
class KeyPair {
 public:
  /// A fresh key pair from libsodium's CSPRNG.
  static KeyPair generate();
  /// The deterministic key pair of a 32-byte RFC 8032 seed (the "private key" of libp2p).
  static KeyPair from_seed(std::span<const std::uint8_t, 32> seed);

  /// Parses a libp2p `PrivateKey` protobuf: Type Ed25519, Data = seed || public key (64 bytes)
  /// or the legacy seed || public || public (96 bytes, both copies equal). The public half must
  /// match the one derived from the seed. Errors: NetErrc::kMalformedKey (encoding, sizes,
  /// mismatch), NetErrc::kUnsupportedKeyType (a valid key of another type).
  static Result<KeyPair> from_protobuf(BytesView encoded);

  KeyPair(const KeyPair&) = default;
  KeyPair& operator=(const KeyPair&) = default;
  KeyPair(KeyPair&&) noexcept = default;
  KeyPair& operator=(KeyPair&&) noexcept = default;
  ~KeyPair();

  const PublicKey& public_key() const noexcept { return public_key_; }

  /// The 64-byte Ed25519 signature of `message`.
  Bytes sign(BytesView message) const;
  /// PeerId::from_public_key(public_key()).
  PeerId peer_id() const;
  /// The libp2p `PrivateKey` protobuf: Type Ed25519, Data = seed || public key (64 bytes).
  /// The result holds secret material; the caller should wipe it after use.
  Bytes to_protobuf() const;

 private:
  KeyPair(const std::array<std::uint8_t, 64>& secret, PublicKey public_key)
      : secret_(secret), public_key_(std::move(public_key)) {}

  std::array<std::uint8_t, 64> secret_;  ///< libsodium secret key: seed || public key
  PublicKey public_key_;
};

/// Largest key file accepted by load_or_create_key_file, in bytes.
inline constexpr std::size_t kMaxKeyFileSize = 8192;

/// Loads a libp2p `PrivateKey` protobuf file (as written by go-libp2p and by this function), or,
/// when `path` does not exist, generates a key pair and writes it with 0600 permissions,
/// atomically (temporary file in the same directory, fsync, rename). The parent directory must
/// exist. Blocking file I/O: call it at startup, not on a network thread. Errors:
/// NetErrc::kKeyFile (I/O failure, file too large), or the errors of KeyPair::from_protobuf.
Result<KeyPair> load_or_create_key_file(const std::filesystem::path& path);

}  // namespace hivemind::net
