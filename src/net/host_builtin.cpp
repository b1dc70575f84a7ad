// Host: the built-in protocols every libp2p peer answers: identify (+ push) and ping.
#include <algorithm>
#include <chrono>

#include <sodium.h>

#include "connection.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/core/timeout.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/host.hpp"
#include "hivemind/net/rpc_codec.hpp"
#include "hivemind_proto/identify.pb.h"

namespace hivemind::net {
namespace {

constexpr std::string_view kIdentifyProtocol = "/ipfs/id/1.0.0";
constexpr std::string_view kIdentifyPushProtocol = "/ipfs/id/push/1.0.0";
constexpr std::string_view kPingProtocol = "/ipfs/ping/1.0.0";
constexpr std::string_view kLibp2pProtocolVersion = "ipfs/0.1.0";
constexpr std::size_t kPingSize = 32;
constexpr std::size_t kMaxIdentifyMessage = 64 * 1024;
constexpr std::size_t kMaxIdentifyAddrs = 64;

Bytes encode_identify(const Host& host, const Stream& stream) {
  proto::identify::Identify msg;
  msg.set_protocolversion(std::string(kLibp2pProtocolVersion));
  msg.set_agentversion(host.options().agent_version);
  const Bytes key = host.identity().public_key().to_protobuf();
  msg.set_publickey(key.data(), key.size());
  const std::vector<Multiaddr> announce =
      host.options().announce_addrs.empty() ? host.listen_addrs() : host.options().announce_addrs;
  for (const auto& addr : announce) {
    const Multiaddr bare = addr.without_peer_id();
    msg.add_listenaddrs(bare.bytes().data(), bare.bytes().size());
  }
  const Bytes& observed = stream.remote_addr().bytes();
  msg.set_observedaddr(observed.data(), observed.size());
  for (const auto& protocol : host.protocols())
    msg.add_protocols(protocol);
  Bytes body(msg.ByteSizeLong());
  msg.SerializeWithCachedSizesToArray(body.data());
  Bytes framed;
  append_delimited(framed, body);
  return framed;
}

/// Parses an identify message sent by `remote`; a public key that does not belong to `remote`
/// makes the whole message untrusted.
Result<IdentifyInfo> decode_identify(BytesView data, const PeerId& remote) {
  HM_TRY(auto delimited, decode_delimited(data, kMaxIdentifyMessage));
  if (!delimited || delimited->consumed != data.size()) {
    return Err(NetErrc::kMalformedMessage, "identify message is truncated or has trailing bytes");
  }
  proto::identify::Identify msg;
  if (!msg.ParseFromArray(delimited->message.data(), static_cast<int>(delimited->message.size()))) {
    return Err(NetErrc::kMalformedMessage, "identify message does not parse");
  }
  if (msg.has_publickey()) {
    HM_TRY(PublicKey key, PublicKey::from_protobuf(as_bytes(msg.publickey())));
    if (PeerId::from_public_key(key) != remote) {
      return Err(NetErrc::kPeerIdMismatch, "identify: public key does not match the peer");
    }
  }
  IdentifyInfo info;
  for (int i = 0; i < msg.listenaddrs_size() && info.listen_addrs.size() < kMaxIdentifyAddrs; ++i) {
    if (auto addr = Multiaddr::from_bytes(as_bytes(msg.listenaddrs(i)))) {
      info.listen_addrs.push_back(*addr);
    }
  }
  for (int i = 0; i < msg.protocols_size() && info.protocols.size() < PeerStore::kMaxProtocols;
       ++i) {
    info.protocols.push_back(msg.protocols(i));
  }
  if (msg.has_observedaddr()) {
    if (auto addr = Multiaddr::from_bytes(as_bytes(msg.observedaddr())))
      info.observed_addr = *addr;
  }
  info.agent_version = msg.agentversion().substr(0, 256);
  info.protocol_version = msg.protocolversion().substr(0, 256);
  return info;
}

}  // namespace

void Host::install_builtin_handlers() {
  std::weak_ptr<Host> weak = weak_from_this();
  set_stream_handler(std::string(kIdentifyProtocol),
                     [weak](std::shared_ptr<Stream> stream) -> asio::awaitable<void> {
                       auto self = weak.lock();
                       if (!self)
                         co_return;
                       const Bytes message = encode_identify(*self, *stream);
                       if (co_await stream->write(message))
                         (void)stream->close_write();
                     });
  set_stream_handler(
      std::string(kIdentifyPushProtocol),
      [weak](std::shared_ptr<Stream> stream) -> asio::awaitable<void> {
        auto data = co_await stream->read_to_end(kMaxIdentifyMessage + 16);
        auto self = weak.lock();
        if (!self || !data)
          co_return;
        if (auto info = decode_identify(*data, stream->remote_peer())) {
          self->peer_store_.add_addrs(stream->remote_peer(), info->listen_addrs);
          self->peer_store_.set_identify(
              stream->remote_peer(), info->protocols, info->agent_version, info->protocol_version);
        }
        (void)stream->close_write();
      });
  set_stream_handler(std::string(kPingProtocol),
                     [](std::shared_ptr<Stream> stream) -> asio::awaitable<void> {
                       // Echo 32-byte payloads until the remote closes.
                       while (true) {
                         Bytes payload;
                         if (!co_await stream->read_exact(payload, kPingSize))
                           break;
                         if (!co_await stream->write(payload))
                           break;
                       }
                       (void)stream->close_write();
                     });
}

asio::awaitable<Result<IdentifyInfo>> Host::identify(const PeerId& peer) {
  co_return co_await with_timeout(identify_once(peer), options_.negotiation_timeout);
}

asio::awaitable<Result<IdentifyInfo>> Host::identify_once(PeerId peer) {
  HM_CO_TRY(auto stream, co_await new_stream(peer, std::string(kIdentifyProtocol)));
  (void)stream->close_write();
  HM_CO_TRY(Bytes data, co_await stream->read_to_end(kMaxIdentifyMessage + 16));
  HM_CO_TRY(IdentifyInfo info, decode_identify(data, peer));
  peer_store_.add_addrs(peer, info.listen_addrs);
  peer_store_.set_identify(peer, info.protocols, info.agent_version, info.protocol_version);
  if (info.observed_addr)
    remember_observed_addr(*info.observed_addr);
  co_return info;
}

void Host::remember_observed_addr(const Multiaddr& addr) {
  if (std::find(observed_addrs_.begin(), observed_addrs_.end(), addr) == observed_addrs_.end()
      && observed_addrs_.size() < kMaxIdentifyAddrs) {
    observed_addrs_.push_back(addr);
  }
}

asio::awaitable<void> Host::identify_connection(std::shared_ptr<Connection> connection) {
  auto result = co_await identify(connection->remote_peer());
  if (!result) {
    logger("net")->debug("identify of {} failed: {}",
                         connection->remote_peer().to_string(),
                         result.error().message());
  }
}

asio::awaitable<Result<std::chrono::microseconds>> Host::ping(const PeerId& peer) {
  co_return co_await with_timeout(ping_once(peer), options_.negotiation_timeout);
}

asio::awaitable<Result<std::chrono::microseconds>> Host::ping_once(PeerId peer) {
  HM_CO_TRY(auto stream, co_await new_stream(peer, std::string(kPingProtocol)));
  Bytes payload(kPingSize);
  randombytes_buf(payload.data(), payload.size());
  const auto start = std::chrono::steady_clock::now();
  HM_CO_TRY_VOID(co_await stream->write(payload));
  Bytes echo;
  HM_CO_TRY_VOID(co_await stream->read_exact(echo, kPingSize));
  const auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  (void)stream->close_write();
  if (echo != payload)
    co_return Err(NetErrc::kProtocolViolation, "ping payload mismatch");
  co_return rtt;
}

}  // namespace hivemind::net
