// Hosts talking over real TCP sockets on 127.0.0.1 in one process.
#include <array>
#include <random>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include "hivemind/core/async_signal.hpp"
#include "hivemind/net/error.hpp"
#include "stream_watchdog.hpp"
#include "testutil/net_test.hpp"

namespace hivemind::net {
namespace {

using testing::echo_handler;
using testing::NetTest;
using testing::wait_until;

constexpr char kEcho[] = "/test/echo/1.0.0";

Bytes pseudo_random(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out)
    b = static_cast<std::uint8_t>(rng());
  return out;
}

/// Writes `payload` (from a concurrent writer, so that large payloads do not deadlock on flow
/// control) and reads the echo back.
asio::awaitable<Result<Bytes>> echo_roundtrip(std::shared_ptr<Host> host,
                                              PeerId peer,
                                              Bytes payload) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT
  HM_CO_TRY(auto stream, co_await host->new_stream(peer, std::string(kEcho)));
  auto writer = [](std::shared_ptr<Stream> s, Bytes data) -> asio::awaitable<Result<void>> {
    HM_CO_TRY_VOID(co_await s->write(data));
    co_return s->close_write();
  };
  auto [written, echoed] =
      co_await (writer(stream, payload) && stream->read_to_end(payload.size() + 1));
  if (!written)
    co_return Err(written.error());
  co_return echoed;
}

TEST_F(NetTest, EchoesPayloadsOfEverySizeOverNoise) {
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    server->set_stream_handler(kEcho, echo_handler);
    auto remote = co_await client->connect(server->visible_addrs().front());
    HM_CO_ASSERT_OK(remote);
    EXPECT_EQ(*remote, server->peer_id());
    const std::array<std::size_t, 3> sizes{1, 64 * 1024, 16 << 20};
    for (std::size_t size : sizes) {
      const Bytes payload = pseudo_random(size, size);
      auto echoed = co_await echo_roundtrip(client, server->peer_id(), payload);
      HM_CO_ASSERT_OK(echoed);
      EXPECT_EQ(*echoed, payload) << "size " << size;
    }
    EXPECT_EQ(client->connection_count(), 1u);  // every stream reused the one connection
  });
}

TEST_F(NetTest, WritesOfMixedSizesArriveInOrderOverNoise) {
  // Small writes are batched with other frames while large ones are sealed straight from the
  // caller's buffer: their bytes must still reach the reader in write order, also with a second
  // stream writing small frames on the same connection at the same time.
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    server->set_stream_handler(kEcho, echo_handler);
    HM_CO_ASSERT_OK(co_await client->connect(server->visible_addrs().front()));
    const std::array<std::size_t, 10> sizes{
        10, 100 * 1024, 3, 8191, 8192, 70'000, 1, 1 << 20, 0, 65'507};
    Bytes expected;
    for (std::size_t i = 0; i < sizes.size(); ++i)
      append(expected, pseudo_random(sizes[i], 100 + i));
    auto writer = [&](std::shared_ptr<Stream> s) -> asio::awaitable<Result<void>> {
      std::size_t offset = 0;
      for (std::size_t size : sizes) {
        HM_CO_TRY_VOID(co_await s->write(BytesView(expected).subspan(offset, size)));
        offset += size;
      }
      co_return s->close_write();
    };
    int small_done = 0;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 50; ++i) {
            const Bytes payload = pseudo_random(1 + i, static_cast<std::uint64_t>(i));
            auto echoed = co_await echo_roundtrip(client, server->peer_id(), payload);
            if (echoed && *echoed == payload)
              ++small_done;
          }
        },
        asio::detached);
    using namespace asio::experimental::awaitable_operators;  // NOLINT
    auto stream = co_await client->new_stream(server->peer_id(), std::string(kEcho));
    HM_CO_ASSERT_OK(stream);
    auto [written, echoed] =
        co_await (writer(*stream) && (*stream)->read_to_end(expected.size() + 1));
    HM_CO_ASSERT_OK(written);
    HM_CO_ASSERT_OK(echoed);
    EXPECT_EQ(*echoed, expected);
    EXPECT_TRUE(co_await wait_until([&] { return small_done == 50; }, std::chrono::seconds(30)));
  });
}

TEST_F(NetTest, StreamWatchdogResetsAtItsDeadlineAndNotAfterDisarm) {
  // The server side of RPCs and negotiation bounds its waits with this watchdog.
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    server->set_stream_handler(kEcho, echo_handler);
    HM_CO_ASSERT_OK(co_await client->connect(server->visible_addrs().front()));
    auto executor = co_await asio::this_coro::executor;
    // Expiry: a read waiting for bytes that never come fails with kStreamReset.
    auto silent = co_await client->new_stream(server->peer_id(), std::string(kEcho));
    HM_CO_ASSERT_OK(silent);
    detail::StreamWatchdog deadline(*silent, executor, std::chrono::milliseconds(100));
    Bytes got;
    auto read = co_await (*silent)->read_some(got, 16);
    HM_CO_ASSERT(!read);
    EXPECT_EQ(read.error(), NetErrc::kStreamReset);
    EXPECT_TRUE(deadline.expired());
    // Disarmed: the stream outlives the deadline and still works.
    auto kept = co_await client->new_stream(server->peer_id(), std::string(kEcho));
    HM_CO_ASSERT_OK(kept);
    detail::StreamWatchdog disarmed(*kept, executor, std::chrono::milliseconds(50));
    disarmed.disarm();
    asio::steady_timer past_deadline(executor, std::chrono::milliseconds(150));
    co_await past_deadline.async_wait(asio::use_awaitable);
    EXPECT_FALSE(disarmed.expired());
    HM_CO_ASSERT_OK(co_await (*kept)->write(to_bytes("ping")));
    HM_CO_ASSERT_OK((*kept)->close_write());
    auto echoed = co_await (*kept)->read_to_end(16);
    HM_CO_ASSERT_OK(echoed);
    EXPECT_EQ(*echoed, to_bytes("ping"));
  });
}

TEST_F(NetTest, RunsHundredConcurrentStreams) {
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    server->set_stream_handler(kEcho, echo_handler);
    HM_CO_ASSERT_OK(co_await client->connect(server->visible_addrs().front()));
    int done = 0;
    int matched = 0;
    for (int i = 0; i < 100; ++i) {
      asio::co_spawn(
          io_,
          [&, i]() -> asio::awaitable<void> {
            const Bytes payload = pseudo_random(4096 + i, static_cast<std::uint64_t>(i));
            auto echoed = co_await echo_roundtrip(client, server->peer_id(), payload);
            if (echoed && *echoed == payload)
              ++matched;
            ++done;
          },
          asio::detached);
    }
    EXPECT_TRUE(co_await wait_until([&] { return done == 100; }, std::chrono::seconds(30)));
    EXPECT_EQ(matched, 100);
  });
}

TEST_F(NetTest, RefusesPeerThatIsNotTheOneDialed) {
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    const PeerId impostor = KeyPair::generate().peer_id();
    auto addr = server->listen_addrs().front().with_peer_id(impostor);
    auto result = co_await client->connect(addr);
    HM_CO_ASSERT(!result);
    EXPECT_EQ(result.error(), NetErrc::kPeerIdMismatch) << result.error().message();
    EXPECT_FALSE(client->is_connected(server->peer_id()));
  });
}

TEST_F(NetTest, PingsAndIdentifiesBothWays) {
  run([&]() -> asio::awaitable<void> {
    auto a = make_host();
    auto b = make_host();
    a->set_stream_handler(kEcho, echo_handler);
    HM_CO_ASSERT_OK(co_await b->connect(a->visible_addrs().front()));
    auto rtt = co_await b->ping(a->peer_id());
    HM_CO_ASSERT_OK(rtt);
    EXPECT_GT(rtt->count(), 0);
    auto back = co_await a->ping(b->peer_id());
    HM_CO_ASSERT_OK(back);
    auto info = co_await b->identify(a->peer_id());
    HM_CO_ASSERT_OK(info);
    EXPECT_NE(std::find(info->protocols.begin(), info->protocols.end(), kEcho),
              info->protocols.end());
    EXPECT_EQ(info->listen_addrs, a->listen_addrs());
    EXPECT_TRUE(info->observed_addr.has_value());
    auto stored = b->peer_store().get(a->peer_id());
    HM_CO_ASSERT(stored.has_value());
    EXPECT_EQ(stored->agent_version, "hivemind-cpp/0.1.0");
  });
}

TEST_F(NetTest, DialsByPeerIdThroughThePeerStore) {
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    server->set_stream_handler(kEcho, echo_handler);
    client->peer_store().add_addrs(server->peer_id(), server->listen_addrs());
    auto echoed = co_await echo_roundtrip(client, server->peer_id(), to_bytes("hello"));
    HM_CO_ASSERT_OK(echoed);
    EXPECT_EQ(*echoed, to_bytes("hello"));
    auto unknown = co_await client->new_stream(KeyPair::generate().peer_id(), std::string(kEcho));
    HM_CO_ASSERT(!unknown);
    EXPECT_EQ(unknown.error(), NetErrc::kNoAddresses);
  });
}

TEST_F(NetTest, DeduplicatesConcurrentDials) {
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    int ok = 0;
    for (int i = 0; i < 10; ++i) {
      asio::co_spawn(
          io_,
          [&]() -> asio::awaitable<void> {
            if (co_await client->connect(server->visible_addrs().front()))
              ++ok;
          },
          asio::detached);
    }
    EXPECT_TRUE(co_await wait_until([&] { return ok == 10; }));
    EXPECT_EQ(client->connection_count(), 1u);
  });
}

TEST_F(NetTest, NegotiatesAmongSeveralProtocolsAndReportsUnsupported) {
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    server->set_stream_handler(kEcho, echo_handler);
    client->peer_store().add_addrs(server->peer_id(), server->listen_addrs());
    std::vector<std::string> choices{"/test/missing/1.0.0", kEcho};
    auto stream = co_await client->new_stream(server->peer_id(), choices);
    HM_CO_ASSERT_OK(stream);
    EXPECT_EQ((*stream)->protocol(), kEcho);
    std::vector<std::string> unsupported{"/a/1", "/b/1"};
    auto missing = co_await client->new_stream(server->peer_id(), unsupported);
    HM_CO_ASSERT(!missing);
    EXPECT_EQ(missing.error(), NetErrc::kProtocolNotSupported);
    // Optimistic (single-protocol) negotiation reports the refusal on the first read.
    auto lazy = co_await client->new_stream(server->peer_id(), std::string("/test/missing/1.0.0"));
    HM_CO_ASSERT_OK(lazy);
    Bytes buffer;
    auto read = co_await (*lazy)->read_some(buffer, 16);
    HM_CO_ASSERT(!read);
    EXPECT_EQ(read.error(), NetErrc::kProtocolNotSupported);
  });
}

TEST_F(NetTest, PlaintextUpgradeCarriesData) {
  run([&]() -> asio::awaitable<void> {
    HostOptions options;
    options.security.assign(1, Security::kPlaintext);
    auto server = make_host(options);
    auto client = make_host(options);
    server->set_stream_handler(kEcho, echo_handler);
    HM_CO_ASSERT_OK(co_await client->connect(server->visible_addrs().front()));
    const Bytes payload = pseudo_random(1 << 20, 7);
    auto echoed = co_await echo_roundtrip(client, server->peer_id(), payload);
    HM_CO_ASSERT_OK(echoed);
    EXPECT_EQ(*echoed, payload);
    // A Noise-only host cannot talk to a plaintext-only one.
    auto noise_only = make_host();
    auto refused = co_await noise_only->connect(server->visible_addrs().front());
    EXPECT_FALSE(refused);
  });
}

TEST_F(NetTest, PeerKilledMidStreamFailsTheReader) {
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    AsyncSignal accepted(io_.get_executor());
    bool got_stream = false;
    server->set_stream_handler(kEcho, [&](std::shared_ptr<Stream> s) -> asio::awaitable<void> {
      got_stream = true;
      accepted.notify_all();
      Bytes sink;
      (void)co_await s->read_to_end(1 << 20);  // never answers
    });
    client->peer_store().add_addrs(server->peer_id(), server->listen_addrs());
    auto stream = co_await client->new_stream(server->peer_id(), std::string(kEcho));
    HM_CO_ASSERT_OK(stream);
    HM_CO_ASSERT_OK(co_await (*stream)->write(to_bytes("x")));
    while (!got_stream)
      co_await accepted.wait();
    co_await server->stop();
    Bytes buffer;
    auto read = co_await (*stream)->read_some(buffer, 16);
    EXPECT_FALSE(read) << "read returned " << (read ? *read : 0) << " bytes";
  });
}

TEST_F(NetTest, SlowReaderBoundsWriterMemory) {
  run([&]() -> asio::awaitable<void> {
    auto server = make_host();
    auto client = make_host();
    std::shared_ptr<Stream> held;
    server->set_stream_handler(kEcho, [&](std::shared_ptr<Stream> s) -> asio::awaitable<void> {
      held = s;  // never reads
      co_return;
    });
    client->peer_store().add_addrs(server->peer_id(), server->listen_addrs());
    auto stream = co_await client->new_stream(server->peer_id(), std::string(kEcho));
    HM_CO_ASSERT_OK(stream);
    // The writer must block once the receive window and socket buffers are full: a 64 MiB
    // write cannot complete within the deadline while nobody reads.
    using namespace asio::experimental::awaitable_operators;  // NOLINT
    asio::steady_timer timer(io_, std::chrono::milliseconds(500));
    const Bytes big(64 << 20, 0xab);
    auto outcome = co_await ((*stream)->write(big) || timer.async_wait(asio::use_awaitable));
    EXPECT_EQ(outcome.index(), 1u) << "a 64 MiB write completed although nobody reads";
  });
}

TEST_F(NetTest, PrunesIdleConnectionsAndEnforcesConnectionLimit) {
  run([&]() -> asio::awaitable<void> {
    HostOptions options;
    options.idle_timeout = std::chrono::milliseconds(200);
    options.max_connections = 1;
    auto server = make_host(options);
    auto first = make_host();
    auto second = make_host();
    server->set_stream_handler(kEcho, echo_handler);
    HM_CO_ASSERT_OK(co_await first->connect(server->visible_addrs().front()));
    // The limit: a second inbound connection is closed at once.
    auto refused = co_await second->connect(server->visible_addrs().front());
    EXPECT_FALSE(refused);
    // Idle pruning: with no stream for 200 ms the server closes the first connection (identify
    // streams end right after the connection opens).
    EXPECT_TRUE(co_await wait_until([&] { return server->connection_count() == 0; },
                                    std::chrono::seconds(10)));
    EXPECT_TRUE(co_await wait_until([&] { return !first->is_connected(server->peer_id()); }));
    // Room again: the second peer gets in now.
    HM_CO_ASSERT_OK(co_await second->connect(server->visible_addrs().front()));
  });
}

}  // namespace
}  // namespace hivemind::net
