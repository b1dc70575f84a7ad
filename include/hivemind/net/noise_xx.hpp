#pragma once
/// \file
/// The Noise protocol framework pieces libp2p uses (noiseprotocol.org/noise.html, revision 34):
/// the XX pattern with X25519, ChaCha20-Poly1305 and SHA-256 ("Noise_XX_25519_ChaChaPoly_SHA256"),
/// with raw payloads and no libp2p semantics. noise.hpp builds the libp2p handshake on top.
/// Everything here is pure computation (no I/O) on libsodium and OpenSSL (the transport AEAD);
/// objects are not thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::net {

/// Which side of a Noise handshake: the initiator (dialer) writes the first message.
enum class NoiseRole { kInitiator, kResponder };

/// An X25519 key (private scalar or public point), 32 bytes.
using X25519Key = std::array<std::uint8_t, 32>;

/// A Noise CipherState: a ChaCha20-Poly1305 (IETF) key and a 64-bit message counter used as the
/// nonce (4 zero bytes || counter little-endian). Without a key it passes data through (as the
/// Noise spec's handshake does before the first DH). Movable and copyable; the key is wiped on
/// destruction. Not thread-safe.
class NoiseCipherState {
 public:
  static constexpr std::size_t kKeySize = 32;
  static constexpr std::size_t kTagSize = 16;
  /// The last nonce value; the Noise spec reserves 2^64-1, so no message may use it.
  static constexpr std::uint64_t kMaxNonce = ~std::uint64_t{0};

  NoiseCipherState() = default;
  explicit NoiseCipherState(std::span<const std::uint8_t, kKeySize> key) noexcept;
  NoiseCipherState(const NoiseCipherState&) = default;
  NoiseCipherState& operator=(const NoiseCipherState&) = default;
  NoiseCipherState(NoiseCipherState&&) noexcept = default;
  NoiseCipherState& operator=(NoiseCipherState&&) noexcept = default;
  ~NoiseCipherState();

  bool has_key() const noexcept { return has_key_; }

  /// The nonce the next encrypt/decrypt will use.
  std::uint64_t nonce() const noexcept { return nonce_; }

  /// Sets the next nonce (Noise SetNonce); for tests of nonce exhaustion.
  void set_nonce(std::uint64_t nonce) noexcept { nonce_ = nonce; }

  /// Encrypts `size` bytes at `data` in place with associated data `ad` and writes the 16-byte
  /// tag to `tag`; increments the nonce. Without a key: no-op, no tag (callers check has_key()).
  /// Errors: NetErrc::kProtocolViolation when the nonce is exhausted (2^64-1 messages sent).
  Result<void> encrypt(BytesView ad, std::uint8_t* data, std::size_t size, std::uint8_t* tag) {
    return encrypt(ad, data, data, size, tag);
  }

  /// As above, reading `size` bytes at `in` and writing the ciphertext to `out` (the same pointer,
  /// or non-overlapping buffers). Without a key the bytes are copied unchanged.
  Result<void> encrypt(
      BytesView ad, const std::uint8_t* in, std::uint8_t* out, std::size_t size, std::uint8_t* tag);

  /// As above, encrypting the concatenation of `parts` (gathered, not copied first) to `out`,
  /// which must not overlap any part. Without a key the parts are copied unchanged.
  Result<void> encrypt_parts(BytesView ad,
                             std::span<const BytesView> parts,
                             std::uint8_t* out,
                             std::uint8_t* tag);

  /// Decrypts in place and checks the tag; increments the nonce only on success (on failure the
  /// `size` bytes at `data` are zeroed, never left as unauthenticated plaintext). Errors:
  /// NetErrc::kHandshakeFailed on a bad tag, NetErrc::kProtocolViolation on nonce exhaustion.
  Result<void> decrypt(BytesView ad,
                       std::uint8_t* data,
                       std::size_t size,
                       const std::uint8_t* tag) {
    return decrypt(ad, data, data, size, tag);
  }

  /// As above, from `in` to `out` (the same pointer, or non-overlapping buffers); on failure the
  /// bytes at `out` are zeroed.
  Result<void> decrypt(BytesView ad,
                       const std::uint8_t* in,
                       std::uint8_t* out,
                       std::size_t size,
                       const std::uint8_t* tag);

 private:
  std::array<std::uint8_t, kKeySize> key_{};
  bool has_key_ = false;
  std::uint64_t nonce_ = 0;
};

/// The two transport ciphers a completed handshake yields, already assigned per role.
struct NoiseCipherPair {
  NoiseCipherState send;
  NoiseCipherState recv;
};

/// Noise XX handshake state (pattern `-> e; <- e, ee, s, es; -> s, se`) with raw payloads.
/// Not thread-safe; no I/O. Messages are exchanged without any length prefix.
class NoiseXXHandshake {
 public:
  /// The protocol name hashed into the initial state.
  static constexpr std::string_view kProtocolName = "Noise_XX_25519_ChaChaPoly_SHA256";
  /// Largest Noise message (the spec's limit), in bytes.
  static constexpr std::size_t kMaxMessageSize = 65535;

  /// `static_private` is this side's X25519 static key; `ephemeral_private`, when given, fixes the
  /// ephemeral key (known-answer tests only; production passes nullopt for a fresh random key).
  NoiseXXHandshake(NoiseRole role,
                   const X25519Key& static_private,
                   BytesView prologue = {},
                   std::optional<X25519Key> ephemeral_private = std::nullopt);
  NoiseXXHandshake(const NoiseXXHandshake&) = delete;
  NoiseXXHandshake& operator=(const NoiseXXHandshake&) = delete;
  NoiseXXHandshake(NoiseXXHandshake&&) noexcept = default;
  NoiseXXHandshake& operator=(NoiseXXHandshake&&) noexcept = default;
  ~NoiseXXHandshake();

  /// Writes the next handshake message carrying `payload` (encrypted once a key exists).
  /// Errors: kProtocolViolation if it is not this side's turn to write or the message would
  /// exceed kMaxMessageSize.
  Result<Bytes> write_message(BytesView payload);
  /// Reads the next handshake message and returns its decrypted payload. Errors:
  /// kProtocolViolation (not this side's turn), kMalformedMessage (too short or too long),
  /// kHandshakeFailed (bad tag, or a DH with a low-order point). Any error is final: the
  /// handshake cannot continue.
  Result<Bytes> read_message(BytesView message);

  /// True after the third message was written (initiator) or read (responder).
  bool complete() const noexcept { return step_ == 3 && !failed_; }

  /// True after a read or write failed; every later call fails with kProtocolViolation.
  bool failed() const noexcept { return failed_; }

  /// Number of messages processed so far (0..3).
  int step() const noexcept { return step_; }

  NoiseRole role() const noexcept { return role_; }

  /// The remote static public key; all zeros until it was received (message 2 or 3).
  const X25519Key& remote_static() const noexcept { return remote_static_; }

  /// This side's static public key.
  const X25519Key& local_static() const noexcept { return static_public_; }

  /// The handshake hash h (channel binding value once complete()).
  const std::array<std::uint8_t, 32>& handshake_hash() const noexcept { return h_; }

  /// The transport ciphers (Noise Split), send/recv assigned per role. Precondition complete()
  /// (HM_CHECK).
  NoiseCipherPair split() const;

 private:
  void mix_hash(BytesView data);
  void mix_key(BytesView input_key_material);
  Result<void> mix_dh(const X25519Key& private_key, const X25519Key& public_key);
  Result<void> encrypt_and_hash(BytesView plaintext, Bytes& out);
  Result<void> decrypt_and_hash(BytesView ciphertext, Bytes& out);
  bool my_turn_to_write() const noexcept;

  NoiseRole role_;
  int step_ = 0;
  bool failed_ = false;
  std::array<std::uint8_t, 32> ck_{};
  std::array<std::uint8_t, 32> h_{};
  NoiseCipherState cipher_;
  X25519Key static_private_{};
  X25519Key static_public_{};
  X25519Key ephemeral_private_{};
  X25519Key ephemeral_public_{};
  X25519Key remote_static_{};
  X25519Key remote_ephemeral_{};
};

}  // namespace hivemind::net
