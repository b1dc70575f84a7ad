#pragma once
// Helpers shared by the msgpack and dictionary value tests.

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "hivemind/core/bytes.hpp"
#include "hivemind/dht/msgpack.hpp"

namespace hivemind::dht::testing {

/// Bytes from hex text written in the tests (spaces allowed for readability).
inline Bytes hex(std::string_view text) {
  std::string compact;
  for (char c : text)
    if (c != ' ')
      compact += c;
  auto bytes = from_hex(compact);
  EXPECT_TRUE(bytes) << text;
  return bytes ? *bytes : Bytes{};
}

/// `prefix` followed by `n` copies of `fill`.
inline Bytes with_fill(Bytes prefix, std::size_t n, std::uint8_t fill) {
  prefix.insert(prefix.end(), n, fill);
  return prefix;
}

}  // namespace hivemind::dht::testing
