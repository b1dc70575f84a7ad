// SHA-1 as specified by FIPS 180-4 §6.1 (hivemind hashes DHT keys with hashlib.sha1; libsodium has
// no SHA-1). A straightforward one-shot implementation: DHT keys are small, speed is not a goal.
#include <array>
#include <cstdint>
#include <cstring>

#include "hivemind/dht/dht_id.hpp"

namespace hivemind::dht {
namespace {

constexpr std::uint32_t rotl(std::uint32_t x, int n) noexcept {
  return (x << n) | (x >> (32 - n));
}

/// Processes one 64-byte block (FIPS 180-4 §6.1.2 steps 1-4).
void compress(std::array<std::uint32_t, 5>& h, const std::uint8_t* block) noexcept {
  std::array<std::uint32_t, 80> w{};
  for (std::size_t t = 0; t < 16; ++t)
    w[t] = load_be<std::uint32_t>(block + 4 * t);
  for (int t = 16; t < 80; ++t)
    w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int t = 0; t < 80; ++t) {
    std::uint32_t f = 0;
    std::uint32_t k = 0;
    if (t < 20) {
      f = (b & c) | (~b & d);  // Ch
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;  // Parity
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);  // Maj
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;  // Parity
      k = 0xca62c1d6;
    }
    const std::uint32_t temp = rotl(a, 5) + f + e + k + w[t];
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = temp;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

}  // namespace

std::array<std::uint8_t, 20> sha1(BytesView data) {
  std::array<std::uint32_t, 5> h = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
  std::size_t offset = 0;
  for (; data.size() - offset >= 64; offset += 64)
    compress(h, data.data() + offset);

  // Padding (§5.1.1): 0x80, zeros, then the message length in bits as a 64-bit big-endian
  // integer; one or two final blocks.
  std::array<std::uint8_t, 128> tail{};
  const std::size_t rest = data.size() - offset;
  if (rest > 0)
    std::memcpy(tail.data(), data.data() + offset, rest);
  tail[rest] = 0x80;
  const std::size_t tail_len = rest < 56 ? 64 : 128;
  store_be<std::uint64_t>(tail.data() + tail_len - 8, static_cast<std::uint64_t>(data.size()) * 8);
  for (std::size_t i = 0; i < tail_len; i += 64)
    compress(h, tail.data() + i);

  std::array<std::uint8_t, 20> digest{};
  for (std::size_t i = 0; i < 5; ++i)
    store_be<std::uint32_t>(digest.data() + 4 * i, h[i]);
  return digest;
}

}  // namespace hivemind::dht
