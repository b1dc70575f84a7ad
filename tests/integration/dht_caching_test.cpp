// Caching and shared searches of DhtNode (hivemind's test_dhtnode_caching and
// test_dhtnode_reuse_get): a get fills the local cache, the nearest visited node receives an
// in-cache copy, keys served from the cache are refreshed before they expire, and concurrent gets
// of one key share one search.
#include <chrono>

#include "dht_fake_peer.hpp"
#include "hivemind/core/parallel.hpp"
#include "testutil/dht_test.hpp"

namespace hivemind::dht {
namespace {

using testing::DhtTest;
using namespace std::chrono_literals;

const std::vector<std::shared_ptr<DhtNode>> kNoPeers;

DhtNodeOptions options_with(const Clock* clock,
                            bool client_mode,
                            bool cache_locally,
                            std::size_t cache_nearest) {
  DhtNodeOptions options;
  options.clock = clock;
  options.client_mode = client_mode;
  options.cache_locally = cache_locally;
  options.cache_nearest = cache_nearest;
  options.cache_on_store = false;
  options.reuse_get_requests = false;
  options.wait_timeout = 1000ms;
  return options;
}

std::vector<msgpack::Value> four_keys() {
  std::vector<msgpack::Value> keys;
  for (const char* name : {"k", "k2", "k3", "k4"})
    keys.emplace_back(std::string(name));
  return keys;
}

StoredEntry plain_entry(std::int64_t value, Expiration expiration) {
  return StoredEntry{msgpack::pack(value), expiration};
}

/// Nodes with a manual clock that outlives them.
class DhtCachingTest : public DhtTest {
 protected:
  ManualClock clock_;
};

std::optional<Expiration> cached_expiration(DhtNode& node, const msgpack::Value& key) {
  auto entry = node.cache().get(DHTID::from_key(key));
  if (!entry)
    return std::nullopt;
  return entry->expiration;
}

TEST_F(DhtCachingTest, GetFillsTheLocalCacheWhichThenServes) {
  run_dht([&]() -> asio::awaitable<void> {
    ManualClock& clock = clock_;
    const double t = clock.unix_seconds();
    auto server = co_await make_node(options_with(&clock, false, true, 1), kNoPeers);
    HM_CO_ASSERT_OK(server);
    auto client = co_await make_node(options_with(&clock, true, true, 1), std::vector(1, *server));
    HM_CO_ASSERT_OK(client);
    const std::vector<msgpack::Value> keys = four_keys();
    for (std::size_t i = 0; i < 3; ++i)
      EXPECT_TRUE(
          co_await (*server)->store(keys[i], std::int64_t(i), t + 100 + static_cast<double>(i)));
    auto found = co_await (*client)->get_many(keys);
    EXPECT_EQ((*client)->cache().size(), 3u);
    EXPECT_FALSE(found[3].has_value());
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(cached_expiration(**client, keys[i]), t + 100 + static_cast<double>(i));
      HM_CO_ASSERT(found[i].has_value());
      EXPECT_EQ(found[i]->value, msgpack::Value(static_cast<std::int64_t>(i)));
    }
    // The cache answers even when the only holder has lost the value.
    (*server)->storage().erase(DHTID::from_key(keys[0]));
    auto again = co_await (*client)->get(keys[0]);
    HM_CO_ASSERT(again.has_value());
    EXPECT_EQ(again->value, msgpack::Value(std::int64_t(0)));
    EXPECT_EQ(again->expiration, t + 100);

    // cache_locally = false: nothing is kept.
    auto plain = co_await make_node(options_with(&clock, true, false, 1), std::vector(1, *server));
    HM_CO_ASSERT_OK(plain);
    auto fetched = co_await (*plain)->get(keys[1]);
    EXPECT_TRUE(fetched.has_value());
    EXPECT_EQ((*plain)->cache().size(), 0u);
  });
}

TEST_F(DhtTest, NearestVisitedNodeReceivesAnInCacheCopy) {
  run_dht([&]() -> asio::awaitable<void> {
    const DhtNodeOptions options = options_with(nullptr, false, false, 1);
    auto a = co_await make_node(options, kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto b = co_await make_node(options, std::vector(1, *a));
    HM_CO_ASSERT_OK(b);
    auto c = co_await make_node(options, std::vector(1, *a));
    HM_CO_ASSERT_OK(c);
    // Only A holds the value; C's get finds it there and caches it on B, the other node it knows.
    const msgpack::Value key = std::string("cached-nearby");
    const DHTID id = DHTID::from_key(key);
    const double expiration = SystemClock::instance().unix_seconds() + 100;
    HM_CO_ASSERT(
        (*a)->storage().store(id, msgpack::pack(std::string("v")), expiration).has_value());
    auto found = co_await (*c)->get(key);
    HM_CO_ASSERT(found.has_value());
    EXPECT_EQ(found->value, msgpack::Value(std::string("v")));
    bool cached = co_await testing::wait_until([&] { return (*b)->cache().get(id).has_value(); });
    EXPECT_TRUE(cached);
    EXPECT_EQ((*b)->cache().get(id)->expiration, expiration);
    EXPECT_FALSE((*b)->storage().get(id).has_value());
    EXPECT_FALSE((*a)->cache().get(id).has_value());  // never the node that supplied it
    EXPECT_FALSE((*c)->cache().get(id).has_value());  // cache_locally is off
  });
}

TEST_F(DhtCachingTest, KeysServedFromTheCacheAreRefreshedBeforeExpiry) {
  run_dht([&]() -> asio::awaitable<void> {
    ManualClock& clock = clock_;
    const double t = clock.unix_seconds();
    auto server = co_await make_node(options_with(&clock, false, true, 1), kNoPeers);
    HM_CO_ASSERT_OK(server);
    DhtNodeOptions client_options = options_with(&clock, true, true, 1);
    client_options.cache_refresh_before_expiry_s = 5;
    auto client = co_await make_node(client_options, std::vector(1, *server));
    HM_CO_ASSERT_OK(client);
    const msgpack::Value hot = std::string("hot");    // read twice: the second read hits the cache
    const msgpack::Value cold = std::string("cold");  // read once: cached, never served from it
    EXPECT_TRUE(co_await (*server)->store(hot, std::int64_t(1), t + 10));
    EXPECT_TRUE(co_await (*server)->store(cold, std::int64_t(1), t + 10));
    EXPECT_TRUE((co_await (*client)->get(hot)).has_value());
    EXPECT_TRUE((co_await (*client)->get(cold)).has_value());
    EXPECT_TRUE((co_await (*client)->get(hot)).has_value());
    // Newer values appear on the server; the client's cache still has the old ones.
    EXPECT_TRUE(co_await (*server)->store(hot, std::int64_t(2), t + 100));
    EXPECT_TRUE(co_await (*server)->store(cold, std::int64_t(2), t + 100));
    EXPECT_EQ(cached_expiration(**client, hot), t + 10);

    // 6 s later the hot key is due (10 - 5 s): it is looked up again, the cold one is not.
    clock.advance(6s);
    bool refreshed = co_await testing::wait_until(
        [&] { return cached_expiration(**client, hot) == t + 100; }, 5s);
    EXPECT_TRUE(refreshed);
    EXPECT_EQ(cached_expiration(**client, cold), t + 10);
    auto served = co_await (*client)->get(hot);
    HM_CO_ASSERT(served.has_value());
    EXPECT_EQ(served->value, msgpack::Value(std::int64_t(2)));
  });
}

/// Runs `readers` concurrent gets of `key` on `node` while `fake` (its only peer) holds every
/// find until all of them have started; returns their results.
asio::awaitable<std::vector<std::optional<FoundValue>>> concurrent_gets(DhtNode& node,
                                                                        test::FakeDhtPeer& fake,
                                                                        msgpack::Value key,
                                                                        std::size_t readers,
                                                                        std::size_t hold_until) {
  std::vector<std::optional<FoundValue>> results(readers);
  std::size_t started = 0;
  fake.state().hold_finds = true;
  co_await for_each_concurrently(0, readers + 1, [&](std::size_t i) -> asio::awaitable<void> {
    if (i < readers) {
      ++started;  // the get runs up to its first network wait before anything else runs
      results[i] = co_await node.get(key);
      co_return;
    }
    bool all_in = co_await testing::wait_until(
        [&] { return started == readers && fake.state().finds >= hold_until; }, 5s);
    EXPECT_TRUE(all_in) << fake.state().finds << " finds";
    fake.state().hold_finds = false;
  });
  co_return results;
}

TEST_F(DhtTest, ConcurrentGetsOfOneKeyShareOneSearch) {
  run_dht([&]() -> asio::awaitable<void> {
    for (int pass = 0; pass < 2; ++pass) {
      const bool reuse = pass == 0;
      DhtNodeOptions options = options_with(nullptr, false, false, 0);
      options.reuse_get_requests = reuse;
      auto node = co_await make_node(options, kNoPeers);
      HM_CO_ASSERT_OK(node);
      test::FakeDhtPeer fake(make_host(), DHTID::random());
      const double expiration = SystemClock::instance().unix_seconds() + 100;
      fake.state().value = plain_entry(123, expiration);
      EXPECT_TRUE(co_await fake.introduce_to(**node));

      const msgpack::Value key = std::string("shared");
      auto results = co_await concurrent_gets(**node, fake, key, 3, reuse ? 1 : 3);
      EXPECT_EQ(fake.state().finds, reuse ? 1u : 3u) << "reuse " << reuse;
      for (const auto& result : results) {
        HM_CO_ASSERT(result.has_value());
        EXPECT_EQ(result->value, msgpack::Value(std::int64_t(123)));
        EXPECT_EQ(result->expiration, expiration);
      }
      // A key nobody has: the shared search's "not found" ends every get.
      fake.state().value.reset();
      fake.state().finds = 0;
      const msgpack::Value missing = std::string("missing");
      auto none = co_await concurrent_gets(**node, fake, missing, 2, reuse ? 1 : 2);
      EXPECT_EQ(fake.state().finds, reuse ? 1u : 2u) << "reuse " << reuse;
      for (const auto& result : none)
        EXPECT_FALSE(result.has_value());
    }
  });
}

}  // namespace
}  // namespace hivemind::dht
