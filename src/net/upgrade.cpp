#include "upgrade.hpp"

#include <algorithm>

#include "hivemind/net/error.hpp"
#include "hivemind/net/multistream.hpp"
#include "hivemind/net/noise.hpp"
#include "hivemind/net/rpc_codec.hpp"
#include "hivemind/net/yamux.hpp"
#include "hivemind_proto/plaintext.pb.h"

namespace hivemind::net {
namespace {

constexpr std::size_t kMaxPlaintextExchange = 8 * 1024;

std::string security_id(Security s) {
  return s == Security::kNoise ? std::string(kNoiseProtocolId) : std::string(kPlaintextProtocolId);
}

asio::awaitable<Result<PeerId>> noise_handshake(RawChannel& channel,
                                                bool initiator,
                                                const KeyPair& identity,
                                                std::optional<PeerId> expected) {
  NoiseHandshake handshake(
      initiator ? NoiseHandshake::Role::kInitiator : NoiseHandshake::Role::kResponder,
      identity,
      std::move(expected));
  auto send = [&]() -> asio::awaitable<Result<void>> {
    HM_CO_TRY(Bytes message, handshake.write_message());
    Bytes framed;
    append_be<std::uint16_t>(framed, static_cast<std::uint16_t>(message.size()));
    append(framed, message);
    co_return co_await channel.write(framed);
  };
  auto receive = [&]() -> asio::awaitable<Result<void>> {
    HM_CO_TRY(Bytes message, co_await channel.read_length_prefixed16());
    co_return handshake.read_message(message);
  };
  // XX: -> e ; <- e, ee, s, es ; -> s, se
  if (initiator) {
    HM_CO_TRY_VOID(co_await send());
    HM_CO_TRY_VOID(co_await receive());
    HM_CO_TRY_VOID(co_await send());
  } else {
    HM_CO_TRY_VOID(co_await receive());
    HM_CO_TRY_VOID(co_await send());
    HM_CO_TRY_VOID(co_await receive());
  }
  HM_CO_TRY(NoiseTransport transport, std::move(handshake).into_transport());
  PeerId remote = transport.remote_peer();
  HM_CO_TRY_VOID(channel.start_noise(std::move(transport)));
  co_return remote;
}

asio::awaitable<Result<PeerId>> plaintext_exchange(RawChannel& channel,
                                                   const KeyPair& identity,
                                                   std::optional<PeerId> expected) {
  proto::plaintext::Exchange mine;
  const Bytes id = PeerId::from_public_key(identity.public_key()).bytes();
  const Bytes key = identity.public_key().to_protobuf();
  mine.set_id(id.data(), id.size());
  mine.set_pubkey(key.data(), key.size());
  Bytes encoded(mine.ByteSizeLong());
  mine.SerializeWithCachedSizesToArray(encoded.data());
  Bytes framed;
  append_delimited(framed, encoded);
  HM_CO_TRY_VOID(co_await channel.write(framed));

  HM_CO_TRY(Bytes reply, co_await channel.read_delimited(kMaxPlaintextExchange));
  proto::plaintext::Exchange theirs;
  if (!theirs.ParseFromArray(reply.data(), static_cast<int>(reply.size()))
      || !theirs.has_pubkey()) {
    co_return Err(NetErrc::kMalformedMessage, "plaintext exchange does not parse");
  }
  HM_CO_TRY(PublicKey remote_key, PublicKey::from_protobuf(as_bytes(theirs.pubkey())));
  PeerId remote = PeerId::from_public_key(remote_key);
  if (remote.bytes() != Bytes(theirs.id().begin(), theirs.id().end())) {
    co_return Err(NetErrc::kPeerIdMismatch, "plaintext exchange: id does not match key");
  }
  if (expected && *expected != remote) {
    co_return Err(NetErrc::kPeerIdMismatch,
                  "dialed " + expected->to_string() + " but reached " + remote.to_string());
  }
  co_return remote;
}

}  // namespace

asio::awaitable<Result<std::string>> negotiate_outbound(RawChannel& channel,
                                                        std::vector<std::string> protocols) {
  MultistreamInitiator initiator(std::move(protocols));
  HM_CO_TRY_VOID(co_await channel.write(initiator.start()));
  while (true) {
    HM_CO_TRY(std::string message, co_await channel.read_multistream_message());
    Bytes reply;
    HM_CO_TRY(auto selected, initiator.on_message(message, reply));
    if (!reply.empty())
      HM_CO_TRY_VOID(co_await channel.write(reply));
    if (selected)
      co_return std::move(*selected);
  }
}

asio::awaitable<Result<std::string>> negotiate_inbound(RawChannel& channel,
                                                       const std::vector<std::string>& supported) {
  MultistreamResponder responder([&](std::string_view p) {
    return std::find(supported.begin(), supported.end(), p) != supported.end();
  });
  responder.set_protocols_for_ls(supported);
  while (true) {
    HM_CO_TRY(std::string message, co_await channel.read_multistream_message());
    Bytes reply;
    HM_CO_TRY(auto selected, responder.on_message(message, reply));
    if (!reply.empty())
      HM_CO_TRY_VOID(co_await channel.write(reply));
    if (selected)
      co_return std::move(*selected);
  }
}

asio::awaitable<Result<PeerId>> upgrade_connection(RawChannel& channel,
                                                   bool initiator,
                                                   const KeyPair& identity,
                                                   const std::vector<Security>& security,
                                                   std::optional<PeerId> expected) {
  // No co_await inside ?: here: g++ 12 destroys the temporaries of both branches.
  std::vector<std::string> ids;
  for (Security s : security)
    ids.push_back(security_id(s));
  Result<std::string> chosen = Err(NetErrc::kProtocolNotSupported);
  if (initiator) {
    chosen = co_await negotiate_outbound(channel, ids);
  } else {
    chosen = co_await negotiate_inbound(channel, ids);
  }
  if (!chosen)
    co_return Err(chosen.error());
  Result<PeerId> remote = Err(NetErrc::kHandshakeFailed);
  if (*chosen == kNoiseProtocolId) {
    remote = co_await noise_handshake(channel, initiator, identity, expected);
  } else {
    remote = co_await plaintext_exchange(channel, identity, expected);
  }
  if (!remote)
    co_return remote;
  std::vector<std::string> muxers{std::string(kYamuxProtocolId)};
  Result<std::string> muxer = Err(NetErrc::kProtocolNotSupported);
  if (initiator) {
    muxer = co_await negotiate_outbound(channel, muxers);
  } else {
    muxer = co_await negotiate_inbound(channel, muxers);
  }
  if (!muxer)
    co_return Err(muxer.error());
  co_return remote;
}

}  // namespace hivemind::net
