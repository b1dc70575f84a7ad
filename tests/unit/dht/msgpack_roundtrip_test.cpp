// Property test: random nested values survive pack -> unpack unchanged, and packing is canonical
// (re-packing the decoded value gives the same bytes).
#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht::msgpack {
namespace {

class RandomValues {
 public:
  explicit RandomValues(std::uint64_t seed) : rng_(seed) {}

  Value make(int depth) {
    const int kinds = depth > 0 ? 14 : 10;
    switch (pick(kinds)) {
      case 0:
        return Nil{};
      case 1:
        return pick(2) == 1;
      case 2:
        return static_cast<std::int64_t>(rng_()) >> pick(64);  // all magnitudes and signs
      case 3:
        return std::uint64_t{rng_()} | (std::uint64_t{1} << 63);
      case 4:
        return boundary_int();
      case 5: {
        double d = 0;
        const std::uint64_t bits = rng_();
        std::memcpy(&d, &bits, sizeof d);
        return std::isnan(d) ? 0.25 : d;  // NaN never compares equal
      }
      case 6:
        return std::string(length(), static_cast<char>('a' + pick(26)));
      case 7:
        return Bytes(length(), static_cast<std::uint8_t>(rng_()));
      case 8:
        return Ext{static_cast<std::int8_t>(pick(64)), Bytes(length(), 0x5a)};
      case 9:
        return static_cast<std::int64_t>(pick(256)) - 128;
      case 10:
        return Array{items(depth)};
      case 11:
        return Tuple{items(depth)};
      case 12: {
        Map m;
        for (std::size_t i = 0, n = count(); i < n; ++i)
          m.entries.emplace_back(make(depth - 1), make(depth - 1));
        return m;
      }
      default:
        return Array{{Tuple{items(depth)}}};
    }
  }

 private:
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

  Value boundary_int() {
    static constexpr std::int64_t kEdges[] = {0,
                                              127,
                                              128,
                                              255,
                                              256,
                                              65535,
                                              65536,
                                              4294967295,
                                              4294967296,
                                              -1,
                                              -32,
                                              -33,
                                              -128,
                                              -129,
                                              -32768,
                                              -32769,
                                              -2147483648LL,
                                              -2147483649LL};
    return kEdges[pick(std::size(kEdges))];
  }

  // Lengths cluster around the fix/8/16-bit boundaries and ext's fixext sizes.
  std::size_t length() {
    static constexpr std::size_t kLengths[] = {0, 1, 2, 3, 4, 8, 15, 16, 17, 31, 32, 255, 256, 300};
    return kLengths[pick(std::size(kLengths))];
  }

  std::size_t count() { return pick(3) == 0 ? 16 + pick(4) : pick(5); }

  std::vector<Value> items(int depth) {
    std::vector<Value> out;
    for (std::size_t i = 0, n = count(); i < n; ++i)
      out.push_back(make(depth - 1));
    return out;
  }

  std::mt19937_64 rng_;
};

TEST(MsgpackRoundTrip, RandomNestedValues) {
  RandomValues gen(20240601);
  for (int i = 0; i < 1000; ++i) {
    const Value value = gen.make(4);
    const Bytes encoded = pack(value);
    auto decoded = unpack(encoded);
    ASSERT_TRUE(decoded) << to_string(value) << ": " << decoded.error().message();
    ASSERT_EQ(*decoded, value) << to_string(value);
    ASSERT_EQ(pack(*decoded), encoded) << to_string(value);
  }
}

TEST(MsgpackRoundTrip, PackIntoAppends) {
  Bytes out = {0xaa};
  pack_into(out, Value(Tuple{{1, "x"}}));
  EXPECT_EQ(to_hex(out), "aa" + to_hex(pack(Tuple{{1, "x"}})));
}

}  // namespace
}  // namespace hivemind::dht::msgpack
