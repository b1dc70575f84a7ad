#pragma once
/// \file
/// Helpers shared by the Noise tests: an in-memory handshake and deterministic test data.

#include <gtest/gtest.h>

#include "hivemind/net/noise.hpp"

namespace hivemind::net {

/// Both ends of a Noise session established in memory.
struct NoisePair {
  NoiseTransport initiator;
  NoiseTransport responder;
};

/// Runs a complete handshake between `a` (initiator, dialing b's peer id) and `b`; records a test
/// failure on any error.
inline NoisePair noise_handshake(const KeyPair& a, const KeyPair& b) {
  NoiseHandshake initiator(NoiseHandshake::Role::kInitiator, a, b.peer_id());
  NoiseHandshake responder(NoiseHandshake::Role::kResponder, b);
  auto m1 = initiator.write_message();
  EXPECT_TRUE(m1 && responder.read_message(*m1));
  auto m2 = responder.write_message();
  EXPECT_TRUE(m2 && initiator.read_message(*m2));
  auto m3 = initiator.write_message();
  EXPECT_TRUE(m3 && responder.read_message(*m3));
  EXPECT_TRUE(initiator.complete());
  EXPECT_TRUE(responder.complete());
  auto ti = std::move(initiator).into_transport();
  auto tr = std::move(responder).into_transport();
  EXPECT_TRUE(ti && tr);
  return {std::move(ti).value(), std::move(tr).value()};
}

/// `size` bytes of a fixed, non-repeating-looking pattern.
inline Bytes test_pattern(std::size_t size) {
  Bytes data(size);
  for (std::size_t i = 0; i < size; ++i)
    data[i] = static_cast<std::uint8_t>(i * 31 + i / 251);
  return data;
}

}  // namespace hivemind::net
