// Handler side of hivemind 1.x RPCs (docs/protocols/rpc.md).
//
// Unary: read one delimited `PersistentConnectionRequest` (callUnary), run the handler while a
// 1-byte read watches the stream (as p2pd's persistentStreamHandler does: the caller closing or
// resetting the stream cancels the handler and nothing is sent), reply with the same callId, close
// our side and wait (bounded) for the caller to close its side.
//
// Streaming: a pump coroutine is the only reader of the stream. It hands one request at a time to
// the handler (at most one message buffered), and after the end-of-stream marker keeps reading to
// notice a caller that goes away. A reset, or the caller closing its side before we finished
// (hivemind's server also treats that as cancellation), cancels the handler.
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>

#include "hivemind/core/async_signal.hpp"
#include "hivemind/core/check.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/core/timeout.hpp"
#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/rpc.hpp"
#include "rpc_io.hpp"
#include "stream_watchdog.hpp"

namespace hivemind::net {
namespace {

using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)

/// p2pd reads callId as a UUID and drops calls whose id is not 16 bytes.
constexpr std::size_t kCallIdSize = 16;

// ---------------------------------------------------------------------------------------------
// Unary

/// Runs the handler; an escaping exception becomes an error (unless we are being cancelled, in
/// which case it propagates and the result is discarded anyway).
asio::awaitable<Result<Bytes>> run_unary_handler(std::shared_ptr<const UnaryHandler> handler,
                                                 RpcContext context,
                                                 Bytes request) {
  std::exception_ptr failure;
  try {
    co_return co_await (*handler)(std::move(context), std::move(request));
  } catch (...) {
    failure = std::current_exception();
  }
  if (co_await detail::cancellation_requested())
    std::rethrow_exception(failure);
  co_return Err(NetErrc::kRemoteError, detail::exception_text(failure));
}

/// Completes when the caller closes (0) or resets the stream, or sends bytes it should not.
asio::awaitable<Result<std::size_t>> watch_stream(std::shared_ptr<Stream> stream) {
  Bytes scratch;
  co_return co_await stream->read_some(scratch, 1);
}

/// The reply envelope for a handler outcome; an oversized response becomes an error reply
/// (hivemind's own oversize path is broken and leaves its caller waiting for a timeout).
Bytes make_reply(const Bytes& call_id, Result<Bytes> outcome, std::size_t max_size) {
  UnaryEnvelope reply;
  reply.call_id = call_id;
  if (outcome) {
    reply.kind = UnaryEnvelope::Kind::kResponse;
    reply.payload = std::move(*outcome);
  } else {
    reply.kind = UnaryEnvelope::Kind::kError;
    reply.payload = to_bytes(detail::error_text(outcome.error()));
  }
  Bytes encoded = encode_unary_envelope(reply);
  if (encoded.size() > max_size) {
    reply.kind = UnaryEnvelope::Kind::kError;
    reply.payload = to_bytes("response too large: " + std::to_string(encoded.size())
                             + " bytes exceeds limit " + std::to_string(max_size));
    encoded = encode_unary_envelope(reply);
  }
  return encoded;
}

asio::awaitable<Result<void>> send_reply(std::shared_ptr<Stream> stream, Bytes encoded) {
  Bytes framed;
  framed.reserve(encoded.size() + kMaxUvarintBytes);
  append_delimited(framed, encoded);
  HM_CO_TRY_VOID(co_await stream->write(framed));
  co_return stream->close_write();
}

asio::awaitable<void> serve_unary(std::shared_ptr<Stream> stream,
                                  std::shared_ptr<const UnaryHandler> handler,
                                  std::string name,
                                  RpcOptions options) {
  auto log = logger("net");
  try {
    // Deadlines by watchdog, not with_timeout: a request already buffered is read, answered and
    // sent in one go (see StreamWatchdog).
    const auto executor = co_await asio::this_coro::executor;
    detail::StreamWatchdog request_deadline(stream, executor, options.unary_request_timeout);
    auto request = co_await detail::read_delimited(*stream, options.max_unary_message);
    request_deadline.disarm();
    if (!request) {
      log->debug("{}: bad request from {}: {}",
                 name,
                 stream->remote_peer().to_string(),
                 request_deadline.expired() ? "timed out" : request.error().message());
      stream->reset();
      co_return;
    }
    auto envelope = decode_unary_envelope(*request);
    if (!envelope || envelope->kind != UnaryEnvelope::Kind::kRequest
        || envelope->call_id.size() != kCallIdSize) {
      log->debug("{}: malformed request envelope from {}", name, stream->remote_peer().to_string());
      stream->reset();
      co_return;
    }
    RpcContext context{stream->remote_peer(), name};
    auto outcome =
        co_await (run_unary_handler(handler, std::move(context), std::move(envelope->payload))
                  || watch_stream(stream));
    if (outcome.index() == 1) {
      // The caller went away first: the handler was cancelled; nothing is sent.
      const auto& watched = std::get<1>(outcome);
      if (watched && *watched == 0) {
        (void)stream->close_write();
      } else {
        stream->reset();
      }
      co_return;
    }
    Bytes reply =
        make_reply(envelope->call_id, std::move(std::get<0>(outcome)), options.max_unary_message);
    detail::StreamWatchdog send_deadline(stream, executor, options.finish_timeout);
    auto sent = co_await send_reply(stream, std::move(reply));
    send_deadline.disarm();
    if (!sent) {
      stream->reset();
      co_return;
    }
    co_await detail::linger(stream, options.finish_timeout);
  } catch (...) {
    // Cancelled (host stopping) or an unexpected failure: never leave the remote waiting.
    stream->reset();
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming

/// Hand-over point between the pump and the handler's reader: at most one message.
struct Inbox {
  explicit Inbox(const asio::any_io_executor& executor) : signal(executor) {}

  AsyncSignal signal;
  std::optional<Bytes> message;  ///< delivered by the pump, not yet taken by the handler
  bool ended = false;            ///< the end-of-stream marker arrived
};

/// Reads requests into `inbox`. Completes (cancelling the handler) only when the handler must stop:
/// ok() when the caller closed its side early, an error when the stream failed or the caller sent
/// bad bytes. Otherwise it stays suspended until the handler finishes and cancels it.
asio::awaitable<Result<void>> pump_requests(std::shared_ptr<Stream> stream,
                                            std::shared_ptr<Inbox> inbox,
                                            std::size_t max_message) {
  while (!inbox->ended) {
    while (inbox->message)
      co_await inbox->signal.wait();
    HM_CO_TRY(auto frame, co_await detail::read_stream_frame(*stream, max_message));
    if (!frame)
      co_return ok();  // closed without the end marker: the caller gave up
    if (frame->marker == StreamMarker::kMessage) {
      inbox->message = std::move(frame->payload);
    } else {
      // hivemind's server treats every error frame from a client as the end of its requests.
      HM_CO_TRY_VOID(decode_rpc_error(frame->payload));
      inbox->ended = true;
    }
    inbox->signal.notify_all();
  }
  // After the marker nothing may arrive; the caller closes its side only after our close.
  Bytes scratch;
  HM_CO_TRY(std::size_t n, co_await stream->read_some(scratch, 1));
  if (n == 0)
    co_return ok();
  co_return Err(NetErrc::kProtocolViolation, "data after the end-of-stream marker");
}

asio::awaitable<Result<void>> run_streaming_handler(std::shared_ptr<const StreamingHandler> handler,
                                                    RpcContext context,
                                                    RpcStreamReader& in,
                                                    RpcStreamWriter& out) {
  std::exception_ptr failure;
  try {
    co_return co_await (*handler)(std::move(context), in, out);
  } catch (...) {
    failure = std::current_exception();
  }
  if (co_await detail::cancellation_requested())
    std::rethrow_exception(failure);
  co_return Err(NetErrc::kRemoteError, detail::exception_text(failure));
}

asio::awaitable<void> serve_streaming(std::shared_ptr<Stream> stream,
                                      std::shared_ptr<const StreamingHandler> handler,
                                      std::string name,
                                      RpcOptions options) {
  try {
    auto inbox = std::make_shared<Inbox>(co_await asio::this_coro::executor);
    RpcStreamReader in([inbox]() -> asio::awaitable<Result<std::optional<Bytes>>> {
      while (!inbox->message && !inbox->ended)
        co_await inbox->signal.wait();
      std::optional<Bytes> message = std::move(inbox->message);
      inbox->message.reset();
      inbox->signal.notify_all();
      co_return message;
    });
    RpcStreamWriter out(stream, options.max_stream_message);
    RpcContext context{stream->remote_peer(), name};
    auto outcome = co_await (run_streaming_handler(handler, std::move(context), in, out)
                             || pump_requests(stream, inbox, options.max_stream_message));
    std::optional<std::string> error_message;
    if (outcome.index() == 0) {
      const auto& result = std::get<0>(outcome);
      if (!result)
        error_message = detail::error_text(result.error());
    } else {
      const auto& pumped = std::get<1>(outcome);
      if (pumped) {  // the caller closed early: it reads nothing more
        (void)stream->close_write();
        co_return;
      }
      if (pumped.error() == NetErrc::kStreamReset || pumped.error() == NetErrc::kConnectionClosed) {
        stream->reset();
        co_return;
      }
      error_message = pumped.error().message();  // bad bytes from the caller: tell it why
      logger("net")->debug("{}: bad request stream from {}: {}",
                           name,
                           stream->remote_peer().to_string(),
                           *error_message);
    }
    auto finish = [&]() -> asio::awaitable<Result<void>> {
      if (error_message) {
        HM_CO_TRY_VOID(co_await detail::write_stream_frame(
            *stream, StreamMarker::kError, encode_rpc_error(*error_message)));
      }
      co_return stream->close_write();
    };
    auto finished = co_await with_timeout(finish(), options.finish_timeout);
    if (!finished) {
      stream->reset();
      co_return;
    }
    co_await detail::linger(stream, options.finish_timeout);
  } catch (...) {
    stream->reset();
  }
}

}  // namespace

void add_unary_handler(Host& host,
                       const std::string& name,
                       UnaryHandler handler,
                       RpcOptions options) {
  HM_CHECK(static_cast<bool>(handler), "add_unary_handler needs a handler");
  auto shared = std::make_shared<const UnaryHandler>(std::move(handler));
  host.set_stream_handler(name, [shared, name, options](std::shared_ptr<Stream> stream) {
    return serve_unary(std::move(stream), shared, name, options);
  });
}

void add_streaming_handler(Host& host,
                           const std::string& name,
                           StreamingHandler handler,
                           RpcOptions options) {
  HM_CHECK(static_cast<bool>(handler), "add_streaming_handler needs a handler");
  auto shared = std::make_shared<const StreamingHandler>(std::move(handler));
  host.set_stream_handler(name, [shared, name, options](std::shared_ptr<Stream> stream) {
    return serve_streaming(std::move(stream), shared, name, options);
  });
}

}  // namespace hivemind::net
