#pragma once
/// \file
/// Byte formats of hivemind 1.x RPCs over libp2p streams (no I/O; see docs/protocols/rpc.md).
///
/// Unary: one uvarint-length-delimited `PersistentConnectionRequest` each way on a fresh stream
/// whose protocol id is the handler name (`Service.rpc_method`).
/// Streaming: per message 1 marker byte (0 message, 1 error) + 8-byte big-endian length + bytes;
/// the client ends its input with an error marker carrying an empty `RPCError`.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hivemind/core/bytes.hpp"

namespace hivemind::net {

/// Largest unary envelope accepted or sent (hivemind's persistent_conn_max_msg_size).
inline constexpr std::size_t kMaxUnaryMessage = 4 * 1024 * 1024;
/// Bytes of a streaming frame header: marker + 8-byte length.
inline constexpr std::size_t kStreamFrameHeader = 9;

/// A decoded `PersistentConnectionRequest` envelope.
struct UnaryEnvelope {
  enum class Kind {
    kRequest,   ///< callUnary: `proto`, `peer`, `payload` = request bytes
    kResponse,  ///< unaryResponse.response: `payload` = response bytes
    kError,     ///< unaryResponse.error: `payload` = error text (hivemind sends repr(exception))
    kCancel,    ///< cancel
  };
  Kind kind = Kind::kRequest;
  Bytes call_id;      ///< 16-byte id chosen by the caller, echoed by the callee
  Bytes peer;         ///< kRequest: the callee's peer id bytes as the caller knows it
  std::string proto;  ///< kRequest: the handler name
  Bytes payload;
};

/// Serializes an envelope (without the length prefix).
Bytes encode_unary_envelope(const UnaryEnvelope& envelope);
/// Parses an envelope. NetErrc::kMalformedMessage for anything that is not a well-formed
/// envelope of one of the four kinds (including a request without proto or data).
Result<UnaryEnvelope> decode_unary_envelope(BytesView message);

/// Appends uvarint(message.size()) || message.
void append_delimited(Bytes& out, BytesView message);

/// One length-delimited message at the front of a buffer (a view into that buffer).
struct DelimitedMessage {
  BytesView message;
  std::size_t consumed = 0;  ///< prefix + message bytes
};

/// Decodes one uvarint-delimited message; nullopt when more bytes are needed. A declared length
/// above `max_size` fails with kMessageTooLarge before any of it is buffered; a malformed prefix
/// with kMalformedMessage.
Result<std::optional<DelimitedMessage>> decode_delimited(BytesView buffered, std::size_t max_size);

/// Marker byte of a streaming frame.
enum class StreamMarker : std::uint8_t { kMessage = 0, kError = 1 };

/// Appends marker || be64(payload.size()) || payload.
void append_stream_frame(Bytes& out, StreamMarker marker, BytesView payload);

/// One streaming frame at the front of a buffer (a view into that buffer).
struct StreamFrame {
  StreamMarker marker = StreamMarker::kMessage;
  BytesView payload;
  std::size_t consumed = 0;
};

/// Decodes one streaming frame; nullopt when more bytes are needed. Errors: kMalformedMessage for
/// an unknown marker, kMessageTooLarge for a declared length above `max_size`.
Result<std::optional<StreamFrame>> decode_stream_frame(BytesView buffered, std::size_t max_size);

/// Serializes `RPCError{message}` (the body of an error frame; empty message = end of stream).
Bytes encode_rpc_error(std::string_view message);
/// Parses `RPCError`; kMalformedMessage if it does not parse.
Result<std::string> decode_rpc_error(BytesView body);

}  // namespace hivemind::net
