// Multiaddr parsing, printing and manipulation. The binary form is the canonical one: both parsers
// produce validated components, and the bytes are always re-encoded from them, so equal addresses
// have equal bytes.
#include "hivemind/net/multiaddr.hpp"

#include <algorithm>
#include <utility>

#include "hivemind/core/check.hpp"
#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"
#include "multiaddr_protocols.hpp"

namespace hivemind::net {
namespace {

using detail::ValueKind;

const detail::ProtocolInfo& info_of(Protocol protocol) {
  const auto* info = detail::find_protocol(static_cast<std::uint64_t>(protocol));
  HM_CHECK(info != nullptr, "unknown multiaddr protocol");
  return *info;
}

Bytes encode(const std::vector<Multiaddr::Component>& components) {
  Bytes out;
  for (const auto& c : components) {
    append_uvarint(out, static_cast<std::uint64_t>(c.protocol));
    if (detail::is_length_prefixed(info_of(c.protocol).kind))
      append_uvarint(out, c.value.size());
    append(out, c.value);
  }
  return out;
}

}  // namespace

std::string_view protocol_name(Protocol protocol) noexcept {
  const auto* info = detail::find_protocol(static_cast<std::uint64_t>(protocol));
  return info == nullptr ? std::string_view("unknown") : info->name;
}

Result<Multiaddr> Multiaddr::from_bytes(BytesView bytes) {
  if (bytes.empty() || bytes.size() > kMaxMultiaddrBytes)
    return Err(NetErrc::kMalformedMultiaddr);
  std::vector<Component> components;
  ByteReader reader(bytes);
  while (!reader.empty()) {
    auto code = reader.read_uvarint();
    if (!code)
      return Err(NetErrc::kMalformedMultiaddr);
    const auto* info = detail::find_protocol(*code);
    if (info == nullptr)
      return Err(NetErrc::kMalformedMultiaddr);
    std::size_t size = detail::fixed_value_size(info->kind);
    if (detail::is_length_prefixed(info->kind)) {
      auto length = reader.read_uvarint();
      // The total is at most kMaxMultiaddrBytes, so any length above what remains is truncated.
      if (!length || *length > reader.remaining())
        return Err(NetErrc::kMalformedMultiaddr);
      size = static_cast<std::size_t>(*length);
    }
    auto value = reader.read_bytes(size);
    if (!value)
      return Err(NetErrc::kMalformedMultiaddr);
    HM_TRY_VOID(detail::validate_value(info->kind, *value));
    components.push_back(Component{info->protocol, Bytes(value->begin(), value->end())});
  }
  // Re-encoding reproduces the input exactly: varints were minimal and every value was validated.
  return Multiaddr(std::move(components), Bytes(bytes.begin(), bytes.end()));
}

Result<Multiaddr> Multiaddr::from_string(std::string_view text) {
  if (text.empty() || text.size() > kMaxMultiaddrTextLength || text.front() != '/') {
    return Err(NetErrc::kMalformedMultiaddr);
  }
  // Split "/a/b/c" into segments; every segment must be non-empty, so "//" and a trailing '/'
  // are rejected.
  std::vector<std::string_view> segments;
  std::size_t pos = 1;
  while (true) {
    const std::size_t slash = text.find('/', pos);
    const std::size_t end = slash == std::string_view::npos ? text.size() : slash;
    if (end == pos)
      return Err(NetErrc::kMalformedMultiaddr);
    segments.push_back(text.substr(pos, end - pos));
    if (slash == std::string_view::npos)
      break;
    pos = slash + 1;
  }
  std::vector<Component> components;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto* info = detail::find_protocol(segments[i]);
    if (info == nullptr)
      return Err(NetErrc::kMalformedMultiaddr);
    Bytes value;
    if (info->kind != ValueKind::kNone) {
      if (++i == segments.size())
        return Err(NetErrc::kMalformedMultiaddr);
      HM_TRY(value, detail::value_from_text(info->kind, segments[i]));
    }
    components.push_back(Component{info->protocol, std::move(value)});
  }
  Bytes bytes = encode(components);
  if (bytes.size() > kMaxMultiaddrBytes)
    return Err(NetErrc::kMalformedMultiaddr);
  return Multiaddr(std::move(components), std::move(bytes));
}

Multiaddr Multiaddr::from_components(std::vector<Component> components) {
  for (const auto& c : components) {
    HM_CHECK(detail::validate_value(info_of(c.protocol).kind, c.value).has_value(),
             "invalid value for multiaddr protocol " + std::string(protocol_name(c.protocol)));
  }
  Bytes bytes = encode(components);
  return {std::move(components), std::move(bytes)};
}

Result<Multiaddr> Multiaddr::from_ip_tcp(std::string_view ip, std::uint16_t port) {
  Protocol protocol = Protocol::kIp4;
  auto address = detail::value_from_text(ValueKind::kIp4, ip);
  if (!address) {
    protocol = Protocol::kIp6;
    address = detail::value_from_text(ValueKind::kIp6, ip);
    if (!address)
      return Err(NetErrc::kMalformedMultiaddr);
  }
  Bytes port_bytes;
  append_be(port_bytes, port);
  return from_components({{protocol, *std::move(address)}, {Protocol::kTcp, port_bytes}});
}

std::string Multiaddr::to_string() const {
  std::string out;
  for (const auto& c : components_) {
    const auto& info = info_of(c.protocol);
    out += '/';
    out += info.name;
    if (info.kind != ValueKind::kNone) {
      out += '/';
      out += detail::value_to_text(info.kind, c.value);
    }
  }
  return out;
}

std::optional<PeerId> Multiaddr::peer_id() const {
  auto last = std::find_if(components_.rbegin(), components_.rend(), [](const auto& c) {
    return c.protocol == Protocol::kP2p;
  });
  if (last == components_.rend())
    return std::nullopt;
  auto id = PeerId::from_bytes(last->value);  // validated on construction; cannot fail
  if (!id)
    return std::nullopt;
  return *std::move(id);
}

Multiaddr Multiaddr::with_peer_id(const PeerId& id) const {
  std::vector<Component> components = without_peer_id().components_;
  components.push_back(Component{Protocol::kP2p, id.bytes()});
  return from_components(std::move(components));
}

Multiaddr Multiaddr::without_peer_id() const {
  if (components_.empty() || components_.back().protocol != Protocol::kP2p)
    return *this;
  std::vector<Component> components(components_.begin(), components_.end() - 1);
  return from_components(std::move(components));
}

Multiaddr Multiaddr::encapsulate(const Multiaddr& other) const {
  std::vector<Component> components = components_;
  components.insert(components.end(), other.components_.begin(), other.components_.end());
  Bytes bytes = bytes_;
  append(bytes, other.bytes_);
  return {std::move(components), std::move(bytes)};
}

Multiaddr Multiaddr::decapsulate(Protocol protocol) const {
  auto last = std::find_if(components_.rbegin(), components_.rend(), [protocol](const auto& c) {
    return c.protocol == protocol;
  });
  if (last == components_.rend())
    return *this;
  std::vector<Component> components(components_.begin(), std::prev(last.base()));
  return from_components(std::move(components));
}

std::optional<Multiaddr::TcpTarget> Multiaddr::tcp_target() const {
  const std::size_t n = components_.size();
  if (n != 2 && n != 3)
    return std::nullopt;
  if (n == 3 && components_[2].protocol != Protocol::kP2p)
    return std::nullopt;
  if (components_[1].protocol != Protocol::kTcp)
    return std::nullopt;
  const auto& host = components_[0];
  switch (host.protocol) {
    case Protocol::kIp4:
    case Protocol::kIp6:
    case Protocol::kDns:
    case Protocol::kDns4:
    case Protocol::kDns6:
      break;
    default:
      return std::nullopt;
  }
  return TcpTarget{detail::value_to_text(info_of(host.protocol).kind, host.value),
                   load_be<std::uint16_t>(components_[1].value.data()),
                   host.protocol};
}

}  // namespace hivemind::net
