// The blacklist of unresponsive peers: exponential backoff, reset on success, bounded size.
#include "blacklist.hpp"

#include <gtest/gtest.h>

#include "hivemind/net/identity.hpp"

namespace hivemind::dht {
namespace {

TEST(BlacklistTest, BansGrowExponentiallyAndSuccessClears) {
  Blacklist blacklist(5.0, 2.0);
  auto peer = net::KeyPair::generate().peer_id();
  EXPECT_FALSE(blacklist.is_banned(peer, 100));
  blacklist.register_failure(peer, 100);  // banned for 5 s
  EXPECT_TRUE(blacklist.is_banned(peer, 104.9));
  EXPECT_FALSE(blacklist.is_banned(peer, 105.1));
  blacklist.register_failure(peer, 106);  // second failure: 10 s
  EXPECT_TRUE(blacklist.is_banned(peer, 115.9));
  EXPECT_FALSE(blacklist.is_banned(peer, 116.1));
  blacklist.register_failure(peer, 120);  // third: 20 s
  EXPECT_TRUE(blacklist.is_banned(peer, 139.9));
  EXPECT_EQ(blacklist.failures(peer), 3u);
  blacklist.register_success(peer);
  EXPECT_FALSE(blacklist.is_banned(peer, 121));
  EXPECT_EQ(blacklist.failures(peer), 0u);
}

TEST(BlacklistTest, ZeroBaseTimeDisablesIt) {
  Blacklist blacklist(0.0, 2.0);
  auto peer = net::KeyPair::generate().peer_id();
  blacklist.register_failure(peer, 1);
  EXPECT_FALSE(blacklist.is_banned(peer, 1));
  EXPECT_EQ(blacklist.size(), 0u);
}

TEST(BlacklistTest, BansAreCappedAndSizeIsBounded) {
  Blacklist blacklist(5.0, 2.0, 3600, 3);
  auto peer = net::KeyPair::generate().peer_id();
  for (int i = 0; i < 2000; ++i) blacklist.register_failure(peer, 0);
  EXPECT_TRUE(blacklist.is_banned(peer, 3599));
  EXPECT_FALSE(blacklist.is_banned(peer, 3601));  // a returning peer is retried within the hour
  for (int i = 0; i < 10; ++i) blacklist.register_failure(net::KeyPair::generate().peer_id(), 0);
  EXPECT_LE(blacklist.size(), 3u);
}

}  // namespace
}  // namespace hivemind::dht
