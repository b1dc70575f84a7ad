#pragma once
/// \file
/// Private: the multiaddr protocol table and the per-protocol value codecs (text <-> binary) used
/// by multiaddr.cpp. Pure functions over untrusted input; not part of the public API.

#include <cstdint>
#include <string>
#include <string_view>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::net::detail {

/// How a protocol's value is encoded.
enum class ValueKind {
  kNone,    ///< no value
  kIp4,     ///< 4 bytes
  kIp6,     ///< 16 bytes
  kPort,    ///< 2 bytes, big-endian
  kDomain,  ///< uvarint length + 1..255 bytes of [A-Za-z0-9._-]
  kPeerId,  ///< uvarint length + a valid peer id multihash
};

/// One row of the protocol table.
struct ProtocolInfo {
  Protocol protocol;
  std::string_view name;
  ValueKind kind;
};

/// The row for a code; nullptr for codes we do not support.
const ProtocolInfo* find_protocol(std::uint64_t code) noexcept;
/// The row for a text name (accepting the alias "ipfs" for p2p); nullptr if unknown.
const ProtocolInfo* find_protocol(std::string_view name) noexcept;

/// Fixed value size in bytes for kIp4/kIp6/kPort/kNone; 0 for length-prefixed kinds too, so use
/// `is_length_prefixed` first.
std::size_t fixed_value_size(ValueKind kind) noexcept;
/// Whether the binary value carries a uvarint length prefix.
bool is_length_prefixed(ValueKind kind) noexcept;

/// Checks a binary value. Errors: NetErrc::kMalformedMultiaddr.
Result<void> validate_value(ValueKind kind, BytesView value);
/// Parses the text of a value into its binary form (validated). Errors: kMalformedMultiaddr.
Result<Bytes> value_from_text(ValueKind kind, std::string_view text);
/// Text of a binary value; precondition: `validate_value(kind, value)` succeeded.
std::string value_to_text(ValueKind kind, BytesView value);

}  // namespace hivemind::net::detail
