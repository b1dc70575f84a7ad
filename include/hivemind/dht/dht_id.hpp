#pragma once
/// \file
/// 160-bit DHT identifiers (hivemind's `DHTID`): SHA-1 of the msgpack-serialized key (raw bytes are
/// hashed as they are), node ids, XOR distance. Value type; no I/O; callable from any thread.

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht {

/// SHA-1 (FIPS 180-4) of `data`. Only for DHT ids, as hivemind uses it; not for security.
std::array<std::uint8_t, 20> sha1(BytesView data);

/// A 160-bit id, stored big-endian (byte 0 holds the most significant bits). Ordered as the
/// unsigned integer it represents.
class DHTID {
 public:
  static constexpr std::size_t kBytes = 20;
  static constexpr std::size_t kBits = 160;
  using Raw = std::array<std::uint8_t, kBytes>;

  /// The zero id.
  DHTID() = default;

  explicit DHTID(const Raw& raw) : raw_(raw) {}

  /// hivemind's `DHTID.generate(source)`: SHA-1 of `msgpack(key)`, except that a `Bin` key is
  /// hashed as its raw bytes.
  static DHTID from_key(const msgpack::Value& key);
  /// SHA-1 of raw bytes (a `bytes` key in hivemind).
  static DHTID from_raw_key(BytesView key);
  /// A uniformly random id (libsodium randombytes).
  static DHTID random();
  /// A uniformly random id whose first `prefix_bits` bits equal those of `prefix` (for bucket
  /// refresh).
  static DHTID random_with_prefix(const DHTID& prefix, std::size_t prefix_bits);
  /// Parses the 20-byte big-endian form (`DHTID.to_bytes()`); kMalformedValue on other lengths.
  static Result<DHTID> from_bytes(BytesView bytes);

  const Raw& raw() const noexcept { return raw_; }

  Bytes to_bytes() const { return Bytes(raw_.begin(), raw_.end()); }

  std::string to_hex() const;

  /// XOR distance, itself an id-sized integer. Inline: the DHT's hot loops call it per neighbour.
  DHTID distance(const DHTID& other) const noexcept {
    DHTID out;
    for (std::size_t i = 0; i < kBytes; ++i)
      out.raw_[i] = static_cast<std::uint8_t>(raw_[i] ^ other.raw_[i]);
    return out;
  }

  /// Number of leading bits `*this` and `other` share (160 when equal).
  std::size_t common_prefix_length(const DHTID& other) const noexcept;
  /// Bit `index` counted from the most significant (0) to the least significant (159).
  bool bit(std::size_t index) const noexcept;

  /// Equality and order as unsigned integers, compared a 64-bit word at a time (ids are uniform,
  /// so the first word almost always decides).
  friend bool operator==(const DHTID& a, const DHTID& b) noexcept {
    return std::memcmp(a.raw_.data(), b.raw_.data(), kBytes) == 0;
  }

  friend std::strong_ordering operator<=>(const DHTID& a, const DHTID& b) noexcept {
    for (std::size_t offset = 0; offset < 16; offset += 8) {
      const std::uint64_t x = a.word<std::uint64_t>(offset), y = b.word<std::uint64_t>(offset);
      if (x != y)
        return x <=> y;
    }
    return a.word<std::uint32_t>(16) <=> b.word<std::uint32_t>(16);
  }

 private:
  /// The big-endian word of type `Word` (std::uint32_t or std::uint64_t) at byte `offset`.
  template <typename Word>
  Word word(std::size_t offset) const noexcept {
    Word value;
    std::memcpy(&value, raw_.data() + offset, sizeof(value));
    if constexpr (std::endian::native == std::endian::little) {
      if constexpr (sizeof(Word) == 8)
        value = __builtin_bswap64(value);
      else
        value = __builtin_bswap32(value);
    }
    return value;
  }

  Raw raw_{};
};

}  // namespace hivemind::dht

template <>
struct std::hash<hivemind::dht::DHTID> {
  /// Keyed (SipHash with a per-process random key): ids come from the network, so an unkeyed hash
  /// would let a peer pick colliding ids and slow our hash tables down.
  std::size_t operator()(const hivemind::dht::DHTID& id) const noexcept;
};
