// The Noise transport's AEAD (OpenSSL) against RFC 8439's test vector and against libsodium's
// implementation of the same construction.

#include "chacha20_poly1305.hpp"

#include <array>
#include <random>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>

#include "hivemind/core/bytes.hpp"

namespace hivemind::net::detail {
namespace {

using Key = std::array<std::uint8_t, kAeadKeySize>;
using Nonce = std::array<std::uint8_t, kAeadNonceSize>;
using Tag = std::array<std::uint8_t, kAeadTagSize>;

Bytes random_bytes(std::mt19937& rng, std::size_t n) {
  Bytes out(n);
  for (auto& b : out)
    b = static_cast<std::uint8_t>(rng());
  return out;
}

TEST(ChaCha20Poly1305Test, Rfc8439AeadVector) {  // RFC 8439 section 2.8.2
  Key key{};
  for (std::size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<std::uint8_t>(0x80 + i);
  const Nonce nonce{0x07, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47};
  const Bytes ad = *from_hex("50515253c0c1c2c3c4c5c6c7");
  const std::string_view text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  Bytes data(text.begin(), text.end());
  Tag tag{};
  ASSERT_TRUE(aead_seal(key, nonce, ad, data.data(), data.data(), data.size(), tag.data()));
  EXPECT_EQ(to_hex(data),
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fa"
            "fb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4"
            "fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116");
  EXPECT_EQ(to_hex(tag), "1ae10b594f09e26a7e902ecbd0600691");
  ASSERT_TRUE(aead_open(key, nonce, ad, data.data(), data.data(), data.size(), tag.data()));
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), text);
}

TEST(ChaCha20Poly1305Test, EqualsLibsodiumInPlaceAndOutOfPlace) {
  ASSERT_GE(sodium_init(), 0);
  std::mt19937 rng(7);
  for (const std::size_t size : {0, 1, 15, 16, 17, 63, 64, 65, 255, 1000, 65535, 1 << 20}) {
    const Bytes key_bytes = random_bytes(rng, kAeadKeySize);
    const Bytes nonce_bytes = random_bytes(rng, kAeadNonceSize);
    Key key{};
    Nonce nonce{};
    std::copy(key_bytes.begin(), key_bytes.end(), key.begin());
    std::copy(nonce_bytes.begin(), nonce_bytes.end(), nonce.begin());
    const Bytes ad = random_bytes(rng, size % 40);
    const Bytes plain = random_bytes(rng, size);

    Bytes expected(size + 1);  // +1: libsodium wants a non-null buffer even for 0 bytes
    Tag expected_tag{};
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(expected.data(),
                                                       expected_tag.data(),
                                                       nullptr,
                                                       plain.data(),
                                                       size,
                                                       ad.data(),
                                                       ad.size(),
                                                       nullptr,
                                                       nonce.data(),
                                                       key.data());
    expected.resize(size);

    Bytes out(size + 1);
    Tag tag{};
    ASSERT_TRUE(aead_seal(key, nonce, ad, plain.data(), out.data(), size, tag.data()));
    out.resize(size);
    EXPECT_EQ(out, expected) << size;
    EXPECT_EQ(tag, expected_tag) << size;

    Bytes in_place = plain;
    in_place.push_back(0);
    ASSERT_TRUE(aead_seal(key, nonce, ad, in_place.data(), in_place.data(), size, tag.data()));
    in_place.resize(size);
    EXPECT_EQ(in_place, expected) << size;

    Bytes opened(size + 1);
    ASSERT_TRUE(aead_open(key, nonce, ad, expected.data(), opened.data(), size, tag.data()));
    opened.resize(size);
    EXPECT_EQ(opened, plain) << size;
  }
}

TEST(ChaCha20Poly1305Test, GatheredPartsSealLikeTheirConcatenation) {
  std::mt19937 rng(13);
  const Key key{5, 6, 7};
  const Nonce nonce{1, 2};
  const Bytes ad = random_bytes(rng, 9);
  // Splits inside and across the 64-byte ChaCha20 blocks, empty parts included.
  const std::vector<std::vector<std::size_t>> splits{
      {12, 65507}, {0, 100}, {100, 0}, {1, 1, 1, 61, 64, 3}, {63}, {12, 0, 5000, 7}};
  for (const auto& sizes : splits) {
    std::vector<Bytes> parts;
    Bytes whole;
    for (std::size_t size : sizes) {
      parts.push_back(random_bytes(rng, size));
      append(whole, parts.back());
    }
    std::vector<BytesView> views(parts.begin(), parts.end());
    Bytes gathered(whole.size());
    Tag gathered_tag{};
    ASSERT_TRUE(aead_seal_parts(key, nonce, ad, views, gathered.data(), gathered_tag.data()));
    Bytes sealed(whole.size());
    Tag tag{};
    ASSERT_TRUE(aead_seal(key, nonce, ad, whole.data(), sealed.data(), whole.size(), tag.data()));
    EXPECT_EQ(gathered, sealed) << sizes.size() << " parts";
    EXPECT_EQ(gathered_tag, tag);
    Bytes opened(whole.size());
    ASSERT_TRUE(aead_open(
        key, nonce, ad, gathered.data(), opened.data(), gathered.size(), gathered_tag.data()));
    EXPECT_EQ(opened, whole);
  }
}

TEST(ChaCha20Poly1305Test, TamperingFailsAndZeroesTheOutput) {
  std::mt19937 rng(11);
  const Key key{1, 2, 3};
  const Nonce nonce{9};
  const Bytes ad = random_bytes(rng, 5);
  const Bytes plain = random_bytes(rng, 4096);
  Bytes sealed = plain;
  Tag tag{};
  ASSERT_TRUE(aead_seal(key, nonce, ad, sealed.data(), sealed.data(), sealed.size(), tag.data()));

  const auto all_zero = [](const Bytes& b) {
    return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
  };
  Bytes flipped = sealed;
  flipped[1000] ^= 0x01;
  EXPECT_FALSE(
      aead_open(key, nonce, ad, flipped.data(), flipped.data(), flipped.size(), tag.data()));
  EXPECT_TRUE(all_zero(flipped));

  Tag bad_tag = tag;
  bad_tag[15] ^= 0x80;
  Bytes out(sealed.size(), 0xAA);
  EXPECT_FALSE(aead_open(key, nonce, ad, sealed.data(), out.data(), out.size(), bad_tag.data()));
  EXPECT_TRUE(all_zero(out));

  Bytes other_ad = ad;
  other_ad[0] ^= 0x01;
  Bytes copy = sealed;
  EXPECT_FALSE(aead_open(key, nonce, other_ad, copy.data(), copy.data(), copy.size(), tag.data()));
  const Nonce other_nonce{10};
  copy = sealed;
  EXPECT_FALSE(aead_open(key, other_nonce, ad, copy.data(), copy.data(), copy.size(), tag.data()));

  ASSERT_TRUE(aead_open(key, nonce, ad, sealed.data(), sealed.data(), sealed.size(), tag.data()));
  EXPECT_EQ(sealed, plain);
}

}  // namespace
}  // namespace hivemind::net::detail
