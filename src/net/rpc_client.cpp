// Caller side of hivemind 1.x RPCs (docs/protocols/rpc.md).
//
// Unary: a fresh stream per call; one delimited request envelope (callId = 16 random bytes,
// callUnary{peer = target id, proto = name, data}); our side stays open while waiting (the callee
// treats our close as cancellation); the reply must carry our callId; then both sides close.
// Streaming: frames per rpc_codec.hpp; the end-of-stream marker ends our requests, the server's
// close ends its responses, and only then do we close our side.
#include <asio/experimental/awaitable_operators.hpp>
#include <sodium.h>

#include <atomic>

#include "hivemind/core/timeout.hpp"
#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/rpc.hpp"
#include "identity_codec.hpp"
#include "rpc_io.hpp"

namespace hivemind::net {
namespace {

using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)

constexpr std::size_t kCallIdSize = 16;

/// A fresh callId: 8 random bytes chosen once per process, then a counter. Unique is all a
/// callId needs to be (each call has its own stream anyway), and this saves a getrandom() system
/// call per RPC.
Bytes random_call_id() {
  static const std::uint64_t prefix = [] {
    detail::ensure_sodium();
    std::uint64_t value = 0;
    randombytes_buf(&value, sizeof(value));
    return value;
  }();
  static std::atomic<std::uint64_t> counter{0};
  Bytes id;
  id.reserve(kCallIdSize);
  append_be<std::uint64_t>(id, prefix);
  append_be<std::uint64_t>(id, counter.fetch_add(1, std::memory_order_relaxed));
  return id;
}

/// with_timeout reports CoreErrc::kTimeout; RPC callers get NetErrc::kTimeout.
Error as_net_timeout(const Error& error, std::chrono::milliseconds timeout) {
  if (error == CoreErrc::kTimeout) {
    return Error(make_error_code(NetErrc::kTimeout),
                 "rpc deadline of " + std::to_string(timeout.count()) + " ms passed");
  }
  return error;
}

asio::awaitable<Result<Bytes>> unary_exchange(std::shared_ptr<Host> host,
                                              PeerId peer,
                                              std::string name,
                                              Bytes envelope,
                                              Bytes call_id,
                                              std::size_t max_reply,
                                              std::chrono::milliseconds linger_timeout,
                                              std::shared_ptr<std::shared_ptr<Stream>> holder) {
  HM_CO_TRY(auto stream, co_await host->new_stream(peer, std::move(name)));
  *holder = stream;
  Bytes framed;
  framed.reserve(envelope.size() + kMaxUvarintBytes);
  append_delimited(framed, envelope);
  HM_CO_TRY_VOID(co_await stream->write(framed));
  auto reply_bytes = co_await detail::read_delimited(*stream, max_reply);
  if (!reply_bytes) {
    if (reply_bytes.error() == NetErrc::kStreamClosed) {
      co_return Err(NetErrc::kStreamClosed, "the callee closed the stream without replying");
    }
    co_return Err(reply_bytes.error());
  }
  auto reply = decode_unary_envelope(*reply_bytes);
  if (!reply)
    co_return Err(reply.error());
  if (reply->call_id != call_id) {
    co_return Err(NetErrc::kProtocolViolation, "reply carries a different callId");
  }
  if (reply->kind == UnaryEnvelope::Kind::kResponse || reply->kind == UnaryEnvelope::Kind::kError) {
    // The exchange is complete: close our side now and let the host's task group wait for the
    // callee's close (normally right behind its reply), so the caller does not wait for it.
    holder->reset();
    (void)stream->close_write();
    host->tasks().spawn(detail::linger(stream, linger_timeout));
  }
  switch (reply->kind) {
    case UnaryEnvelope::Kind::kResponse:
      co_return std::move(reply->payload);
    case UnaryEnvelope::Kind::kError:
      co_return Err(NetErrc::kRemoteError, std::string(as_chars(reply->payload)));
    default:
      co_return Err(NetErrc::kProtocolViolation, "reply envelope is not a unary response");
  }
}

}  // namespace

asio::awaitable<Result<Bytes>> call_unary(Host& host,
                                          const PeerId& peer,
                                          const std::string& name,
                                          BytesView request,
                                          std::chrono::milliseconds timeout,
                                          RpcOptions options) {
  const std::size_t limit = std::min(options.max_unary_message, kMaxUnaryMessage);
  UnaryEnvelope envelope;
  envelope.kind = UnaryEnvelope::Kind::kRequest;
  envelope.call_id = random_call_id();
  envelope.peer = peer.bytes();
  envelope.proto = name;
  envelope.payload.assign(request.begin(), request.end());
  Bytes encoded = encode_unary_envelope(envelope);
  if (encoded.size() > limit) {
    co_return Err(NetErrc::kMessageTooLarge,
                  "request envelope of " + std::to_string(encoded.size()) + " bytes exceeds limit "
                      + std::to_string(limit));
  }
  auto holder = std::make_shared<std::shared_ptr<Stream>>();
  auto result = co_await with_timeout(unary_exchange(host.shared_from_this(),
                                                     peer,
                                                     name,
                                                     std::move(encoded),
                                                     std::move(envelope.call_id),
                                                     limit,
                                                     options.finish_timeout,
                                                     holder),
                                      timeout);
  if (!result) {
    // Failed before a valid reply (deadline, bad bytes, stream error): reset the stream, which
    // also cancels the callee's handler. After a reply the holder is empty.
    if (*holder)
      (*holder)->reset();
    co_return Err(as_net_timeout(result.error(), timeout));
  }
  co_return result;
}

// ---------------------------------------------------------------------------------------------
// Streaming

/// Shared by the call object and its reader's source.
struct RpcStreamCall::State {
  std::shared_ptr<Stream> stream;
  std::size_t max_message = 0;
  bool finished_sending = false;
  bool server_closed = false;    ///< the server closed its side (after its last response)
  std::optional<Error> failure;  ///< sticky error of the response stream

  /// Closes our side once both directions are done (never earlier: see finish_sending()).
  void maybe_close() {
    if (finished_sending && server_closed)
      (void)stream->close_write();
  }

  asio::awaitable<Result<std::optional<Bytes>>> next_response() {
    if (failure)
      co_return Err(*failure);
    if (server_closed)
      co_return std::optional<Bytes>{};
    auto frame = co_await detail::read_stream_frame(*stream, max_message);
    if (!frame) {
      failure = frame.error();
      co_return Err(*failure);
    }
    if (!*frame) {
      server_closed = true;
      maybe_close();
      co_return std::optional<Bytes>{};
    }
    if ((*frame)->marker == StreamMarker::kMessage) {
      co_return std::optional<Bytes>{std::move((*frame)->payload)};
    }
    // hivemind's client raises on any error frame from the server, even an empty one.
    auto text = decode_rpc_error((*frame)->payload);
    failure = text ? Error(make_error_code(NetErrc::kRemoteError), *text) : text.error();
    co_return Err(*failure);
  }
};

RpcStreamCall::RpcStreamCall(std::shared_ptr<Stream> stream, RpcOptions options)
    : state_(std::make_shared<State>()),
      writer_(stream, options.max_stream_message),
      reader_([state = state_]() { return state->next_response(); }) {
  state_->stream = std::move(stream);
  state_->max_message = options.max_stream_message;
}

RpcStreamCall::~RpcStreamCall() {
  // A call abandoned before both sides finished is cancelled (Stream would reset it too).
  if (!(state_->finished_sending && state_->server_closed))
    state_->stream->reset();
}

asio::awaitable<Result<void>> RpcStreamCall::send(BytesView message) {
  if (state_->finished_sending) {
    co_return Err(NetErrc::kStreamClosed, "send after finish_sending");
  }
  co_return co_await writer_.write(message);
}

asio::awaitable<Result<void>> RpcStreamCall::finish_sending() {
  if (state_->finished_sending)
    co_return ok();
  auto state = state_;
  HM_CO_TRY_VOID(co_await detail::write_stream_frame(
      *state->stream, StreamMarker::kError, encode_rpc_error("")));
  state->finished_sending = true;
  state->maybe_close();
  co_return ok();
}

void RpcStreamCall::cancel() {
  state_->stream->reset();
}

asio::awaitable<Result<std::unique_ptr<RpcStreamCall>>> open_streaming_call(Host& host,
                                                                            const PeerId& peer,
                                                                            const std::string& name,
                                                                            RpcOptions options) {
  HM_CO_TRY(auto stream, co_await host.new_stream(peer, std::string(name)));
  co_return std::make_unique<RpcStreamCall>(std::move(stream), options);
}

namespace {

asio::awaitable<Result<void>> send_all(RpcStreamCall* call, const std::vector<Bytes>* requests) {
  for (const Bytes& request : *requests) {
    auto sent = co_await call->send(request);
    if (!sent) {
      call->cancel();  // unblocks the reader
      co_return sent;
    }
  }
  auto finished = co_await call->finish_sending();
  if (!finished)
    call->cancel();
  co_return finished;
}

asio::awaitable<Result<std::vector<Bytes>>> collect_all(RpcStreamCall* call) {
  std::vector<Bytes> responses;
  while (true) {
    auto next = co_await call->responses().next();
    if (!next) {
      call->cancel();  // unblocks a sender stalled on flow control
      co_return Err(next.error());
    }
    if (!*next)
      co_return responses;
    responses.push_back(std::move(**next));
  }
}

asio::awaitable<Result<std::vector<Bytes>>> streaming_exchange(std::shared_ptr<Host> host,
                                                               PeerId peer,
                                                               std::string name,
                                                               std::vector<Bytes> requests,
                                                               RpcOptions options) {
  HM_CO_TRY(auto call, co_await open_streaming_call(*host, peer, name, options));
  auto [sent, received] = co_await (send_all(call.get(), &requests) && collect_all(call.get()));
  if (!received) {
    // Our own send failure is the cause when the reader only saw the reset we made.
    if (!sent && received.error() == NetErrc::kStreamReset)
      co_return Err(sent.error());
    co_return Err(received.error());
  }
  // The server closed cleanly after its last response: that answer stands even if sending the
  // rest of our requests failed meanwhile.
  co_return std::move(*received);
}

}  // namespace

asio::awaitable<Result<std::vector<Bytes>>> call_streaming(Host& host,
                                                           const PeerId& peer,
                                                           const std::string& name,
                                                           std::vector<Bytes> requests,
                                                           std::chrono::milliseconds timeout,
                                                           RpcOptions options) {
  for (const Bytes& request : requests) {
    if (request.size() > options.max_stream_message) {
      co_return Err(NetErrc::kMessageTooLarge,
                    "request of " + std::to_string(request.size()) + " bytes exceeds limit "
                        + std::to_string(options.max_stream_message));
    }
  }
  auto result = co_await with_timeout(
      streaming_exchange(host.shared_from_this(), peer, name, std::move(requests), options),
      timeout);
  if (!result)
    co_return Err(as_net_timeout(result.error(), timeout));
  co_return result;
}

}  // namespace hivemind::net
