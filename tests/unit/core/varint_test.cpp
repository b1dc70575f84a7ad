#include "hivemind/core/varint.hpp"

#include <gtest/gtest.h>

#include "hivemind/core/error.hpp"

namespace hivemind {
namespace {

TEST(Uvarint, EncodesSpecVectors) {
  // Vectors from multiformats/unsigned-varint README.
  struct Case {
    std::uint64_t value;
    Bytes encoded;
  };

  const Case cases[] = {{1, {0x01}},
                        {127, {0x7f}},
                        {128, {0x80, 0x01}},
                        {255, {0xff, 0x01}},
                        {300, {0xac, 0x02}},
                        {16384, {0x80, 0x80, 0x01}}};
  for (const auto& c : cases) {
    Bytes out;
    append_uvarint(out, c.value);
    EXPECT_EQ(out, c.encoded) << c.value;
    EXPECT_EQ(uvarint_size(c.value), c.encoded.size());
    auto decoded = decode_uvarint(c.encoded);
    ASSERT_TRUE(decoded) << c.value;
    EXPECT_EQ(decoded->value, c.value);
    EXPECT_EQ(decoded->size, c.encoded.size());
  }
}

TEST(Uvarint, RoundTripsLargestValue) {
  const std::uint64_t max = (std::uint64_t{1} << 63) - 1;
  Bytes out;
  append_uvarint(out, max);
  EXPECT_EQ(out.size(), kMaxUvarintBytes);
  auto decoded = decode_uvarint(out);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->value, max);
}

TEST(Uvarint, RejectsMalformedInput) {
  EXPECT_EQ(decode_uvarint(Bytes{}).error(), CoreErrc::kTruncated);
  EXPECT_EQ(decode_uvarint(Bytes{0x80}).error(), CoreErrc::kTruncated);
  EXPECT_EQ(decode_uvarint(Bytes{0x80, 0x00}).error(), CoreErrc::kNonMinimal);
  Bytes ten(10, 0xff);
  EXPECT_EQ(decode_uvarint(ten).error(), CoreErrc::kOverflow);
  Bytes nine_continued(9, 0x80);
  EXPECT_EQ(decode_uvarint(nine_continued).error(), CoreErrc::kOverflow);
}

TEST(Uvarint, RefusesToEncodeOutOfRange) {
  Bytes out;
  EXPECT_THROW(append_uvarint(out, std::uint64_t{1} << 63), std::invalid_argument);
}

TEST(ByteReader, NeverReadsPastTheEnd) {
  const Bytes data{0x01, 0x02, 0x03};
  ByteReader r(data);
  EXPECT_EQ(*r.read_be16(), 0x0102);
  EXPECT_EQ(r.read_be16().error(), CoreErrc::kTruncated);
  EXPECT_EQ(r.remaining(), 1u);  // a failed read does not move the cursor
  EXPECT_EQ(*r.read_u8(), 0x03);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.read_bytes(1).error(), CoreErrc::kTruncated);
}

TEST(Hex, RoundTripsAndRejectsGarbage) {
  const Bytes data{0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(data), "00abff");
  EXPECT_EQ(*from_hex("00ABff"), data);
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
}

}  // namespace
}  // namespace hivemind
