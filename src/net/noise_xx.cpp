// Noise_XX_25519_ChaChaPoly_SHA256 (noiseprotocol.org/noise.html, revision 34) on libsodium
// (X25519, HMAC-SHA256) and OpenSSL (ChaCha20-Poly1305, chacha20_poly1305.hpp):
// CipherState (section 5.1), SymmetricState (5.2) and the XX HandshakeState (5.3, 7.5), with the
// HMAC-based HKDF of section 4.3 and the ChaChaPoly nonce layout of section 12.3.

#include "hivemind/net/noise_xx.hpp"

#include <cstring>

#include <sodium.h>

#include "chacha20_poly1305.hpp"
#include "hivemind/core/check.hpp"
#include "hivemind/net/error.hpp"
#include "identity_codec.hpp"

namespace hivemind::net {
namespace {

using Hash = std::array<std::uint8_t, crypto_hash_sha256_BYTES>;

constexpr std::size_t kDhSize = 32;
constexpr std::size_t kTagSize = NoiseCipherState::kTagSize;

/// ChaChaPoly nonce: 32 bits of zeros followed by the little-endian 64-bit counter.
std::array<std::uint8_t, detail::kAeadNonceSize> make_nonce(std::uint64_t n) {
  std::array<std::uint8_t, detail::kAeadNonceSize> nonce{};
  for (std::size_t i = 0; i < 8; ++i)
    nonce[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return nonce;
}

Hash hmac(BytesView key, BytesView data1, BytesView data2 = {}) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, data1.data(), data1.size());
  crypto_auth_hmacsha256_update(&state, data2.data(), data2.size());
  Hash out{};
  crypto_auth_hmacsha256_final(&state, out.data());
  sodium_memzero(&state, sizeof(state));
  return out;
}

/// Noise HKDF with two outputs: temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01);
/// out2 = HMAC(temp, out1 || 0x02).
std::pair<Hash, Hash> hkdf2(BytesView chaining_key, BytesView input_key_material) {
  Hash temp = hmac(chaining_key, input_key_material);
  const std::uint8_t one = 0x01;
  const std::uint8_t two = 0x02;
  Hash out1 = hmac(temp, BytesView(&one, 1));
  Hash out2 = hmac(temp, out1, BytesView(&two, 1));
  sodium_memzero(temp.data(), temp.size());
  return {out1, out2};
}

}  // namespace

// ---- CipherState ------------------------------------------------------------------------------

NoiseCipherState::NoiseCipherState(std::span<const std::uint8_t, kKeySize> key) noexcept
    : has_key_(true) {
  std::copy(key.begin(), key.end(), key_.begin());
}

NoiseCipherState::~NoiseCipherState() {
  sodium_memzero(key_.data(), key_.size());
}

Result<void> NoiseCipherState::encrypt(
    BytesView ad, const std::uint8_t* in, std::uint8_t* out, std::size_t size, std::uint8_t* tag) {
  if (!has_key_) {
    if (size > 0 && in != out)
      std::memmove(out, in, size);
    return ok();
  }
  if (nonce_ == kMaxNonce)
    return Err(NetErrc::kProtocolViolation);
  if (!detail::aead_seal(key_, make_nonce(nonce_), ad, in, out, size, tag))
    return Err(NetErrc::kHandshakeFailed, "ChaCha20-Poly1305 encryption failed in OpenSSL");
  ++nonce_;
  return ok();
}

Result<void> NoiseCipherState::encrypt_parts(BytesView ad,
                                             std::span<const BytesView> parts,
                                             std::uint8_t* out,
                                             std::uint8_t* tag) {
  if (!has_key_) {
    for (const BytesView part : parts) {
      if (!part.empty())
        std::memcpy(out, part.data(), part.size());
      out += part.size();
    }
    return ok();
  }
  if (nonce_ == kMaxNonce)
    return Err(NetErrc::kProtocolViolation);
  if (!detail::aead_seal_parts(key_, make_nonce(nonce_), ad, parts, out, tag))
    return Err(NetErrc::kHandshakeFailed, "ChaCha20-Poly1305 encryption failed in OpenSSL");
  ++nonce_;
  return ok();
}

Result<void> NoiseCipherState::decrypt(BytesView ad,
                                       const std::uint8_t* in,
                                       std::uint8_t* out,
                                       std::size_t size,
                                       const std::uint8_t* tag) {
  if (!has_key_) {
    if (size > 0 && in != out)
      std::memmove(out, in, size);
    return ok();
  }
  if (nonce_ == kMaxNonce)
    return Err(NetErrc::kProtocolViolation);
  if (!detail::aead_open(key_, make_nonce(nonce_), ad, in, out, size, tag))
    return Err(NetErrc::kHandshakeFailed);
  ++nonce_;
  return ok();
}

// ---- SymmetricState + XX HandshakeState -----------------------------------------------------

NoiseXXHandshake::NoiseXXHandshake(NoiseRole role,
                                   const X25519Key& static_private,
                                   BytesView prologue,
                                   std::optional<X25519Key> ephemeral_private)
    : role_(role), static_private_(static_private) {
  detail::ensure_sodium();
  // InitializeSymmetric: the protocol name is exactly HASHLEN (32) bytes, so h = name unhashed.
  static_assert(kProtocolName.size() == 32);
  std::copy(kProtocolName.begin(), kProtocolName.end(), h_.begin());
  ck_ = h_;
  mix_hash(prologue);
  crypto_scalarmult_base(static_public_.data(), static_private_.data());
  if (ephemeral_private) {
    ephemeral_private_ = *ephemeral_private;
  } else {
    randombytes_buf(ephemeral_private_.data(), ephemeral_private_.size());
  }
  crypto_scalarmult_base(ephemeral_public_.data(), ephemeral_private_.data());
}

NoiseXXHandshake::~NoiseXXHandshake() {
  sodium_memzero(static_private_.data(), static_private_.size());
  sodium_memzero(ephemeral_private_.data(), ephemeral_private_.size());
  sodium_memzero(ck_.data(), ck_.size());
}

void NoiseXXHandshake::mix_hash(BytesView data) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, h_.data(), h_.size());
  crypto_hash_sha256_update(&state, data.data(), data.size());
  crypto_hash_sha256_final(&state, h_.data());
}

void NoiseXXHandshake::mix_key(BytesView input_key_material) {
  auto [ck, temp_k] = hkdf2(ck_, input_key_material);
  ck_ = ck;
  cipher_ = NoiseCipherState(temp_k);  // HASHLEN == key size: no truncation needed
  sodium_memzero(temp_k.data(), temp_k.size());
  sodium_memzero(ck.data(), ck.size());
}

Result<void> NoiseXXHandshake::mix_dh(const X25519Key& private_key, const X25519Key& public_key) {
  std::array<std::uint8_t, kDhSize> shared{};
  // libsodium fails when the result is all zeros (a low-order remote point); the Noise spec
  // allows rejecting such keys, and accepting them would let the remote fix our session keys.
  if (crypto_scalarmult(shared.data(), private_key.data(), public_key.data()) != 0) {
    return Err(NetErrc::kHandshakeFailed);
  }
  mix_key(shared);
  sodium_memzero(shared.data(), shared.size());
  return ok();
}

Result<void> NoiseXXHandshake::encrypt_and_hash(BytesView plaintext, Bytes& out) {
  const std::size_t start = out.size();
  out.insert(out.end(), plaintext.begin(), plaintext.end());
  if (cipher_.has_key()) {
    out.resize(out.size() + kTagSize);
    HM_TRY_VOID(cipher_.encrypt(
        h_, out.data() + start, plaintext.size(), out.data() + start + plaintext.size()));
  }
  mix_hash(BytesView(out).subspan(start));
  return ok();
}

Result<void> NoiseXXHandshake::decrypt_and_hash(BytesView ciphertext, Bytes& out) {
  if (!cipher_.has_key()) {
    out.assign(ciphertext.begin(), ciphertext.end());
  } else {
    if (ciphertext.size() < kTagSize)
      return Err(NetErrc::kMalformedMessage);
    const std::size_t size = ciphertext.size() - kTagSize;
    out.assign(ciphertext.begin(), ciphertext.begin() + static_cast<std::ptrdiff_t>(size));
    HM_TRY_VOID(cipher_.decrypt(h_, out.data(), size, ciphertext.data() + size));
  }
  mix_hash(ciphertext);
  return ok();
}

bool NoiseXXHandshake::my_turn_to_write() const noexcept {
  // Messages 0 and 2 are the initiator's, message 1 the responder's.
  return step_ < 3 && ((step_ % 2 == 0) == (role_ == NoiseRole::kInitiator));
}

Result<Bytes> NoiseXXHandshake::write_message(BytesView payload) {
  if (failed_ || !my_turn_to_write())
    return Err(NetErrc::kProtocolViolation);
  // Message size: e (msg 1); e, s + tag, payload + tag (msg 2); s + tag, payload + tag (msg 3).
  const std::size_t overhead = step_ == 0   ? kDhSize
                               : step_ == 1 ? 2 * kDhSize + 2 * kTagSize
                                            : kDhSize + 2 * kTagSize;
  if (payload.size() > kMaxMessageSize - overhead) {
    return Err(NetErrc::kProtocolViolation);
  }
  failed_ = true;  // cleared on success: a failed write leaves the handshake unusable
  Bytes out;
  out.reserve(payload.size() + 2 * kDhSize + 2 * kTagSize);
  if (step_ == 0) {  // -> e
    append(out, ephemeral_public_);
    mix_hash(ephemeral_public_);
  } else if (step_ == 1) {  // <- e, ee, s, es
    append(out, ephemeral_public_);
    mix_hash(ephemeral_public_);
    HM_TRY_VOID(mix_dh(ephemeral_private_, remote_ephemeral_));
    HM_TRY_VOID(encrypt_and_hash(static_public_, out));
    HM_TRY_VOID(mix_dh(static_private_, remote_ephemeral_));
  } else {  // -> s, se
    HM_TRY_VOID(encrypt_and_hash(static_public_, out));
    HM_TRY_VOID(mix_dh(static_private_, remote_ephemeral_));
  }
  HM_TRY_VOID(encrypt_and_hash(payload, out));
  failed_ = false;
  ++step_;
  return out;
}

Result<Bytes> NoiseXXHandshake::read_message(BytesView message) {
  if (failed_ || step_ >= 3 || my_turn_to_write())
    return Err(NetErrc::kProtocolViolation);
  failed_ = true;  // cleared on success
  if (message.size() > kMaxMessageSize)
    return Err(NetErrc::kMalformedMessage);
  // Minimum sizes: e; e + encrypted s + tag of the payload; encrypted s + tag.
  const std::size_t minimum = step_ == 0   ? kDhSize
                              : step_ == 1 ? kDhSize + kDhSize + 2 * kTagSize
                                           : kDhSize + 2 * kTagSize;
  if (message.size() < minimum)
    return Err(NetErrc::kMalformedMessage);
  ByteReader reader(message);
  Bytes payload;
  auto read_key = [&](X25519Key& key) {
    auto bytes = reader.read_bytes(kDhSize);  // sizes were checked above
    std::copy(bytes->begin(), bytes->end(), key.begin());
  };
  if (step_ == 0) {  // -> e
    read_key(remote_ephemeral_);
    mix_hash(remote_ephemeral_);
  } else if (step_ == 1) {  // <- e, ee, s, es
    read_key(remote_ephemeral_);
    mix_hash(remote_ephemeral_);
    HM_TRY_VOID(mix_dh(ephemeral_private_, remote_ephemeral_));
    Bytes remote_static;
    HM_TRY_VOID(decrypt_and_hash(*reader.read_bytes(kDhSize + kTagSize), remote_static));
    std::copy(remote_static.begin(), remote_static.end(), remote_static_.begin());
    HM_TRY_VOID(mix_dh(ephemeral_private_, remote_static_));
  } else {  // -> s, se
    Bytes remote_static;
    HM_TRY_VOID(decrypt_and_hash(*reader.read_bytes(kDhSize + kTagSize), remote_static));
    std::copy(remote_static.begin(), remote_static.end(), remote_static_.begin());
    HM_TRY_VOID(mix_dh(ephemeral_private_, remote_static_));
  }
  HM_TRY_VOID(decrypt_and_hash(reader.rest(), payload));
  failed_ = false;
  ++step_;
  return payload;
}

NoiseCipherPair NoiseXXHandshake::split() const {
  HM_CHECK(complete(), "NoiseXXHandshake::split() before the handshake completed");
  auto [k1, k2] = hkdf2(ck_, {});
  NoiseCipherState c1(k1);  // initiator -> responder
  NoiseCipherState c2(k2);  // responder -> initiator
  sodium_memzero(k1.data(), k1.size());
  sodium_memzero(k2.data(), k2.size());
  if (role_ == NoiseRole::kInitiator)
    return {std::move(c1), std::move(c2)};
  return {std::move(c2), std::move(c1)};
}

}  // namespace hivemind::net
