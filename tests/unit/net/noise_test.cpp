#include "hivemind/net/noise.hpp"

#include <gtest/gtest.h>

#include "hivemind/net/error.hpp"
#include "unit/net/noise_test_util.hpp"

namespace hivemind::net {
namespace {

TEST(NoiseTest, HandshakeAuthenticatesBothSidesAndCarriesDataBothWays) {
  const KeyPair a = KeyPair::generate();
  const KeyPair b = KeyPair::generate();
  NoisePair pair = noise_handshake(a, b);
  EXPECT_EQ(pair.initiator.remote_peer(), b.peer_id());
  EXPECT_EQ(pair.responder.remote_peer(), a.peer_id());
  EXPECT_EQ(pair.initiator.remote_key(), b.public_key());
  EXPECT_EQ(pair.responder.remote_key(), a.public_key());

  for (int round = 0; round < 3; ++round) {
    const Bytes ping = to_bytes("ping " + std::to_string(round));
    Bytes wire;
    pair.initiator.seal(ping, wire);
    Bytes received;
    ASSERT_TRUE(pair.responder.open(wire, received));
    EXPECT_EQ(received, ping);

    const Bytes pong = to_bytes("pong " + std::to_string(round));
    wire.clear();
    pair.responder.seal(pong, wire);
    received.clear();
    ASSERT_TRUE(pair.initiator.open(wire, received));
    EXPECT_EQ(received, pong);
  }
}

TEST(NoiseTest, MessageSizesFollowTheXXPattern) {
  NoiseHandshake initiator(NoiseHandshake::Role::kInitiator, KeyPair::generate());
  NoiseHandshake responder(NoiseHandshake::Role::kResponder, KeyPair::generate());
  auto m1 = initiator.write_message();
  ASSERT_TRUE(m1);
  EXPECT_EQ(m1->size(), 32u);  // e, no payload
  ASSERT_TRUE(responder.read_message(*m1));
  auto m2 = responder.write_message();
  ASSERT_TRUE(m2);
  // e (32) + encrypted s (48) + payload: key protobuf 36 + signature 64 + 4 bytes of tags and
  // lengths + 16-byte tag.
  EXPECT_EQ(m2->size(), 32u + 48u + 104u + 16u);
  ASSERT_TRUE(initiator.read_message(*m2));
  auto m3 = initiator.write_message();
  ASSERT_TRUE(m3);
  EXPECT_EQ(m3->size(), 48u + 104u + 16u);
}

TEST(NoiseTest, InitiatorRejectsUnexpectedResponder) {
  const KeyPair b = KeyPair::generate();
  NoiseHandshake initiator(
      NoiseHandshake::Role::kInitiator, KeyPair::generate(), KeyPair::generate().peer_id());
  NoiseHandshake responder(NoiseHandshake::Role::kResponder, b);
  auto m1 = initiator.write_message();
  ASSERT_TRUE(responder.read_message(*m1));
  auto m2 = responder.write_message();
  auto read = initiator.read_message(*m2);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), NetErrc::kPeerIdMismatch);
  EXPECT_FALSE(initiator.complete());
  EXPECT_EQ(initiator.write_message().error(), NetErrc::kProtocolViolation);
  EXPECT_EQ(std::move(initiator).into_transport().error(), NetErrc::kProtocolViolation);
}

TEST(NoiseTest, ResponderChecksExpectedInitiatorToo) {
  NoiseHandshake initiator(NoiseHandshake::Role::kInitiator, KeyPair::generate());
  NoiseHandshake responder(
      NoiseHandshake::Role::kResponder, KeyPair::generate(), KeyPair::generate().peer_id());
  ASSERT_TRUE(responder.read_message(*initiator.write_message()));
  ASSERT_TRUE(initiator.read_message(*responder.write_message()));
  EXPECT_EQ(responder.read_message(*initiator.write_message()).error(), NetErrc::kPeerIdMismatch);
}

TEST(NoiseTest, OutOfOrderCallsAreProtocolViolations) {
  const KeyPair a = KeyPair::generate();
  const KeyPair b = KeyPair::generate();
  NoiseHandshake initiator(NoiseHandshake::Role::kInitiator, a);
  NoiseHandshake responder(NoiseHandshake::Role::kResponder, b);
  EXPECT_EQ(initiator.read_message(Bytes(32, 9)).error(), NetErrc::kProtocolViolation);
  EXPECT_EQ(responder.write_message().error(), NetErrc::kProtocolViolation);
  EXPECT_EQ(NoiseHandshake(NoiseHandshake::Role::kResponder, b).into_transport().error(),
            NetErrc::kProtocolViolation);
  // Out-of-order calls do not disturb a handshake that then proceeds in order.
  auto m1 = initiator.write_message();
  ASSERT_TRUE(m1);
  EXPECT_EQ(initiator.write_message().error(), NetErrc::kProtocolViolation);
  ASSERT_TRUE(responder.read_message(*m1));
  EXPECT_EQ(responder.read_message(*m1).error(), NetErrc::kProtocolViolation);
  auto m2 = responder.write_message();
  ASSERT_TRUE(m2);
  ASSERT_TRUE(initiator.read_message(*m2));
  auto m3 = initiator.write_message();
  ASSERT_TRUE(m3);
  ASSERT_TRUE(responder.read_message(*m3));
  EXPECT_TRUE(initiator.complete());
  EXPECT_TRUE(responder.complete());
  EXPECT_EQ(initiator.write_message().error(), NetErrc::kProtocolViolation);
  EXPECT_EQ(initiator.read_message(*m2).error(), NetErrc::kProtocolViolation);
  EXPECT_EQ(responder.read_message(*m3).error(), NetErrc::kProtocolViolation);
}

TEST(NoiseTest, BitFlipInAnyHandshakeMessageFailsTheHandshake) {
  const KeyPair a = KeyPair::generate();
  const KeyPair b = KeyPair::generate();
  for (int target = 0; target < 3; ++target) {
    for (std::size_t bit : {0u, 7u, 100u, 255u, 300u, 700u, 1000u, 1300u}) {
      NoiseHandshake initiator(NoiseHandshake::Role::kInitiator, a, b.peer_id());
      NoiseHandshake responder(NoiseHandshake::Role::kResponder, b);
      bool failed = false;
      auto step = [&](NoiseHandshake& from, NoiseHandshake& to, int index) {
        if (failed)
          return;
        auto message = from.write_message();
        if (!message) {
          failed = true;
          return;
        }
        if (index == target)
          (*message)[(bit / 8) % message->size()] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        if (!to.read_message(*message))
          failed = true;
      };
      step(initiator, responder, 0);
      step(responder, initiator, 1);
      step(initiator, responder, 2);
      EXPECT_TRUE(failed) << "message " << target << " bit " << bit;
      EXPECT_FALSE(initiator.complete() && responder.complete());
    }
  }
}

TEST(NoiseTest, TruncatedAndOversizedMessagesAreRejected) {
  const KeyPair a = KeyPair::generate();
  const KeyPair b = KeyPair::generate();
  NoiseHandshake initiator(NoiseHandshake::Role::kInitiator, a);
  auto m1 = initiator.write_message();
  {
    NoiseHandshake responder(NoiseHandshake::Role::kResponder, b);
    EXPECT_EQ(responder.read_message(BytesView(*m1).first(31)).error(), NetErrc::kMalformedMessage);
    EXPECT_EQ(responder.read_message(*m1).error(), NetErrc::kProtocolViolation);  // failed
  }
  {
    NoiseHandshake responder(NoiseHandshake::Role::kResponder, b);
    EXPECT_EQ(responder.read_message(Bytes(65536, 1)).error(), NetErrc::kMalformedMessage);
  }
  NoiseHandshake responder(NoiseHandshake::Role::kResponder, b);
  ASSERT_TRUE(responder.read_message(*m1));
  auto m2 = responder.write_message();
  for (std::size_t size : {0u, 31u, 32u, 95u, 96u}) {
    NoiseHandshake fresh(NoiseHandshake::Role::kInitiator, a);
    ASSERT_TRUE(fresh.write_message());
    auto read = fresh.read_message(BytesView(*m2).first(size));
    ASSERT_FALSE(read) << size;
  }
}

TEST(NoiseTest, LowOrderEphemeralKeyIsRejected) {
  NoiseHandshake responder(NoiseHandshake::Role::kResponder, KeyPair::generate());
  ASSERT_TRUE(responder.read_message(Bytes(32, 0)));  // the identity point: DH output is zero
  EXPECT_EQ(responder.write_message().error(), NetErrc::kHandshakeFailed);
}

}  // namespace
}  // namespace hivemind::net
