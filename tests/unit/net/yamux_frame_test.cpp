#include "hivemind/net/yamux_frame.hpp"

#include <gtest/gtest.h>

#include "hivemind/core/error.hpp"
#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

// Byte layouts follow hashicorp/yamux spec.md "Framing": version(8) type(8) flags(16)
// stream id(32) length(32), all big-endian. The spec has no published vectors, so these are
// written out by hand from that table.
struct Vector {
  YamuxHeader header;
  const char* hex = nullptr;
};

const Vector kVectors[] = {
    // Data + SYN on stream 1 with 5 payload bytes.
    {{.type = YamuxType::kData, .flags = kYamuxFlagSyn, .stream = 1, .length = 5},
     "000000010000000100000005"},
    // WindowUpdate + ACK on stream 2 advertising 768 KiB more (a 1 MiB window).
    {{.type = YamuxType::kWindowUpdate, .flags = kYamuxFlagAck, .stream = 2, .length = 0xC0000},
     "0001000200000002000c0000"},
    // FIN|RST combined on a large stream id.
    {{.type = YamuxType::kWindowUpdate,
      .flags = kYamuxFlagFin | kYamuxFlagRst,
      .stream = 0xFFFFFFFE,
      .length = 0},
     "0001000cfffffffe00000000"},
    // Ping response echoing 0xdeadbeef.
    {{.type = YamuxType::kPing, .flags = kYamuxFlagAck, .stream = 0, .length = 0xDEADBEEF},
     "0002000200000000deadbeef"},
    // GoAway with "protocol error".
    {{.type = YamuxType::kGoAway, .flags = 0, .stream = 0, .length = 1},
     "000300000000000000000001"},
};

TEST(YamuxFrame, EncodesByteExactVectors) {
  for (const auto& v : kVectors) {
    Bytes out;
    append_yamux_header(out, v.header);
    EXPECT_EQ(to_hex(out), v.hex);
  }
}

TEST(YamuxFrame, DecodesVectorsAndIgnoresTrailingBytes) {
  for (const auto& v : kVectors) {
    auto bytes = from_hex(v.hex);
    ASSERT_TRUE(bytes);
    bytes->push_back(0xAA);  // a payload byte after the header is not the decoder's business
    auto h = decode_yamux_header(*bytes);
    ASSERT_TRUE(h) << v.hex;
    EXPECT_EQ(*h, v.header) << v.hex;
  }
}

TEST(YamuxFrame, EncodeWritesIntoCallerBuffer) {
  std::uint8_t out[kYamuxHeaderSize + 1];
  out[kYamuxHeaderSize] = 0x77;
  encode_yamux_header({.type = YamuxType::kPing, .flags = kYamuxFlagSyn, .length = 7}, out);
  EXPECT_EQ(to_hex(BytesView(out, kYamuxHeaderSize)), "000200010000000000000007");
  EXPECT_EQ(out[kYamuxHeaderSize], 0x77);  // nothing written past the header
}

TEST(YamuxFrame, RejectsShortInput) {
  auto bytes = from_hex("0000000100000001000000");  // 11 bytes
  ASSERT_TRUE(bytes);
  auto h = decode_yamux_header(*bytes);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error(), CoreErrc::kTruncated);
  EXPECT_FALSE(decode_yamux_header({}));
}

TEST(YamuxFrame, RejectsUnknownVersionAndType) {
  for (const char* hex : {"010000010000000100000005",     // version 1
                          "ff0000010000000100000005",     // version 255
                          "000400000000000000000000",     // type 4
                          "00ff00000000000000000000"}) {  // type 255
    auto bytes = from_hex(hex);
    ASSERT_TRUE(bytes);
    auto h = decode_yamux_header(*bytes);
    ASSERT_FALSE(h) << hex;
    EXPECT_EQ(h.error(), NetErrc::kMalformedMessage) << hex;
  }
}

TEST(YamuxFrame, KeepsUnknownFlagBits) {
  auto bytes = from_hex("0000fff00000000300000000");
  ASSERT_TRUE(bytes);
  auto h = decode_yamux_header(*bytes);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->flags, 0xFFF0);
  EXPECT_FALSE(h->has(kYamuxFlagSyn));
  EXPECT_EQ(h->stream, 3U);
}

}  // namespace
}  // namespace hivemind::net
