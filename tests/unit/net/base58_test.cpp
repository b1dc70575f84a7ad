#include "hivemind/net/base58.hpp"

#include <string>

#include <gtest/gtest.h>

#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

struct Vector {
  const char* hex;
  const char* text;
};

// Bitcoin Core's base58_encode_decode.json and the IETF base58 draft (draft-msporny-base58).
constexpr Vector kVectors[] = {
    {"61", "2g"},
    {"626262", "a3gV"},
    {"636363", "aPEr"},
    {"73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"},
    {"00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
    {"516b6fcd0f", "ABnLTmg"},
    {"bf4f89001e670274dd", "3SEo3LWLoPntC"},
    {"572e4794", "3EFU7m"},
    {"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
    {"10c8511e", "Rt5zm"},
    {"00000000000000000000", "1111111111"},
    {"48656c6c6f20576f726c6421", "2NEpo7TZRRrLZSi2U"},
    {"0000287fb4cd", "11233QC4"},
};

TEST(Base58Test, EncodesKnownVectors) {
  for (const auto& v : kVectors) {
    EXPECT_EQ(base58_encode(*from_hex(v.hex)), v.text) << v.hex;
  }
}

TEST(Base58Test, DecodesKnownVectors) {
  for (const auto& v : kVectors) {
    auto decoded = base58_decode(v.text);
    ASSERT_TRUE(decoded) << v.text;
    EXPECT_EQ(to_hex(*decoded), v.hex);
  }
}

TEST(Base58Test, EmptyInputEncodesToEmptyText) {
  EXPECT_EQ(base58_encode({}), "");
}

TEST(Base58Test, RejectsCharactersOutsideTheAlphabet) {
  for (const char* bad : {"0", "O", "I", "l", "2g+", " 2g", "2g\n", "", "\x80"}) {
    auto decoded = base58_decode(bad);
    ASSERT_FALSE(decoded) << bad;
    EXPECT_EQ(decoded.error(), NetErrc::kMalformedPeerId);
  }
  EXPECT_FALSE(base58_decode(std::string_view("2g\0", 3)));
}

TEST(Base58Test, RejectsOverlongText) {
  EXPECT_TRUE(base58_decode(std::string(kBase58MaxTextLength, 'z')));
  EXPECT_EQ(base58_decode(std::string(kBase58MaxTextLength + 1, 'z')).error(),
            NetErrc::kMalformedPeerId);
}

TEST(Base58Test, RoundTripsAllByteValuesAndLeadingZeros) {
  Bytes data;
  for (int i = 0; i < 120; ++i) {
    data.push_back(static_cast<std::uint8_t>(i * 37 + 11));
    if (i % 10 == 0)
      data.insert(data.begin(), 0);
    auto decoded = base58_decode(base58_encode(data));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, data);
  }
}

}  // namespace
}  // namespace hivemind::net
