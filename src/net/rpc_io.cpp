// Framing I/O of the RPC layer. Memory stays bounded by the declared-length checks: a length
// prefix or frame header is validated against the limit before any body byte is read, and bodies
// grow only with bytes actually received (reserved at most one window beyond twice what arrived,
// never from the declared length alone).
#include "rpc_io.hpp"

#include <algorithm>

#include <asio/this_coro.hpp>

#include "hivemind/core/error.hpp"
#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/rpc.hpp"
#include "hivemind/net/yamux_frame.hpp"

namespace hivemind::net::detail {
namespace {

/// Frames up to this payload size are copied behind their header and written at once.
constexpr std::size_t kCoalesceLimit = 64 * 1024;

/// Reserve step beyond the bytes already received: one initial Yamux window.
constexpr std::size_t kBodyReserveStep = kYamuxInitialWindow;

/// Appends exactly `length` body bytes to `out`, reading only what arrives. The body lands in one
/// buffer grown in bounded steps: capacity at most min(target, 2 * received + one window), so a
/// declared length (already checked against the limit) reserves memory only as bytes arrive, and
/// a large body is not re-copied by the doubling of repeated appends.
asio::awaitable<Result<void>> read_body(Stream& stream, Bytes& out, std::size_t length) {
  const std::size_t target = out.size() + length;
  while (out.size() < target) {
    // An empty `out` is left alone: the first read may hand over a whole received chunk.
    if (!out.empty()
        && out.capacity() - out.size() < std::min(target - out.size(), kBodyReserveStep)) {
      out.reserve(std::min(target, 2 * out.size() + kBodyReserveStep));
    }
    HM_CO_TRY(std::size_t n, co_await stream.read_some(out, target - out.size()));
    if (n == 0)
      co_return Err(NetErrc::kMalformedMessage, "stream ended inside a message");
  }
  co_return ok();
}

}  // namespace

asio::awaitable<Result<Bytes>> read_delimited(Stream& stream, std::size_t max_size) {
  // The prefix is read byte by byte so that nothing past this message is consumed.
  Bytes prefix;
  std::uint64_t length = 0;
  while (true) {
    HM_CO_TRY(std::size_t n, co_await stream.read_some(prefix, 1));
    if (n == 0) {
      if (prefix.empty())
        co_return Err(NetErrc::kStreamClosed, "stream ended before a message");
      co_return Err(NetErrc::kMalformedMessage, "stream ended inside a length prefix");
    }
    auto decoded = decode_uvarint(prefix);
    if (decoded) {
      length = decoded->value;
      break;
    }
    if (decoded.error() != CoreErrc::kTruncated) {
      co_return Err(NetErrc::kMalformedMessage, "bad length prefix");
    }
  }
  // decode_delimited applies the limit (with its error text) to the declared length.
  HM_CO_TRY_VOID(decode_delimited(prefix, max_size));
  Bytes body;
  HM_CO_TRY_VOID(co_await read_body(stream, body, static_cast<std::size_t>(length)));
  co_return body;
}

asio::awaitable<Result<std::optional<OwnedFrame>>> read_stream_frame(Stream& stream,
                                                                     std::size_t max_size) {
  Bytes header;
  while (header.size() < kStreamFrameHeader) {
    HM_CO_TRY(std::size_t n, co_await stream.read_some(header, kStreamFrameHeader - header.size()));
    if (n == 0) {
      if (header.empty())
        co_return std::optional<OwnedFrame>{};
      co_return Err(NetErrc::kMalformedMessage, "stream ended inside a frame header");
    }
  }
  // decode_stream_frame validates the marker and the declared length against the limit.
  HM_CO_TRY(auto complete, decode_stream_frame(header, max_size));
  OwnedFrame frame;
  frame.marker = static_cast<StreamMarker>(header[0]);
  if (!complete) {
    const auto length = static_cast<std::size_t>(load_be<std::uint64_t>(header.data() + 1));
    HM_CO_TRY_VOID(co_await read_body(stream, frame.payload, length));
  }
  co_return std::optional<OwnedFrame>{std::move(frame)};
}

asio::awaitable<Result<void>> write_stream_frame(Stream& stream,
                                                 StreamMarker marker,
                                                 BytesView payload) {
  if (payload.size() <= kCoalesceLimit) {
    Bytes frame;
    frame.reserve(kStreamFrameHeader + payload.size());
    append_stream_frame(frame, marker, payload);
    co_return co_await stream.write(frame);
  }
  Bytes header;
  header.push_back(static_cast<std::uint8_t>(marker));
  append_be<std::uint64_t>(header, payload.size());
  HM_CO_TRY_VOID(co_await stream.write(header));
  co_return co_await stream.write(payload);
}

std::string error_text(const Error& error) {
  return error.message();
}

std::string exception_text(const std::exception_ptr& exception) {
  try {
    std::rethrow_exception(exception);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

asio::awaitable<bool> cancellation_requested() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

}  // namespace hivemind::net::detail

namespace hivemind::net {

asio::awaitable<Result<void>> RpcStreamWriter::write(BytesView message) {
  if (message.size() > max_message_) {
    co_return Err(NetErrc::kMessageTooLarge,
                  "stream message of " + std::to_string(message.size()) + " bytes exceeds limit "
                      + std::to_string(max_message_));
  }
  co_return co_await detail::write_stream_frame(*stream_, StreamMarker::kMessage, message);
}

}  // namespace hivemind::net
