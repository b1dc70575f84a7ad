#pragma once
/// \file
/// noise-libp2p (libp2p/specs noise/README.md): the Noise XX handshake whose payloads carry each
/// side's libp2p identity key and a signature over its Noise static key, and the framed transport
/// cipher used afterwards. No I/O: callers move the bytes (see
/// docs/protocols/identity-and-noise.md).

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/identity.hpp"
#include "hivemind/net/noise_xx.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::net {

/// multistream-select protocol id of noise-libp2p.
inline constexpr std::string_view kNoiseProtocolId = "/noise";
/// Largest Noise message on the wire (after the 2-byte length prefix), in bytes.
inline constexpr std::size_t kNoiseMaxFrame = 65535;
/// Largest plaintext carried by one transport frame: kNoiseMaxFrame minus the 16-byte tag.
inline constexpr std::size_t kNoiseMaxFramePlaintext = kNoiseMaxFrame - NoiseCipherState::kTagSize;
/// Prefix of the data the identity key signs: this string followed by the X25519 static key.
inline constexpr std::string_view kNoiseStaticKeySignaturePrefix = "noise-libp2p-static-key:";

/// The encrypted, authenticated byte stream after a handshake: each direction is a sequence of
/// frames `2-byte big-endian length || ChaCha20-Poly1305 ciphertext || 16-byte tag`. One per
/// connection; not thread-safe (use it on the connection's network thread). Movable.
class NoiseTransport {
 public:
  /// Appends `plaintext` to `out` sealed as ceil(size / kNoiseMaxFramePlaintext) frames (one
  /// empty frame for empty plaintext), each at most kNoiseMaxFrame bytes after its prefix.
  /// Encrypts in place inside `out` (grows it once). Throws std::invalid_argument (HM_CHECK) if
  /// the send nonce is exhausted, which takes 2^64-1 frames and cannot be caused by the remote.
  void seal(BytesView plaintext, Bytes& out);

  /// Wire bytes seal() produces for `plaintext_size` plaintext bytes (prefixes and tags included).
  static std::size_t sealed_size(std::size_t plaintext_size) noexcept;

  /// As seal(), but writes the sealed_size(plaintext.size()) wire bytes to `out` (caller-owned,
  /// at least that large, not overlapping `plaintext`), encrypting straight from `plaintext`: no
  /// intermediate copy. Same nonce rule as seal().
  void seal_into(BytesView plaintext, std::uint8_t* out);

  /// Writes ONE frame sealing the concatenation of `parts` (gathered: e.g. a Yamux header and the
  /// caller's payload, neither copied first) to `out` and returns the wire bytes written
  /// (2 + total + 16). HM_CHECKs total <= kNoiseMaxFramePlaintext and the nonce budget; `out`
  /// must hold that many bytes and not overlap any part.
  std::size_t seal_parts_into(std::span<const BytesView> parts, std::uint8_t* out);

  /// Consumes bytes read from the socket, split anywhere; appends the plaintext of every
  /// complete frame to `out` and buffers the rest of a partial frame (at most one frame,
  /// 65537 bytes). Errors (fatal: close the connection): kHandshakeFailed on a bad tag,
  /// kMalformedMessage on a frame shorter than the tag, kProtocolViolation on nonce
  /// exhaustion. Plaintext of frames before the failing one is still appended.
  Result<void> open(BytesView wire, Bytes& out);

  /// As open(), but decrypts straight into `out` (caller-owned; HM_CHECKed to hold at least
  /// buffered() + wire.size() bytes, a bound on the plaintext) and returns the plaintext size.
  /// On error the plaintext of earlier frames is discarded (the connection is closed anyway).
  Result<std::size_t> open_into(BytesView wire, std::span<std::uint8_t> out);

  /// The authenticated remote peer and its identity key.
  const PeerId& remote_peer() const noexcept { return remote_peer_; }

  const PublicKey& remote_key() const noexcept { return remote_key_; }

  /// Bytes of a partial frame currently buffered by open().
  std::size_t buffered() const noexcept { return pending_.size(); }

  /// The cipher states (for tests of nonce handling).
  NoiseCipherState& send_cipher() noexcept { return send_; }

  NoiseCipherState& recv_cipher() noexcept { return recv_; }

 private:
  friend class NoiseHandshake;
  NoiseTransport(NoiseCipherPair ciphers, PublicKey remote_key, PeerId remote_peer);

  /// Number of frames for `plaintext_size` bytes; HM_CHECKs that the send nonces suffice.
  std::size_t check_send_budget(std::size_t plaintext_size) const;
  /// Decrypts one frame body (ciphertext || tag) to `out` + `written` and advances `written`.
  Result<void> open_body(BytesView body, std::uint8_t* out, std::size_t& written);
  /// open()'s parser: plaintext goes to `out` + `written` (room for buffered() + wire.size()).
  Result<void> open_to(BytesView wire, std::uint8_t* out, std::size_t& written);

  NoiseCipherState send_;
  NoiseCipherState recv_;
  PublicKey remote_key_;
  PeerId remote_peer_;
  Bytes pending_;  ///< a partial frame: length prefix and body received so far
  bool failed_ = false;
};

/// The noise-libp2p XX handshake as a state machine without I/O. Messages are exchanged without
/// the 2-byte length prefix (the caller frames them; each is at most kNoiseMaxFrame bytes).
/// Order: initiator write, read, write; responder read, write, read. Not thread-safe; movable.
class NoiseHandshake {
 public:
  using Role = NoiseRole;

  /// `identity` signs our Noise static key (a fresh X25519 key per handshake).
  /// `expected_remote`: the peer the initiator dialed; the handshake fails with
  /// kPeerIdMismatch if the remote authenticates as another peer (responders usually pass
  /// nullopt).
  NoiseHandshake(Role role, const KeyPair& identity, std::optional<PeerId> expected_remote = {});

  /// Test-only: fixed X25519 static and ephemeral private keys, for known-answer tests.
  NoiseHandshake(Role role,
                 const KeyPair& identity,
                 std::optional<PeerId> expected_remote,
                 const X25519Key& static_private,
                 std::optional<X25519Key> ephemeral_private);

  /// The next message to send. Errors: kProtocolViolation when it is not our turn to write (or
  /// after a failure).
  Result<Bytes> write_message();
  /// Processes a received message. Errors: kProtocolViolation (not our turn), kMalformedMessage
  /// (wrong size, undecodable payload), kHandshakeFailed (decryption or signature failure),
  /// kUnsupportedKeyType (remote identity is not Ed25519), kMalformedKey, kPeerIdMismatch. Any
  /// error is final.
  Result<void> read_message(BytesView message);

  /// True once all three messages were exchanged and the remote was authenticated.
  bool complete() const noexcept { return xx_.complete() && remote_key_.has_value(); }

  /// The remote identity, known after message 2 (initiator) or 3 (responder).
  const std::optional<PublicKey>& remote_key() const noexcept { return remote_key_; }

  /// The transport for this connection. Errors: kProtocolViolation unless complete().
  Result<NoiseTransport> into_transport() &&;

 private:
  Bytes make_payload() const;
  Result<void> verify_payload(BytesView payload);

  KeyPair identity_;
  std::optional<PeerId> expected_remote_;
  NoiseXXHandshake xx_;
  std::optional<PublicKey> remote_key_;
  bool failed_ = false;  ///< payload verification failed (the Noise layer tracks its own errors)
};

}  // namespace hivemind::net
