// Expert uid grammar (hivemind tests/test_dht_experts.py::test_uid_patterns), split_uid, uid
// patterns and generation (Server._generate_uids), and the DHT records of declare_experts
// (tests/test_dht_experts.py: 7 records for e.1.2.3, e.1.2.5, e.2.0).
#include "hivemind/moe/expert_uid.hpp"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hivemind/dht/msgpack.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_dht.hpp"

namespace hivemind::moe {
namespace {

namespace mp = dht::msgpack;

const std::vector<std::string> kValidUids = {"expert.1",
                                             "expert.0",
                                             "expert.0.0.1",
                                             "expert.1337",
                                             "ffn.12.34.56.78.90",
                                             "transformer.3.2.1.0",
                                             "transformer_encoder.2",
                                             "transformer::encoder.2",
                                             "T®@nsf0rmE®🤗.321",
                                             "🤗.321",
                                             "0.1.2",
                                             "00.1.2",
                                             "7070.3.2.1.0",
                                             "block2.1.23",
                                             "LAYER.1.0.1"};

const std::vector<std::string> kInvalid = {"",
                                           ".",
                                           "expert.-1",
                                           "xxx.a",
                                           "expert.1x",
                                           "expert_ffn.1.abc1",
                                           "some.123.01",
                                           "expert.123.01",
                                           "e1",
                                           "e..1",
                                           "e",
                                           "e.1.2.3..4",
                                           "ffn.1..1",
                                           ".123",
                                           ".1.2.3.",
                                           ".expert",
                                           "transformer.encoder.2",
                                           "T®@nsf0rmE®.🤗.321",
                                           "layer::123",
                                           "expert.0.1.2.suffix",
                                           "0.1.2.suffix",
                                           "expert.1 something",
                                           "expert.1\n",
                                           "expert.1\n2",
                                           "expert.1 ",
                                           "expert.1\nexpert.2",
                                           "'expert.1'",
                                           "\"expert.1\""};

TEST(ExpertUid, HivemindValidAndInvalidExamples) {
  std::vector<std::string> valid_prefixes = {
      "expert.", "e.1.", "e.2.", "e.1.2.3.", "ololo.123.456.789.10."};
  for (const auto& uid : kValidUids) {
    EXPECT_TRUE(is_valid_uid(uid)) << uid;
    EXPECT_TRUE(validate_uid(uid).has_value()) << uid;
    valid_prefixes.push_back(uid + ".");
    auto split = split_uid(uid);
    ASSERT_TRUE(split.has_value()) << uid;
    valid_prefixes.push_back(split->prefix);
  }
  for (const auto& prefix : valid_prefixes)
    EXPECT_TRUE(is_valid_prefix(prefix)) << prefix;

  std::vector<std::string> invalid_uids = kInvalid;
  invalid_uids.insert(invalid_uids.end(), valid_prefixes.begin(), valid_prefixes.end());
  invalid_uids.insert(invalid_uids.end(), {"0", "123456"});
  std::vector<std::string> invalid_prefixes = kInvalid;
  invalid_prefixes.insert(invalid_prefixes.end(), kValidUids.begin(), kValidUids.end());
  invalid_prefixes.insert(invalid_prefixes.end(), {"expert", ".🤗", ".expert"});
  for (const auto& uid : invalid_uids) {
    EXPECT_FALSE(is_valid_uid(uid)) << uid;
    auto checked = validate_uid(uid);
    ASSERT_FALSE(checked.has_value()) << uid;
    EXPECT_EQ(checked.error(), MoeErrc::kInvalidUid);
  }
  for (const auto& prefix : invalid_prefixes)
    EXPECT_FALSE(is_valid_prefix(prefix)) << prefix;
}

TEST(ExpertUid, UnicodeControlCharactersAndMalformedUtf8) {
  EXPECT_TRUE(is_valid_uid("a\nb.1"));          // `[^.]` matches a newline in the type
  EXPECT_TRUE(is_valid_uid("\xe2\x82\xac.0"));  // €
  EXPECT_FALSE(is_valid_uid("\xff.1"));
  EXPECT_FALSE(is_valid_uid("\xc0\xae.1"));          // overlong '.'
  EXPECT_FALSE(is_valid_uid("\xed\xa0\x80.1"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_uid("\xf4\x90\x80\x80.1"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_uid("\xe2\x82.1"));          // truncated sequence
  EXPECT_FALSE(is_valid_uid(std::string("e.1\0", 4)));
  EXPECT_FALSE(is_valid_prefix("\xff."));
}

TEST(ExpertUid, ValidateUidExplainsAndEscapes) {
  auto leading_zero = validate_uid("expert.01");
  ASSERT_FALSE(leading_zero.has_value());
  EXPECT_NE(leading_zero.error().message().find("\"expert.01\""), std::string::npos);
  EXPECT_NE(leading_zero.error().message().find("leading zeros"), std::string::npos);

  auto control = validate_uid("e\x01\"x\xff.1\n");
  ASSERT_FALSE(control.has_value());
  const std::string message = control.error().message();
  EXPECT_NE(message.find("\"e\\x01\\\"x\\xff.1\\n\""), std::string::npos) << message;
  EXPECT_NE(message.find("UTF-8"), std::string::npos) << message;

  auto long_uid = validate_uid(std::string(10000, 'a'));
  ASSERT_FALSE(long_uid.has_value());
  EXPECT_LT(long_uid.error().message().size(), 300u);
  EXPECT_NE(long_uid.error().message().find("10000 bytes"), std::string::npos);
}

TEST(ExpertUid, SplitUidLikeHivemind) {
  EXPECT_EQ(*split_uid("ffn.1.2"), (UidSplit{"ffn.1.", 2}));
  EXPECT_EQ(*split_uid("ffn.1.2."), (UidSplit{"ffn.1.", 2}));
  EXPECT_EQ(*split_uid("ffn.1.2..."), (UidSplit{"ffn.1.", 2}));
  EXPECT_EQ(*split_uid("e.5.-1"), (UidSplit{"e.5.", -1}));
  EXPECT_EQ(*split_uid("e.+3"), (UidSplit{"e.", 3}));
  EXPECT_EQ(*split_uid("🤗.321"), (UidSplit{"🤗.", 321}));
  EXPECT_EQ(*split_uid("e.9223372036854775807"), (UidSplit{"e.", INT64_MAX}));
  EXPECT_EQ(*split_uid("e.-9223372036854775808"), (UidSplit{"e.", INT64_MIN}));
  for (const char* bad : {"expert",
                          "expert.",
                          "",
                          ".",
                          "e.x",
                          "e.1x",
                          "e.-",
                          "e.+-1",
                          "e. 1",
                          "e.9223372036854775808",
                          "e.99999999999999999999999"}) {
    auto split = split_uid(bad);
    ASSERT_FALSE(split.has_value()) << bad;
    EXPECT_EQ(split.error(), MoeErrc::kInvalidUid) << bad;
  }
}

TEST(UidPattern, ParsesRangesAndFixedCoordinates) {
  auto grid = UidPattern::parse("ffn.[0:256].[0:256]");
  ASSERT_TRUE(grid.has_value()) << grid.error().message();
  EXPECT_EQ(grid->capacity(), 65536u);
  EXPECT_EQ(grid->to_string(), "ffn.[0:256].[0:256]");

  auto fixed = UidPattern::parse("ffn.3.[0:4]");
  ASSERT_TRUE(fixed.has_value());
  EXPECT_EQ(fixed->capacity(), 4u);
  auto single = UidPattern::parse("transformer::encoder.2");
  ASSERT_TRUE(single.has_value());
  EXPECT_EQ(single->capacity(), 1u);
  auto range_type = UidPattern::parse("[0:4].[0:2]");
  ASSERT_TRUE(range_type.has_value());
  EXPECT_EQ(range_type->capacity(), 8u);
  auto huge = UidPattern::parse("e.[0:9223372036854775807].[0:9223372036854775807]");
  ASSERT_TRUE(huge.has_value());
  EXPECT_EQ(huge->capacity(), UINT64_MAX);

  for (const char* bad :
       {"",           "ffn",        "ffn.",        ".[0:4]",     "ffn..[0:4]",
        "ffn.[4:4]",  "ffn.[5:3]",  "ffn.[a:3]",   "ffn.[-1:3]", "ffn.[0:99999999999999999999]",
        "ffn.[0:4",   "ffn.[0:4]x", "ffn.[0:4:5]", "ffn.[]",     "ffn.[:4]",
        "ffn.[0:]",   "a.b.[0:4]",  "ffn.01",      "ffn.-1",     "f[x].[0:2]",
        "ffn.[0:4].", "\xff.[0:4]"}) {
    auto parsed = UidPattern::parse(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error(), MoeErrc::kInvalidPattern) << bad;
  }
}

TEST(UidPattern, SamplesStayInRangeAndAreValid) {
  auto pattern = UidPattern::parse("ffn.7.[2:5].[0:3]");
  ASSERT_TRUE(pattern.has_value());
  std::mt19937_64 rng(1);
  std::set<std::string> seen;
  for (int i = 0; i < 500; ++i) {
    std::string uid = pattern->sample(rng);
    EXPECT_TRUE(is_valid_uid(uid)) << uid;
    auto last = split_uid(uid);
    auto middle = split_uid(last->prefix);
    EXPECT_EQ(middle->prefix, "ffn.7.");
    EXPECT_GE(middle->index, 2);
    EXPECT_LT(middle->index, 5);
    EXPECT_GE(last->index, 0);
    EXPECT_LT(last->index, 3);
    seen.insert(uid);
  }
  EXPECT_EQ(seen.size(), 9u);  // every one of the 3 * 3 uids shows up in 500 draws
}

TEST(GenerateUids, DistinctDeterministicAndRespectsTaken) {
  auto pattern = UidPattern::parse("expert.[0:4].[0:4]");
  ASSERT_TRUE(pattern.has_value());
  std::mt19937_64 rng_a(42), rng_b(42);
  auto a = generate_uids(10, *pattern, rng_a);
  auto b = generate_uids(10, *pattern, rng_b);
  ASSERT_TRUE(a.has_value()) << a.error().message();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(std::set<std::string>(a->begin(), a->end()).size(), 10u);
  for (const auto& uid : *a)
    EXPECT_TRUE(is_valid_uid(uid)) << uid;

  std::set<std::string> taken(a->begin(), a->begin() + 5);
  std::mt19937_64 rng_c(7);
  auto c = generate_uids(
      8, *pattern, rng_c, [&](const std::string& uid) { return taken.count(uid) > 0; });
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(std::set<std::string>(c->begin(), c->end()).size(), 8u);
  for (const auto& uid : *c)
    EXPECT_EQ(taken.count(uid), 0u) << uid;

  // The whole grid: 4 of 4 (every uid found within 40 attempts for this seed).
  auto small = UidPattern::parse("ffn.3.[0:4]");
  std::mt19937_64 rng_d(3);
  auto all = generate_uids(4, *small, rng_d);
  ASSERT_TRUE(all.has_value()) << all.error().message();
  EXPECT_EQ(std::set<std::string>(all->begin(), all->end()),
            (std::set<std::string>{"ffn.3.0", "ffn.3.1", "ffn.3.2", "ffn.3.3"}));
  EXPECT_TRUE(generate_uids(0, *small, rng_d)->empty());
}

TEST(GenerateUids, WithoutPatternCountsAttempts) {
  std::mt19937_64 rng(0);
  auto plain = generate_uids(3, std::nullopt, rng);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(*plain, (std::vector<std::string>{"expert.0", "expert.1", "expert.2"}));
  auto skipping =
      generate_uids(3, std::nullopt, rng, [](const std::string& uid) { return uid == "expert.1"; });
  ASSERT_TRUE(skipping.has_value());
  EXPECT_EQ(*skipping, (std::vector<std::string>{"expert.0", "expert.2", "expert.3"}));
}

TEST(GenerateUids, ImpossibleRequestsFail) {
  auto small = UidPattern::parse("ffn.3.[0:4]");
  std::mt19937_64 rng(0);
  auto too_many = generate_uids(5, *small, rng);
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error(), MoeErrc::kInvalidPattern);

  auto all_taken = generate_uids(2, *small, rng, [](const std::string&) { return true; });
  ASSERT_FALSE(all_taken.has_value());
  EXPECT_EQ(all_taken.error(), MoeErrc::kBadConfig);
  EXPECT_NE(all_taken.error().message().find("20 attempts"), std::string::npos);

  auto none_free = generate_uids(2, std::nullopt, rng, [](const std::string&) { return true; });
  ASSERT_FALSE(none_free.has_value());
  EXPECT_EQ(none_free.error(), MoeErrc::kBadConfig);
}

TEST(DeclareItems, HivemindRecordsForThreeExperts) {
  // Ed25519 seed 32 x 0x01 (DESIGN.md known vector).
  auto peer = net::PeerId::from_string("12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");
  ASSERT_TRUE(peer.has_value());
  const std::string p = peer->to_string();
  const double expiration = 1.7e9 + 60;
  auto pair = [&](const char* uid) {
    return mp::Value(mp::Tuple{{mp::Value(uid), mp::Value(p)}});
  };
  auto items = declare_items({"e.1.2.3", "e.1.2.5", "e.2.0"}, *peer, expiration);

  struct Expected {
    const char* key;
    std::optional<std::int64_t> subkey;
    mp::Value value;
  };

  // Python dict order: first occurrence keeps its place, the last value wins (e.1. / 2).
  const std::vector<Expected> expected = {{"e.1.2.3", std::nullopt, mp::Value(p)},
                                          {"e.1.2.", 3, pair("e.1.2.3")},
                                          {"e.1.", 2, pair("e.1.2.5")},
                                          {"e.1.2.5", std::nullopt, mp::Value(p)},
                                          {"e.1.2.", 5, pair("e.1.2.5")},
                                          {"e.2.0", std::nullopt, mp::Value(p)},
                                          {"e.2.", 0, pair("e.2.0")}};
  ASSERT_EQ(items.size(), 7u);
  for (std::size_t i = 0; i < items.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(items[i].key, mp::Value(expected[i].key));
    EXPECT_EQ(items[i].subkey.has_value(), expected[i].subkey.has_value());
    if (expected[i].subkey && items[i].subkey) {
      EXPECT_EQ(*items[i].subkey, mp::Value(*expected[i].subkey));
    }
    EXPECT_EQ(items[i].value, expected[i].value);
    EXPECT_EQ(items[i].expiration, expiration);
  }
  // The prefix value is a tuple: msgpack ext 0x40 (ext8, 61 bytes) around [uid, peer].
  Bytes packed = mp::pack(items[6].value);
  ASSERT_GE(packed.size(), 6u);
  EXPECT_EQ(packed.size(), 3u + 61u);
  EXPECT_EQ(packed[0], 0xc7);
  EXPECT_EQ(packed[1], 61);
  EXPECT_EQ(packed[2], 0x40);
  EXPECT_EQ(packed[3], 0x92);
  EXPECT_EQ(packed[4], 0xa5);  // fixstr "e.2.0"
}

TEST(DeclareItems, FlatExpertsAndTombstones) {
  auto peer = net::PeerId::from_string("12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");
  ASSERT_TRUE(peer.has_value());
  auto items = declare_items({"ffn.5", "ffn.5"}, *peer, 100.0);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].key, mp::Value("ffn.5"));
  EXPECT_FALSE(items[0].subkey.has_value());
  EXPECT_EQ(items[1].key, mp::Value("ffn.5."));
  ASSERT_TRUE(items[1].subkey.has_value());
  EXPECT_EQ(*items[1].subkey, mp::Value(kFlatExpert));
  EXPECT_EQ(items[1].value,
            mp::Value(mp::Tuple{{mp::Value("ffn.5"), mp::Value(peer->to_string())}}));

  auto declared = declare_items({"e.1.2.3", "e.2.0"}, *peer, 100.0);
  auto tombstones = withdraw_items({"e.1.2.3", "e.2.0"}, 101.0);
  ASSERT_EQ(tombstones.size(), declared.size());
  for (std::size_t i = 0; i < declared.size(); ++i) {
    EXPECT_EQ(tombstones[i].key, declared[i].key);
    EXPECT_EQ(tombstones[i].subkey, declared[i].subkey);
    EXPECT_EQ(tombstones[i].value, mp::Value(mp::Nil{}));
    EXPECT_EQ(tombstones[i].expiration, 101.0);
  }
  EXPECT_THROW((void)declare_items({"e.01"}, *peer, 1.0), std::invalid_argument);
}

}  // namespace
}  // namespace hivemind::moe
