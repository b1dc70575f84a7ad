// Hostile DHTProtocol requests against a real DhtNode (issue 3, "Bad input"): requests over the
// key limit, parallel lists of different lengths, keys of the wrong size and unparsable bytes are
// refused whole; oversized values, bad expirations, subkeys that are not msgpack, garbage
// dictionaries and records failing validation are refused one by one. Nothing wrong is stored
// and the node keeps serving after each.
#include <algorithm>
#include <cmath>
#include <limits>

#include "dht_protocol_client.hpp"

namespace hivemind::dht {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace)

const std::vector<std::shared_ptr<DhtNode>> kNoPeers;

Bytes typed_key() {
  return DHTID::from_key(msgpack::Value(std::string("typed"))).to_bytes();
}

/// A subkey protected by `owner`: msgpack bin "protected" + its owner marker.
Bytes owned_subkey(const SignatureValidator& owner) {
  Bytes subkey = {'p', 'r', 'o', 't', 'e', 'c', 't', 'e', 'd'};
  const Bytes& marker = owner.local_owner_marker();
  subkey.insert(subkey.end(), marker.begin(), marker.end());
  return msgpack::pack(subkey);
}

/// `value` as `signer` publishes it under (key, subkey).
Bytes signed_value(const SignatureValidator& signer,
                   const Bytes& key,
                   const Bytes& subkey,
                   const Bytes& value,
                   double expiration) {
  return signer.sign_value(DHTRecord{key, subkey, value, expiration});
}

Bytes packed_dictionary(double expiration) {
  DictionaryValue dictionary;
  dictionary.store(msgpack::pack(std::string("a")), msgpack::pack(1), expiration);
  dictionary.store(msgpack::pack(std::string("b")), msgpack::pack(2), expiration + 1);
  return dictionary.pack();
}

struct Case {
  std::string what;
  Record record;
};

/// One record of each kind the node must refuse, with keys of their own.
std::vector<Case> hostile_records(double now) {
  const double fine = now + 100;
  const Bytes plain = kRegularValueTag;
  auto key = [] {
    return DHTID::random().to_bytes();
  };
  const Bytes small = msgpack::pack(1);
  SignatureValidator bob(net::KeyPair::generate());
  SignatureValidator mallory(net::KeyPair::generate());
  std::vector<Case> cases;
  cases.push_back({"oversized value", record(key(), plain, msgpack::pack(Bytes(5000, 7)), fine)});
  cases.push_back(
      {"NaN expiration", record(key(), plain, small, std::numeric_limits<double>::quiet_NaN())});
  cases.push_back(
      {"+inf expiration", record(key(), plain, small, std::numeric_limits<double>::infinity())});
  cases.push_back(
      {"-inf expiration", record(key(), plain, small, -std::numeric_limits<double>::infinity())});
  cases.push_back({"past expiration", record(key(), plain, small, now - 1)});
  cases.push_back({"expiration 31 days ahead", record(key(), plain, small, now + 31 * 86400.0)});
  cases.push_back({"subkey 0xc1 (reserved)", record(key(), Bytes{0xc1}, small, fine)});
  cases.push_back({"subkey truncated array", record(key(), Bytes{0x92, 0x01}, small, fine)});
  cases.push_back({"subkey with trailing bytes", record(key(), Bytes{0x01, 0x02}, small, fine)});
  cases.push_back(
      {"dictionary tag, garbage value", record(key(), Bytes{}, Bytes{0xde, 0xad}, fine)});
  cases.push_back({"dictionary tag, plain msgpack value", record(key(), Bytes{}, small, fine)});
  cases.push_back(
      {"dictionary tag, empty dictionary", record(key(), Bytes{}, DictionaryValue().pack(), fine)});
  cases.push_back({"dictionary tag, expired entries",
                   record(key(), Bytes{}, packed_dictionary(now - 10), fine)});
  const Bytes owned = owned_subkey(bob);
  cases.push_back({"owned subkey, unsigned", record(key(), owned, small, fine)});
  // Mallory's valid signature (over her own subkey) attached to a record under Bob's subkey.
  Bytes forged_key = key();
  cases.push_back({"owned subkey, signed by another key",
                   record(forged_key,
                          owned,
                          signed_value(mallory, forged_key, owned_subkey(mallory), small, fine),
                          fine)});
  Bytes tampered_key = key();
  cases.push_back(
      {"owned subkey, signature of another expiration",
       record(tampered_key, owned, signed_value(bob, tampered_key, owned, small, fine), fine + 1)});
  cases.push_back({"schema: typed holds an int", record(typed_key(), plain, small, fine)});
  return cases;
}

/// Records of the same kinds that are fine (the node must accept each).
std::vector<Case> acceptable_records(double now) {
  const double fine = now + 100;
  SignatureValidator bob(net::KeyPair::generate());
  const Bytes owned = owned_subkey(bob);
  const Bytes value = msgpack::pack(std::string("mine"));
  std::vector<Case> cases;
  Bytes key = DHTID::random().to_bytes();
  cases.push_back({"owned subkey, signed",
                   record(key, owned, signed_value(bob, key, owned, value, fine), fine)});
  cases.push_back({"whole dictionary",
                   record(DHTID::random().to_bytes(), Bytes{}, packed_dictionary(fine), fine)});
  cases.push_back(
      {"29 days ahead",
       record(DHTID::random().to_bytes(), kRegularValueTag, value, now + 29 * 86400.0)});
  cases.push_back({"value at the size limit",
                   record(DHTID::random().to_bytes(), kRegularValueTag, Bytes(4096, 0xc0), fine)});
  cases.push_back({"schema: typed holds bytes",
                   record(typed_key(), kRegularValueTag, msgpack::pack(Bytes{1, 2}), fine)});
  return cases;
}

bool holds(DhtNode& node, const Bytes& key) {
  auto id = DHTID::from_bytes(key);
  return id && (node.storage().get(*id).has_value() || node.cache().get(*id).has_value());
}

TEST_F(DhtProtocolTest, HostileRecordsAreRejectedOneByOne) {
  run_dht([&]() -> asio::awaitable<void> {
    auto a = co_await make_node(node_options(), kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto client_host = make_host();
    ProtocolClient client(*client_host, **a);
    const std::vector<bool> rejected(1, false);
    for (const auto& c : hostile_records(now())) {
      EXPECT_EQ(co_await client.store_ok(records_of(c.record)), rejected) << c.what;
      EXPECT_FALSE(holds(**a, c.record.key)) << c.what;
      EXPECT_TRUE(co_await client.still_serves(now() + 10)) << c.what;
    }
    for (const auto& c : acceptable_records(now())) {
      EXPECT_EQ(co_await client.store_ok(records_of(c.record)), std::vector<bool>(1, true))
          << c.what;
      EXPECT_TRUE(holds(**a, c.record.key)) << c.what;
    }
    // All at once: one verdict per record, in order, the good one among the bad ones stored.
    std::vector<Record> batch;
    for (const auto& c : hostile_records(now()))
      batch.push_back(c.record);
    const Bytes good_key = DHTID::random().to_bytes();
    batch.insert(batch.begin() + 3,
                 record(good_key, kRegularValueTag, msgpack::pack(5), now() + 9));
    std::vector<bool> expected(batch.size(), false);
    expected[3] = true;
    std::vector<bool> verdicts;
    for (std::size_t from = 0; from < batch.size(); from += kMaxKeys) {
      std::size_t to = std::min(batch.size(), from + kMaxKeys);
      std::vector<Record> chunk(batch.begin() + static_cast<std::ptrdiff_t>(from),
                                batch.begin() + static_cast<std::ptrdiff_t>(to));
      std::vector<bool> part = co_await client.store_ok(chunk);
      EXPECT_EQ(part.size(), chunk.size());
      verdicts.insert(verdicts.end(), part.begin(), part.end());
    }
    EXPECT_EQ(verdicts, expected);
    EXPECT_TRUE(holds(**a, good_key));
  });
}

TEST_F(DhtProtocolTest, SubkeysOnPlainValuesFollowExpirationRules) {
  run_dht([&]() -> asio::awaitable<void> {
    auto a = co_await make_node(node_options(), kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto client_host = make_host();
    ProtocolClient client(*client_host, **a);
    const Bytes key = DHTID::random().to_bytes();
    const double t = now() + 100;
    const Bytes subkey = msgpack::pack(std::string("sub"));
    const std::vector<bool> yes(1, true);
    const std::vector<bool> no(1, false);
    EXPECT_EQ(
        co_await client.store_ok(records_of(record(key, kRegularValueTag, msgpack::pack(1), t))),
        yes);
    // An older (or equal) subkey write does not turn the plain value into a dictionary.
    EXPECT_EQ(co_await client.store_ok(records_of(record(key, subkey, msgpack::pack(2), t - 1))),
              no);
    EXPECT_EQ(co_await client.store_ok(records_of(record(key, subkey, msgpack::pack(2), t))), no);
    auto found = co_await client.find(std::vector<Bytes>(1, key));
    HM_CO_ASSERT_OK(found);
    EXPECT_EQ(found->results(0).type(), pb::FOUND_REGULAR);
    EXPECT_EQ(found->results(0).value(), str(msgpack::pack(1)));
    // A newer one does (hivemind's rule).
    EXPECT_EQ(co_await client.store_ok(records_of(record(key, subkey, msgpack::pack(3), t + 1))),
              yes);
    // A plain value older than the dictionary's latest expiration is refused.
    EXPECT_EQ(co_await client.store_ok(
                  records_of(record(key, kRegularValueTag, msgpack::pack(4), t + 1))),
              no);
    found = co_await client.find(std::vector<Bytes>(1, key));
    HM_CO_ASSERT_OK(found);
    EXPECT_EQ(found->results(0).type(), pb::FOUND_DICTIONARY);
    EXPECT_EQ(found->results(0).expiration_time(), t + 1);
    auto dictionary = DictionaryValue::unpack(as_bytes(found->results(0).value()));
    HM_CO_ASSERT_OK(dictionary);
    EXPECT_EQ(dictionary->size(), 1u);
    EXPECT_EQ(dictionary->entries().at(subkey), (ValueWithExpiration{msgpack::pack(3), t + 1}));
  });
}

TEST_F(DhtProtocolTest, MalformedRequestsAreRefusedWhole) {
  run_dht([&]() -> asio::awaitable<void> {
    auto a = co_await make_node(node_options(), kNoPeers);
    HM_CO_ASSERT_OK(a);
    auto client_host = make_host();
    ProtocolClient client(*client_host, **a);
    const double t = now() + 100;
    std::vector<Record> too_many;
    std::vector<Bytes> too_many_keys;
    for (std::size_t i = 0; i <= kMaxKeys; ++i) {
      too_many.push_back(record(DHTID::random().to_bytes(), kRegularValueTag, msgpack::pack(1), t));
      too_many_keys.push_back(too_many.back().key);
    }
    auto refused = co_await client.store(too_many);
    HM_CO_ASSERT(!refused.has_value());
    EXPECT_EQ(refused.error().code(), make_error_code(net::NetErrc::kRemoteError));
    for (const auto& r : too_many)
      EXPECT_FALSE(holds(**a, r.key));
    auto refused_find = co_await client.find(too_many_keys);
    EXPECT_FALSE(refused_find.has_value());
    // At the limit: served.
    too_many.pop_back();
    too_many_keys.pop_back();
    EXPECT_EQ(co_await client.store_ok(too_many), std::vector<bool>(kMaxKeys, true));
    auto at_limit = co_await client.find(too_many_keys);
    HM_CO_ASSERT_OK(at_limit);
    EXPECT_EQ(at_limit->results_size(), static_cast<int>(kMaxKeys));

    // Parallel lists of different lengths: refused, nothing stored.
    for (int field = 0; field < 4; ++field) {
      const Bytes key = DHTID::random().to_bytes();
      pb::StoreRequest request =
          store_request(records_of(record(key, kRegularValueTag, msgpack::pack(1), t)));
      if (field == 0)
        request.clear_values();
      if (field == 1)
        request.clear_subkeys();
      if (field == 2)
        request.add_expiration_time(t);
      if (field == 3)
        request.clear_in_cache();
      auto reply = co_await client.call<pb::StoreResponse>(kStore, serialize(request));
      EXPECT_FALSE(reply.has_value()) << "field " << field;
      EXPECT_FALSE(holds(**a, key)) << "field " << field;
    }

    // Keys that are not 20 bytes: that record fails in a store, the whole find is refused.
    const Bytes good = DHTID::random().to_bytes();
    std::vector<Record> sizes;
    sizes.push_back(record(Bytes(19, 1), kRegularValueTag, msgpack::pack(1), t));
    sizes.push_back(record(good, kRegularValueTag, msgpack::pack(1), t));
    sizes.push_back(record(Bytes(21, 1), kRegularValueTag, msgpack::pack(1), t));
    sizes.push_back(record(Bytes(), kRegularValueTag, msgpack::pack(1), t));
    std::vector<bool> expected(4, false);
    expected[1] = true;
    EXPECT_EQ(co_await client.store_ok(sizes), expected);
    EXPECT_EQ((*a)->storage().size(), kMaxKeys + 1);
    std::vector<Bytes> bad_find;
    bad_find.push_back(good);
    bad_find.push_back(Bytes(21, 1));
    EXPECT_FALSE((co_await client.find(bad_find)).has_value());

    // Bytes that are no protobuf message, to every method.
    const Bytes garbage(32, 0xff);
    EXPECT_FALSE((co_await client.call<pb::PingResponse>(kPing, garbage)).has_value());
    EXPECT_FALSE((co_await client.call<pb::StoreResponse>(kStore, garbage)).has_value());
    EXPECT_FALSE((co_await client.call<pb::FindResponse>(kFind, garbage)).has_value());
    // A sender id of the wrong size is treated as no id: served, and nobody is added.
    pb::FindRequest odd_sender;
    odd_sender.add_keys(str(good));
    odd_sender.mutable_peer()->set_node_id(std::string(7, 'x'));
    auto served = co_await client.call<pb::FindResponse>(kFind, serialize(odd_sender));
    HM_CO_ASSERT_OK(served);
    EXPECT_EQ(served->results(0).type(), pb::FOUND_REGULAR);
    EXPECT_EQ((*a)->routing_table().size(), 0u);
    EXPECT_TRUE(co_await client.still_serves(t));
  });
}

}  // namespace
}  // namespace hivemind::dht
