#include <array>
#include <random>

#include <gtest/gtest.h>

#include "hivemind/net/error.hpp"
#include "hivemind/net/noise.hpp"
#include "unit/net/noise_test_util.hpp"

namespace hivemind::net {
namespace {

class NoiseTransportTest : public ::testing::Test {
 protected:
  NoisePair pair_ = noise_handshake(KeyPair::generate(), KeyPair::generate());
};

/// Frame lengths (from the 2-byte prefixes) of a sealed byte stream.
std::vector<std::size_t> frame_lengths(BytesView wire) {
  std::vector<std::size_t> lengths;
  while (wire.size() >= 2) {
    const std::size_t length = load_be<std::uint16_t>(wire.data());
    lengths.push_back(length);
    wire = wire.subspan(std::min(wire.size(), 2 + length));
  }
  return lengths;
}

TEST_F(NoiseTransportTest, FrameBoundarySizes) {
  struct Case {
    std::size_t plaintext;
    std::vector<std::size_t> frames;
  };

  const Case cases[] = {
      {0, {16}},
      {1, {17}},
      {65519, {65535}},
      {65520, {65535, 17}},
      {65536, {65535, 33}},
      {2 * 65519, {65535, 65535}},
  };
  for (const auto& c : cases) {
    const Bytes plaintext = test_pattern(c.plaintext);
    Bytes wire;
    pair_.initiator.seal(plaintext, wire);
    EXPECT_EQ(frame_lengths(wire), c.frames) << c.plaintext;
    Bytes received;
    ASSERT_TRUE(pair_.responder.open(wire, received)) << c.plaintext;
    EXPECT_EQ(received, plaintext);
    EXPECT_EQ(pair_.responder.buffered(), 0u);
  }
}

TEST_F(NoiseTransportTest, SealAppendsAfterExistingBytes) {
  Bytes wire = {0xaa, 0xbb};
  pair_.initiator.seal(to_bytes("x"), wire);
  ASSERT_EQ(wire.size(), 2u + 2u + 1u + 16u);
  EXPECT_EQ(wire[0], 0xaa);
  Bytes received;
  ASSERT_TRUE(pair_.responder.open(BytesView(wire).subspan(2), received));
  EXPECT_EQ(as_chars(received), "x");
}

TEST_F(NoiseTransportTest, OneMebibyteInRandomSplits) {
  const Bytes plaintext = test_pattern(1 << 20);
  std::mt19937 rng(42);
  // Tiny chunks (1-3 bytes) split every prefix; large ones (up to ~1.5 frames) split bodies and
  // deliver several frames per call.
  for (std::size_t max_chunk : {std::size_t{3}, std::size_t{100000}}) {
    NoisePair pair = noise_handshake(KeyPair::generate(), KeyPair::generate());
    Bytes wire;
    pair.responder.seal(plaintext, wire);
    EXPECT_EQ(wire.size(), plaintext.size() + 17 * 18);  // 17 frames: 16 full ones + remainder
    Bytes received;
    for (std::size_t offset = 0; offset < wire.size();) {
      const std::size_t chunk = std::min<std::size_t>(wire.size() - offset, 1 + rng() % max_chunk);
      ASSERT_TRUE(pair.initiator.open(BytesView(wire).subspan(offset, chunk), received));
      ASSERT_LE(pair.initiator.buffered(), 2u + kNoiseMaxFrame);
      offset += chunk;
    }
    EXPECT_EQ(received, plaintext);
    EXPECT_EQ(pair.initiator.buffered(), 0u);
  }
}

TEST_F(NoiseTransportTest, ByteAtATimeDelivery) {
  const Bytes plaintext = test_pattern(70000);
  Bytes wire;
  pair_.initiator.seal(plaintext, wire);
  pair_.initiator.seal(to_bytes("tail"), wire);
  Bytes received;
  for (std::uint8_t byte : wire) {
    ASSERT_TRUE(pair_.responder.open(BytesView(&byte, 1), received));
  }
  Bytes expected = plaintext;
  append(expected, to_bytes("tail"));
  EXPECT_EQ(received, expected);
}

TEST_F(NoiseTransportTest, SealIntoAndOpenIntoWorkOutOfPlace) {
  std::mt19937 rng(5);
  for (std::size_t size :
       {std::size_t{0}, std::size_t{1}, std::size_t{65519}, std::size_t{200000}}) {
    Bytes plaintext(size);
    for (auto& b : plaintext)
      b = static_cast<std::uint8_t>(rng());
    Bytes wire(NoiseTransport::sealed_size(size));
    pair_.initiator.seal_into(plaintext, wire.data());
    Bytes reference;  // the same framing as seal()
    pair_.responder.seal(plaintext, reference);
    EXPECT_EQ(frame_lengths(wire), frame_lengths(reference)) << size;
    EXPECT_EQ(wire.size(), reference.size());
    Bytes received;
    for (std::size_t off = 0; off < wire.size(); off += 7919) {
      const BytesView piece =
          BytesView(wire).subspan(off, std::min<std::size_t>(7919, wire.size() - off));
      Bytes out(pair_.responder.buffered() + piece.size());
      auto opened = pair_.responder.open_into(piece, out);
      ASSERT_TRUE(opened) << size;
      received.insert(
          received.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*opened));
    }
    EXPECT_EQ(received, plaintext) << size;
    ASSERT_TRUE(pair_.initiator.open(reference, received));  // keeps the nonces in step
  }
}

TEST_F(NoiseTransportTest, SealPartsIntoMakesOneFrameOfTheConcatenation) {
  std::mt19937 rng(6);
  for (std::size_t payload : {std::size_t{0}, std::size_t{1}, std::size_t{65507}}) {
    Bytes header(12);
    Bytes body(payload);
    for (auto& b : header)
      b = static_cast<std::uint8_t>(rng());
    for (auto& b : body)
      b = static_cast<std::uint8_t>(rng());
    const std::array<BytesView, 2> parts{BytesView(header), BytesView(body)};
    Bytes wire(NoiseTransport::sealed_size(header.size() + body.size()));
    EXPECT_EQ(pair_.initiator.seal_parts_into(parts, wire.data()), wire.size());
    EXPECT_EQ(frame_lengths(wire), std::vector<std::size_t>{header.size() + body.size() + 16});
    Bytes opened;
    ASSERT_TRUE(pair_.responder.open(wire, opened));
    Bytes expected = header;
    append(expected, body);
    EXPECT_EQ(opened, expected);
  }
  // More than one frame of plaintext is a caller bug, refused before anything is written.
  const Bytes too_big(65520);
  const std::array<BytesView, 1> one{BytesView(too_big)};
  Bytes wire(NoiseTransport::sealed_size(too_big.size()));
  EXPECT_THROW(pair_.initiator.seal_parts_into(one, wire.data()), std::exception);
}

TEST_F(NoiseTransportTest, BadTagIsFatal) {
  Bytes first;
  pair_.initiator.seal(to_bytes("first"), first);
  Bytes second;
  pair_.initiator.seal(to_bytes("second"), second);
  second[5] ^= 0x01;
  Bytes wire = first;
  append(wire, second);
  Bytes received;
  auto opened = pair_.responder.open(wire, received);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), NetErrc::kHandshakeFailed);
  EXPECT_EQ(as_chars(received), "first");  // earlier frames were delivered, nothing after
  EXPECT_FALSE(pair_.responder.open({}, received));
}

TEST_F(NoiseTransportTest, ReplayedOrReorderedFrameFails) {
  Bytes first;
  pair_.initiator.seal(to_bytes("a"), first);
  Bytes received;
  ASSERT_TRUE(pair_.responder.open(first, received));
  EXPECT_EQ(pair_.responder.open(first, received).error(), NetErrc::kHandshakeFailed);
}

TEST_F(NoiseTransportTest, WrongDirectionFails) {
  Bytes wire;
  pair_.initiator.seal(to_bytes("a"), wire);
  Bytes received;
  EXPECT_EQ(pair_.initiator.open(wire, received).error(), NetErrc::kHandshakeFailed);
}

TEST_F(NoiseTransportTest, FrameShorterThanTagIsMalformed) {
  for (std::uint16_t length : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{15}}) {
    NoisePair pair = noise_handshake(KeyPair::generate(), KeyPair::generate());
    Bytes wire;
    append_be(wire, length);
    wire.resize(2 + length, 0);
    Bytes received;
    EXPECT_EQ(pair.responder.open(wire, received).error(), NetErrc::kMalformedMessage) << length;
    // Also detected when the prefix arrives split.
    NoisePair split = noise_handshake(KeyPair::generate(), KeyPair::generate());
    ASSERT_TRUE(split.responder.open(BytesView(wire).first(1), received));
    EXPECT_EQ(split.responder.open(BytesView(wire).subspan(1, 1), received).error(),
              NetErrc::kMalformedMessage);
  }
}

TEST_F(NoiseTransportTest, NonceExhaustion) {
  pair_.initiator.send_cipher().set_nonce(NoiseCipherState::kMaxNonce - 1);
  pair_.responder.recv_cipher().set_nonce(NoiseCipherState::kMaxNonce - 1);
  Bytes wire;
  pair_.initiator.seal(to_bytes("last"), wire);  // nonce 2^64-2 is the last usable one
  Bytes received;
  ASSERT_TRUE(pair_.responder.open(wire, received));
  EXPECT_EQ(as_chars(received), "last");
  Bytes more;
  EXPECT_THROW(pair_.initiator.seal(to_bytes("x"), more), std::invalid_argument);
  EXPECT_TRUE(more.empty());
  // The receiver refuses too (a sender cannot legitimately have produced this frame).
  Bytes forged;
  pair_.responder.send_cipher().set_nonce(NoiseCipherState::kMaxNonce - 1);
  pair_.responder.seal(to_bytes("y"), forged);
  pair_.initiator.recv_cipher().set_nonce(NoiseCipherState::kMaxNonce);
  EXPECT_EQ(pair_.initiator.open(forged, received).error(), NetErrc::kProtocolViolation);
}

}  // namespace
}  // namespace hivemind::net
