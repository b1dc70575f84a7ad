#include "hivemind/net/peer_id.hpp"

#include <sodium.h>

#include "hivemind/net/base58.hpp"
#include "hivemind/net/error.hpp"
#include "identity_codec.hpp"

namespace hivemind::net {
namespace {

// Multihash codes (multiformats/multicodec table).
constexpr std::uint8_t kIdentityCode = 0x00;
constexpr std::uint8_t kSha256Code = 0x12;
constexpr std::uint8_t kSha256Length = 32;

}  // namespace

PeerId PeerId::from_public_key(const PublicKey& key) {
  const Bytes encoded = key.to_protobuf();
  Bytes bytes;
  if (encoded.size() <= kMaxInlineKeyLength) {
    bytes.reserve(encoded.size() + 2);
    bytes.push_back(kIdentityCode);
    bytes.push_back(static_cast<std::uint8_t>(encoded.size()));  // < 0x80: one varint byte
    append(bytes, encoded);
  } else {
    detail::ensure_sodium();
    bytes.resize(2 + crypto_hash_sha256_BYTES);
    bytes[0] = kSha256Code;
    bytes[1] = kSha256Length;
    crypto_hash_sha256(bytes.data() + 2, encoded.data(), encoded.size());
  }
  return PeerId(std::move(bytes));
}

Result<PeerId> PeerId::from_bytes(BytesView multihash) {
  // Both accepted codes and lengths are below 0x80, so each varint is exactly one byte; a byte
  // with the continuation bit set is an unsupported code or length and is rejected.
  if (multihash.size() < 3)
    return Err(NetErrc::kMalformedPeerId);
  const std::uint8_t code = multihash[0];
  const std::uint8_t length = multihash[1];
  if (multihash.size() - 2 != length)
    return Err(NetErrc::kMalformedPeerId);
  const bool valid = (code == kIdentityCode && length >= 1 && length <= kMaxInlineKeyLength)
                     || (code == kSha256Code && length == kSha256Length);
  if (!valid)
    return Err(NetErrc::kMalformedPeerId);
  return PeerId(Bytes(multihash.begin(), multihash.end()));
}

Result<PeerId> PeerId::from_string(std::string_view text) {
  HM_TRY(auto bytes, base58_decode(text));
  return from_bytes(bytes);
}

std::string PeerId::to_string() const {
  return base58_encode(bytes_);
}

std::optional<PublicKey> PeerId::public_key() const {
  if (bytes_.empty() || bytes_[0] != kIdentityCode)
    return std::nullopt;
  auto key = PublicKey::from_protobuf(BytesView(bytes_).subspan(2));
  if (!key)
    return std::nullopt;
  return *std::move(key);
}

}  // namespace hivemind::net
