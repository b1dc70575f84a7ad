// hivemind 1.x unary RPCs between hosts on 127.0.0.1 in one process: echo, remote errors,
// unknown methods, deadlines and cancellation, limits, concurrency, hostile bytes on raw streams.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include "hivemind/core/timeout.hpp"
#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/rpc.hpp"
#include "rpc_fixture.hpp"

namespace hivemind::net {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
using namespace rpc_test;                                 // NOLINT(google-build-using-namespace)

class RpcUnaryTest : public RpcFixture {};

TEST_F(RpcUnaryTest, UnaryEchoOfEverySize) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    // (No braced lists across co_await: g++ 12 miscompiles them.)
    const std::vector<std::size_t> sizes{0, 5, std::size_t{1} << 20, kMaxUnaryMessage - 256};
    for (std::size_t size : sizes) {
      const Bytes request = filled(size, 3);
      auto reply = co_await call_unary(*client_, server_->peer_id(), kEcho, request, 10s);
      HM_CO_ASSERT_OK(reply);
      EXPECT_EQ(*reply, request) << "size " << size;
    }
    EXPECT_EQ(calls_->count, 4);
    EXPECT_EQ(client_->connection_count(), 1u);
  });
}

TEST_F(RpcUnaryTest, HandlerErrorTextReachesCaller) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    add_unary_handler(
        *server_, "Svc.rpc_fail", [](RpcContext, Bytes) -> asio::awaitable<Result<Bytes>> {
          co_return Err(NetErrc::kMalformedMessage, "ValueError('boom')");
        });
    add_unary_handler(
        *server_, "Svc.rpc_throw", [](RpcContext, Bytes) -> asio::awaitable<Result<Bytes>> {
          throw std::runtime_error("kaput");
          co_return Bytes{};
        });
    auto failed =
        co_await call_unary(*client_, server_->peer_id(), "Svc.rpc_fail", Bytes(1, 1), 10s);
    HM_CO_ASSERT(!failed);
    EXPECT_EQ(failed.error(), NetErrc::kRemoteError);
    EXPECT_EQ(failed.error().message(), "ValueError('boom')");
    auto thrown = co_await call_unary(*client_, server_->peer_id(), "Svc.rpc_throw", Bytes{}, 10s);
    HM_CO_ASSERT(!thrown);
    EXPECT_EQ(thrown.error(), NetErrc::kRemoteError);
    EXPECT_EQ(thrown.error().message(), "kaput");
    // The host keeps serving.
    auto still_serving = co_await call_unary(*client_, server_->peer_id(), kEcho, Bytes(1, 7), 10s);
    HM_CO_ASSERT_OK(still_serving);
  });
}

TEST_F(RpcUnaryTest, UnknownMethodIsProtocolNotSupported) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    auto missing =
        co_await call_unary(*client_, server_->peer_id(), "Svc.rpc_missing", Bytes(1, 1), 10s);
    HM_CO_ASSERT(!missing);
    EXPECT_EQ(missing.error(), NetErrc::kProtocolNotSupported) << missing.error().message();
    auto call = co_await open_streaming_call(*client_, server_->peer_id(), "Svc.rpc_missing");
    HM_CO_ASSERT_OK(call);
    (void)co_await (*call)->send(Bytes(1, 1));
    auto first = co_await (*call)->responses().next();
    HM_CO_ASSERT(!first);
    EXPECT_EQ(first.error(), NetErrc::kProtocolNotSupported) << first.error().message();
  });
}

TEST_F(RpcUnaryTest, DeadlineTimesOutAndCancelsRemoteHandler) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    auto slow = co_await call_unary(*client_, server_->peer_id(), kSlow, Bytes(1, 1), 300ms);
    HM_CO_ASSERT(!slow);
    EXPECT_EQ(slow.error(), NetErrc::kTimeout);
    EXPECT_EQ(started_->count, 1);
    const bool reached = co_await aborted_->wait_for(1);
    EXPECT_TRUE(reached) << "the remote handler was not cancelled";
  });
}

TEST_F(RpcUnaryTest, CallerCancellationCancelsHandler) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    // Race a long call against "the handler started": the call loses and is cancelled.
    auto winner = co_await (call_unary(*client_, server_->peer_id(), kSlow, Bytes(1, 1), 1h)
                            || started_->wait_for(1));
    EXPECT_EQ(winner.index(), 1u);
    const bool reached = co_await aborted_->wait_for(1);
    EXPECT_TRUE(reached) << "the remote handler was not cancelled";
  });
}

/// Gives up on a slow call once both slow handlers started (cancelling the call resets its
/// stream), pings the callee over the same connection, and returns how many slow handlers had
/// been cancelled when the ping returned.
asio::awaitable<Result<int>> give_up_then_ping(std::shared_ptr<Host> client,
                                               PeerId server,
                                               std::shared_ptr<Events> started,
                                               std::shared_ptr<Events> aborted) {
  auto gave_up =
      co_await (call_unary(*client, server, kSlow, Bytes(1, 2), 1h) || started->wait_for(2));
  if (gave_up.index() != 1 || !std::get<1>(gave_up))
    co_return Err(NetErrc::kProtocolViolation, "the slow handlers did not both start");
  HM_CO_TRY_VOID(co_await client->ping(server));
  co_return aborted->count;
}

TEST_F(RpcUnaryTest, ACallerResetIsHandledBeforeLaterFramesOnItsConnection) {
  // While another call stays in flight on the connection, a caller gives up. Its RST reaches the
  // callee asynchronously, but ahead of anything the caller sends afterwards on that connection:
  // when a ping sent afterwards returns, the abandoned handler has been cancelled already and
  // the other one has not. (Callers use this as a barrier, e.g. the expert server's tests before
  // letting queued work run.)
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    auto raced = co_await (call_unary(*client_, server_->peer_id(), kSlow, Bytes(1, 1), 1h)
                           || give_up_then_ping(client_, server_->peer_id(), started_, aborted_));
    HM_CO_ASSERT(raced.index() == 1);
    const auto& aborted_at_pong = std::get<1>(raced);
    HM_CO_ASSERT_OK(aborted_at_pong);
    EXPECT_EQ(*aborted_at_pong, 1);
    EXPECT_EQ(started_->count, 2);
  });
}

TEST_F(RpcUnaryTest, OversizeRequestIsRefusedLocally) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    auto refused =
        co_await call_unary(*client_, server_->peer_id(), kEcho, Bytes(kMaxUnaryMessage, 0), 10s);
    HM_CO_ASSERT(!refused);
    EXPECT_EQ(refused.error(), NetErrc::kMessageTooLarge);
    RpcOptions small;
    small.max_unary_message = 1000;
    refused = co_await call_unary(*client_, server_->peer_id(), kEcho, Bytes(1000, 0), 10s, small);
    HM_CO_ASSERT(!refused);
    EXPECT_EQ(refused.error(), NetErrc::kMessageTooLarge);
    // Nothing was sent: not even a connection was made.
    EXPECT_FALSE(client_->is_connected(server_->peer_id()));
    EXPECT_EQ(calls_->count, 0);
  });
}

TEST_F(RpcUnaryTest, OversizeResponseBecomesErrorReply) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    add_unary_handler(
        *server_, "Svc.rpc_big", [](RpcContext, Bytes) -> asio::awaitable<Result<Bytes>> {
          co_return Bytes(kMaxUnaryMessage, 1);
        });
    auto big = co_await call_unary(*client_, server_->peer_id(), "Svc.rpc_big", Bytes{}, 10s);
    HM_CO_ASSERT(!big);
    EXPECT_EQ(big.error(), NetErrc::kRemoteError);
    EXPECT_NE(big.error().message().find("response too large"), std::string::npos)
        << big.error().message();
  });
}

/// One echo call of a size picked by `index`; counts it in `finished`, and in `matched` if the
/// reply equals the request.
asio::awaitable<void> echo_call(std::shared_ptr<Host> client,
                                PeerId server,
                                std::size_t index,
                                std::shared_ptr<Events> finished,
                                std::shared_ptr<int> matched) {
  const Bytes request = filled(100 + index * 37, static_cast<std::uint8_t>(index));
  auto reply = co_await call_unary(*client, server, kEcho, request, 20s);
  if (reply && *reply == request)
    ++*matched;
  finished->add();
}

TEST_F(RpcUnaryTest, HundredConcurrentUnaryCalls) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    auto done = std::make_shared<Events>(io_.get_executor());
    auto correct = std::make_shared<int>(0);
    for (int i = 0; i < 100; ++i) {
      asio::co_spawn(
          io_,
          echo_call(client_, server_->peer_id(), static_cast<std::size_t>(i), done, correct),
          asio::detached);
    }
    const bool reached = co_await done->wait_for(100, 30s);
    EXPECT_TRUE(reached);
    EXPECT_EQ(*correct, 100);
    EXPECT_EQ(calls_->count, 100);
  });
}

/// Writes `bytes` on a raw stream with protocol `name`, then reads until the end or an error.
asio::awaitable<Result<Bytes>> raw_exchange(std::shared_ptr<Host> client,
                                            PeerId server,
                                            std::string name,
                                            Bytes bytes) {
  HM_CO_TRY(auto stream, co_await client->new_stream(server, std::move(name)));
  HM_CO_TRY_VOID(co_await stream->write(bytes));
  co_return co_await stream->read_to_end(1 << 20);
}

TEST_F(RpcUnaryTest, MalformedBytesOnRawStreamsAreRefused) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    // Unary: a delimited message that is not an envelope; a declared length above the limit
    // (refused before the body); an envelope of the wrong kind (a response).
    Bytes garbage;
    append_delimited(garbage, Bytes{0xff, 0xff, 0xff, 0xff});
    Bytes oversized;
    append_uvarint(oversized, kMaxUnaryMessage + 1);
    UnaryEnvelope wrong_kind;
    wrong_kind.kind = UnaryEnvelope::Kind::kResponse;
    wrong_kind.call_id = Bytes(16, 1);
    Bytes response_envelope;
    append_delimited(response_envelope, encode_unary_envelope(wrong_kind));
    const std::vector<Bytes> hostile{garbage, oversized, response_envelope};
    for (const Bytes& bytes : hostile) {
      auto answer =
          co_await with_timeout(raw_exchange(client_, server_->peer_id(), kEcho, bytes), 5s);
      HM_CO_ASSERT(!answer);
      EXPECT_EQ(answer.error(), NetErrc::kStreamReset) << answer.error().message();
    }
    // Streaming: an unknown marker gets an error frame explaining it, then the close.
    Bytes bad_marker{0x07, 0, 0, 0, 0, 0, 0, 0, 0};
    auto answer =
        co_await with_timeout(raw_exchange(client_, server_->peer_id(), kStream, bad_marker), 5s);
    HM_CO_ASSERT_OK(answer);
    auto frame = decode_stream_frame(*answer, 1 << 20);
    HM_CO_ASSERT(frame && frame->has_value());
    EXPECT_EQ((*frame)->marker, StreamMarker::kError);
    auto text = decode_rpc_error((*frame)->payload);
    HM_CO_ASSERT_OK(text);
    EXPECT_NE(text->find("marker"), std::string::npos) << *text;
    EXPECT_EQ((*frame)->consumed, answer->size());
    // The server keeps serving both kinds of calls.
    const Bytes small_request{1, 2};
    auto echo = co_await call_unary(*client_, server_->peer_id(), kEcho, small_request, 10s);
    HM_CO_ASSERT_OK(echo);
    EXPECT_EQ(*echo, small_request);
    std::vector<Bytes> one{Bytes{3}};
    auto streamed = co_await call_streaming(*client_, server_->peer_id(), kStream, one, 10s);
    HM_CO_ASSERT_OK(streamed);
    EXPECT_EQ(streamed->size(), 2u);
  });
}

TEST_F(RpcUnaryTest, ACallerThatStopsMidRequestIsResetAtTheRequestDeadline) {
  run([&]() -> asio::awaitable<void> {
    RpcOptions options;
    options.unary_request_timeout = 200ms;
    co_await make_pair(options);
    // A length prefix announcing 10 bytes, then 3 of them, then silence with the stream open.
    Bytes partial;
    append_uvarint(partial, 10);
    append(partial, Bytes{1, 2, 3});
    auto stream = co_await client_->new_stream(server_->peer_id(), std::string(kEcho));
    HM_CO_ASSERT_OK(stream);
    HM_CO_ASSERT_OK(co_await (*stream)->write(partial));
    const auto start = std::chrono::steady_clock::now();
    auto answer = co_await with_timeout((*stream)->read_to_end(1 << 20), 5s);
    HM_CO_ASSERT(!answer);
    EXPECT_EQ(answer.error(), NetErrc::kStreamReset) << answer.error().message();
    EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);  // not before the deadline
    EXPECT_EQ(calls_->count, 0);
    // The server keeps serving.
    const Bytes request{4, 5};
    auto echo = co_await call_unary(*client_, server_->peer_id(), kEcho, request, 10s);
    HM_CO_ASSERT_OK(echo);
    EXPECT_EQ(*echo, request);
  });
}

}  // namespace
}  // namespace hivemind::net
