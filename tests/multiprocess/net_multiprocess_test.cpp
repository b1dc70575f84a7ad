// Multi-process networking: real hm-test-peer processes on 127.0.0.1, each a Host in its own
// process, driven by an in-process Host. Unary calls and a forward chain across processes, remote
// errors, deadlines and caller cancellation reaching the remote handler, streaming both ways, a
// peer SIGKILLed mid-stream, and clean stops on SIGTERM and on stdin closing. Every wait has a
// deadline; peers report what happened inside them as JSON lines on stdout.
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include "hivemind/core/timeout.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/rpc.hpp"
#include "test_peer_protocol.hpp"
#include "testutil/child_process.hpp"
#include "testutil/net_test.hpp"

namespace hivemind::net {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
using testing::ChildProcess;
using testing::JsonValue;
namespace tp = hivemind::testpeer;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = 30s;  // generous: peers start in ~0.1 s, more under ASan
constexpr auto kEventTimeout = 10s;
constexpr auto kCallTimeout = 20s;
/// The libp2p vector (DESIGN.md): Ed25519 seed 0x01 x 32 gives this peer id.
constexpr char kSeedHex[] = "0101010101010101010101010101010101010101010101010101010101010101";
constexpr char kSeedPeerId[] = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

using Match = std::function<bool(const JsonValue&)>;

Match is_event(std::string event) {
  return [event = std::move(event)](const JsonValue& v) {
    return v["event"].as_string() == event;
  };
}

Match is_sleep_event(std::string event, double ms) {
  return [event = std::move(event), ms](const JsonValue& v) {
    return v["event"].as_string() == event && v["ms"].as_number() == ms;
  };
}

/// The peer's "call" event for `method` made by `from`.
Match is_call(std::string method, const PeerId& from) {
  return [method = std::move(method), from = from.to_string()](const JsonValue& v) {
    return v["event"].as_string() == "call" && v["method"].as_string() == method
           && v["from"].as_string() == from;
  };
}

Bytes filled(std::size_t n, std::uint8_t seed) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>(seed + i * 7);
  return out;
}

/// A running hm-test-peer.
struct PeerProcess {
  ChildProcess process;
  PeerId id;
  Multiaddr addr;  ///< the first announced address, ending in /p2p/<id>
  /// TearDown closes stdin and expects "stopped" and exit code 0 (tests that kill or stop the
  /// peer themselves clear this).
  bool expect_clean_exit = true;
};

/// Runs one unary call and stores its outcome (for calls that must stay in flight meanwhile).
asio::awaitable<void> call_and_store(std::shared_ptr<Host> client,
                                     PeerId peer,
                                     std::string method,
                                     Bytes request,
                                     std::chrono::milliseconds timeout,
                                     std::shared_ptr<std::optional<Result<Bytes>>> out) {
  auto result = co_await call_unary(*client, peer, method, request, timeout);
  out->emplace(std::move(result));
}

/// Reads responses until the server closes the stream (returns how many) or an error.
asio::awaitable<Result<std::size_t>> drain(RpcStreamCall& call) {
  std::size_t n = 0;
  while (true) {
    HM_CO_TRY(auto message, co_await call.responses().next());
    if (!message)
      co_return n;
    ++n;
  }
}

class Multiprocess : public testing::NetTest {
 protected:
  void TearDown() override {
    for (auto& peer : peers_) {
      if (peer->expect_clean_exit)
        peer->process.close_stdin();
    }
    for (auto& peer : peers_) {
      if (!peer->expect_clean_exit)
        continue;
      auto stopped = peer->process.read_json(is_event("stopped"), kEventTimeout);
      EXPECT_TRUE(stopped) << "peer " << peer->id.to_string() << ": " << stopped.error().message()
                           << "\n"
                           << peer->process.history_tail(20);
      auto code = peer->process.wait(kEventTimeout);
      EXPECT_TRUE(code && *code == 0)
          << "peer exit: " << (code ? std::to_string(*code) : code.error().message());
    }
    peers_.clear();
  }

  /// Starts hm-test-peer with `args` and waits for its "listening" line (blocking: call it
  /// before run()). Returns nullptr after recording a failure.
  PeerProcess* start_peer(std::vector<std::string> args = {}) {
    args.insert(args.begin(), HM_TEST_PEER_PATH);
    testing::ChildOptions options;
    options.argv = std::move(args);
    auto child = ChildProcess::spawn(std::move(options));
    if (!child) {
      ADD_FAILURE() << "spawning " << HM_TEST_PEER_PATH << ": " << child.error().message();
      return nullptr;
    }
    auto line = child->read_json(
        [](const JsonValue& v) {
          return v["event"].as_string() == "listening" || v["event"].as_string() == "error";
        },
        kStartTimeout);
    if (!line || (*line)["event"].as_string() == "error") {
      ADD_FAILURE() << "peer did not start: "
                    << (line ? (*line)["message"].as_string() : line.error().message());
      return nullptr;
    }
    auto id = PeerId::from_string((*line)["peer_id"].as_string());
    const auto& addrs = (*line)["addrs"].as_array();
    auto addr = Multiaddr::from_string(addrs.empty() ? "" : addrs.front().as_string());
    if (!id || !addr || addr->peer_id() != *id) {
      ADD_FAILURE() << "bad listening line: " << child->history_tail(1);
      return nullptr;
    }
    peers_.push_back(std::make_unique<PeerProcess>(PeerProcess{std::move(*child), *id, *addr}));
    return peers_.back().get();
  }

  /// A host in this process that knows every started peer's address.
  std::shared_ptr<Host> make_client() {
    auto client = make_host();
    for (const auto& peer : peers_) {
      const std::vector<Multiaddr> addrs(1, peer->addr);
      client->peer_store().add_addrs(peer->id, addrs);
    }
    return client;
  }

  std::vector<std::unique_ptr<PeerProcess>> peers_;
};

TEST_F(Multiprocess, ThreePeersEchoAndForwardChain) {
  PeerProcess* c = start_peer({"--seed", kSeedHex});
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->id.to_string(), kSeedPeerId);
  PeerProcess* b = start_peer({"--connect", c->addr.to_string()});
  ASSERT_NE(b, nullptr);
  PeerProcess* a = start_peer({"--connect", b->addr.to_string()});
  ASSERT_NE(a, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto client = make_client();
    const std::vector<PeerProcess*> all{a, b, c};
    for (PeerProcess* peer : all) {
      const Bytes request = to_bytes("hello " + peer->id.to_string());
      auto reply = co_await call_unary(*client, peer->id, tp::kEcho, request, kCallTimeout);
      HM_CO_ASSERT_OK(reply);
      EXPECT_EQ(*reply, request);
    }
    // One hop: client -> A.rpc_forward -> B.rpc_echo; B saw the call come from A.
    const Bytes one_hop = to_bytes(b->id.to_string() + "|one hop");
    auto reply = co_await call_unary(*client, a->id, tp::kForward, one_hop, kCallTimeout);
    HM_CO_ASSERT_OK(reply);
    EXPECT_EQ(as_chars(*reply), "one hop");
    auto seen = co_await b->process.async_read_json(is_call(tp::kEcho, a->id), kEventTimeout);
    HM_CO_ASSERT_OK(seen);
    // Two hops: client -> A.rpc_forward -> B.rpc_forward -> C.rpc_echo.
    const Bytes two_hops = to_bytes(b->id.to_string() + "|" + c->id.to_string() + "|two hops");
    reply = co_await call_unary(*client, a->id, tp::kForward, two_hops, kCallTimeout);
    HM_CO_ASSERT_OK(reply);
    EXPECT_EQ(as_chars(*reply), "two hops");
    seen = co_await b->process.async_read_json(is_call(tp::kForward, a->id), kEventTimeout);
    HM_CO_ASSERT_OK(seen);
    seen = co_await c->process.async_read_json(is_call(tp::kEcho, b->id), kEventTimeout);
    HM_CO_ASSERT_OK(seen);
    // A knows no address of C (it only dialed B): the forward really goes over the network.
    const Bytes unreachable = to_bytes(c->id.to_string() + "|x");
    reply = co_await call_unary(*client, a->id, tp::kForward, unreachable, kCallTimeout);
    HM_CO_ASSERT(!reply);
    EXPECT_EQ(reply.error(), NetErrc::kRemoteError);
    EXPECT_NE(reply.error().message().find("forward to " + c->id.to_string()), std::string::npos)
        << reply.error().message();
  });
}

TEST_F(Multiprocess, HandlerErrorTextReachesCaller) {
  PeerProcess* peer = start_peer();
  ASSERT_NE(peer, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto client = make_client();
    const Bytes request = to_bytes("x");
    auto failed = co_await call_unary(*client, peer->id, tp::kFail, request, kCallTimeout);
    HM_CO_ASSERT(!failed);
    EXPECT_EQ(failed.error(), NetErrc::kRemoteError);
    EXPECT_EQ(failed.error().message(), "boom: x");
    auto still_serving = co_await call_unary(*client, peer->id, tp::kEcho, request, kCallTimeout);
    HM_CO_ASSERT_OK(still_serving);
    EXPECT_EQ(*still_serving, request);
  });
}

TEST_F(Multiprocess, DeadlineCancelsRemoteSleep) {
  PeerProcess* peer = start_peer();
  ASSERT_NE(peer, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto client = make_client();
    // Within the deadline: the sleep finishes.
    const Bytes short_sleep = to_bytes("20");
    auto slept = co_await call_unary(*client, peer->id, tp::kSleep, short_sleep, kCallTimeout);
    HM_CO_ASSERT_OK(slept);
    EXPECT_EQ(as_chars(*slept), "slept 20");
    auto done =
        co_await peer->process.async_read_json(is_sleep_event("sleep_done", 20), kEventTimeout);
    HM_CO_ASSERT_OK(done);
    // Past the deadline: kTimeout after ~200 ms, and the remote handler is cancelled.
    const Bytes long_sleep = to_bytes("10000");
    const auto start = Clock::now();
    auto late = co_await call_unary(*client, peer->id, tp::kSleep, long_sleep, 200ms);
    const auto elapsed = Clock::now() - start;
    HM_CO_ASSERT(!late);
    EXPECT_EQ(late.error(), NetErrc::kTimeout) << late.error().message();
    EXPECT_GE(elapsed, 200ms);
    EXPECT_LT(elapsed, 5s);
    auto cancelled = co_await peer->process.async_read_json(
        is_sleep_event("sleep_cancelled", 10000), kEventTimeout);
    HM_CO_ASSERT_OK(cancelled);
  });
}

TEST_F(Multiprocess, CallerCancellationCancelsRemoteSleep) {
  PeerProcess* peer = start_peer();
  ASSERT_NE(peer, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto client = make_client();
    // Race an hour-long call against "the peer started sleeping": the call loses and is
    // cancelled, which resets its stream.
    const Bytes request = to_bytes("10000");
    const std::chrono::milliseconds no_deadline = 1h;
    auto winner =
        co_await (call_unary(*client, peer->id, tp::kSleep, request, no_deadline)
                  || peer->process.async_read_json(is_event("sleep_started"), kEventTimeout));
    HM_CO_ASSERT(winner.index() == 1);
    HM_CO_ASSERT_OK(std::get<1>(winner));
    auto cancelled = co_await peer->process.async_read_json(
        is_sleep_event("sleep_cancelled", 10000), kEventTimeout);
    HM_CO_ASSERT_OK(cancelled);
  });
}

TEST_F(Multiprocess, BidirectionalStreamingEchoesHundredMessages) {
  PeerProcess* peer = start_peer();
  ASSERT_NE(peer, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto client = make_client();
    // Ping-pong: each echo arrives before the next request is sent.
    auto call = co_await open_streaming_call(*client, peer->id, tp::kStreamEcho);
    HM_CO_ASSERT_OK(call);
    for (std::size_t i = 0; i < 100; ++i) {
      const Bytes request = filled(i * 37, static_cast<std::uint8_t>(i));
      auto sent = co_await (*call)->send(request);
      HM_CO_ASSERT_OK(sent);
      auto echoed = co_await (*call)->responses().next();
      HM_CO_ASSERT_OK(echoed);
      HM_CO_ASSERT(echoed->has_value());
      EXPECT_EQ(**echoed, request) << "message " << i;
    }
    auto finished = co_await (*call)->finish_sending();
    HM_CO_ASSERT_OK(finished);
    auto end = co_await (*call)->responses().next();
    HM_CO_ASSERT_OK(end);
    EXPECT_FALSE(end->has_value());
    // Pipelined: 100 requests sent while the echoes stream back.
    std::vector<Bytes> requests;
    for (std::size_t i = 0; i < 100; ++i)
      requests.push_back(filled(4096, static_cast<std::uint8_t>(i)));
    auto echoes =
        co_await call_streaming(*client, peer->id, tp::kStreamEcho, requests, kCallTimeout);
    HM_CO_ASSERT_OK(echoes);
    EXPECT_EQ(*echoes, requests);
  });
}

TEST_F(Multiprocess, ServerStreamingThousandMessages) {
  PeerProcess* peer = start_peer();
  ASSERT_NE(peer, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto client = make_client();
    std::vector<Bytes> requests{to_bytes("1000")};
    auto responses = co_await call_streaming(*client, peer->id, tp::kCount, requests, kCallTimeout);
    HM_CO_ASSERT_OK(responses);
    HM_CO_ASSERT(responses->size() == 1000);
    for (std::size_t i = 0; i < responses->size(); ++i)
      EXPECT_EQ((*responses)[i], tp::count_message(i)) << "message " << i;
  });
}

TEST_F(Multiprocess, KilledPeerMidStreamFailsFastAndOthersAnswer) {
  PeerProcess* a = start_peer();
  ASSERT_NE(a, nullptr);
  PeerProcess* b = start_peer();
  ASSERT_NE(b, nullptr);
  PeerProcess* c = start_peer();
  ASSERT_NE(c, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto client = make_client();
    auto call = co_await open_streaming_call(*client, b->id, tp::kCount);
    HM_CO_ASSERT_OK(call);
    const Bytes request = to_bytes("100000");  // ~100 MiB: far from done when B dies
    auto sent = co_await (*call)->send(request);
    HM_CO_ASSERT_OK(sent);
    auto finished = co_await (*call)->finish_sending();
    HM_CO_ASSERT_OK(finished);
    for (std::uint64_t i = 0; i < 100; ++i) {
      auto message = co_await (*call)->responses().next();
      HM_CO_ASSERT_OK(message);
      HM_CO_ASSERT(message->has_value());
      EXPECT_EQ(**message, tp::count_message(i));
    }
    b->expect_clean_exit = false;
    const auto killed_at = Clock::now();
    b->process.kill();  // SIGKILL, reaped
    auto rest = co_await with_timeout(drain(**call), 10s);
    const auto elapsed = Clock::now() - killed_at;
    HM_CO_ASSERT(!rest);  // never a clean end: B sent far fewer than 100000 messages
    EXPECT_NE(rest.error(), CoreErrc::kTimeout) << "the caller hung after the peer died";
    EXPECT_LT(elapsed, 5s);
    const bool gone =
        co_await testing::wait_until([&] { return !client->is_connected(b->id); }, 5s);
    EXPECT_TRUE(gone);
    // The other peers still answer.
    const std::vector<PeerProcess*> survivors{a, c};
    for (PeerProcess* peer : survivors) {
      const Bytes ping = to_bytes("still there?");
      auto reply = co_await call_unary(*client, peer->id, tp::kEcho, ping, kCallTimeout);
      HM_CO_ASSERT_OK(reply);
      EXPECT_EQ(*reply, ping);
    }
    // Calling the dead peer fails promptly too (nothing listens on its port any more).
    const Bytes ping = to_bytes("anyone?");
    auto dead = co_await call_unary(*client, b->id, tp::kEcho, ping, 5s);
    HM_CO_ASSERT(!dead);
    EXPECT_NE(dead.error(), NetErrc::kTimeout) << dead.error().message();
  });
}

TEST_F(Multiprocess, SigtermStopsCleanlyWithCallInFlight) {
  PeerProcess* peer = start_peer();
  ASSERT_NE(peer, nullptr);
  run([&]() -> asio::awaitable<void> {
    auto client = make_client();
    auto outcome = std::make_shared<std::optional<Result<Bytes>>>();
    asio::co_spawn(
        io_,
        call_and_store(client, peer->id, tp::kSleep, to_bytes("10000"), kCallTimeout, outcome),
        asio::detached);
    auto started = co_await peer->process.async_read_json(is_event("sleep_started"), kEventTimeout);
    HM_CO_ASSERT_OK(started);
    peer->expect_clean_exit = false;  // checked here instead of in TearDown
    peer->process.signal(SIGTERM);
    // In this order: stopping the host cancels its handlers first.
    auto cancelled =
        co_await peer->process.async_read_json(is_event("sleep_cancelled"), kEventTimeout);
    HM_CO_ASSERT_OK(cancelled);
    auto stopped = co_await peer->process.async_read_json(is_event("stopped"), kEventTimeout);
    HM_CO_ASSERT_OK(stopped);
    auto code = co_await peer->process.async_wait(kEventTimeout);
    HM_CO_ASSERT_OK(code);
    EXPECT_EQ(*code, 0);
    // The caller learns that the call failed (its connection closed), without waiting 20 s.
    const bool answered = co_await testing::wait_until([&] { return outcome->has_value(); }, 5s);
    HM_CO_ASSERT(answered);
    HM_CO_ASSERT(!**outcome);
    EXPECT_NE((**outcome).error(), NetErrc::kTimeout) << (**outcome).error().message();
  });
}

TEST_F(Multiprocess, StdinCloseStopsCleanly) {
  PeerProcess* peer = start_peer();
  ASSERT_NE(peer, nullptr);
  peer->expect_clean_exit = false;  // checked here
  peer->process.close_stdin();
  auto stopped = peer->process.read_json(is_event("stopped"), kEventTimeout);
  ASSERT_TRUE(stopped) << stopped.error().message();
  auto code = peer->process.wait(kEventTimeout);
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 0);
}

TEST_F(Multiprocess, BadCommandLineIsReportedAsErrorEvent) {
  std::vector<std::string> argv{HM_TEST_PEER_PATH, "--seed", "zz"};
  testing::ChildOptions options;
  options.argv = argv;
  auto child = ChildProcess::spawn(std::move(options));
  ASSERT_TRUE(child) << child.error().message();
  auto error = child->read_json(is_event("error"), kEventTimeout);
  ASSERT_TRUE(error) << error.error().message();
  EXPECT_NE((*error)["message"].as_string().find("--seed"), std::string::npos);
  auto code = child->wait(kEventTimeout);
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 2);
}

}  // namespace
}  // namespace hivemind::net
