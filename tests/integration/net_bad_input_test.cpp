// Hostile peers against a real Host: garbage at every stage of the upgrade, thousands of streams,
// truncated messages. Each is cut off with nothing else disturbed: a well-behaved client keeps
// working on its own connection throughout.
#include <array>

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "hivemind/net/error.hpp"
#include "hivemind/net/multistream.hpp"
#include "testutil/net_test.hpp"

namespace hivemind::net {
namespace {

using testing::echo_handler;
using testing::NetTest;
using testing::wait_until;

constexpr char kEcho[] = "/test/echo/1.0.0";
// A Noise handshake message claiming 5 bytes (an ephemeral key needs 32), and one claiming 32
// bytes of which only 3 arrive.
constexpr std::array<std::uint8_t, 7> kShortNoiseMessage{0x00, 0x05, 1, 2, 3, 4, 5};
constexpr std::array<std::uint8_t, 5> kTruncatedNoiseMessage{0x00, 0x20, 1, 2, 3};

/// Connects a raw TCP socket to `host`, writes `garbage`, and reports whether the host closed
/// the connection (EOF or reset) rather than leaving it hanging.
asio::awaitable<bool> host_closes_after(const Host& host, Bytes garbage) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  const auto target = *host.listen_addrs().front().tcp_target();
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(target.host), target.port);
  co_await socket.async_connect(endpoint, asio::use_awaitable);
  co_await asio::async_write(socket, asio::buffer(garbage), asio::use_awaitable);
  std::array<std::uint8_t, 4096> sink{};
  while (true) {
    auto [ec, n] = co_await socket.async_read_some(
        asio::buffer(sink), asio::experimental::as_tuple(asio::use_awaitable));
    if (ec)
      co_return true;  // closed by the host
  }
}

asio::awaitable<bool> echo_works(std::shared_ptr<Host> client, PeerId server) {
  auto stream = co_await client->new_stream(server, std::string(kEcho));
  if (!stream)
    co_return false;
  if (!co_await (*stream)->write(to_bytes("ping")))
    co_return false;
  if (!(*stream)->close_write())
    co_return false;
  auto echoed = co_await (*stream)->read_to_end(16);
  co_return echoed&&* echoed == to_bytes("ping");
}

TEST_F(NetTest, GarbageAtEveryUpgradeStageClosesOnlyThatConnection) {
  run([&]() -> asio::awaitable<void> {
    HostOptions options;
    options.dial_timeout = std::chrono::seconds(2);
    auto server = make_host(options);
    auto client = make_host();
    server->set_stream_handler(kEcho, echo_handler);
    HM_CO_ASSERT_OK(co_await client->connect(server->visible_addrs().front()));
    HM_CO_ASSERT(co_await echo_works(client, server->peer_id()));

    // 1. Not multistream at all.
    EXPECT_TRUE(co_await host_closes_after(*server, to_bytes("GET / HTTP/1.1\r\n\r\n")));
    // 2. A multistream length prefix announcing a huge line.
    Bytes huge_prefix(3, 0xff);
    huge_prefix.back() = 0x03;
    EXPECT_TRUE(co_await host_closes_after(*server, huge_prefix));
    // 3. Valid header, then an unknown security protocol, then silence (timeout closes it).
    Bytes hello;
    append_multistream_message(hello, kMultistreamProtocolId);
    append_multistream_message(hello, "/tls/1.0.0");
    EXPECT_TRUE(co_await host_closes_after(*server, hello));
    // 4. Noise selected, then a garbage handshake message.
    Bytes noise;
    append_multistream_message(noise, kMultistreamProtocolId);
    append_multistream_message(noise, "/noise");
    noise.insert(noise.end(), kShortNoiseMessage.begin(), kShortNoiseMessage.end());
    EXPECT_TRUE(co_await host_closes_after(*server, noise));
    // 5. Noise selected, then a truncated handshake message and silence.
    Bytes truncated;
    append_multistream_message(truncated, kMultistreamProtocolId);
    append_multistream_message(truncated, "/noise");
    truncated.insert(truncated.end(), kTruncatedNoiseMessage.begin(), kTruncatedNoiseMessage.end());
    EXPECT_TRUE(co_await host_closes_after(*server, truncated));

    // The good connection never noticed.
    EXPECT_TRUE(co_await echo_works(client, server->peer_id()));
    EXPECT_TRUE(client->is_connected(server->peer_id()));
  });
}

TEST_F(NetTest, ThousandsOfStreamsAreCappedWithoutHurtingOthers) {
  run([&]() -> asio::awaitable<void> {
    HostOptions server_options;
    server_options.yamux.max_inbound_streams = 256;
    auto server = make_host(server_options);
    auto flooder = make_host();
    auto bystander = make_host();
    std::vector<std::shared_ptr<Stream>> held;
    server->set_stream_handler(kEcho, echo_handler);
    server->set_stream_handler("/test/hold/1.0.0",
                               [&](std::shared_ptr<Stream> s) -> asio::awaitable<void> {
                                 held.push_back(std::move(s));  // never completes them
                                 co_return;
                               });
    HM_CO_ASSERT_OK(co_await flooder->connect(server->visible_addrs().front()));
    HM_CO_ASSERT_OK(co_await bystander->connect(server->visible_addrs().front()));
    int opened = 0;
    int refused = 0;
    std::vector<std::shared_ptr<Stream>> mine;
    for (int i = 0; i < 2000; ++i) {
      auto stream =
          co_await flooder->new_stream(server->peer_id(), std::string("/test/hold/1.0.0"));
      if (!stream) {
        ++refused;
        continue;
      }
      ++opened;
      (void)co_await (*stream)->write(to_bytes("x"));
      mine.push_back(*stream);
    }
    // The server holds exactly its limit; every stream beyond it was reset, not the connection.
    EXPECT_TRUE(co_await wait_until([&] { return held.size() == 256; }));
    EXPECT_EQ(held.size(), 256u);
    EXPECT_EQ(opened + refused, 2000);
    EXPECT_TRUE(flooder->is_connected(server->peer_id()));
    EXPECT_TRUE(co_await echo_works(bystander, server->peer_id()));
  });
}

}  // namespace
}  // namespace hivemind::net
