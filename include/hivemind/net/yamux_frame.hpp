#pragma once
/// \file
/// Yamux 1.0.0 frame header codec (hashicorp/yamux spec.md, adopted by libp2p as
/// `/yamux/1.0.0`). Every frame starts with a 12-byte big-endian header:
/// version(1) = 0 | type(1) | flags(2) | stream id(4) | length(4). Only Data frames carry a
/// payload (`length` bytes); for the other types `length` is a value (window delta, ping opaque,
/// go-away code). Pure functions, thread-compatible. Wire format: docs/protocols/yamux.md.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::net {

/// Protocol id negotiated with multistream-select.
inline constexpr std::string_view kYamuxProtocolId = "/yamux/1.0.0";

/// Initial per-stream window in bytes, both directions, assumed by both sides without signalling.
inline constexpr std::uint32_t kYamuxInitialWindow = 256 * 1024;

/// Size of every frame header in bytes.
inline constexpr std::size_t kYamuxHeaderSize = 12;

/// The only protocol version defined.
inline constexpr std::uint8_t kYamuxVersion = 0;

/// Frame types (header byte 1).
enum class YamuxType : std::uint8_t {
  kData = 0,          ///< `length` payload bytes follow the header
  kWindowUpdate = 1,  ///< `length` = window delta in bytes
  kPing = 2,          ///< `length` = opaque value echoed back; stream id 0
  kGoAway = 3,        ///< `length` = YamuxGoAwayCode; stream id 0
};

/// Flag bits (header bytes 2-3, big-endian). Unknown bits are ignored on receive.
inline constexpr std::uint16_t kYamuxFlagSyn = 0x1;  ///< opens a stream; ping request
inline constexpr std::uint16_t kYamuxFlagAck = 0x2;  ///< accepts a stream; ping response
inline constexpr std::uint16_t kYamuxFlagFin = 0x4;  ///< half-close: sender sends no more data
inline constexpr std::uint16_t kYamuxFlagRst = 0x8;  ///< resets (or refuses) a stream at once

/// Go-away error codes (the `length` of a GoAway frame).
enum class YamuxGoAwayCode : std::uint32_t {
  kNormal = 0,
  kProtocolError = 1,
  kInternalError = 2,
};

/// One decoded frame header. Value type.
struct YamuxHeader {
  std::uint8_t version = kYamuxVersion;
  YamuxType type = YamuxType::kData;
  std::uint16_t flags = 0;
  std::uint32_t stream = 0;  ///< 0 = the session (Ping, GoAway)
  std::uint32_t length = 0;  ///< payload bytes (Data) or the value (other types)

  /// Whether `flag` (one of kYamuxFlag*) is set.
  bool has(std::uint16_t flag) const noexcept { return (flags & flag) != 0; }

  friend bool operator==(const YamuxHeader&, const YamuxHeader&) = default;
};

/// Writes `header` into `out[0..12)` (the caller provides 12 bytes). Pure; never fails.
void encode_yamux_header(const YamuxHeader& header, std::uint8_t* out) noexcept;

/// Appends the 12 header bytes of `header` to `out`.
void append_yamux_header(Bytes& out, const YamuxHeader& header);

/// Decodes the first 12 bytes of `bytes` (untrusted). Errors: CoreErrc::kTruncated when fewer
/// than 12 bytes are given; NetErrc::kMalformedMessage for a version other than 0 or a type
/// above 3. Does not check stream ids, flags or lengths against any state (the session does).
Result<YamuxHeader> decode_yamux_header(BytesView bytes);

}  // namespace hivemind::net
