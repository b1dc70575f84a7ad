// noise-libp2p handshake (libp2p/specs noise/README.md) on top of the raw Noise XX state machine:
// payloads carry the identity key and its signature over the Noise static key; message 1 carries
// no payload; the responder authenticates in message 2, the initiator in message 3.

#include <sodium.h>

#include "hivemind/net/error.hpp"
#include "hivemind/net/noise.hpp"
#include "hivemind_proto/noise.pb.h"
#include "identity_codec.hpp"

namespace hivemind::net {
namespace {

X25519Key random_x25519_key() {
  detail::ensure_sodium();
  X25519Key key{};
  randombytes_buf(key.data(), key.size());
  return key;
}

Bytes signed_static_key(const X25519Key& static_public) {
  Bytes data = to_bytes(kNoiseStaticKeySignaturePrefix);
  append(data, static_public);
  return data;
}

}  // namespace

NoiseHandshake::NoiseHandshake(Role role,
                               const KeyPair& identity,
                               std::optional<PeerId> expected_remote)
    : NoiseHandshake(
        role, identity, std::move(expected_remote), random_x25519_key(), std::nullopt) {}

NoiseHandshake::NoiseHandshake(Role role,
                               const KeyPair& identity,
                               std::optional<PeerId> expected_remote,
                               const X25519Key& static_private,
                               std::optional<X25519Key> ephemeral_private)
    : identity_(identity),
      expected_remote_(std::move(expected_remote)),
      xx_(role, static_private, {}, ephemeral_private) {}

Bytes NoiseHandshake::make_payload() const {
  proto::noise::NoiseHandshakePayload payload;
  const Bytes key = identity_.public_key().to_protobuf();
  const Bytes signature = identity_.sign(signed_static_key(xx_.local_static()));
  payload.set_identity_key(std::string(as_chars(key)));
  payload.set_identity_sig(std::string(as_chars(signature)));
  return to_bytes(payload.SerializeAsString());
}

Result<void> NoiseHandshake::verify_payload(BytesView payload) {
  proto::noise::NoiseHandshakePayload message;
  if (!message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Err(NetErrc::kMalformedMessage);
  }
  HM_TRY(PublicKey key, PublicKey::from_protobuf(as_bytes(message.identity_key())));
  if (key.type() != KeyType::kEd25519)
    return Err(NetErrc::kUnsupportedKeyType);
  if (!key.verify(signed_static_key(xx_.remote_static()), as_bytes(message.identity_sig()))) {
    return Err(NetErrc::kHandshakeFailed);
  }
  if (expected_remote_ && PeerId::from_public_key(key) != *expected_remote_) {
    return Err(NetErrc::kPeerIdMismatch);
  }
  remote_key_ = std::move(key);
  return ok();
}

Result<Bytes> NoiseHandshake::write_message() {
  if (failed_)
    return Err(NetErrc::kProtocolViolation);
  // Message 1 (step 0) carries no payload: it is sent before any key exists. The Noise layer
  // rejects writes out of turn without changing state.
  return xx_.write_message(xx_.step() == 0 ? Bytes{} : make_payload());
}

Result<void> NoiseHandshake::read_message(BytesView message) {
  if (failed_)
    return Err(NetErrc::kProtocolViolation);
  HM_TRY(Bytes payload, xx_.read_message(message));
  // Message 1 is unencrypted; libp2p peers send it without a payload. Any payload would be
  // unauthenticated, so it is ignored (its bytes are still bound into the handshake hash).
  if (xx_.step() == 1)
    return ok();
  auto verified = verify_payload(payload);
  if (!verified)
    failed_ = true;
  return verified;
}

Result<NoiseTransport> NoiseHandshake::into_transport() && {
  if (failed_ || !complete())
    return Err(NetErrc::kProtocolViolation);
  PublicKey key = *remote_key_;
  PeerId peer = PeerId::from_public_key(key);
  return NoiseTransport(xx_.split(), std::move(key), std::move(peer));
}

}  // namespace hivemind::net
