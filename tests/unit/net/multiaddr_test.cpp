#include "hivemind/net/multiaddr.hpp"

#include <set>
#include <stdexcept>
#include <unordered_set>

#include <gtest/gtest.h>

#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

// sha2-256 peer id used by the multiaddr test vectors of go-, rust- and js-multiaddr.
constexpr std::string_view kQmId = "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC";
constexpr std::string_view kQmIdHex =
    "1220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b";
// Ed25519 peer id of the seed 32 x 0x01 (DESIGN.md).
constexpr std::string_view kEdId = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

Multiaddr parse(std::string_view text) {
  auto addr = Multiaddr::from_string(text);
  EXPECT_TRUE(addr) << text;
  return addr ? *addr : Multiaddr();
}

PeerId peer(std::string_view text) {
  return *PeerId::from_string(text);
}

TEST(Multiaddr, MatchesSpecVectorsBothWays) {
  struct Vector {
    std::string text;
    std::string hex;
  };

  const std::string p2p_hex = "a50322" + std::string(kQmIdHex);
  const Vector vectors[] = {
      // multiformats/multiaddr test/multiaddr.feature
      {"/ip4/192.0.2.42/tcp/443", "04c000022a0601bb"},
      // multiaddr README
      {"/ip4/127.0.0.1/udp/1234", "047f000001910204d2"},
      // vectors shared by go-, rust- and js-multiaddr
      {"/ip4/1.2.3.4", "0401020304"},
      {"/ip4/0.0.0.0", "0400000000"},
      {"/ip6/::1", "2900000000000000000000000000000001"},
      {"/ip6/2601:9:4f81:9700:803e:ca65:66e8:c21", "29260100094f819700803eca6566e80c21"},
      {"/ip6/2001:8a0:7ac5:4201:3ac9:86ff:fe31:7095", "29200108a07ac542013ac986fffe317095"},
      {"/udp/0", "91020000"},
      {"/tcp/0", "060000"},
      {"/udp/65535", "9102ffff"},
      {"/tcp/65535", "06ffff"},
      {"/p2p/" + std::string(kQmId), p2p_hex},
      {"/p2p/" + std::string(kQmId) + "/tcp/1234", p2p_hex + "0604d2"},
      {"/ip4/127.0.0.1/udp/1234/ip4/127.0.0.1/tcp/4321", "047f000001910204d2047f0000010610e1"},
      {"/tcp/1234/tls", "0604d2c003"},
      {"/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb"},
      {"/ip4/1.2.3.4/udp/443/quic-v1", "0401020304910201bbcd03"},
      {"/ip4/1.2.3.4/tcp/80/ws/p2p-circuit", "0401020304060050dd03a202"},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.text);
    auto from_text = Multiaddr::from_string(v.text);
    ASSERT_TRUE(from_text);
    EXPECT_EQ(to_hex(from_text->bytes()), v.hex);
    EXPECT_EQ(from_text->to_string(), v.text);
    auto from_bytes = Multiaddr::from_bytes(*from_hex(v.hex));
    ASSERT_TRUE(from_bytes);
    EXPECT_EQ(from_bytes->to_string(), v.text);
    EXPECT_EQ(*from_bytes, *from_text);
  }
}

TEST(Multiaddr, ReadsIpfsAliasAndCanonicalizesIp6) {
  const std::string ipfs = "/ip4/127.0.0.1/tcp/4001/ipfs/" + std::string(kQmId);
  EXPECT_EQ(parse(ipfs).to_string(), "/ip4/127.0.0.1/tcp/4001/p2p/" + std::string(kQmId));
  EXPECT_EQ(parse("/ip6/0:0:0:0:0:0:0:1/tcp/80").to_string(), "/ip6/::1/tcp/80");
  EXPECT_EQ(parse("/ip6/2001:DB8::0001/tcp/80").to_string(), "/ip6/2001:db8::1/tcp/80");
  EXPECT_EQ(parse("/tcp/0080").to_string(), "/tcp/80");
}

TEST(Multiaddr, RejectsMalformedText) {
  const std::string long_name(kMaxDomainNameLength + 1, 'a');
  const std::string_view bad[] = {
      "",
      "/",
      "ip4/1.2.3.4",
      "/ip4/1.2.3.4/",     // trailing slash
      "//ip4/1.2.3.4",     // empty segment
      "/ip4",              // missing value
      "/ip4/1.2.3.4/tcp",  // missing value
      "/ip4/1.2.3",        // bad ip
      "/ip4/1.2.3.256",
      "/ip4/01.2.3.4",  // leading zero
      "/ip4/::1",
      "/ip6/1.2.3.4",
      "/ip6/fe80::1%eth0",  // zones are not supported
      "/tcp/65536",         // port out of range
      "/tcp/-1",
      "/tcp/+1",
      "/tcp/1a",
      "/tcp/123456",
      "/udp/",
      "/dns4//tcp/1",        // empty dns name
      "/dns4/exa mple.com",  // invalid dns character
      "/unix/tmp/socket",    // unsupported protocol
      "/http",
      "/p2p/QmNotAPeerId",  // invalid peer id
      "/p2p/",
      "/p2p-circuit/extra",  // value for a protocol without one
  };
  for (auto text : bad) {
    EXPECT_EQ(Multiaddr::from_string(text).error(), NetErrc::kMalformedMultiaddr) << text;
  }
  EXPECT_FALSE(Multiaddr::from_string("/dns/" + long_name));
  EXPECT_TRUE(Multiaddr::from_string("/dns/" + long_name.substr(1)));
  EXPECT_FALSE(Multiaddr::from_string(std::string("/ip4/1.2.3.4\0", 13)));
  std::string too_long;
  while (too_long.size() <= kMaxMultiaddrTextLength)
    too_long += "/tls";
  EXPECT_FALSE(Multiaddr::from_string(too_long));
}

TEST(Multiaddr, RejectsMalformedBytes) {
  const std::string_view bad_hex[] = {
      "",
      "04010203",      // truncated ip4
      "040102030406",  // trailing code without its value
      "0401020304ff",  // truncated varint
      "8004010203",    // non-minimal code varint
      "0201020304",    // unknown code 2
      "9003",          // unknown code 400 (unix)
      "0601",          // truncated port
      "3600",          // empty dns name
      "3605616263",    // dns length beyond the input
      "36036162632f",  // dns name with '/' (length 3 then trailing garbage)
      "36032f6263",    // '/' inside a dns name
      "a503020001",    // p2p value is not a valid multihash
      "a50300",        // empty p2p value
  };
  for (auto hex : bad_hex) {
    EXPECT_EQ(Multiaddr::from_bytes(*from_hex(hex)).error(), NetErrc::kMalformedMultiaddr) << hex;
  }
  Bytes oversize;
  while (oversize.size() <= kMaxMultiaddrBytes)
    append(oversize, *from_hex("0401020304"));
  EXPECT_FALSE(Multiaddr::from_bytes(oversize));
  // A length prefix far beyond the input must not allocate or read.
  Bytes huge_length = {0x36};
  append_uvarint(huge_length, std::uint64_t{1} << 40);
  EXPECT_FALSE(Multiaddr::from_bytes(huge_length));
}

TEST(Multiaddr, BuildsFromIpAndPort) {
  EXPECT_EQ(Multiaddr::from_ip_tcp("10.0.0.1", 4001)->to_string(), "/ip4/10.0.0.1/tcp/4001");
  EXPECT_EQ(Multiaddr::from_ip_tcp("::1", 443)->to_string(), "/ip6/::1/tcp/443");
  EXPECT_EQ(Multiaddr::from_ip_tcp("example.com", 1).error(), NetErrc::kMalformedMultiaddr);
  EXPECT_EQ(Multiaddr::from_ip_tcp("[::1]", 1).error(), NetErrc::kMalformedMultiaddr);
}

TEST(Multiaddr, HandlesPeerIds) {
  const Multiaddr base = parse("/ip4/1.2.3.4/tcp/80");
  EXPECT_FALSE(base.peer_id());
  const Multiaddr with = base.with_peer_id(peer(kEdId));
  EXPECT_EQ(with.to_string(), "/ip4/1.2.3.4/tcp/80/p2p/" + std::string(kEdId));
  EXPECT_EQ(with.peer_id(), peer(kEdId));
  EXPECT_EQ(with.with_peer_id(peer(kQmId)).to_string(),
            "/ip4/1.2.3.4/tcp/80/p2p/" + std::string(kQmId));
  EXPECT_EQ(with.without_peer_id(), base);
  EXPECT_EQ(base.without_peer_id(), base);

  // A circuit address: the peer id is the last /p2p/ component.
  const std::string relayed =
      "/ip4/1.2.3.4/tcp/80/p2p/" + std::string(kQmId) + "/p2p-circuit/p2p/" + std::string(kEdId);
  EXPECT_EQ(parse(relayed).peer_id(), peer(kEdId));
  const Multiaddr to_relay = parse(relayed).decapsulate(Protocol::kP2pCircuit);
  EXPECT_EQ(to_relay.peer_id(), peer(kQmId));
}

TEST(Multiaddr, EncapsulatesAndDecapsulates) {
  const Multiaddr a = parse("/ip4/1.2.3.4/tcp/80");
  const Multiaddr b = parse("/ws/p2p-circuit");
  const Multiaddr ab = a.encapsulate(b);
  EXPECT_EQ(ab.to_string(), "/ip4/1.2.3.4/tcp/80/ws/p2p-circuit");
  EXPECT_EQ(ab, parse("/ip4/1.2.3.4/tcp/80/ws/p2p-circuit"));
  EXPECT_EQ(ab.decapsulate(Protocol::kWs), a);
  EXPECT_EQ(ab.decapsulate(Protocol::kTcp).to_string(), "/ip4/1.2.3.4");
  EXPECT_TRUE(ab.decapsulate(Protocol::kIp4).empty());
  EXPECT_EQ(ab.decapsulate(Protocol::kUdp), ab);
  EXPECT_EQ(Multiaddr().to_string(), "");
}

TEST(Multiaddr, FindsTcpDialTargets) {
  auto target = parse("/ip6/::1/tcp/4001/p2p/" + std::string(kEdId)).tcp_target();
  ASSERT_TRUE(target);
  EXPECT_EQ(target->host, "::1");
  EXPECT_EQ(target->port, 4001);
  EXPECT_EQ(target->host_protocol, Protocol::kIp6);
  target = parse("/dns4/example.com/tcp/443").tcp_target();
  ASSERT_TRUE(target);
  EXPECT_EQ(target->host, "example.com");
  EXPECT_EQ(target->host_protocol, Protocol::kDns4);
  EXPECT_FALSE(parse("/ip4/1.2.3.4/udp/443/quic-v1").tcp_target());
  EXPECT_FALSE(parse("/ip4/1.2.3.4/tcp/80/ws").tcp_target());
  EXPECT_FALSE(parse("/dnsaddr/example.com/tcp/80").tcp_target());
  EXPECT_FALSE(parse("/tcp/80").tcp_target());
}

TEST(Multiaddr, ValidatesComponents) {
  Bytes port = {0x00, 0x50};
  auto addr = Multiaddr::from_components({{Protocol::kIp4, {1, 2, 3, 4}}, {Protocol::kTcp, port}});
  EXPECT_EQ(addr.to_string(), "/ip4/1.2.3.4/tcp/80");
  EXPECT_EQ(addr.components().size(), 2u);
  EXPECT_EQ(addr.components()[1].value, port);
  EXPECT_THROW(Multiaddr::from_components({{Protocol::kIp4, {1, 2, 3}}}), std::invalid_argument);
  EXPECT_THROW(Multiaddr::from_components({{Protocol::kDns, {}}}), std::invalid_argument);
  EXPECT_THROW(Multiaddr::from_components({{static_cast<Protocol>(2), {}}}), std::invalid_argument);
}

TEST(Multiaddr, OrdersAndHashesByBytes) {
  const Multiaddr a = parse("/ip4/1.2.3.4/tcp/80");
  const Multiaddr b = parse("/ip4/1.2.3.4/tcp/81");
  EXPECT_LT(a, b);
  EXPECT_NE(a, b);
  std::set<Multiaddr> ordered = {b, a, parse("/ip4/1.2.3.4/tcp/80")};
  EXPECT_EQ(ordered.size(), 2u);
  std::unordered_set<Multiaddr> hashed = {a, b, parse("/ip4/1.2.3.4/tcp/0080")};
  EXPECT_EQ(hashed.size(), 2u);
}

}  // namespace
}  // namespace hivemind::net
