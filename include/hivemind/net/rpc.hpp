#pragma once
/// \file
/// hivemind 1.x RPCs over `Host` streams: unary calls (one uvarint-delimited
/// `PersistentConnectionRequest` each way) and streaming calls (marker + be64 length frames), one
/// fresh stream per call whose protocol id is the handler name, e.g. `DHTProtocol.rpc_find`.
/// Bytes on the wire, lifecycle and deviations from hivemind: docs/protocols/rpc.md.
///
/// Thread affinity: everything here runs on the host's executor thread (the coroutines too).
/// Arguments passed by reference or view to a coroutine must stay valid until it completes
/// (`co_await` the call in the same expression).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/host.hpp"
#include "hivemind/net/peer_id.hpp"
#include "hivemind/net/rpc_codec.hpp"
#include "hivemind/net/stream.hpp"

namespace hivemind::net {

/// What a handler knows about the call it serves.
struct RpcContext {
  PeerId remote;       ///< the authenticated caller (not the `peer` field the caller sent)
  std::string method;  ///< the handler name the call was made to
};

/// Unary handler: returns the response bytes, or an error whose message() travels to the caller
/// (hivemind sends repr(exception) text in CallUnaryResponse.error). An exception escaping the
/// handler is caught and its what() is sent the same way. When the caller resets or closes the
/// stream before the handler finishes, the handler coroutine is cancelled (its pending operation
/// completes with operation_aborted) and nothing is sent.
using UnaryHandler = std::function<asio::awaitable<Result<Bytes>>(RpcContext, Bytes request)>;

/// Incoming messages of a streaming call: the requests a streaming handler reads, or the
/// responses an `RpcStreamCall` reads. Owned by the handler runner or the call; one reader
/// coroutine at a time; host thread only.
class RpcStreamReader {
 public:
  /// Internal: produces the next message (see next()). Created by the RPC layer.
  using Source = std::function<asio::awaitable<Result<std::optional<Bytes>>>()>;

  explicit RpcStreamReader(Source source) : source_(std::move(source)) {}

  /// Next message; nullopt at the end (end-of-stream marker from a client, or the server closing
  /// the stream). After the end or an error every later call returns the same. Errors:
  /// kRemoteError with the remote's message (error frame from a server), kMessageTooLarge (a
  /// declared length above the limit; nothing of it is buffered), kMalformedMessage (unknown
  /// marker, bad RPCError, stream ending inside a frame), kStreamReset, kConnectionClosed,
  /// kProtocolNotSupported (first read of a call whose method the remote does not serve).
  asio::awaitable<Result<std::optional<Bytes>>> next() { return source_(); }

 private:
  Source source_;
};

/// Outgoing messages of a streaming call (one writer coroutine at a time; host thread only).
class RpcStreamWriter {
 public:
  /// Internal: created by the RPC layer. `max_message` = largest message accepted for sending.
  RpcStreamWriter(std::shared_ptr<Stream> stream, std::size_t max_message)
      : stream_(std::move(stream)), max_message_(max_message) {}

  /// Sends one message frame (marker 0). Completes when the bytes are queued within the stream's
  /// flow-control window (a slow reader slows the writer). `message` must stay valid until then.
  /// Errors: kMessageTooLarge (above max_message, nothing sent), kStreamReset, kStreamClosed,
  /// kConnectionClosed.
  asio::awaitable<Result<void>> write(BytesView message);

 private:
  std::shared_ptr<Stream> stream_;
  std::size_t max_message_;
};

/// Streaming handler: reads requests from `in`, writes responses to `out`. Returning an error
/// (or throwing) sends an error frame carrying its message first; the stream is then closed. When
/// the caller resets or closes the stream early, the handler is cancelled.
using StreamingHandler = std::function<asio::awaitable<Result<void>>(
    RpcContext, RpcStreamReader& in, RpcStreamWriter& out)>;

/// Limits and timeouts of RPC calls and handlers. Aggregate; sizes in bytes.
struct RpcOptions {
  /// Largest unary envelope (request or reply, without its length prefix). Values above
  /// kMaxUnaryMessage are capped by the codec (decode_unary_envelope refuses larger ones).
  std::size_t max_unary_message = kMaxUnaryMessage;
  /// Largest message of a streaming call, each direction (checked on the declared length).
  std::size_t max_stream_message = 256 * 1024 * 1024;
  /// Unary handler side: time allowed for the request envelope to arrive once the stream is open.
  std::chrono::milliseconds unary_request_timeout{10'000};
  /// Handler side: once the handler is done, bound on sending the reply and on waiting for the
  /// caller to close its side (a clean close on both sides); past it the stream is reset.
  std::chrono::milliseconds finish_timeout{10'000};
};

/// Registers a unary handler for protocol `name` (`Service.rpc_method`) on `host`, replacing any
/// previous handler of that name. Thread affinity: host's thread. Misuse (empty handler) throws
/// invalid_argument.
void add_unary_handler(Host& host,
                       const std::string& name,
                       UnaryHandler handler,
                       RpcOptions options = {});
/// Registers a streaming handler for protocol `name`; same rules as add_unary_handler.
void add_streaming_handler(Host& host,
                           const std::string& name,
                           StreamingHandler handler,
                           RpcOptions options = {});

/// Unary call: opens a new stream with protocol `name` to `peer`, sends one delimited envelope and
/// reads one back. `timeout` = deadline of the whole call, dial included (kTimeout; the stream is
/// reset so the remote handler is cancelled). Errors: kRemoteError with the remote's text (its
/// handler failed), kMessageTooLarge (request above the limit: refused before anything is sent;
/// or a reply above it), kProtocolNotSupported (no such handler), kProtocolViolation (reply of the
/// wrong kind or callId), kMalformedMessage, dial and stream errors.
asio::awaitable<Result<Bytes>> call_unary(Host& host,
                                          const PeerId& peer,
                                          const std::string& name,
                                          BytesView request,
                                          std::chrono::milliseconds timeout,
                                          RpcOptions options = {});

/// A client-side streaming call (client-, server- and bidirectional streaming all use this).
/// Owned by the caller; destroying it before the server closed and finish_sending() was called
/// resets the stream (the remote handler is cancelled). Host thread only; one sender and one
/// reader coroutine at a time.
class RpcStreamCall {
 public:
  /// Internal: use open_streaming_call.
  RpcStreamCall(std::shared_ptr<Stream> stream, RpcOptions options);
  RpcStreamCall(const RpcStreamCall&) = delete;
  RpcStreamCall& operator=(const RpcStreamCall&) = delete;
  ~RpcStreamCall();

  /// Sends one request message. `message` must stay valid until completion. Errors as
  /// RpcStreamWriter::write; kStreamClosed after finish_sending().
  asio::awaitable<Result<void>> send(BytesView message);
  /// Sends the end-of-stream marker (error frame with an empty RPCError: 01 + eight zero bytes).
  /// Our side of the stream stays open until the server has closed its side (a hivemind server
  /// treats an early close as cancellation); the call then closes it.
  asio::awaitable<Result<void>> finish_sending();

  /// The server's responses; nullopt once the server closed the stream after its last response.
  RpcStreamReader& responses() { return reader_; }

  /// Resets the stream: the remote handler is cancelled, pending and later operations fail with
  /// kStreamReset.
  void cancel();

 private:
  struct State;
  std::shared_ptr<State> state_;
  RpcStreamWriter writer_;
  RpcStreamReader reader_;
};

/// Opens a streaming call to `peer`'s handler `name`. Protocol negotiation is pipelined with the
/// first request: a method the remote does not serve shows up as kProtocolNotSupported on the
/// first responses().next(). Errors: dial and stream-open errors.
asio::awaitable<Result<std::unique_ptr<RpcStreamCall>>> open_streaming_call(
    Host& host, const PeerId& peer, const std::string& name, RpcOptions options = {});

/// Convenience: sends all `requests` (concurrently with reading, so that a handler answering as
/// it reads never stalls on flow control), finishes, collects every response. `timeout` =
/// deadline of the whole call (kTimeout; the stream is reset). Errors: those of
/// open_streaming_call, RpcStreamCall::send and RpcStreamReader::next; kMessageTooLarge for a
/// request above the limit is reported before anything is sent.
asio::awaitable<Result<std::vector<Bytes>>> call_streaming(Host& host,
                                                           const PeerId& peer,
                                                           const std::string& name,
                                                           std::vector<Bytes> requests,
                                                           std::chrono::milliseconds timeout,
                                                           RpcOptions options = {});

}  // namespace hivemind::net
