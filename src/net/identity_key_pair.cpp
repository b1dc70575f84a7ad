#include <algorithm>

#include <sodium.h>

#include "hivemind/net/error.hpp"
#include "hivemind/net/identity.hpp"
#include "identity_codec.hpp"

namespace hivemind::net {
namespace {

constexpr std::size_t kSeedSize = crypto_sign_SEEDBYTES;         // 32
constexpr std::size_t kPublicSize = crypto_sign_PUBLICKEYBYTES;  // 32

}  // namespace

KeyPair KeyPair::generate() {
  detail::ensure_sodium();
  std::array<std::uint8_t, kSeedSize> seed{};
  randombytes_buf(seed.data(), seed.size());
  KeyPair pair = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return pair;
}

KeyPair KeyPair::from_seed(std::span<const std::uint8_t, 32> seed) {
  detail::ensure_sodium();
  std::array<std::uint8_t, kPublicSize> pk{};
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  auto public_key = PublicKey::from_raw(KeyType::kEd25519, pk);
  KeyPair pair(sk, std::move(public_key).value());  // 32 bytes: cannot fail
  sodium_memzero(sk.data(), sk.size());
  return pair;
}

Result<KeyPair> KeyPair::from_protobuf(BytesView encoded) {
  HM_TRY(auto decoded, detail::decode_key_protobuf(encoded, detail::KeyMessage::kPrivate));
  auto& [type, data] = decoded;
  Result<KeyPair> result = Err(NetErrc::kMalformedKey);
  if (type != KeyType::kEd25519) {
    result = Err(NetErrc::kUnsupportedKeyType);
  } else if (data.size() == kSeedSize + kPublicSize
             || (data.size() == kSeedSize + 2 * kPublicSize
                 && std::equal(data.begin() + kSeedSize,
                               data.begin() + kSeedSize + kPublicSize,
                               data.begin() + kSeedSize + kPublicSize))) {
    KeyPair pair = from_seed(std::span<const std::uint8_t, kSeedSize>(data.data(), kSeedSize));
    const bool matches = std::equal(
        pair.public_key_.raw().begin(), pair.public_key_.raw().end(), data.begin() + kSeedSize);
    if (matches)
      result = std::move(pair);
  }
  sodium_memzero(data.data(), data.size());
  return result;
}

KeyPair::~KeyPair() {
  sodium_memzero(secret_.data(), secret_.size());
}

Bytes KeyPair::sign(BytesView message) const {
  Bytes signature(crypto_sign_BYTES);
  crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(), secret_.data());
  return signature;
}

PeerId KeyPair::peer_id() const {
  return PeerId::from_public_key(public_key_);
}

Bytes KeyPair::to_protobuf() const {
  return detail::encode_key_protobuf(KeyType::kEd25519, secret_, detail::KeyMessage::kPrivate);
}

}  // namespace hivemind::net
