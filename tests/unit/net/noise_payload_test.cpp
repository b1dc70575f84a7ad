// The libp2p handshake payload (identity key + signature over the Noise static key), checked
// against payloads built here from the spec's description by a raw Noise XX peer.

#include <gtest/gtest.h>

#include "hivemind/net/error.hpp"
#include "hivemind/net/noise.hpp"
#include "hivemind_proto/noise.pb.h"

namespace hivemind::net {
namespace {

X25519Key random_key(std::uint8_t seed) {
  X25519Key key{};
  for (std::size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<std::uint8_t>(seed + i * 7);
  return key;
}

/// "noise-libp2p-static-key:" || static key, as the spec defines the signed data.
Bytes signed_data(const X25519Key& static_public) {
  Bytes data = to_bytes("noise-libp2p-static-key:");
  data.insert(data.end(), static_public.begin(), static_public.end());
  return data;
}

Bytes payload(BytesView identity_key, BytesView signature, bool with_extensions = false) {
  proto::noise::NoiseHandshakePayload message;
  message.set_identity_key(std::string(as_chars(identity_key)));
  message.set_identity_sig(std::string(as_chars(signature)));
  if (with_extensions) {
    message.mutable_extensions()->add_stream_muxers("/yamux/1.0.0");
    message.mutable_extensions()->add_webtransport_certhashes("\x12\x20");
  }
  return to_bytes(message.SerializeAsString());
}

/// Runs an initiator NoiseHandshake against a raw responder sending `responder_payload` (built
/// from the responder's static key) in message 2; returns the initiator's verdict.
template <typename MakePayload>
Result<void> initiator_reads(MakePayload make_payload, std::optional<PeerId> expected = {}) {
  NoiseHandshake initiator(NoiseHandshake::Role::kInitiator, KeyPair::generate(), expected);
  NoiseXXHandshake responder(NoiseRole::kResponder, random_key(1));
  auto m1 = initiator.write_message();
  EXPECT_TRUE(m1 && responder.read_message(*m1));
  auto m2 = responder.write_message(make_payload(responder.local_static()));
  EXPECT_TRUE(m2);
  return initiator.read_message(*m2);
}

TEST(NoisePayloadTest, AcceptsSpecPayloadWithExtensions) {
  const KeyPair identity = KeyPair::generate();
  auto read = initiator_reads(
      [&](const X25519Key& s) {
        return payload(identity.public_key().to_protobuf(), identity.sign(signed_data(s)), true);
      },
      identity.peer_id());
  EXPECT_TRUE(read) << read.error().message();
}

TEST(NoisePayloadTest, RejectsSignatureByAnotherKey) {
  const KeyPair claimed = KeyPair::generate();
  const KeyPair signer = KeyPair::generate();
  auto read = initiator_reads([&](const X25519Key& s) {
    return payload(claimed.public_key().to_protobuf(), signer.sign(signed_data(s)));
  });
  EXPECT_EQ(read.error(), NetErrc::kHandshakeFailed);
}

TEST(NoisePayloadTest, RejectsSignatureOverAnotherStaticKey) {
  const KeyPair identity = KeyPair::generate();
  auto read = initiator_reads([&](const X25519Key&) {
    return payload(identity.public_key().to_protobuf(), identity.sign(signed_data(random_key(5))));
  });
  EXPECT_EQ(read.error(), NetErrc::kHandshakeFailed);
}

TEST(NoisePayloadTest, RejectsSignatureWithoutThePrefix) {
  const KeyPair identity = KeyPair::generate();
  auto read = initiator_reads([&](const X25519Key& s) {
    return payload(identity.public_key().to_protobuf(), identity.sign(s));
  });
  EXPECT_EQ(read.error(), NetErrc::kHandshakeFailed);
}

TEST(NoisePayloadTest, RejectsNonEd25519IdentityKeys) {
  // libp2p/specs peer-ids test vector (secp256k1 public key).
  const Bytes secp256k1 =
      *from_hex("08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99");
  auto read = initiator_reads([&](const X25519Key&) { return payload(secp256k1, Bytes(64, 1)); });
  EXPECT_EQ(read.error(), NetErrc::kUnsupportedKeyType);
}

TEST(NoisePayloadTest, RejectsMalformedPayloads) {
  EXPECT_EQ(initiator_reads([](const X25519Key&) {
              return Bytes{0xff, 0xff};
            }).error(),
            NetErrc::kMalformedMessage);
  EXPECT_EQ(initiator_reads([](const X25519Key&) { return Bytes{}; }).error(),
            NetErrc::kMalformedKey);
  EXPECT_EQ(initiator_reads([](const X25519Key&) {
              return payload(Bytes{0x08, 0x01}, {});
            }).error(),
            NetErrc::kMalformedKey);
}

TEST(NoisePayloadTest, ResponderRejectsForgedInitiatorPayload) {
  const KeyPair claimed = KeyPair::generate();
  const KeyPair signer = KeyPair::generate();
  NoiseXXHandshake initiator(NoiseRole::kInitiator, random_key(3));
  NoiseHandshake responder(NoiseHandshake::Role::kResponder, KeyPair::generate());
  auto m1 = initiator.write_message({});
  ASSERT_TRUE(m1 && responder.read_message(*m1));
  auto m2 = responder.write_message();
  ASSERT_TRUE(m2 && initiator.read_message(*m2));
  auto m3 = initiator.write_message(payload(claimed.public_key().to_protobuf(),
                                            signer.sign(signed_data(initiator.local_static()))));
  ASSERT_TRUE(m3);
  EXPECT_EQ(responder.read_message(*m3).error(), NetErrc::kHandshakeFailed);
  EXPECT_FALSE(responder.complete());
  EXPECT_EQ(std::move(responder).into_transport().error(), NetErrc::kProtocolViolation);
}

TEST(NoisePayloadTest, ResponderIgnoresPayloadInFirstMessage) {
  NoiseXXHandshake initiator(NoiseRole::kInitiator, random_key(3));
  NoiseHandshake responder(NoiseHandshake::Role::kResponder, KeyPair::generate());
  auto m1 = initiator.write_message(to_bytes("early"));
  ASSERT_TRUE(m1);
  EXPECT_TRUE(responder.read_message(*m1));
  auto m2 = responder.write_message();
  ASSERT_TRUE(m2);
  EXPECT_TRUE(initiator.read_message(*m2));  // the payload is bound into both hashes
}

}  // namespace
}  // namespace hivemind::net
