#pragma once
/// \file
/// Multiaddr (multiformats/multiaddr): self-describing network addresses such as
/// "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW...". Text and binary codecs for the protocols hivemind
/// needs; every parser treats its input as hostile. Wire format and the supported protocol table:
/// docs/protocols/multiaddr-and-multistream.md.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::net {

/// Multiaddr protocol codes (multiformats multicodec table). Only these are understood; any other
/// code or name is rejected as malformed.
enum class Protocol : std::uint32_t {
  kIp4 = 4,             ///< 4-byte IPv4 address
  kTcp = 6,             ///< 2-byte big-endian port
  kIp6 = 41,            ///< 16-byte IPv6 address
  kDns = 53,            ///< length-prefixed domain name
  kDns4 = 54,           ///< length-prefixed domain name (resolve to IPv4 only)
  kDns6 = 55,           ///< length-prefixed domain name (resolve to IPv6 only)
  kDnsaddr = 56,        ///< length-prefixed domain name (resolved through TXT records)
  kUdp = 273,           ///< 2-byte big-endian port
  kP2pCircuit = 290,    ///< no value
  kP2p = 421,           ///< length-prefixed peer id multihash; text alias "ipfs"
  kTls = 448,           ///< no value
  kSni = 449,           ///< length-prefixed domain name
  kNoise = 454,         ///< no value
  kQuic = 460,          ///< no value (QUIC draft-29)
  kQuicV1 = 461,        ///< no value (RFC 9000)
  kWebTransport = 465,  ///< no value
  kWs = 477,            ///< no value
  kWss = 478,           ///< no value
};

/// The text name of a protocol ("ip4", "p2p", ...). Pure.
std::string_view protocol_name(Protocol protocol) noexcept;

/// Largest binary multiaddr accepted by `from_bytes` and `from_string`, in bytes.
inline constexpr std::size_t kMaxMultiaddrBytes = 1024;
/// Longest text accepted by `from_string`, in characters (covers every text form of a
/// kMaxMultiaddrBytes address).
inline constexpr std::size_t kMaxMultiaddrTextLength = 8192;
/// Longest domain name in a dns* or sni component, in bytes.
inline constexpr std::size_t kMaxDomainNameLength = 255;

/// An immutable multiaddr value: a sequence of (protocol, value) components, kept both as parsed
/// components and as the canonical binary form. Copyable, totally ordered and compared by its
/// bytes, hashable (std::hash below); thread-compatible. The default value is the empty multiaddr
/// (no components, text ""), which the parsers never return.
class Multiaddr {
 public:
  /// One component; `value` is the binary form (4 bytes for ip4, 2 for ports, the multihash for
  /// p2p, the name for dns*, empty for protocols without a value).
  struct Component {
    Protocol protocol;
    Bytes value;
    bool operator==(const Component&) const = default;
  };

  Multiaddr() = default;

  /// Parses text such as "/ip4/1.2.3.4/tcp/80/p2p/12D3KooW..." ("ipfs" is read as "p2p").
  /// Errors: NetErrc::kMalformedMultiaddr for empty text, text not starting with '/', an unknown
  /// protocol, a missing or invalid value (bad ip literal, port above 65535, empty or overlong
  /// domain name, invalid peer id), an empty segment (including a trailing '/'), or a result over
  /// kMaxMultiaddrBytes.
  static Result<Multiaddr> from_string(std::string_view text);

  /// Parses the binary form: (uvarint code, value)+ with fixed-size or uvarint-length-prefixed
  /// values. Errors: NetErrc::kMalformedMultiaddr for empty input, input over kMaxMultiaddrBytes,
  /// unknown codes, truncated or trailing bytes, non-minimal varints, invalid values.
  static Result<Multiaddr> from_bytes(BytesView bytes);

  /// Builds a multiaddr from components. Precondition (HM_CHECK): every value is valid for its
  /// protocol. The size limit of the parsers does not apply.
  static Multiaddr from_components(std::vector<Component> components);

  /// "/ip4/<ip>/tcp/<port>" or "/ip6/<ip>/tcp/<port>" from an IP literal (no brackets, no zone).
  /// Errors: NetErrc::kMalformedMultiaddr when `ip` is not an IPv4 or IPv6 literal.
  static Result<Multiaddr> from_ip_tcp(std::string_view ip, std::uint16_t port);

  /// Canonical text ("" for the empty multiaddr); IPv6 in compressed form, peer ids in base58btc.
  std::string to_string() const;

  /// Canonical binary form.
  const Bytes& bytes() const noexcept { return bytes_; }

  /// The components in order.
  const std::vector<Component>& components() const noexcept { return components_; }

  bool empty() const noexcept { return components_.empty(); }

  /// The peer id of the last /p2p/ component, if any.
  std::optional<PeerId> peer_id() const;
  /// This address with its trailing /p2p/ component replaced by `id`, or with /p2p/<id>
  /// appended when it does not end in one.
  Multiaddr with_peer_id(const PeerId& id) const;
  /// This address without a trailing /p2p/ component (unchanged if it has none).
  Multiaddr without_peer_id() const;

  /// This address followed by the components of `other`.
  Multiaddr encapsulate(const Multiaddr& other) const;
  /// This address cut before the last component with protocol `protocol` (unchanged if there is
  /// none), e.g. "/ip4/1.2.3.4/tcp/80/ws".decapsulate(kTcp) == "/ip4/1.2.3.4".
  Multiaddr decapsulate(Protocol protocol) const;

  /// What a TCP dialer needs: the host (IP literal or domain name) and port.
  struct TcpTarget {
    std::string host;
    std::uint16_t port = 0;
    Protocol host_protocol = Protocol::kIp4;
  };

  /// The dial target when the address is /{ip4,ip6,dns,dns4,dns6}/<host>/tcp/<port>[/p2p/<id>];
  /// nullopt for any other shape.
  std::optional<TcpTarget> tcp_target() const;

  bool operator==(const Multiaddr& other) const noexcept { return bytes_ == other.bytes_; }

  std::strong_ordering operator<=>(const Multiaddr& other) const noexcept {
    return bytes_ <=> other.bytes_;
  }

 private:
  Multiaddr(std::vector<Component> components, Bytes bytes)
      : components_(std::move(components)), bytes_(std::move(bytes)) {}

  std::vector<Component> components_;
  Bytes bytes_;
};

}  // namespace hivemind::net

/// Hash of the binary form, for unordered containers.
template <>
struct std::hash<hivemind::net::Multiaddr> {
  std::size_t operator()(const hivemind::net::Multiaddr& addr) const noexcept {
    return std::hash<std::string_view>{}(hivemind::as_chars(addr.bytes()));
  }
};
