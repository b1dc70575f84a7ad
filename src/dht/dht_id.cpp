// DHTID: hivemind/dht/routing.py. Ids are 160-bit big-endian integers; distance is XOR.
#include "hivemind/dht/dht_id.hpp"

#include <array>
#include <bit>
#include <cstring>

#include <sodium.h>

#include "hivemind/core/check.hpp"
#include "hivemind/dht/error.hpp"

namespace hivemind::dht {

DHTID DHTID::from_key(const msgpack::Value& key) {
  // DHTID.generate(source): bytes are hashed as they are, anything else as its msgpack encoding.
  if (key.is<msgpack::Bin>())
    return from_raw_key(key.as<msgpack::Bin>().data);
  const Bytes packed = msgpack::pack(key);
  return from_raw_key(packed);
}

DHTID DHTID::from_raw_key(BytesView key) {
  return DHTID(sha1(key));
}

DHTID DHTID::random() {
  // hivemind hashes 255 random bytes (§6 quirk 8); a uniform 160-bit value is equivalent.
  // sodium_init() is idempotent; the function-local static makes the first call thread-safe.
  static const bool sodium_ready = sodium_init() >= 0;
  HM_CHECK(sodium_ready, "libsodium failed to initialise");
  Raw raw{};
  randombytes_buf(raw.data(), raw.size());
  return DHTID(raw);
}

DHTID DHTID::random_with_prefix(const DHTID& prefix, std::size_t prefix_bits) {
  HM_CHECK(prefix_bits <= kBits, "prefix_bits must be at most 160");
  Raw raw = random().raw_;
  const std::size_t full = prefix_bits / 8;
  for (std::size_t i = 0; i < full; ++i)
    raw[i] = prefix.raw_[i];
  if (const std::size_t partial = prefix_bits % 8; partial != 0) {
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - partial));
    raw[full] = static_cast<std::uint8_t>((prefix.raw_[full] & mask) | (raw[full] & ~mask));
  }
  return DHTID(raw);
}

Result<DHTID> DHTID::from_bytes(BytesView bytes) {
  if (bytes.size() != kBytes) {
    return Err(DhtErrc::kMalformedValue,
               "DHTID must be 20 bytes, got " + std::to_string(bytes.size()));
  }
  Raw raw{};
  std::copy(bytes.begin(), bytes.end(), raw.begin());
  return DHTID(raw);
}

std::string DHTID::to_hex() const {
  return hivemind::to_hex(raw_);
}

std::size_t DHTID::common_prefix_length(const DHTID& other) const noexcept {
  for (std::size_t i = 0; i < kBytes; ++i) {
    const auto x = static_cast<std::uint8_t>(raw_[i] ^ other.raw_[i]);
    if (x != 0)
      return i * 8 + static_cast<std::size_t>(std::countl_zero(x));
  }
  return kBits;
}

bool DHTID::bit(std::size_t index) const noexcept {
  if (index >= kBits)
    return false;
  return ((raw_[index / 8] >> (7 - index % 8)) & 1) != 0;
}

}  // namespace hivemind::dht

std::size_t std::hash<hivemind::dht::DHTID>::operator()(
    const hivemind::dht::DHTID& id) const noexcept {
  static const auto key = [] {
    std::array<unsigned char, crypto_shorthash_KEYBYTES> k{};
    if (sodium_init() >= 0)
      randombytes_buf(k.data(), k.size());
    return k;
  }();
  std::array<unsigned char, crypto_shorthash_BYTES> out{};
  crypto_shorthash(out.data(), id.raw().data(), id.raw().size(), key.data());
  std::size_t h = 0;
  std::memcpy(&h, out.data(), sizeof(h));
  return h;
}
