// Interop, direction 2: the js-libp2p peer (peer.mjs dial ...) dials a C++ Host that serves
// /hm/echo/1.0.0 and /hm/sink/1.0.0 with peer.mjs's semantics; every JS test must report ok.
#include <algorithm>

#include "interop_support.hpp"
#include "testutil/net_test.hpp"

namespace hivemind::interop {
namespace {

using testing::JsonValue;
using testing::NetTest;

constexpr std::chrono::seconds kDialTimeout{90};  // JS start + test, on a loaded 2-core machine
constexpr char kJsTestTimeoutS[] = "30";          // the JS test's own deadline (--timeout)

class JsDialsCpp : public NetTest {
 protected:
  void SetUp() override {
    const auto problem = js_install_problem();
    ASSERT_TRUE(problem.empty()) << problem;
  }

  /// A listening host serving the test protocols.
  std::shared_ptr<net::Host> serving_host() {
    auto host = make_host();
    serve_test_protocols(*host);
    return host;
  }

  /// Runs one JS dial test against `host` and checks that it reported ok.
  asio::awaitable<std::optional<JsonValue>> dial_ok(std::shared_ptr<net::Host> host,
                                                    std::string test,
                                                    std::vector<std::string> args) {
    args.push_back("--timeout");
    args.push_back(kJsTestTimeoutS);
    auto result =
        co_await run_js_dial(host->visible_addrs().front(), test, std::move(args), kDialTimeout);
    if (!result) {
      ADD_FAILURE() << "js dial --test " << test << ": " << result.error().message();
      co_return std::nullopt;
    }
    EXPECT_EQ((*result)["test"].as_string(), test);
    if (!(*result)["ok"].as_bool()) {
      ADD_FAILURE() << "js dial --test " << test
                    << " failed: " << (*result)["error"].as_string("(no error text)");
      co_return std::nullopt;
    }
    co_return std::move(*result);
  }
};

TEST_F(JsDialsCpp, EchoesPayloadsOfEverySize) {
  run([&]() -> asio::awaitable<void> {
    auto host = serving_host();
    std::vector<std::string> args;
    args.push_back("--sizes");
    args.push_back("1,65536,16777216");
    auto result = co_await dial_ok(host, "echo", std::move(args));
    HM_CO_ASSERT(result.has_value());
    const auto& per_size = (*result)["per_size"].as_array();
    HM_CO_ASSERT(per_size.size() == 3u);
    EXPECT_EQ(per_size[2]["size"].as_number(), 16777216.0);
  });
}

TEST_F(JsDialsCpp, RunsHundredConcurrentEchoStreams) {
  run([&]() -> asio::awaitable<void> {
    auto host = serving_host();
    std::vector<std::string> args;
    args.push_back("--streams");
    args.push_back("100");
    args.push_back("--size");
    args.push_back("4096");
    auto result = co_await dial_ok(host, "concurrent", std::move(args));
    HM_CO_ASSERT(result.has_value());
    EXPECT_EQ((*result)["streams"].as_number(), 100.0);
    EXPECT_EQ((*result)["failed"].as_number(-1), 0.0);
  });
}

TEST_F(JsDialsCpp, AnswersJsPings) {
  run([&]() -> asio::awaitable<void> {
    auto host = serving_host();
    std::vector<std::string> args;
    args.push_back("--count");
    args.push_back("10");
    auto result = co_await dial_ok(host, "ping", std::move(args));
    HM_CO_ASSERT(result.has_value());
    EXPECT_EQ((*result)["count"].as_number(), 10.0);
    EXPECT_GE((*result)["rtt_min_ms"].as_number(-1), 0.0);
  });
}

TEST_F(JsDialsCpp, JsIdentifiesTheCppHost) {
  run([&]() -> asio::awaitable<void> {
    auto host = serving_host();
    std::vector<std::string> args;
    args.push_back("--expect-protocols");
    args.push_back("/hm/echo/1.0.0,/hm/sink/1.0.0,/ipfs/ping/1.0.0,/ipfs/id/1.0.0");
    auto result = co_await dial_ok(host, "identify", std::move(args));
    HM_CO_ASSERT(result.has_value());
    const JsonValue& r = *result;
    EXPECT_EQ(r["peer_id"].as_string(), host->peer_id().to_string());
    EXPECT_EQ(r["agent_version"].as_string(), host->options().agent_version);
    EXPECT_EQ(r["protocol_version"].as_string(), "ipfs/0.1.0");
    EXPECT_TRUE(r["has_public_key"].as_bool());
    std::vector<std::string> listen;
    for (const auto& a : r["listen_addrs"].as_array())
      listen.push_back(a.as_string());
    const auto ours = host->listen_addrs().front().to_string();
    EXPECT_NE(std::find(listen.begin(), listen.end(), ours), listen.end())
        << "js did not learn our listen address " << ours;
    EXPECT_TRUE(r["observed_addr"].as_string().starts_with("/ip4/127.0.0.1/tcp/"))
        << r["observed_addr"].as_string();
  });
}

TEST_F(JsDialsCpp, JsRefusesCppHostDialedWithAnotherPeerId) {
  run([&]() -> asio::awaitable<void> {
    auto host = serving_host();
    auto result = co_await dial_ok(host, "expect-fail", std::vector<std::string>());
    HM_CO_ASSERT(result.has_value());
    EXPECT_FALSE((*result)["refusal"].as_string().empty());
    // The refused handshake leaves nothing behind on our side.
    EXPECT_TRUE(co_await testing::wait_until([&] { return host->connection_count() == 0; }))
        << host->connection_count() << " connections left";
  });
}

TEST_F(JsDialsCpp, SinkCountsEveryByteFromJs) {
  run([&]() -> asio::awaitable<void> {
    auto host = serving_host();
    std::vector<std::string> args;
    args.push_back("--bytes");
    args.push_back("16777216");
    auto result = co_await dial_ok(host, "throughput", std::move(args));
    HM_CO_ASSERT(result.has_value());
    EXPECT_EQ((*result)["bytes"].as_number(), 16777216.0);  // js checked our 8-byte count
  });
}

}  // namespace
}  // namespace hivemind::interop
