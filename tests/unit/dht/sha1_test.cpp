#include <string>

#include <gtest/gtest.h>

#include "hivemind/dht/dht_id.hpp"

namespace hivemind::dht {
namespace {

std::string sha1_hex(BytesView data) {
  return to_hex(sha1(data));
}

TEST(Sha1, FipsAndRfc3174Vectors) {
  // FIPS 180-2 appendix A / RFC 3174 section 7.3 test vectors.
  EXPECT_EQ(sha1_hex(as_bytes("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha1_hex(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(sha1_hex(to_bytes(std::string(1000000, 'a'))),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  std::string test4;
  for (int i = 0; i < 10; ++i)
    test4 += "0123456701234567012345670123456701234567012345670123456701234567";
  EXPECT_EQ(sha1_hex(as_bytes(test4)), "dea356a2cddd90c7a7ecedc5ebb563934f460452");
}

TEST(Sha1, EmptyInput) {
  EXPECT_EQ(sha1_hex({}), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(Sha1, PaddingBoundaries) {
  // Lengths around the one-or-two padding block boundary (55/56 bytes mod 64). Expected digests
  // from Python's hashlib.sha1 over bytes(i % 251 for i in range(n)).
  struct Case {
    std::size_t length;
    const char* digest;
  };

  const Case cases[] = {{55, "8ae2d46729cfe68ff927af5eec9c7d1b66d65ac2"},
                        {56, "636e2ec698dac903498e648bd2f3af641d3c88cb"},
                        {63, "6d942da0c4392b123528f2905c713a3ce28364bd"},
                        {64, "c6138d514ffa2135bfce0ed0b8fac65669917ec7"},
                        {65, "69bd728ad6e13cd76ff19751fde427b00e395746"},
                        {119, "41c89d06001bab4ab78736b44efe7ce18ce6ae08"},
                        {120, "d3dbd653bd8597b7475321b60a36891278e6a04a"},
                        {128, "e6434bc401f98603d7eda504790c98c67385d535"}};
  for (const auto& c : cases) {
    Bytes data(c.length);
    for (std::size_t i = 0; i < c.length; ++i)
      data[i] = static_cast<std::uint8_t>(i % 251);
    EXPECT_EQ(sha1_hex(data), c.digest) << c.length;
  }
}

}  // namespace
}  // namespace hivemind::dht
