// Record validators at node level (hivemind's test_dhtnode_signatures and test_dht_schema): an
// owner-protected subkey that only its owner can write, across nodes and after the owner leaves,
// and a schema that every honest node enforces on stores and on what it reads from others.
#include "hivemind/dht/schema_validator.hpp"
#include "hivemind/dht/signature_validator.hpp"
#include "testutil/dht_test.hpp"

namespace hivemind::dht {
namespace {

using testing::DhtTest;

const std::vector<std::shared_ptr<DhtNode>> kNoPeers;

double now() {
  return SystemClock::instance().unix_seconds();
}

DhtNodeOptions with_validator(std::shared_ptr<const RecordValidator> validator) {
  DhtNodeOptions options;
  options.validator = std::move(validator);
  return options;
}

msgpack::Value bin(const std::string& text) {
  return Bytes(text.begin(), text.end());
}

/// The value stored under `subkey` of `key`, as `reader` sees it with latest=true.
asio::awaitable<std::optional<msgpack::Value>> read(DhtNode& reader,
                                                    msgpack::Value key,
                                                    msgpack::Value subkey) {
  auto found = co_await reader.get(key, true);
  if (!found || !found->is_dictionary)
    co_return std::nullopt;
  const auto* entry = found->find(subkey);
  if (entry == nullptr)
    co_return std::nullopt;
  co_return entry->value;
}

/// Whether every entry `node` stores under `key` holds `value` (signatures stripped).
bool holds_only(DhtNode& node, const msgpack::Value& key, const msgpack::Value& value) {
  const DHTID id = DHTID::from_key(key);
  auto entry = node.storage().get(id);
  if (!entry)
    return true;
  if (!entry->is_dictionary())
    return false;
  SignatureValidator stripper;
  for (const auto& [subkey, item] : std::get<DictionaryValue>(entry->value).entries()) {
    DHTRecord record{id.to_bytes(), subkey, item.value, item.expiration};
    if (stripper.strip_value(record) != msgpack::pack(value))
      return false;
  }
  return true;
}

TEST_F(DhtTest, OnlyTheOwnerWritesAnOwnedSubkey) {
  run_dht([&]() -> asio::awaitable<void> {
    auto bob_validator = std::make_shared<SignatureValidator>(net::KeyPair::generate());
    auto alice =
        co_await make_node(with_validator(std::make_shared<SignatureValidator>()), kNoPeers);
    HM_CO_ASSERT_OK(alice);
    auto bob = co_await make_node(with_validator(bob_validator), std::vector(1, *alice));
    HM_CO_ASSERT_OK(bob);
    auto mallory = co_await make_node(
        with_validator(std::make_shared<SignatureValidator>(net::KeyPair::generate())),
        std::vector(1, *alice));
    HM_CO_ASSERT_OK(mallory);

    const msgpack::Value key = bin("key");
    Bytes owned = {'p', 'r', 'o', 't', 'e', 'c', 't', 'e', 'd', '_'};
    owned.insert(owned.end(),
                 bob_validator->local_owner_marker().begin(),
                 bob_validator->local_owner_marker().end());
    const msgpack::Value subkey = owned;
    std::optional<msgpack::Value> sub = subkey;

    EXPECT_TRUE(co_await (*bob)->store(key, bin("true_value"), now() + 10, sub));
    EXPECT_EQ(co_await read(**alice, key, subkey), bin("true_value"));

    EXPECT_FALSE(co_await (*mallory)->store(key, bin("fake_value"), now() + 10, sub));
    EXPECT_EQ(co_await read(**alice, key, subkey), bin("true_value"));
    // Nobody holds Mallory's value, not even Mallory.
    std::vector<DhtNode*> everyone;
    everyone.push_back(alice->get());
    everyone.push_back(bob->get());
    everyone.push_back(mallory->get());
    for (DhtNode* node : everyone)
      EXPECT_TRUE(holds_only(*node, key, bin("true_value")));

    EXPECT_TRUE(co_await (*bob)->store(key, bin("updated_true_value"), now() + 10, sub));
    EXPECT_EQ(co_await read(**alice, key, subkey), bin("updated_true_value"));

    // Bob leaves; Mallory is Alice's only peer and still cannot write.
    co_await (*bob)->shutdown();
    co_await (*bob)->host().stop();
    EXPECT_FALSE(co_await (*mallory)->store(key, bin("updated_fake_value"), now() + 10, sub));
    EXPECT_EQ(co_await read(**alice, key, subkey), bin("updated_true_value"));
  });
}

std::shared_ptr<const SchemaValidator> sample_schema() {
  std::vector<SchemaField> fields;
  fields.push_back(SchemaField{"experiment_name", schema::bytes()});
  fields.push_back(
      SchemaField{"n_batches", schema::dictionary(schema::bytes(), schema::integer({.min = 0}))});
  return std::make_shared<SchemaValidator>(std::move(fields));
}

TEST_F(DhtTest, SchemaIsEnforcedAcrossTheNetwork) {
  run_dht([&]() -> asio::awaitable<void> {
    auto alice = co_await make_node(with_validator(sample_schema()), kNoPeers);
    HM_CO_ASSERT_OK(alice);
    auto bob = co_await make_node(with_validator(sample_schema()), std::vector(1, *alice));
    HM_CO_ASSERT_OK(bob);
    const msgpack::Value name = std::string("experiment_name");
    const msgpack::Value batches = std::string("n_batches");
    const std::optional<msgpack::Value> no_subkey;
    std::optional<msgpack::Value> uid1 = bin("uid1");
    std::optional<msgpack::Value> uid2 = bin("uid2");
    std::optional<msgpack::Value> uid3 = bin("uid3");
    std::optional<msgpack::Value> int_subkey = msgpack::Value(666);
    const double t = now() + 10;

    EXPECT_TRUE(co_await (*bob)->store(name, bin("foo_bar"), t, no_subkey));
    EXPECT_FALSE(co_await (*bob)->store(name, 666, t + 1, no_subkey));
    EXPECT_FALSE(co_await (*bob)->store(name, bin("foo_bar"), t + 1, uid1));
    const msgpack::Value empty_list = msgpack::Array();
    EXPECT_FALSE(co_await (*bob)->store(name, empty_list, t + 1, no_subkey));

    EXPECT_TRUE(co_await (*bob)->store(batches, 777, t, uid1));
    EXPECT_TRUE(co_await (*bob)->store(batches, 778, t, uid2));
    EXPECT_FALSE(co_await (*bob)->store(batches, -666, t, uid3));
    EXPECT_FALSE(co_await (*bob)->store(batches, 666, t, no_subkey));
    EXPECT_FALSE(co_await (*bob)->store(batches, bin("not_integer"), t, uid3));
    EXPECT_FALSE(co_await (*bob)->store(batches, 666, t, int_subkey));
    EXPECT_FALSE(co_await (*bob)->store(batches, 779.0, t, uid3));
    EXPECT_FALSE(co_await (*bob)->store(batches, std::string(""), t, uid3));

    // A node without the schema writes wrong types: it keeps them, the others refuse them and
    // ignore them when they read.
    auto rogue = co_await make_node(DhtNodeOptions(), std::vector(1, *alice));
    HM_CO_ASSERT_OK(rogue);
    (void)co_await (*rogue)->store(name, 666, t + 5, no_subkey);
    (void)co_await (*rogue)->store(batches, bin("junk"), t + 5, uid3);
    EXPECT_TRUE((*rogue)->storage().get(DHTID::from_key(name)).has_value());

    std::vector<DhtNode*> honest;
    honest.push_back(alice->get());
    honest.push_back(bob->get());
    for (DhtNode* peer : honest) {
      auto experiment = co_await peer->get(name, true);
      HM_CO_ASSERT(experiment.has_value());
      EXPECT_EQ(experiment->value, bin("foo_bar"));
      EXPECT_EQ(experiment->expiration, t);
      auto dictionary = co_await peer->get(batches, true);
      HM_CO_ASSERT(dictionary.has_value() && dictionary->is_dictionary);
      EXPECT_EQ(dictionary->subkeys.size(), 2u);
      const auto* first = dictionary->find(bin("uid1"));
      const auto* second = dictionary->find(bin("uid2"));
      HM_CO_ASSERT(first != nullptr && second != nullptr);
      EXPECT_EQ(first->value, msgpack::Value(777));
      EXPECT_EQ(second->value, msgpack::Value(778));
      auto stored = peer->storage().get(DHTID::from_key(name));
      HM_CO_ASSERT(stored.has_value());
      EXPECT_EQ(stored->expiration, t);
    }
  });
}

}  // namespace
}  // namespace hivemind::dht
