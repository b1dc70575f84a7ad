// hivemind 1.x RPCs between hosts on 127.0.0.1 in one process: unary and streaming calls, errors,
// deadlines, cancellation, limits, hostile bytes and peers that die mid-call.
#include <memory>
#include <stdexcept>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "hivemind/core/async_signal.hpp"
#include "hivemind/core/timeout.hpp"
#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/rpc.hpp"
#include "testutil/net_test.hpp"

namespace hivemind::net {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)

constexpr char kEcho[] = "EchoServicer.rpc_echo";
constexpr char kSlow[] = "EchoServicer.rpc_slow";
constexpr char kStream[] = "EchoServicer.rpc_stream";

/// Counts events and lets a coroutine wait, with a deadline, until enough have happened.
/// Shared by handlers and the test body through shared_ptr (handlers may outlive the body).
struct Events {
  explicit Events(const asio::any_io_executor& executor) : signal(executor) {}

  void add() {
    ++count;
    signal.notify_all();
  }

  /// True once `n` events happened; false if `limit` passed first.
  asio::awaitable<bool> wait_for(int n, std::chrono::milliseconds limit = 10s) {
    auto reached = co_await with_timeout(until(n), limit);
    co_return reached.has_value();
  }

  asio::awaitable<Result<void>> until(int n) {
    while (count < n)
      co_await signal.wait();
    co_return ok();
  }

  AsyncSignal signal;
  int count = 0;
};

/// Waits on a long timer; records whether the wait was aborted (the handler was cancelled).
asio::awaitable<void> wait_long(std::shared_ptr<Events> started, std::shared_ptr<Events> aborted) {
  started->add();
  asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
  auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (ec == asio::error::operation_aborted)
    aborted->add();
}

Bytes filled(std::size_t n, std::uint8_t seed) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>(seed + i * 7);
  return out;
}

class RpcTest : public testing::NetTest {
 protected:
  /// A server with the standard handlers, and a client that knows its address.
  asio::awaitable<void> make_pair(RpcOptions server_options = {}) {
    server_ = make_host();
    client_ = make_host();
    client_->peer_store().add_addrs(server_->peer_id(), server_->listen_addrs());
    started_ = std::make_shared<Events>(io_.get_executor());
    aborted_ = std::make_shared<Events>(io_.get_executor());
    auto calls = calls_ = std::make_shared<Events>(io_.get_executor());
    const PeerId client_id = client_->peer_id();
    add_unary_handler(
        *server_,
        kEcho,
        [calls, client_id](RpcContext context, Bytes request) -> asio::awaitable<Result<Bytes>> {
          calls->add();
          EXPECT_EQ(context.remote, client_id);
          EXPECT_EQ(context.method, kEcho);
          co_return request;
        },
        server_options);
    add_unary_handler(*server_,
                      kSlow,
                      [started = started_, aborted = aborted_](
                          RpcContext, Bytes) -> asio::awaitable<Result<Bytes>> {
                        co_await wait_long(started, aborted);
                        co_return Bytes{};
                      });
    // Streaming echo: every request back as it arrives, then "done:<count>".
    add_streaming_handler(
        *server_,
        kStream,
        [](RpcContext, RpcStreamReader& in, RpcStreamWriter& out) -> asio::awaitable<Result<void>> {
          int count = 0;
          while (true) {
            HM_CO_TRY(auto request, co_await in.next());
            if (!request)
              break;
            ++count;
            HM_CO_TRY_VOID(co_await out.write(*request));
          }
          co_return co_await out.write(to_bytes("done:" + std::to_string(count)));
        },
        server_options);
    co_return;  // (g++ 12 with -fsanitize=undefined warns on coroutines ending without one)
  }

  std::shared_ptr<Host> server_, client_;
  std::shared_ptr<Events> started_, aborted_, calls_;
};

TEST_F(RpcTest, UnaryEchoOfEverySize) {
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

TEST_F(RpcTest, HandlerErrorTextReachesCaller) {
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

TEST_F(RpcTest, UnknownMethodIsProtocolNotSupported) {
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

TEST_F(RpcTest, DeadlineTimesOutAndCancelsRemoteHandler) {
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

TEST_F(RpcTest, CallerCancellationCancelsHandler) {
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

TEST_F(RpcTest, OversizeRequestIsRefusedLocally) {
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

TEST_F(RpcTest, OversizeResponseBecomesErrorReply) {
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

TEST_F(RpcTest, HundredConcurrentUnaryCalls) {
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

TEST_F(RpcTest, ClientStreaming) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    add_streaming_handler(
        *server_,
        "Svc.rpc_sum",
        [](RpcContext, RpcStreamReader& in, RpcStreamWriter& out) -> asio::awaitable<Result<void>> {
          std::size_t total = 0;
          while (true) {
            HM_CO_TRY(auto request, co_await in.next());
            if (!request)
              break;
            total += request->size();
          }
          co_return co_await out.write(to_bytes(std::to_string(total)));
        });
    std::vector<Bytes> requests;
    for (std::size_t i = 0; i < 10; ++i)
      requests.push_back(filled(i * 1000, 1));
    auto responses =
        co_await call_streaming(*client_, server_->peer_id(), "Svc.rpc_sum", requests, 10s);
    HM_CO_ASSERT_OK(responses);
    HM_CO_ASSERT(responses->size() == 1);
    EXPECT_EQ(std::string(as_chars(responses->front())), "45000");
  });
}

TEST_F(RpcTest, ServerStreaming) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    add_streaming_handler(
        *server_,
        "Svc.rpc_count",
        [](RpcContext, RpcStreamReader& in, RpcStreamWriter& out) -> asio::awaitable<Result<void>> {
          HM_CO_TRY(auto request, co_await in.next());
          if (!request)
            co_return Err(NetErrc::kMalformedMessage, "no request");
          const int n = std::stoi(std::string(as_chars(*request)));
          for (int i = 0; i < n; ++i) {
            HM_CO_TRY_VOID(co_await out.write(filled(300'000, 9)));
          }
          co_return ok();
        });
    std::vector<Bytes> requests{to_bytes("7")};
    auto responses =
        co_await call_streaming(*client_, server_->peer_id(), "Svc.rpc_count", requests, 10s);
    HM_CO_ASSERT_OK(responses);
    EXPECT_EQ(responses->size(), 7u);
    for (const auto& r : *responses)
      EXPECT_EQ(r, filled(300'000, 9));
  });
}

TEST_F(RpcTest, BidirectionalStreaming) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    auto call = co_await open_streaming_call(*client_, server_->peer_id(), kStream);
    HM_CO_ASSERT_OK(call);
    for (int i = 0; i < 10; ++i) {  // ping-pong: each response arrives before the next request
      const Bytes request = filled(static_cast<std::size_t>(i) * 100, static_cast<std::uint8_t>(i));
      auto sent = co_await (*call)->send(request);
      HM_CO_ASSERT_OK(sent);
      auto response = co_await (*call)->responses().next();
      HM_CO_ASSERT_OK(response);
      HM_CO_ASSERT(response->has_value());
      EXPECT_EQ(**response, request);
    }
    auto finished = co_await (*call)->finish_sending();
    HM_CO_ASSERT_OK(finished);
    auto last = co_await (*call)->responses().next();
    HM_CO_ASSERT_OK(last);
    HM_CO_ASSERT(last->has_value());
    EXPECT_EQ(std::string(as_chars(**last)), "done:10");
    auto end = co_await (*call)->responses().next();
    HM_CO_ASSERT_OK(end);
    EXPECT_FALSE(end->has_value());
    // Large messages both ways at once: more than the flow-control windows hold.
    std::vector<Bytes> requests(12, filled(512 * 1024, 4));
    auto echoed = co_await call_streaming(*client_, server_->peer_id(), kStream, requests, 20s);
    HM_CO_ASSERT_OK(echoed);
    HM_CO_ASSERT(echoed->size() == 13);
    EXPECT_EQ(echoed->front(), requests.front());
    EXPECT_EQ(std::string(as_chars(echoed->back())), "done:12");
  });
}

TEST_F(RpcTest, StreamingHandlerErrorReachesCaller) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    add_streaming_handler(
        *server_,
        "Svc.rpc_picky",
        [](RpcContext, RpcStreamReader& in, RpcStreamWriter& out) -> asio::awaitable<Result<void>> {
          HM_CO_TRY(auto first, co_await in.next());
          HM_CO_TRY_VOID(co_await out.write(to_bytes("first ok")));
          co_return Err(NetErrc::kMalformedMessage, "bad input 42");
        });
    auto call = co_await open_streaming_call(*client_, server_->peer_id(), "Svc.rpc_picky");
    HM_CO_ASSERT_OK(call);
    auto sent = co_await (*call)->send(to_bytes("a"));
    HM_CO_ASSERT_OK(sent);
    auto first = co_await (*call)->responses().next();
    HM_CO_ASSERT_OK(first);
    HM_CO_ASSERT(first->has_value());
    EXPECT_EQ(std::string(as_chars(**first)), "first ok");
    auto failed = co_await (*call)->responses().next();
    HM_CO_ASSERT(!failed);
    EXPECT_EQ(failed.error(), NetErrc::kRemoteError);
    EXPECT_EQ(failed.error().message(), "bad input 42");
    auto again = co_await (*call)->responses().next();  // sticky
    HM_CO_ASSERT(!again);
    EXPECT_EQ(again.error(), NetErrc::kRemoteError);
    // Via the convenience call as well.
    std::vector<Bytes> requests{to_bytes("x"), to_bytes("y")};
    auto collected =
        co_await call_streaming(*client_, server_->peer_id(), "Svc.rpc_picky", requests, 10s);
    HM_CO_ASSERT(!collected);
    EXPECT_EQ(collected.error().message(), "bad input 42");
  });
}

TEST_F(RpcTest, StreamingCallerCancelCancelsHandler) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    add_streaming_handler(
        *server_,
        "Svc.rpc_wait",
        [started = started_, aborted = aborted_](
            RpcContext, RpcStreamReader& in, RpcStreamWriter&) -> asio::awaitable<Result<void>> {
          HM_CO_TRY(auto request, co_await in.next());
          co_await wait_long(started, aborted);
          co_return ok();
        });
    auto call = co_await open_streaming_call(*client_, server_->peer_id(), "Svc.rpc_wait");
    HM_CO_ASSERT_OK(call);
    auto sent = co_await (*call)->send(to_bytes("go"));
    HM_CO_ASSERT_OK(sent);
    auto finished = co_await (*call)->finish_sending();
    HM_CO_ASSERT_OK(finished);
    const bool ready = co_await started_->wait_for(1);
    HM_CO_ASSERT(ready);
    (*call)->cancel();
    const bool reached = co_await aborted_->wait_for(1);
    EXPECT_TRUE(reached) << "the remote handler was not cancelled";
    auto after = co_await (*call)->responses().next();
    HM_CO_ASSERT(!after);
    EXPECT_EQ(after.error(), NetErrc::kStreamReset);
    // A streaming deadline does the same.
    std::vector<Bytes> requests{to_bytes("go")};
    auto late =
        co_await call_streaming(*client_, server_->peer_id(), "Svc.rpc_wait", requests, 300ms);
    HM_CO_ASSERT(!late);
    EXPECT_EQ(late.error(), NetErrc::kTimeout);
    const bool reached_again = co_await aborted_->wait_for(2);
    EXPECT_TRUE(reached_again) << "the remote handler was not cancelled";
  });
}

TEST_F(RpcTest, OversizeStreamMessages) {
  run([&]() -> asio::awaitable<void> {
    RpcOptions small;
    small.max_stream_message = 1000;
    co_await make_pair(small);
    // Refused locally by the caller's own limit.
    std::vector<Bytes> too_big{Bytes(1001, 0)};
    auto local =
        co_await call_streaming(*client_, server_->peer_id(), kStream, too_big, 10s, small);
    HM_CO_ASSERT(!local);
    EXPECT_EQ(local.error(), NetErrc::kMessageTooLarge);
    // Refused by the server from the declared length; its error frame tells the caller why.
    std::vector<Bytes> above_server_limit{Bytes(5000, 0)};
    auto remote =
        co_await call_streaming(*client_, server_->peer_id(), kStream, above_server_limit, 10s);
    HM_CO_ASSERT(!remote);
    EXPECT_EQ(remote.error(), NetErrc::kRemoteError);
    EXPECT_NE(remote.error().message().find("exceeds limit"), std::string::npos)
        << remote.error().message();
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

TEST_F(RpcTest, MalformedBytesOnRawStreamsAreRefused) {
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

TEST_F(RpcTest, PeerKilledMidStreamFailsTheCaller) {
  run([&]() -> asio::awaitable<void> {
    co_await make_pair();
    add_streaming_handler(
        *server_,
        "Svc.rpc_hang",
        [started = started_, aborted = aborted_](
            RpcContext, RpcStreamReader&, RpcStreamWriter& out) -> asio::awaitable<Result<void>> {
          HM_CO_TRY_VOID(co_await out.write(to_bytes("one")));
          co_await wait_long(started, aborted);
          co_return ok();
        });
    auto call = co_await open_streaming_call(*client_, server_->peer_id(), "Svc.rpc_hang");
    HM_CO_ASSERT_OK(call);
    auto sent = co_await (*call)->send(to_bytes("go"));
    HM_CO_ASSERT_OK(sent);
    auto finished = co_await (*call)->finish_sending();
    HM_CO_ASSERT_OK(finished);
    auto first = co_await (*call)->responses().next();
    HM_CO_ASSERT_OK(first);
    HM_CO_ASSERT(first->has_value());
    co_await server_->stop();
    auto next = co_await with_timeout((*call)->responses().next(), 5s);
    HM_CO_ASSERT(!next);
    EXPECT_NE(next.error(), CoreErrc::kTimeout) << "the caller hung";
    // Unary calls to the dead peer fail too, within their deadline.
    auto unary = co_await call_unary(*client_, server_->peer_id(), kEcho, Bytes(1, 1), 5s);
    EXPECT_FALSE(unary);
  });
}

}  // namespace
}  // namespace hivemind::net
