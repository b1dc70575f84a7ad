// DHTProtocol as a real DhtNode serves it, driven with hand-built dht.proto messages from a plain
// host (hivemind's tests/test_dht_protocol.py): ping answers, stores, finds with exact expirations
// and neighbours, dictionaries, the empty routing table, unknown protobuf fields, and a requester
// that is pinged back before it enters the table. Hostile requests: dht_protocol_bad_input_test.
#include "dht_protocol_client.hpp"

namespace hivemind::dht {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace)

const std::vector<std::shared_ptr<DhtNode>> kNoPeers;

Bytes sample_value() {
  msgpack::Array array;
  array.items.emplace_back(0.25);
  array.items.emplace_back(std::string("pyshpysh"));
  return msgpack::pack(array);
}

TEST_F(DhtProtocolTest, PingStoreAndFindAgainstANodeThatKnowsAnother) {
  run_dht([&]() -> asio::awaitable<void> {
    auto a = co_await make_node(node_options(), kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto b = co_await make_node(node_options(), std::vector(1, *a));
    HM_CO_ASSERT_OK(b);
    HM_CO_ASSERT((*a)->routing_table().contains((*b)->node_id()));
    auto client_host = make_host();
    ProtocolClient client(*client_host, **a);

    auto ping = co_await client.ping();
    HM_CO_ASSERT_OK(ping);
    EXPECT_EQ(ping->peer().node_id(), str((*a)->node_id().to_bytes()));
    EXPECT_EQ(ping->dht_time(), now());
    EXPECT_FALSE(ping->available());

    // A regular value: stored, then found with its exact expiration and B as the neighbour.
    const Bytes key = DHTID::random().to_bytes();
    const Bytes value = sample_value();
    const double expiration = now() + 1000.125;
    auto stored =
        co_await client.store(records_of(record(key, kRegularValueTag, value, expiration)));
    HM_CO_ASSERT_OK(stored);
    EXPECT_EQ(ok_list(*stored), std::vector<bool>(1, true));
    EXPECT_EQ(stored->peer().node_id(), str((*a)->node_id().to_bytes()));

    auto found = co_await client.find(std::vector<Bytes>(1, key));
    HM_CO_ASSERT_OK(found);
    HM_CO_ASSERT(found->results_size() == 1);
    const pb::FindResult& result = found->results(0);
    EXPECT_EQ(result.type(), pb::FOUND_REGULAR);
    EXPECT_EQ(result.value(), str(value));
    EXPECT_EQ(result.expiration_time(), expiration);
    EXPECT_EQ(neighbors_of(result),
              std::vector<NodeInfo>(1, NodeInfo{(*b)->node_id(), (*b)->peer_id()}));
    // Our addition: B's addresses travel with it.
    HM_CO_ASSERT(result.nearest_peer_addrs_size() == 1);
    auto b_addr = (*b)->host().listen_addrs().front();
    bool has_b_addr = false;
    for (const auto& raw : result.nearest_peer_addrs(0).addrs()) {
      auto addr = net::Multiaddr::from_bytes(as_bytes(raw));
      has_b_addr = has_b_addr || (addr && *addr == b_addr);
    }
    EXPECT_TRUE(has_b_addr);

    // A random key: not found, still a neighbour.
    auto missing = co_await client.find(std::vector<Bytes>(1, DHTID::random().to_bytes()));
    HM_CO_ASSERT_OK(missing);
    HM_CO_ASSERT(missing->results_size() == 1);
    EXPECT_EQ(missing->results(0).type(), pb::NOT_FOUND);
    EXPECT_TRUE(missing->results(0).value().empty());
    EXPECT_EQ(neighbors_of(missing->results(0)).size(), 1u);

    // Two subkeys of one key: a dictionary of two entries whose expiration is the later one.
    const Bytes nested = DHTID::random().to_bytes();
    const Bytes foo = msgpack::pack(std::string("foo"));
    const Bytes bar = msgpack::pack(std::string("bar"));
    const Bytes value1 = msgpack::pack(std::int64_t(1));
    const Bytes value2 = msgpack::pack(std::string("abacaba"));
    auto first = co_await client.store(records_of(record(nested, foo, value1, expiration)));
    auto second = co_await client.store(records_of(record(nested, bar, value2, expiration + 5)));
    HM_CO_ASSERT_OK(first);
    HM_CO_ASSERT_OK(second);
    EXPECT_EQ(ok_list(*first), std::vector<bool>(1, true));
    EXPECT_EQ(ok_list(*second), std::vector<bool>(1, true));
    auto dict = co_await client.find(std::vector<Bytes>(1, nested));
    HM_CO_ASSERT_OK(dict);
    HM_CO_ASSERT(dict->results_size() == 1);
    EXPECT_EQ(dict->results(0).type(), pb::FOUND_DICTIONARY);
    EXPECT_EQ(dict->results(0).expiration_time(), expiration + 5);
    auto unpacked = DictionaryValue::unpack(as_bytes(dict->results(0).value()));
    HM_CO_ASSERT_OK(unpacked);
    EXPECT_EQ(unpacked->size(), 2u);
    EXPECT_EQ(unpacked->entries().at(foo), (ValueWithExpiration{value1, expiration}));
    EXPECT_EQ(unpacked->entries().at(bar), (ValueWithExpiration{value2, expiration + 5}));

    // In-cache stores land in the cache, not in storage, and are served all the same.
    const Bytes cached_key = DHTID::random().to_bytes();
    auto cached = co_await client.store(
        records_of(record(cached_key, kRegularValueTag, value, expiration, true)));
    HM_CO_ASSERT_OK(cached);
    EXPECT_EQ(ok_list(*cached), std::vector<bool>(1, true));
    auto cached_id = DHTID::from_bytes(cached_key);
    EXPECT_FALSE((*a)->storage().get(*cached_id).has_value());
    EXPECT_TRUE((*a)->cache().get(*cached_id).has_value());
    auto from_cache = co_await client.find(std::vector<Bytes>(1, cached_key));
    HM_CO_ASSERT_OK(from_cache);
    EXPECT_EQ(from_cache->results(0).type(), pb::FOUND_REGULAR);
  });
}

TEST_F(DhtProtocolTest, EmptyRoutingTable) {
  run_dht([&]() -> asio::awaitable<void> {
    auto a = co_await make_node(node_options(), kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto client_host = make_host();
    ProtocolClient client(*client_host, **a);
    const Bytes key = DHTID::random().to_bytes();
    auto before = co_await client.find(std::vector<Bytes>(1, key));
    HM_CO_ASSERT_OK(before);
    HM_CO_ASSERT(before->results_size() == 1);
    EXPECT_EQ(before->results(0).type(), pb::NOT_FOUND);
    EXPECT_EQ(before->results(0).nearest_node_ids_size(), 0);

    const double expiration = now() + 100;
    auto stored = co_await client.store(
        records_of(record(key, kRegularValueTag, msgpack::pack(std::int64_t(7)), expiration)));
    HM_CO_ASSERT_OK(stored);
    EXPECT_EQ(ok_list(*stored), std::vector<bool>(1, true));
    auto after = co_await client.find(std::vector<Bytes>(1, key));
    HM_CO_ASSERT_OK(after);
    EXPECT_EQ(after->results(0).type(), pb::FOUND_REGULAR);
    EXPECT_EQ(after->results(0).expiration_time(), expiration);
    EXPECT_EQ(after->results(0).nearest_node_ids_size(), 0);
    auto ping = co_await client.ping();
    HM_CO_ASSERT_OK(ping);
    EXPECT_EQ(ping->peer().node_id(), str((*a)->node_id().to_bytes()));
  });
}

TEST_F(DhtProtocolTest, RequesterIsPingedBackAndNeverListedToItself) {
  run_dht([&]() -> asio::awaitable<void> {
    auto a = co_await make_node(node_options(), kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto b = co_await make_node(node_options(), std::vector(1, *a));
    HM_CO_ASSERT_OK(b);
    // The requester serves rpc_ping (with the id it claims), as a DHT node would.
    test::FakeDhtPeer requester(make_host(), DHTID::random());
    ProtocolClient as_node(requester.host(), **a, requester.id());
    auto found = co_await as_node.find(std::vector<Bytes>(1, requester.id().to_bytes()));
    HM_CO_ASSERT_OK(found);
    // A pings the requester back and only then adds it.
    bool added = co_await testing::wait_until(
        [&] { return (*a)->routing_table().contains(requester.id()); });
    EXPECT_TRUE(added);
    EXPECT_EQ(requester.state().pings, 1u);
    EXPECT_EQ((*a)->routing_table().peer_of(requester.id()), requester.peer_id());

    // Asked by the requester about its own id, A lists B but never the requester itself.
    auto again = co_await as_node.find(std::vector<Bytes>(1, requester.id().to_bytes()));
    HM_CO_ASSERT_OK(again);
    EXPECT_EQ(neighbors_of(again->results(0)),
              std::vector<NodeInfo>(1, NodeInfo{(*b)->node_id(), (*b)->peer_id()}));
    // Asked by someone else, A lists both, nearest first.
    auto other_host = make_host();
    ProtocolClient other(*other_host, **a);
    auto both = co_await other.find(std::vector<Bytes>(1, requester.id().to_bytes()));
    HM_CO_ASSERT_OK(both);
    auto listed = neighbors_of(both->results(0));
    HM_CO_ASSERT(listed.size() == 2);
    EXPECT_EQ(listed[0], (NodeInfo{requester.id(), requester.peer_id()}));
    EXPECT_EQ(listed[1], (NodeInfo{(*b)->node_id(), (*b)->peer_id()}));
  });
}

TEST_F(DhtProtocolTest, UnknownFieldsAreIgnored) {
  run_dht([&]() -> asio::awaitable<void> {
    auto a = co_await make_node(node_options(), kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto client_host = make_host();
    ProtocolClient client(*client_host, **a);
    const Bytes key = DHTID::random().to_bytes();
    const double expiration = now() + 100;
    Bytes store = with_unknown_fields(serialize(
        store_request(records_of(record(key, kRegularValueTag, msgpack::pack(1), expiration)))));
    auto stored = co_await client.call<pb::StoreResponse>(kStore, store);
    HM_CO_ASSERT_OK(stored);
    EXPECT_EQ(ok_list(*stored), std::vector<bool>(1, true));

    pb::FindRequest find;
    find.add_keys(str(key));
    // Unknown fields inside a known submessage too: peer (#3) = NodeInfo holding only those.
    Bytes find_bytes = serialize(find);
    const Bytes inner = unknown_fields();
    find_bytes.push_back(0x1a);
    find_bytes.push_back(static_cast<std::uint8_t>(inner.size()));
    find_bytes.insert(find_bytes.end(), inner.begin(), inner.end());
    auto found = co_await client.call<pb::FindResponse>(kFind, with_unknown_fields(find_bytes));
    HM_CO_ASSERT_OK(found);
    HM_CO_ASSERT(found->results_size() == 1);
    EXPECT_EQ(found->results(0).type(), pb::FOUND_REGULAR);
    EXPECT_EQ(found->results(0).expiration_time(), expiration);

    const Bytes empty_ping;
    auto ping = co_await client.call<pb::PingResponse>(kPing, with_unknown_fields(empty_ping));
    HM_CO_ASSERT_OK(ping);
    EXPECT_EQ(ping->peer().node_id(), str((*a)->node_id().to_bytes()));
  });
}

}  // namespace
}  // namespace hivemind::dht
