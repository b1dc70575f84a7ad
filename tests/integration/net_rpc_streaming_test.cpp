// hivemind 1.x streaming RPCs between hosts on 127.0.0.1 in one process: client-, server- and
// bidirectional streaming, handler errors, cancellation, limits, a peer that dies mid-stream.
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

class RpcStreamingTest : public RpcFixture {};

TEST_F(RpcStreamingTest, ClientStreaming) {
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

TEST_F(RpcStreamingTest, ServerStreaming) {
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

TEST_F(RpcStreamingTest, BidirectionalStreaming) {
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

TEST_F(RpcStreamingTest, StreamingHandlerErrorReachesCaller) {
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

TEST_F(RpcStreamingTest, StreamingCallerCancelCancelsHandler) {
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

TEST_F(RpcStreamingTest, OversizeStreamMessages) {
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

TEST_F(RpcStreamingTest, PeerKilledMidStreamFailsTheCaller) {
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
