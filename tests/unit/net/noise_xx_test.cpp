#include "hivemind/net/noise_xx.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

X25519Key key(const char* hex) {
  X25519Key k{};
  const Bytes bytes = *from_hex(hex);
  std::copy(bytes.begin(), bytes.end(), k.begin());
  return k;
}

struct Message {
  const char* payload;
  const char* ciphertext;
};

// Known-answer vector "Noise_XX_25519_ChaChaPoly_SHA256" from the cacophony test vectors
// (haskell-cryptography/cacophony vectors/cacophony.txt, also shipped by mcginty/snow as
// tests/vectors/cacophony.txt). Messages 0-2 are the handshake, 3-5 transport messages;
// even-numbered messages go from initiator to responder.
constexpr const char* kPrologue = "4a6f686e2047616c74";  // "John Galt"
constexpr const char* kInitStatic =
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
constexpr const char* kInitEphemeral =
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
constexpr const char* kRespStatic =
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
constexpr const char* kRespEphemeral =
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
constexpr const char* kHandshakeHash =
    "c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e";
constexpr Message kMessages[] = {
    {"4c756477696720766f6e204d69736573",
     "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69"
     "736573"},
    {"4d757272617920526f746862617264",
     "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2"
     "b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c"
     "412f8a0db50f8814c7194e83f23dbd8d162c9326ad"},
    {"462e20412e20486179656b",
     "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be08"
     "65b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030"},
    {"4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"},
    {"4a65616e2d426170746973746520536179",
     "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5"},
    {"457567656e2042f6686d20766f6e2042617765726b",
     "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f"},
};

TEST(NoiseXXTest, CacophonyKnownAnswer) {
  const Bytes prologue = *from_hex(kPrologue);
  NoiseXXHandshake initiator(
      NoiseRole::kInitiator, key(kInitStatic), prologue, key(kInitEphemeral));
  NoiseXXHandshake responder(
      NoiseRole::kResponder, key(kRespStatic), prologue, key(kRespEphemeral));
  for (int i = 0; i < 3; ++i) {
    NoiseXXHandshake& writer = i % 2 == 0 ? initiator : responder;
    NoiseXXHandshake& reader = i % 2 == 0 ? responder : initiator;
    auto message = writer.write_message(*from_hex(kMessages[i].payload));
    ASSERT_TRUE(message) << i;
    EXPECT_EQ(to_hex(*message), kMessages[i].ciphertext) << "message " << i;
    auto payload = reader.read_message(*message);
    ASSERT_TRUE(payload) << i;
    EXPECT_EQ(to_hex(*payload), kMessages[i].payload);
  }
  ASSERT_TRUE(initiator.complete());
  ASSERT_TRUE(responder.complete());
  EXPECT_EQ(to_hex(initiator.handshake_hash()), kHandshakeHash);
  EXPECT_EQ(to_hex(responder.handshake_hash()), kHandshakeHash);
  EXPECT_EQ(initiator.remote_static(), responder.local_static());
  EXPECT_EQ(responder.remote_static(), initiator.local_static());

  NoiseCipherPair init_ciphers = initiator.split();
  NoiseCipherPair resp_ciphers = responder.split();
  for (int i = 3; i < 6; ++i) {
    NoiseCipherState& send = i % 2 == 0 ? init_ciphers.send : resp_ciphers.send;
    NoiseCipherState& recv = i % 2 == 0 ? resp_ciphers.recv : init_ciphers.recv;
    Bytes data = *from_hex(kMessages[i].payload);
    const std::size_t size = data.size();
    data.resize(size + NoiseCipherState::kTagSize);
    ASSERT_TRUE(send.encrypt({}, data.data(), size, data.data() + size));
    EXPECT_EQ(to_hex(data), kMessages[i].ciphertext) << "message " << i;
    ASSERT_TRUE(recv.decrypt({}, data.data(), size, data.data() + size));
    EXPECT_EQ(to_hex(BytesView(data).first(size)), kMessages[i].payload);
  }
}

TEST(NoiseXXTest, PrologueMismatchFailsTheHandshake) {
  NoiseXXHandshake initiator(NoiseRole::kInitiator, key(kInitStatic), to_bytes("a"));
  NoiseXXHandshake responder(NoiseRole::kResponder, key(kRespStatic), to_bytes("b"));
  ASSERT_TRUE(responder.read_message(*initiator.write_message({})));
  auto read = initiator.read_message(*responder.write_message({}));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), NetErrc::kHandshakeFailed);
  EXPECT_TRUE(initiator.failed());
  EXPECT_EQ(initiator.write_message({}).error(), NetErrc::kProtocolViolation);
}

TEST(NoiseXXTest, PayloadsUpToTheMessageLimit) {
  NoiseXXHandshake initiator(NoiseRole::kInitiator, key(kInitStatic));
  NoiseXXHandshake responder(NoiseRole::kResponder, key(kRespStatic));
  EXPECT_EQ(initiator.write_message(Bytes(65535 - 32 + 1)).error(), NetErrc::kProtocolViolation);
  auto m1 = initiator.write_message(Bytes(65535 - 32, 7));
  ASSERT_TRUE(m1);
  EXPECT_EQ(m1->size(), 65535u);
  ASSERT_TRUE(responder.read_message(*m1));
  EXPECT_EQ(responder.write_message(Bytes(65535 - 96 + 1)).error(), NetErrc::kProtocolViolation);
  auto m2 = responder.write_message(Bytes(65535 - 96, 8));
  ASSERT_TRUE(m2);
  EXPECT_EQ(m2->size(), 65535u);
  auto payload = initiator.read_message(*m2);
  ASSERT_TRUE(payload);
  EXPECT_EQ(*payload, Bytes(65535 - 96, 8));
}

TEST(NoiseXXTest, CipherStateNonceExhaustion) {
  const std::array<std::uint8_t, 32> k{1, 2, 3};
  NoiseCipherState send(k);
  NoiseCipherState recv(k);
  send.set_nonce(NoiseCipherState::kMaxNonce - 1);
  recv.set_nonce(NoiseCipherState::kMaxNonce - 1);
  std::array<std::uint8_t, 4> data{1, 2, 3, 4};
  std::array<std::uint8_t, 16> tag{};
  ASSERT_TRUE(send.encrypt({}, data.data(), data.size(), tag.data()));
  ASSERT_TRUE(recv.decrypt({}, data.data(), data.size(), tag.data()));
  EXPECT_EQ(data, (std::array<std::uint8_t, 4>{1, 2, 3, 4}));
  EXPECT_EQ(send.nonce(), NoiseCipherState::kMaxNonce);
  EXPECT_EQ(send.encrypt({}, data.data(), data.size(), tag.data()).error(),
            NetErrc::kProtocolViolation);
  EXPECT_EQ(recv.decrypt({}, data.data(), data.size(), tag.data()).error(),
            NetErrc::kProtocolViolation);
}

TEST(NoiseXXTest, BadTagWipesDataAndKeepsNonce) {
  const std::array<std::uint8_t, 32> k{9};
  NoiseCipherState send(k);
  NoiseCipherState recv(k);
  Bytes data = to_bytes("attack at dawn");
  std::array<std::uint8_t, 16> tag{};
  ASSERT_TRUE(send.encrypt(to_bytes("ad"), data.data(), data.size(), tag.data()));
  const Bytes ciphertext = data;
  EXPECT_EQ(recv.decrypt(to_bytes("AD"), data.data(), data.size(), tag.data()).error(),
            NetErrc::kHandshakeFailed);
  EXPECT_EQ(data, Bytes(data.size(), 0));
  EXPECT_EQ(recv.nonce(), 0u);
  data = ciphertext;
  ASSERT_TRUE(recv.decrypt(to_bytes("ad"), data.data(), data.size(), tag.data()));
  EXPECT_EQ(as_chars(data), "attack at dawn");
}

}  // namespace
}  // namespace hivemind::net
