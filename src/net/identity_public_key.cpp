#include <algorithm>
#include <cstdlib>

#include <sodium.h>

#include "hivemind/net/error.hpp"
#include "hivemind/net/public_key.hpp"
#include "hivemind_proto/crypto.pb.h"
#include "identity_codec.hpp"

namespace hivemind::net {
namespace detail {

namespace pb = hivemind::proto::crypto;

Bytes encode_key_protobuf(KeyType type, BytesView data, KeyMessage message) {
  // Written by hand (the generated code would produce the same bytes): 0x08 type 0x12 len data.
  Bytes out;
  out.reserve(data.size() + 8);
  out.push_back(0x08);
  out.push_back(static_cast<std::uint8_t>(type));
  out.push_back(0x12);
  for (std::size_t n = data.size();; n >>= 7) {
    if (n < 0x80) {
      out.push_back(static_cast<std::uint8_t>(n));
      break;
    }
    out.push_back(static_cast<std::uint8_t>((n & 0x7f) | 0x80));
  }
  append(out, data);
  (void)message;  // both messages share one layout
  return out;
}

Result<std::pair<KeyType, Bytes>> decode_key_protobuf(BytesView encoded, KeyMessage message) {
  // Type (2 bytes) + Data tag and length (<= 3 bytes) + data.
  if (encoded.size() > kMaxKeyDataSize + 8)
    return Err(NetErrc::kMalformedKey);
  const int size = static_cast<int>(encoded.size());
  bool parsed = false;
  pb::KeyType type{};
  std::string data;
  // ParsePartial: missing required fields are checked below, without protobuf's error log.
  if (message == KeyMessage::kPublic) {
    pb::PublicKey key;
    parsed = key.ParsePartialFromArray(encoded.data(), size) && key.has_type() && key.has_data();
    type = key.type();
    data = key.data();
  } else {
    pb::PrivateKey key;
    parsed = key.ParsePartialFromArray(encoded.data(), size) && key.has_type() && key.has_data();
    type = key.type();
    data = key.data();
    sodium_memzero(key.mutable_data()->data(), key.data().size());  // secret material
  }
  // proto2 moves unknown enum values to the unknown fields, so a parsed `type` is always known.
  // Comparing with the deterministic re-encoding rejects unknown fields, duplicate fields,
  // reordering and padded varints.
  const auto key_type = static_cast<KeyType>(type);
  bool canonical = false;
  if (parsed && data.size() <= kMaxKeyDataSize) {
    Bytes reencoded = encode_key_protobuf(key_type, as_bytes(data), message);
    canonical = std::equal(reencoded.begin(), reencoded.end(), encoded.begin(), encoded.end());
    sodium_memzero(reencoded.data(), reencoded.size());
  }
  Result<std::pair<KeyType, Bytes>> result = Err(NetErrc::kMalformedKey);
  if (canonical)
    result = std::pair{key_type, to_bytes(data)};
  sodium_memzero(data.data(), data.size());  // private keys: do not leave secret copies around
  return result;
}

void ensure_sodium() {
  static const bool initialised = [] {
    if (sodium_init() < 0)
      std::abort();  // no entropy source: nothing secure can run
    return true;
  }();
  (void)initialised;
}

}  // namespace detail

namespace {

bool raw_size_fits(KeyType type, std::size_t size) {
  switch (type) {
    case KeyType::kEd25519:
      return size == crypto_sign_PUBLICKEYBYTES;
    case KeyType::kSecp256k1:
      return size == 33 || size == 65;  // compressed or uncompressed SEC1
    case KeyType::kRsa:
    case KeyType::kEcdsa:
      return size >= 1 && size <= kMaxKeyDataSize;  // DER, not parsed here
  }
  return false;
}

}  // namespace

Result<PublicKey> PublicKey::from_raw(KeyType type, BytesView raw) {
  if (!raw_size_fits(type, raw.size()))
    return Err(NetErrc::kMalformedKey);
  return PublicKey(type, Bytes(raw.begin(), raw.end()));
}

Result<PublicKey> PublicKey::from_protobuf(BytesView encoded) {
  HM_TRY(auto decoded, detail::decode_key_protobuf(encoded, detail::KeyMessage::kPublic));
  return from_raw(decoded.first, decoded.second);
}

Bytes PublicKey::to_protobuf() const {
  return detail::encode_key_protobuf(type_, raw_, detail::KeyMessage::kPublic);
}

bool PublicKey::verify(BytesView message, BytesView signature) const {
  if (type_ != KeyType::kEd25519 || signature.size() != crypto_sign_BYTES
      || raw_.size() != crypto_sign_PUBLICKEYBYTES) {
    return false;
  }
  detail::ensure_sodium();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), raw_.data())
         == 0;
}

}  // namespace hivemind::net
