// The thread-owning DHT facade: blocking calls, futures with timeouts, coroutines on the network
// thread, visible addresses, shutdown from another thread.
#include <thread>

#include <gtest/gtest.h>

#include "hivemind/dht/dht.hpp"
#include "hivemind/dht/error.hpp"

namespace hivemind::dht {
namespace {

using namespace std::chrono_literals;

DHTOptions loopback_options() {
  DHTOptions options;
  options.host.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
  return options;
}

double now() { return SystemClock::instance().unix_seconds(); }

TEST(DhtFacadeTest, StoreOnOneGetOnAnotherFromPlainThreads) {
  auto first = DHT::create(loopback_options());
  ASSERT_TRUE(first.has_value()) << first.error().message();
  auto options = loopback_options();
  options.node.initial_peers = (*first)->visible_multiaddrs();
  auto second = DHT::create(options);
  ASSERT_TRUE(second.has_value()) << second.error().message();

  const double expiration = now() + 60;
  EXPECT_TRUE((*first)->store("answer", std::int64_t(42), expiration));
  std::optional<FoundValue> found;
  std::thread reader([&] { found = (*second)->get("answer"); });
  reader.join();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->value, msgpack::Value(std::int64_t(42)));
  EXPECT_EQ(found->expiration, expiration);

  auto future = (*second)->get_async("missing");
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(future.get().has_value());
}

TEST(DhtFacadeTest, VisibleAddressesAndAnnounce) {
  DHTOptions wildcard;  // default listen address: /ip4/0.0.0.0/tcp/0
  auto dht = DHT::create(wildcard);
  ASSERT_TRUE(dht.has_value()) << dht.error().message();
  bool has_loopback = false;
  for (const auto& addr : (*dht)->visible_multiaddrs()) {
    EXPECT_EQ(addr.peer_id(), (*dht)->peer_id()) << addr.to_string();
    has_loopback = has_loopback || addr.to_string().starts_with("/ip4/127.0.0.1/tcp/");
  }
  EXPECT_TRUE(has_loopback);

  auto options = loopback_options();
  auto announce = *net::Multiaddr::from_string("/ip4/203.0.113.7/tcp/31337");
  options.host.announce_addrs.push_back(announce);
  auto announced = DHT::create(options);
  ASSERT_TRUE(announced.has_value());
  ASSERT_EQ((*announced)->visible_multiaddrs().size(), 1u);
  EXPECT_EQ((*announced)->visible_multiaddrs()[0], announce.with_peer_id((*announced)->peer_id()));
}

TEST(DhtFacadeTest, RunCoroutineKeepsStateOnTheNetworkThread) {
  auto dht = DHT::create(loopback_options());
  ASSERT_TRUE(dht.has_value());
  auto routing_size = (*dht)->run_coroutine<std::size_t>(
      [](DhtNode& node) -> asio::awaitable<std::size_t> { co_return node.routing_table().size(); });
  EXPECT_EQ(routing_size.get(), 0u);
  // A blocking call from the network thread is refused instead of deadlocking.
  DHT* raw = dht->get();
  auto misuse = (*dht)->run_coroutine<bool>([raw](DhtNode&) -> asio::awaitable<bool> {
    co_return raw->get("x").has_value();
  });
  EXPECT_THROW(misuse.get(), std::logic_error);
}

TEST(DhtFacadeTest, ShutdownFromAnotherThreadEndsCallsCleanly) {
  auto dht = DHT::create(loopback_options());
  ASSERT_TRUE(dht.has_value());
  std::thread stopper([&] { (*dht)->shutdown(); });
  stopper.join();
  (*dht)->shutdown();  // idempotent
  EXPECT_FALSE((*dht)->store("late", std::int64_t(1), now() + 10));
  EXPECT_FALSE((*dht)->get("late").has_value());
}

TEST(DhtFacadeTest, BootstrapFailureIsAnError) {
  auto options = loopback_options();
  options.node.initial_peers.push_back(*net::Multiaddr::from_string(
      "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"));
  options.node.wait_timeout = 500ms;
  auto dht = DHT::create(options);
  ASSERT_FALSE(dht.has_value());
  EXPECT_EQ(dht.error().code(), make_error_code(DhtErrc::kBootstrapFailed));
}

}  // namespace
}  // namespace hivemind::dht
