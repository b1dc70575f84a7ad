#pragma once
// Connection upgrade: multistream-select of a security protocol, the security handshake (Noise
// XX or plaintext key exchange), then multistream-select of the muxer (/yamux/1.0.0).

#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "hivemind/net/host.hpp"
#include "raw_channel.hpp"

namespace hivemind::net {

inline constexpr std::string_view kPlaintextProtocolId = "/plaintext/2.0.0";

/// Upgrades `channel` in place (channel.noise() is set for Noise). Returns the authenticated
/// remote peer. `expected`: the peer the initiator dialed (kPeerIdMismatch if someone else
/// answers). Network thread only; the caller bounds the time it may take.
asio::awaitable<Result<PeerId>> upgrade_connection(RawChannel& channel,
                                                   bool initiator,
                                                   const KeyPair& identity,
                                                   const std::vector<Security>& security,
                                                   std::optional<PeerId> expected);

/// Runs multistream-select as initiator over `channel`; returns the agreed protocol.
asio::awaitable<Result<std::string>> negotiate_outbound(RawChannel& channel,
                                                        std::vector<std::string> protocols);
/// Runs multistream-select as responder over `channel`; returns the agreed protocol.
asio::awaitable<Result<std::string>> negotiate_inbound(RawChannel& channel,
                                                       const std::vector<std::string>& supported);

}  // namespace hivemind::net
