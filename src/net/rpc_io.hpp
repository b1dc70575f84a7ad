#pragma once
// Private helpers of the RPC layer: reading and writing hivemind's unary and streaming framing on
// a Stream with bounded memory and running handlers with exception capture (the clean-close
// `linger` is in stream_watchdog.hpp). Host thread only. Not part of the public API.

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/rpc_codec.hpp"
#include "hivemind/net/stream.hpp"
#include "stream_watchdog.hpp"  // linger

namespace hivemind::net::detail {

/// One streaming frame read off a stream (owning its payload).
struct OwnedFrame {
  StreamMarker marker = StreamMarker::kMessage;
  Bytes payload;
};

/// Reads one uvarint-delimited message. The declared length is checked against `max_size` before
/// any of the body is read. Errors: kStreamClosed (the stream ended before the first byte),
/// kMalformedMessage (bad prefix, or the stream ended inside the message), kMessageTooLarge,
/// stream errors.
asio::awaitable<Result<Bytes>> read_delimited(Stream& stream, std::size_t max_size);

/// Reads one streaming frame; nullopt when the stream ends cleanly before its first byte. The
/// header is validated (marker, declared length <= max_size) before the body is read. Errors:
/// kMalformedMessage (unknown marker, stream ending inside a frame), kMessageTooLarge, stream
/// errors.
asio::awaitable<Result<std::optional<OwnedFrame>>> read_stream_frame(Stream& stream,
                                                                     std::size_t max_size);

/// Writes marker || be64(size) || payload (small frames in one write, large ones in two).
asio::awaitable<Result<void>> write_stream_frame(Stream& stream,
                                                 StreamMarker marker,
                                                 BytesView payload);

/// Text sent to the remote for a failed handler: error().message().
std::string error_text(const Error& error);

/// Text for an exception that escaped a handler (its what(), or a generic text).
std::string exception_text(const std::exception_ptr& exception);

/// True when the current coroutine has been asked to cancel (its cancellation state is set).
asio::awaitable<bool> cancellation_requested();

}  // namespace hivemind::net::detail
