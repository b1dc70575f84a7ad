// The multiaddr protocol table and value codecs. Codes and names follow multiformats/multiaddr
// protocols.csv. Every value is validated in its binary form, so a parsed multiaddr always has a
// text form that parses back to the same bytes (the fuzz target checks this).
#include "multiaddr_protocols.hpp"

#include <array>
#include <charconv>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "hivemind/net/error.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::net::detail {
namespace {

constexpr std::array<ProtocolInfo, 18> kProtocols = {{
    {Protocol::kIp4, "ip4", ValueKind::kIp4},
    {Protocol::kTcp, "tcp", ValueKind::kPort},
    {Protocol::kIp6, "ip6", ValueKind::kIp6},
    {Protocol::kDns, "dns", ValueKind::kDomain},
    {Protocol::kDns4, "dns4", ValueKind::kDomain},
    {Protocol::kDns6, "dns6", ValueKind::kDomain},
    {Protocol::kDnsaddr, "dnsaddr", ValueKind::kDomain},
    {Protocol::kUdp, "udp", ValueKind::kPort},
    {Protocol::kP2pCircuit, "p2p-circuit", ValueKind::kNone},
    {Protocol::kP2p, "p2p", ValueKind::kPeerId},
    {Protocol::kTls, "tls", ValueKind::kNone},
    {Protocol::kSni, "sni", ValueKind::kDomain},
    {Protocol::kNoise, "noise", ValueKind::kNone},
    {Protocol::kQuic, "quic", ValueKind::kNone},
    {Protocol::kQuicV1, "quic-v1", ValueKind::kNone},
    {Protocol::kWebTransport, "webtransport", ValueKind::kNone},
    {Protocol::kWs, "ws", ValueKind::kNone},
    {Protocol::kWss, "wss", ValueKind::kNone},
}};

constexpr std::string_view kIpfsAlias = "ipfs";
constexpr std::size_t kMaxPortDigits = 5;

// Domain names are restricted to LDH labels plus '_' and '.', which covers every name a resolver
// accepts (internationalized names travel as punycode) and keeps '/' and control bytes out.
bool is_domain_char(std::uint8_t c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
         || c == '.' || c == '_';
}

Result<void> malformed() {
  return Err(NetErrc::kMalformedMultiaddr);
}

}  // namespace

const ProtocolInfo* find_protocol(std::uint64_t code) noexcept {
  for (const auto& info : kProtocols) {
    if (static_cast<std::uint64_t>(info.protocol) == code)
      return &info;
  }
  return nullptr;
}

const ProtocolInfo* find_protocol(std::string_view name) noexcept {
  if (name == kIpfsAlias)
    return find_protocol(static_cast<std::uint64_t>(Protocol::kP2p));
  for (const auto& info : kProtocols) {
    if (info.name == name)
      return &info;
  }
  return nullptr;
}

std::size_t fixed_value_size(ValueKind kind) noexcept {
  switch (kind) {
    case ValueKind::kIp4:
      return 4;
    case ValueKind::kIp6:
      return 16;
    case ValueKind::kPort:
      return 2;
    default:
      return 0;
  }
}

bool is_length_prefixed(ValueKind kind) noexcept {
  return kind == ValueKind::kDomain || kind == ValueKind::kPeerId;
}

Result<void> validate_value(ValueKind kind, BytesView value) {
  switch (kind) {
    case ValueKind::kNone:
    case ValueKind::kIp4:
    case ValueKind::kIp6:
    case ValueKind::kPort:
      if (value.size() != fixed_value_size(kind))
        return malformed();
      return ok();
    case ValueKind::kDomain:
      if (value.empty() || value.size() > kMaxDomainNameLength)
        return malformed();
      for (std::uint8_t c : value) {
        if (!is_domain_char(c))
          return malformed();
      }
      return ok();
    case ValueKind::kPeerId:
      if (!PeerId::from_bytes(value))
        return malformed();
      return ok();
  }
  return malformed();
}

Result<Bytes> value_from_text(ValueKind kind, std::string_view text) {
  switch (kind) {
    case ValueKind::kNone:
      return Err(NetErrc::kMalformedMultiaddr);  // no value to parse
    case ValueKind::kIp4:
    case ValueKind::kIp6: {
      // inet_pton needs a NUL-terminated string (so an embedded NUL must be rejected first); it
      // accepts only dotted-quad IPv4 without leading zeros, octal or hex, and RFC 4291 IPv6
      // text without a zone.
      if (text.find('\0') != std::string_view::npos)
        return Err(NetErrc::kMalformedMultiaddr);
      const std::string copy(text);
      Bytes out(fixed_value_size(kind));
      const int family = kind == ValueKind::kIp4 ? AF_INET : AF_INET6;
      if (inet_pton(family, copy.c_str(), out.data()) != 1) {
        return Err(NetErrc::kMalformedMultiaddr);
      }
      return out;
    }
    case ValueKind::kPort: {
      if (text.empty() || text.size() > kMaxPortDigits)
        return Err(NetErrc::kMalformedMultiaddr);
      std::uint32_t port = 0;
      const char* end = text.data() + text.size();
      auto [ptr, ec] = std::from_chars(text.data(), end, port);
      if (ec != std::errc() || ptr != end || port > 0xffff) {
        return Err(NetErrc::kMalformedMultiaddr);
      }
      Bytes out;
      append_be(out, static_cast<std::uint16_t>(port));
      return out;
    }
    case ValueKind::kDomain: {
      Bytes out = to_bytes(text);
      HM_TRY_VOID(validate_value(kind, out));
      return out;
    }
    case ValueKind::kPeerId: {
      auto id = PeerId::from_string(text);
      if (!id)
        return Err(NetErrc::kMalformedMultiaddr);
      return id->bytes();
    }
  }
  return Err(NetErrc::kMalformedMultiaddr);
}

std::string value_to_text(ValueKind kind, BytesView value) {
  switch (kind) {
    case ValueKind::kNone:
      return {};
    case ValueKind::kIp4:
    case ValueKind::kIp6: {
      char buffer[INET6_ADDRSTRLEN] = {};
      const int family = kind == ValueKind::kIp4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, value.data(), buffer, sizeof(buffer)) == nullptr)
        return {};
      return buffer;
    }
    case ValueKind::kPort:
      return std::to_string(load_be<std::uint16_t>(value.data()));
    case ValueKind::kDomain:
      return std::string(as_chars(value));
    case ValueKind::kPeerId: {
      auto id = PeerId::from_bytes(value);
      return id ? id->to_string() : std::string();
    }
  }
  return {};
}

}  // namespace hivemind::net::detail
