// rpc_find's neighbour addresses, end to end without sockets: the server fills them from its
// address book (handle_find), the client decodes them (decode_find_response) unless its
// AddrsKnown check says it holds them already exactly as adding them would leave them.
#include <gtest/gtest.h>

#include "hivemind/core/clock.hpp"
#include "hivemind/net/identity.hpp"
#include "hivemind/net/peer_store.hpp"
#include "hivemind_proto/dht.pb.h"
#include "protocol.hpp"
#include "request_handler.hpp"

namespace hivemind::dht {
namespace {

struct Server {
  ManualClock clock{1.7e9};
  DHTID self = DHTID::random();
  RoutingTable table{self, RoutingTableOptions{}};
  LocalStorage storage{clock};
  LocalStorage cache{clock};
  net::PeerStore book;
  std::vector<NodeInfo> nodes;

  Server() {
    for (int i = 0; i < 8; ++i) {
      NodeInfo node{DHTID::random(), net::KeyPair::generate().peer_id()};
      table.add_or_update(node, 0);
      auto addr = net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/" + std::to_string(4000 + i));
      book.add_addrs(node.peer, std::vector<net::Multiaddr>(1, *addr));
      nodes.push_back(node);
    }
  }

  Bytes find(const std::vector<DHTID>& keys) {
    RequestContext context{self,
                           table,
                           storage,
                           cache,
                           nullptr,
                           1024,
                           20,
                           [this](const net::PeerId& peer) -> const std::vector<net::Multiaddr>* {
                             const net::PeerInfo* info = book.find(peer);
                             return info != nullptr ? &info->addrs : nullptr;
                           }};
    proto::dht::FindRequest request;
    for (const auto& key : keys)
      request.add_keys(key.raw().data(), DHTID::kBytes);
    Bytes bytes(request.ByteSizeLong());
    request.SerializeToArray(bytes.data(), static_cast<int>(bytes.size()));
    Sender sender;
    auto response = handle_find(context, bytes, sender);
    EXPECT_TRUE(response.has_value());
    return response ? *response : Bytes{};
  }
};

TEST(FindAddrs, DecodedUnlessKnown) {
  Server server;
  std::vector<DHTID> keys{DHTID::random(), DHTID::random()};
  Bytes response = server.find(keys);

  auto full = protocol::decode_find_response(response, keys, nullptr);
  ASSERT_TRUE(full.has_value());
  ASSERT_EQ(full->results.size(), 2U);
  ASSERT_EQ(full->results[0].nearest.size(), server.nodes.size());
  for (const auto& neighbor : full->results[0].nearest)
    EXPECT_EQ(neighbor.addrs, server.book.addrs(neighbor.node.peer));

  // The client's own book holds every address already: nothing is decoded, neighbours stay.
  std::size_t asked = 0;
  protocol::AddrsKnown known = [&](const net::PeerId& peer, const std::vector<BytesView>& raw) {
    ++asked;
    const net::PeerInfo* info = server.book.find(peer);
    return info != nullptr && raw.size() == 1
           && std::equal(raw[0].begin(),
                         raw[0].end(),
                         info->addrs[0].bytes().begin(),
                         info->addrs[0].bytes().end());
  };
  auto lazy = protocol::decode_find_response(response, keys, nullptr, {}, known);
  ASSERT_TRUE(lazy.has_value());
  EXPECT_EQ(asked, 2 * server.nodes.size());
  ASSERT_EQ(lazy->results[1].nearest.size(), full->results[1].nearest.size());
  for (std::size_t j = 0; j < lazy->results[1].nearest.size(); ++j) {
    EXPECT_EQ(lazy->results[1].nearest[j].node, full->results[1].nearest[j].node);
    EXPECT_TRUE(lazy->results[1].nearest[j].addrs.empty());
  }

  // A check that says "unknown" gives the full decode.
  protocol::AddrsKnown unknown = [](const net::PeerId&, const std::vector<BytesView>&) {
    return false;
  };
  auto again = protocol::decode_find_response(response, keys, nullptr, {}, unknown);
  ASSERT_TRUE(again.has_value());
  for (std::size_t j = 0; j < again->results[0].nearest.size(); ++j)
    EXPECT_EQ(again->results[0].nearest[j].addrs, full->results[0].nearest[j].addrs);
}

TEST(FindAddrs, PeerStoreFindSeesWithoutCopy) {
  net::PeerStore book;
  auto peer = net::KeyPair::generate().peer_id();
  EXPECT_EQ(book.find(peer), nullptr);
  auto a = *net::Multiaddr::from_string("/ip4/10.0.0.1/tcp/1");
  auto b = *net::Multiaddr::from_string("/ip4/10.0.0.2/tcp/2");
  book.add_addrs(peer, std::vector<net::Multiaddr>{a, b});
  const net::PeerInfo* info = book.find(peer);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->addrs, (std::vector<net::Multiaddr>{b, a}));  // the newest first
}

}  // namespace
}  // namespace hivemind::dht
