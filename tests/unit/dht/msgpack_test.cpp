// Golden encodings written by hand from the msgpack spec (msgpack/msgpack spec.md) for every
// format boundary, matching msgpack-python's Packer(use_bin_type=True, strict_types=True).
#include "hivemind/dht/msgpack.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "hivemind/dht/error.hpp"
#include "msgpack_test_util.hpp"

namespace hivemind::dht::msgpack {
namespace {

using testing::hex;
using testing::with_fill;

struct Golden {
  Value value;
  Bytes encoded;
};

void expect_golden(const std::vector<Golden>& cases) {
  for (const auto& c : cases) {
    EXPECT_EQ(to_hex(pack(c.value)), to_hex(c.encoded)) << to_string(c.value);
    auto decoded = unpack(c.encoded);
    ASSERT_TRUE(decoded) << to_string(c.value) << ": " << decoded.error().message();
    EXPECT_EQ(*decoded, c.value) << to_string(c.value);
  }
}

TEST(Msgpack, NilAndBool) {
  expect_golden({{Nil{}, hex("c0")}, {false, hex("c2")}, {true, hex("c3")}});
}

TEST(Msgpack, PositiveIntegersUseSmallestUnsignedFormat) {
  expect_golden({
      {0, hex("00")},
      {127, hex("7f")},
      {128, hex("cc 80")},
      {255, hex("cc ff")},
      {256, hex("cd 0100")},
      {65535, hex("cd ffff")},
      {65536, hex("ce 00010000")},
      {std::int64_t{0xffffffff}, hex("ce ffffffff")},
      {std::int64_t{0x100000000}, hex("cf 0000000100000000")},
      {std::numeric_limits<std::int64_t>::max(), hex("cf 7fffffffffffffff")},
      {std::uint64_t{1} << 63, hex("cf 8000000000000000")},
      {std::numeric_limits<std::uint64_t>::max(), hex("cf ffffffffffffffff")},
  });
}

TEST(Msgpack, NegativeIntegersUseSmallestSignedFormat) {
  expect_golden({
      {-1, hex("ff")},
      {-32, hex("e0")},
      {-33, hex("d0 df")},
      {-128, hex("d0 80")},
      {-129, hex("d1 ff7f")},
      {-32768, hex("d1 8000")},
      {-32769, hex("d2 ffff7fff")},
      {std::int64_t{-2147483648LL}, hex("d2 80000000")},
      {std::int64_t{-2147483649LL}, hex("d3 ffffffff7fffffff")},
      {std::numeric_limits<std::int64_t>::min(), hex("d3 8000000000000000")},
  });
}

TEST(Msgpack, FloatsAreAlwaysFloat64) {
  const double inf = std::numeric_limits<double>::infinity();
  expect_golden({
      {0.0, hex("cb 0000000000000000")},
      {-0.0, hex("cb 8000000000000000")},
      {1.0, hex("cb 3ff0000000000000")},
      {1.5, hex("cb 3ff8000000000000")},
      {-2.5, hex("cb c004000000000000")},
      {inf, hex("cb 7ff0000000000000")},
      {-inf, hex("cb fff0000000000000")},
  });
  // Python's float('nan') is the quiet NaN 0x7ff8000000000000; NaN != NaN, so compare by bits.
  const Bytes nan_bytes = hex("cb 7ff8000000000000");
  EXPECT_EQ(pack(std::numeric_limits<double>::quiet_NaN()), nan_bytes);
  auto decoded = unpack(nan_bytes);
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(std::isnan(decoded->as<double>()));
}

TEST(Msgpack, StringBoundaries) {
  expect_golden({
      {"", hex("a0")},
      {"a", hex("a1 61")},
      {std::string(31, 'x'), with_fill(hex("bf"), 31, 'x')},
      {std::string(32, 'x'), with_fill(hex("d9 20"), 32, 'x')},
      {std::string(255, 'x'), with_fill(hex("d9 ff"), 255, 'x')},
      {std::string(256, 'x'), with_fill(hex("da 0100"), 256, 'x')},
      {std::string(65535, 'x'), with_fill(hex("da ffff"), 65535, 'x')},
      {std::string(65536, 'x'), with_fill(hex("db 00010000"), 65536, 'x')},
  });
}

TEST(Msgpack, BinBoundaries) {
  expect_golden({
      {Bytes{}, hex("c4 00")},
      {Bytes(255, 7), with_fill(hex("c4 ff"), 255, 7)},
      {Bytes(256, 7), with_fill(hex("c5 0100"), 256, 7)},
      {Bytes(65535, 7), with_fill(hex("c5 ffff"), 65535, 7)},
      {Bytes(65536, 7), with_fill(hex("c6 00010000"), 65536, 7)},
  });
}

Array zeros(std::size_t n) {
  return Array{std::vector<Value>(n, Value(0))};
}

Map zero_map(std::size_t n) {
  Map m;
  for (std::size_t i = 0; i < n; ++i)
    m.entries.emplace_back(Value(0), Value(0));
  return m;
}

TEST(Msgpack, ArrayAndMapBoundaries) {
  expect_golden({
      {Array{}, hex("90")},
      {zeros(15), with_fill(hex("9f"), 15, 0)},
      {zeros(16), with_fill(hex("dc 0010"), 16, 0)},
      {zeros(65535), with_fill(hex("dc ffff"), 65535, 0)},
      {zeros(65536), with_fill(hex("dd 00010000"), 65536, 0)},
      {Map{}, hex("80")},
      {zero_map(15), with_fill(hex("8f"), 30, 0)},
      {zero_map(16), with_fill(hex("de 0010"), 32, 0)},
      {zero_map(65536), with_fill(hex("df 00010000"), 2 * 65536, 0)},
      {Map{{{Value("a"), Value(1)}, {Value(2), Value(Array{{Nil{}}})}}}, hex("82 a161 01 02 91c0")},
  });
}

TEST(Msgpack, ExtUsesFixextOnlyForExactLengths) {
  auto ext = [](std::size_t n) {
    return Ext{5, Bytes(n, 0xee)};
  };
  expect_golden({
      {ext(0), hex("c7 00 05")},
      {ext(1), hex("d4 05 ee")},
      {ext(2), hex("d5 05 eeee")},
      {ext(3), hex("c7 03 05 eeeeee")},
      {ext(4), with_fill(hex("d6 05"), 4, 0xee)},
      {ext(8), with_fill(hex("d7 05"), 8, 0xee)},
      {ext(16), with_fill(hex("d8 05"), 16, 0xee)},
      {ext(17), with_fill(hex("c7 11 05"), 17, 0xee)},
      {ext(255), with_fill(hex("c7 ff 05"), 255, 0xee)},
      {ext(256), with_fill(hex("c8 0100 05"), 256, 0xee)},
      {ext(65536), with_fill(hex("c9 00010000 05"), 65536, 0xee)},
      {Ext{-1, {1, 2}}, hex("d5 ff 0102")},
      // Ext 0x50 (a dictionary value) stays raw at this level; DictionaryValue parses it.
      {Ext{kDictionaryExt, {0x90}}, hex("d4 50 90")},
  });
}

TEST(Msgpack, TuplesAreExt0x40WrappingAnArray) {
  expect_golden({
      // () packs to the 1-byte payload 90, hence fixext1.
      {Tuple{}, hex("d4 40 90")},
      {Tuple{{1}}, hex("d5 40 91 01")},
      {Tuple{{1, 2}}, hex("c7 03 40 92 01 02")},
      {Tuple{{1, 2, 3}}, hex("d6 40 93 01 02 03")},
      // ((1,), "a"): the inner tuple is d5 40 91 01, the outer payload 92 d54091 01 a161 (7 bytes).
      {Tuple{{Tuple{{1}}, "a"}}, hex("c7 07 40 92 d5409101 a161")},
      // [(b"k", 1.5)]: payload 92 c4016b cb3ff8000000000000 is 13 bytes.
      {Array{{Tuple{{Bytes{'k'}, 1.5}}}}, hex("91 c7 0d 40 92 c4016b cb3ff8000000000000")},
  });
  // A 16-byte payload takes fixext16: a tuple of 15 zeros packs to 9f + 15 zero bytes.
  expect_golden({{Tuple{zeros(15).items}, with_fill(hex("d8 40 9f"), 15, 0)}});
}

TEST(Msgpack, DecodesNonCanonicalFormats) {
  struct Case {
    Bytes encoded;
    Value value;
  };

  const Case cases[] = {
      {hex("ca 3fc00000"), 1.5},  // float32 widens to double
      {hex("ca ff800000"), -std::numeric_limits<double>::infinity()},
      {hex("cc 05"), 5},
      {hex("cd 0005"), 5},
      {hex("ce 00000005"), 5},
      {hex("cf 0000000000000005"), 5},
      {hex("d0 05"), 5},
      {hex("d1 fffb"), -5},
      {hex("d2 fffffffb"), -5},
      {hex("d3 fffffffffffffffb"), -5},
      {hex("d9 01 61"), "a"},
      {hex("da 0001 61"), "a"},
      {hex("db 00000001 61"), "a"},
      {hex("c5 0001 61"), Bytes{'a'}},
      {hex("c6 00000001 61"), Bytes{'a'}},
      {hex("dc 0001 c0"), Array{{Nil{}}}},
      {hex("dd 00000001 c0"), Array{{Nil{}}}},
      {hex("de 0001 01 02"), Map{{{1, 2}}}},
      {hex("df 00000001 01 02"), Map{{{1, 2}}}},
      {hex("c8 0001 07 61"), Ext{7, {'a'}}},
      {hex("c9 00000001 07 61"), Ext{7, {'a'}}},
      {hex("c7 04 40 dc 0001 01"), Tuple{{1}}},  // tuple payload as array16
  };
  for (const auto& c : cases) {
    auto decoded = unpack(c.encoded);
    ASSERT_TRUE(decoded) << to_hex(c.encoded) << ": " << decoded.error().message();
    EXPECT_EQ(*decoded, c.value) << to_hex(c.encoded);
  }
  // Integers normalize: int64 whenever the number fits, uint64 only above INT64_MAX.
  EXPECT_TRUE(unpack(hex("cf 7fffffffffffffff"))->is<std::int64_t>());
  EXPECT_TRUE(unpack(hex("cf 8000000000000000"))->is<std::uint64_t>());
  EXPECT_EQ(Value(std::uint64_t{5}), Value(5));
}

void expect_malformed(BytesView data, const UnpackLimits& limits = {}) {
  auto decoded = unpack(data, limits);
  ASSERT_FALSE(decoded) << to_hex(data) << " decoded as " << to_string(*decoded);
  EXPECT_EQ(decoded.error(), DhtErrc::kMalformedMsgpack) << to_hex(data);
  EXPECT_TRUE(decoded.error().has_detail()) << to_hex(data);
}

TEST(Msgpack, RejectsReservedByteTrailingBytesAndEmptyInput) {
  expect_malformed(hex("c1"));
  expect_malformed(hex("91 c1"));
  expect_malformed(hex("00 00"));
  expect_malformed(hex("90 c0"));
  expect_malformed({});
  EXPECT_NE(unpack(hex("c1")).error().message().find("0xc1"), std::string::npos);
}

TEST(Msgpack, RejectsEveryTruncation) {
  const Value value = Array{{1,
                             -200,
                             1.5,
                             "text",
                             Bytes{1, 2},
                             Tuple{{Nil{}, true}},
                             Map{{{"k", Ext{9, {1, 2, 3}}}}},
                             std::int64_t{1} << 40}};
  const Bytes encoded = pack(value);
  for (std::size_t n = 0; n < encoded.size(); ++n)
    expect_malformed(BytesView(encoded).first(n));
  ASSERT_TRUE(unpack(encoded));
}

TEST(Msgpack, RejectsMalformedTuplePayloads) {
  expect_malformed(hex("d4 40 01"));           // payload is an int
  expect_malformed(hex("c7 00 40"));           // empty payload
  expect_malformed(hex("d5 40 90 00"));        // array followed by trailing bytes
  expect_malformed(hex("d5 40 92 01"));        // array truncated inside the payload
  expect_malformed(hex("d6 40 91 c1 00 00"));  // reserved byte inside
}

TEST(Msgpack, EnforcesDepthLimit) {
  auto nested = [](std::size_t depth, std::uint8_t container) {
    return with_fill(Bytes(depth - 1, container), 1, 0x90);  // depth arrays, innermost empty
  };
  UnpackLimits limits{.max_depth = 4};
  EXPECT_TRUE(unpack(nested(4, 0x91), limits));
  expect_malformed(nested(5, 0x91), limits);
  // Tuples count as one level each: (((),),) is 3 levels.
  const Bytes tuples = pack(Tuple{{Tuple{{Tuple{}}}}});
  EXPECT_TRUE(unpack(tuples, {.max_depth = 3}));
  expect_malformed(tuples, {.max_depth = 2});
  // Maps too, on either side of an entry.
  EXPECT_TRUE(unpack(hex("81 90 00"), {.max_depth = 2}));
  expect_malformed(hex("81 91 90 00"), {.max_depth = 2});
  EXPECT_TRUE(unpack(hex("81 00 81 00 00"), {.max_depth = 2}));
  expect_malformed(hex("81 00 81 00 90"), {.max_depth = 2});
  // The default limit (32) stops deep hostile nesting without exhausting the stack.
  EXPECT_TRUE(unpack(nested(32, 0x91)));
  expect_malformed(nested(33, 0x91));
  expect_malformed(Bytes(100000, 0x91));
}

TEST(Msgpack, EnforcesItemAndByteLimitsBeforeAllocating) {
  const Bytes three = hex("93 01 02 03");
  EXPECT_TRUE(unpack(three, {.max_items = 3}));
  expect_malformed(three, {.max_items = 2});
  // A map entry counts as two items; items are counted across all containers and tuples.
  EXPECT_TRUE(unpack(hex("81 01 02"), {.max_items = 2}));
  expect_malformed(hex("81 01 02"), {.max_items = 1});
  EXPECT_TRUE(unpack(hex("92 91 01 d5 40 91 02"), {.max_items = 4}));
  expect_malformed(hex("92 91 01 d5 40 91 02"), {.max_items = 3});
  // Headers announcing 2^32-1 elements, strings or bytes fail at once whatever the item limit.
  const UnpackLimits unlimited{.max_items = std::numeric_limits<std::size_t>::max()};
  for (const char* huge : {"dd ffffffff 00",
                           "df ffffffff 00 00",
                           "db ffffffff 61",
                           "c6 ffffffff 00",
                           "c9 ffffffff 05 00",
                           "d7 40 dd ffffffff 000000"}) {
    expect_malformed(hex(huge), unlimited);
  }
  // Input size.
  EXPECT_TRUE(unpack(hex("a3 616263"), {.max_bytes = 4}));
  expect_malformed(hex("a3 616263"), {.max_bytes = 3});
}

TEST(Msgpack, ToStringIsPythonLike) {
  const Value value = Array{{Nil{},
                             true,
                             -3,
                             1.5,
                             2.0,
                             "it's",
                             Bytes{0x00, 'a'},
                             Tuple{{1}},
                             Map{{{"k", Tuple{}}}},
                             Ext{5, {1}}}};
  EXPECT_EQ(to_string(value),
            "[None, True, -3, 1.5, 2.0, 'it\\'s', b'\\x00a', (1,), {'k': ()}, "
            "ExtType(code=5, data=b'\\x01')]");
}

}  // namespace
}  // namespace hivemind::dht::msgpack
