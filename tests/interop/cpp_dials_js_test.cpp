// Interop, direction 1: a C++ Host dials the js-libp2p peer (peer.mjs in listen mode, key from
// the 0x01 seed, so its peer id is known in advance) over TCP + Noise + Yamux.
#include <algorithm>
#include <array>
#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "hivemind/net/error.hpp"
#include "interop_support.hpp"
#include "testutil/net_test.hpp"

namespace hivemind::interop {
namespace {

using testing::NetTest;
using testing::wait_until;

constexpr std::chrono::seconds kStartTimeout{60};

class CppDialsJs : public NetTest {
 protected:
  void SetUp() override {
    const auto problem = js_install_problem();
    ASSERT_TRUE(problem.empty()) << problem;
    std::vector<std::string> args;
    args.push_back("--seed");
    args.push_back(kJsSeedHex);
    auto listener = start_js_listener(std::move(args), kStartTimeout);
    ASSERT_TRUE(listener) << "starting the js-libp2p peer: " << listener.error().message();
    js_.emplace(std::move(*listener));
  }

  void TearDown() override {
    if (!js_)
      return;
    js_->process.close_stdin();
    auto code = js_->process.wait(std::chrono::seconds(10));
    EXPECT_TRUE(code && *code == 0)
        << "js peer did not stop cleanly: "
        << (code ? std::to_string(*code) : code.error().message()) << "\n"
        << js_->process.history_tail(20);
  }

  /// Connects a fresh host to the JS peer (its address carries the expected /p2p/ id).
  asio::awaitable<std::shared_ptr<net::Host>> connected_host() {
    auto host = make_host();
    auto remote = co_await host->connect(js_->addr);
    EXPECT_TRUE(remote) << remote.error().message();
    co_return host;
  }

  std::optional<JsListener> js_;
};

TEST_F(CppDialsJs, JsPeerIdFromSeedMatchesTheLibp2pVector) {
  EXPECT_EQ(js_->peer_id.to_string(), kJsSeedPeerId);
  EXPECT_EQ(js_->addr.peer_id(), js_->peer_id);
}

TEST_F(CppDialsJs, EchoesPayloadsOfEverySize) {
  run([&]() -> asio::awaitable<void> {
    auto host = co_await connected_host();
    const std::array<std::size_t, 3> sizes{1, 64 * 1024, 16 << 20};
    for (std::size_t size : sizes) {
      Bytes payload = make_payload(size, 0);
      auto echoed = co_await echo_roundtrip(host, js_->peer_id, payload, EchoFin::kAfterFirstEcho);
      HM_CO_ASSERT_OK(echoed);
      EXPECT_EQ(echoed->size(), size);
      EXPECT_TRUE(*echoed == payload) << "echo of " << size << " bytes differs";
    }
    EXPECT_EQ(host->connection_count(), 1u);
  });
  // The JS side saw the same three streams end cleanly, with the byte counts we sent.
  std::vector<double> counted;
  for (int i = 0; i < 3; ++i) {
    auto done = js_->process.read_json(
        [](const testing::JsonValue& v) {
          return v["event"].as_string() == "stream_done"
                 || v["event"].as_string() == "stream_error";
        },
        std::chrono::seconds(10));
    ASSERT_TRUE(done) << done.error().message();
    ASSERT_EQ((*done)["event"].as_string(), "stream_done") << (*done)["error"].as_string();
    EXPECT_EQ((*done)["protocol"].as_string(), kEchoProtocol);
    counted.push_back((*done)["bytes_in"].as_number());
  }
  std::sort(counted.begin(), counted.end());
  EXPECT_EQ(counted, (std::vector<double>{1, 64 * 1024, 16 << 20}));
}

TEST_F(CppDialsJs, RunsHundredConcurrentEchoStreams) {
  run([&]() -> asio::awaitable<void> {
    auto host = co_await connected_host();
    constexpr int kStreams = 100;
    int done = 0;
    int matched = 0;
    std::string first_error;
    for (int i = 0; i < kStreams; ++i) {
      asio::co_spawn(
          io_,
          [&, i]() -> asio::awaitable<void> {
            Bytes payload = make_payload(4096, static_cast<std::uint32_t>(i));
            auto echoed =
                co_await echo_roundtrip(host, js_->peer_id, payload, EchoFin::kAfterFirstEcho);
            if (echoed && *echoed == payload)
              ++matched;
            else if (first_error.empty())
              first_error = echoed ? "stream " + std::to_string(i) + ": echo differs"
                                   : echoed.error().message();
            ++done;
          },
          asio::detached);
    }
    EXPECT_TRUE(co_await wait_until([&] { return done == kStreams; }, std::chrono::seconds(60)));
    EXPECT_EQ(matched, kStreams) << first_error;
    EXPECT_EQ(host->connection_count(), 1u);
  });
}

TEST_F(CppDialsJs, PingsTheJsPeer) {
  run([&]() -> asio::awaitable<void> {
    auto host = co_await connected_host();
    // js-libp2p accepts at most 2 concurrent inbound ping streams per connection: sequential.
    for (int i = 0; i < 3; ++i) {
      auto rtt = co_await host->ping(js_->peer_id);
      HM_CO_ASSERT_OK(rtt);
      EXPECT_GT(rtt->count(), 0);
      EXPECT_LT(*rtt, std::chrono::seconds(5));
    }
  });
}

// js-libp2p 3.3.11 ignores a FIN that reaches it before it finished negotiating the stream (it
// echoes the data but never sends its own FIN). Stream::close_write therefore holds the FIN of an
// optimistically negotiated stream until the remote's answer was read: this writes and closes
// at once and must still see the whole echo and its end.
TEST_F(CppDialsJs, EchoesWhenFinIsPipelinedWithTheProposal) {
  run(
      [&]() -> asio::awaitable<void> {
        auto host = co_await connected_host();
        Bytes payload = make_payload(1, 0);
        auto echoed = co_await echo_roundtrip(host, js_->peer_id, payload, EchoFin::kImmediate);
        HM_CO_ASSERT_OK(echoed);
        EXPECT_EQ(*echoed, payload);
      },
      std::chrono::seconds(20));
}

TEST_F(CppDialsJs, IdentifiesTheJsPeer) {
  run([&]() -> asio::awaitable<void> {
    auto host = co_await connected_host();
    // The automatic identify on connect fills the peer store. Wait for it before identifying
    // again: js-libp2p accepts one inbound identify stream per connection at a time and resets
    // a second concurrent one.
    const auto identified = [&] {
      auto stored = host->peer_store().get(js_->peer_id);
      return stored.has_value() && !stored->agent_version.empty();
    };
    EXPECT_TRUE(co_await wait_until(identified, std::chrono::seconds(10)))
        << "automatic identify on connect did not complete";
    auto stored = host->peer_store().get(js_->peer_id);
    HM_CO_ASSERT(stored.has_value());
    EXPECT_TRUE(stored->agent_version.starts_with("js-libp2p")) << stored->agent_version;
    auto info = co_await host->identify(js_->peer_id);
    HM_CO_ASSERT_OK(info);
    const auto has = [&](const std::string& p) {
      return std::find(info->protocols.begin(), info->protocols.end(), p) != info->protocols.end();
    };
    EXPECT_TRUE(has(kEchoProtocol));
    EXPECT_TRUE(has(kSinkProtocol));
    EXPECT_TRUE(has("/ipfs/ping/1.0.0"));
    EXPECT_TRUE(has("/ipfs/id/1.0.0"));
    EXPECT_TRUE(info->agent_version.starts_with("js-libp2p")) << info->agent_version;
    EXPECT_EQ(info->protocol_version, "ipfs/0.1.0");
    EXPECT_NE(
        std::find(
            info->listen_addrs.begin(), info->listen_addrs.end(), js_->addr.without_peer_id()),
        info->listen_addrs.end());
    // js reports the address it sees us at: our loopback address (js appends our /p2p/ id).
    HM_CO_ASSERT(info->observed_addr.has_value());
    EXPECT_TRUE(info->observed_addr->to_string().starts_with("/ip4/127.0.0.1/tcp/"))
        << info->observed_addr->to_string();
  });
}

TEST_F(CppDialsJs, RefusesJsPeerDialedWithAnotherPeerId) {
  run([&]() -> asio::awaitable<void> {
    auto host = make_host();
    const net::PeerId impostor = net::KeyPair::generate().peer_id();
    auto result = co_await host->connect(js_->addr.without_peer_id().with_peer_id(impostor));
    HM_CO_ASSERT(!result);
    EXPECT_EQ(result.error(), net::NetErrc::kPeerIdMismatch) << result.error().message();
    EXPECT_FALSE(host->is_connected(js_->peer_id));
    EXPECT_EQ(host->connection_count(), 0u);
    // The listener is still fine: the right id connects.
    auto right = co_await host->connect(js_->addr);
    HM_CO_ASSERT_OK(right);
    EXPECT_EQ(*right, js_->peer_id);
  });
}

}  // namespace
}  // namespace hivemind::interop
