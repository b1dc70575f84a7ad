#include "hivemind/net/peer_id.hpp"

#include <array>
#include <unordered_set>

#include <gtest/gtest.h>

#include "hivemind/net/error.hpp"
#include "hivemind/net/identity.hpp"

namespace hivemind::net {
namespace {

// libp2p/specs peer-ids/peer-ids.md "Test vectors" (public key protobufs).
constexpr const char* kEd25519Public =
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
constexpr const char* kSecp256k1Public =
    "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";
constexpr const char* kEcdsaPublic =
    "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83ab"
    "ab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c"
    "409e62";

PublicKey key_from_hex(const char* hex) {
  auto key = PublicKey::from_protobuf(*from_hex(hex));
  EXPECT_TRUE(key) << hex;
  return *key;
}

TEST(PeerIdTest, Ed25519SeedOfOnesGivesKnownId) {
  std::array<std::uint8_t, 32> seed;
  seed.fill(0x01);
  const PeerId id = KeyPair::from_seed(seed).peer_id();
  EXPECT_EQ(id.to_string(), "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");
}

TEST(PeerIdTest, Ed25519KeyUsesIdentityMultihash) {
  const PublicKey key = key_from_hex(kEd25519Public);
  const PeerId id = PeerId::from_public_key(key);
  EXPECT_EQ(to_hex(id.bytes()), std::string("0024") + kEd25519Public);
  EXPECT_EQ(id.to_string().substr(0, 8), "12D3KooW");
  ASSERT_TRUE(id.public_key().has_value());
  EXPECT_EQ(*id.public_key(), key);
}

TEST(PeerIdTest, Secp256k1KeyUsesIdentityMultihash) {
  const PeerId id = PeerId::from_public_key(key_from_hex(kSecp256k1Public));
  EXPECT_EQ(to_hex(id.bytes()), std::string("0025") + kSecp256k1Public);
  EXPECT_EQ(id.to_string().substr(0, 9), "16Uiu2HAm");
  ASSERT_TRUE(id.public_key().has_value());
  EXPECT_EQ(id.public_key()->type(), KeyType::kSecp256k1);
}

TEST(PeerIdTest, LongKeyUsesSha256Multihash) {
  const PublicKey key = key_from_hex(kEcdsaPublic);
  ASSERT_EQ(key.to_protobuf().size(), 95u);
  const PeerId id = PeerId::from_public_key(key);
  ASSERT_EQ(id.bytes().size(), 34u);
  EXPECT_EQ(id.bytes()[0], 0x12);
  EXPECT_EQ(id.bytes()[1], 0x20);
  EXPECT_EQ(id.to_string().substr(0, 2), "Qm");
  EXPECT_FALSE(id.public_key().has_value());
}

TEST(PeerIdTest, ParsesSpecExampleSha256Id) {
  constexpr std::string_view kText = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
  auto id = PeerId::from_string(kText);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->bytes().size(), 34u);
  EXPECT_EQ(id->to_string(), kText);
  EXPECT_FALSE(id->public_key().has_value());
}

TEST(PeerIdTest, StringRoundTrip) {
  const PeerId id = KeyPair::generate().peer_id();
  auto parsed = PeerId::from_string(id.to_string());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, id);
}

TEST(PeerIdTest, RejectsMalformedMultihashes) {
  const Bytes good = *from_hex(std::string("0024") + kEd25519Public);
  ASSERT_TRUE(PeerId::from_bytes(good));
  std::vector<Bytes> bad = {
      {},
      {0x00},
      {0x00, 0x00},              // empty identity digest
      {0x00, 0x02, 0x01},        // length says 2, one byte follows
      {0x12, 0x20, 0x01},        // sha256 truncated
      {0x11, 0x01, 0x01},        // sha1 is not a peer id hash
      {0x80, 0x01, 0x01, 0x01},  // multi-byte varint code
  };
  Bytes trailing = good;
  trailing.push_back(0);
  bad.push_back(trailing);
  Bytes long_identity = {0x00, 43};
  long_identity.resize(45, 0x08);
  bad.push_back(long_identity);
  Bytes sha_wrong_length = {0x12, 0x1f};
  sha_wrong_length.resize(33, 0xaa);
  bad.push_back(sha_wrong_length);
  for (const auto& bytes : bad) {
    auto id = PeerId::from_bytes(bytes);
    ASSERT_FALSE(id) << to_hex(bytes);
    EXPECT_EQ(id.error(), NetErrc::kMalformedPeerId);
  }
}

TEST(PeerIdTest, RejectsMalformedText) {
  for (const char* text : {"",
                           "12D3KooW0",
                           "Qm",
                           "2g",
                           "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"}) {
    auto id = PeerId::from_string(text);
    ASSERT_FALSE(id) << text;
    EXPECT_EQ(id.error(), NetErrc::kMalformedPeerId);
  }
}

TEST(PeerIdTest, IdentityDigestThatIsNotAKeyHasNoPublicKey) {
  auto id = PeerId::from_bytes(Bytes{0x00, 0x03, 0x01, 0x02, 0x03});
  ASSERT_TRUE(id);
  EXPECT_FALSE(id->public_key().has_value());
}

TEST(PeerIdTest, OrderedAndHashable) {
  const PeerId a = KeyPair::generate().peer_id();
  const PeerId b = KeyPair::generate().peer_id();
  ASSERT_NE(a, b);
  EXPECT_EQ(a < b, a.bytes() < b.bytes());
  std::unordered_set<PeerId> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace hivemind::net
