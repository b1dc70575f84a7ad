// rpc_codec: hivemind's unary envelope (p2pd PersistentConnectionRequest, proto2), uvarint
// delimiting and streaming frames. Expected bytes are built by hand from the field numbers of
// p2pd.proto: PersistentConnectionRequest{callId=1, callUnary=3, unaryResponse=4, cancel=5},
// CallUnaryRequest{peer=1, proto=2, data=3}, CallUnaryResponse{response=1, error=2},
// RPCError{message=1}.
#include "hivemind/net/rpc_codec.hpp"

#include <string>

#include <gtest/gtest.h>

#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

Bytes call_id() {
  Bytes id(16);
  for (std::size_t i = 0; i < id.size(); ++i)
    id[i] = static_cast<std::uint8_t>(0xa0 + i);
  return id;
}

// tag(field, wire type 2) || uvarint(len) || body
Bytes field(std::uint8_t number, BytesView body) {
  Bytes out{static_cast<std::uint8_t>((number << 3) | 2)};
  append_uvarint(out, body.size());
  append(out, body);
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts)
    append(out, p);
  return out;
}

TEST(RpcCodec, RequestEnvelopeIsByteExact) {
  const Bytes peer = {0x00, 0x24, 0x08, 0x01};
  UnaryEnvelope env;
  env.kind = UnaryEnvelope::Kind::kRequest;
  env.call_id = call_id();
  env.peer = peer;
  env.proto = "DHTProtocol.rpc_ping";
  env.payload = to_bytes("ping!");
  const Bytes expected = concat({field(1, call_id()),
                                 field(3,
                                       concat({field(1, peer),
                                               field(2, as_bytes("DHTProtocol.rpc_ping")),
                                               field(3, as_bytes("ping!"))}))});
  EXPECT_EQ(encode_unary_envelope(env), expected);
  // Spot-check the hand-built bytes themselves.
  EXPECT_EQ(expected[0], 0x0a);
  EXPECT_EQ(expected[1], 16);
  EXPECT_EQ(expected[18], 0x1a);

  auto decoded = decode_unary_envelope(expected);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->kind, UnaryEnvelope::Kind::kRequest);
  EXPECT_EQ(decoded->call_id, call_id());
  EXPECT_EQ(decoded->peer, peer);
  EXPECT_EQ(decoded->proto, "DHTProtocol.rpc_ping");
  EXPECT_EQ(decoded->payload, to_bytes("ping!"));
}

TEST(RpcCodec, ResponseErrorAndCancelEnvelopesAreByteExact) {
  UnaryEnvelope env;
  env.call_id = call_id();
  env.kind = UnaryEnvelope::Kind::kResponse;
  env.payload = {0x01, 0x02};
  EXPECT_EQ(encode_unary_envelope(env),
            concat({field(1, call_id()), field(4, field(1, Bytes{0x01, 0x02}))}));

  env.kind = UnaryEnvelope::Kind::kError;
  env.payload = to_bytes("ValueError('boom')");
  const Bytes error_bytes =
      concat({field(1, call_id()), field(4, field(2, as_bytes("ValueError('boom')")))});
  EXPECT_EQ(encode_unary_envelope(env), error_bytes);
  auto decoded = decode_unary_envelope(error_bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->kind, UnaryEnvelope::Kind::kError);
  EXPECT_EQ(std::string(as_chars(decoded->payload)), "ValueError('boom')");

  env.kind = UnaryEnvelope::Kind::kCancel;
  env.payload.clear();
  const Bytes cancel = concat({field(1, call_id()), Bytes{0x2a, 0x00}});
  EXPECT_EQ(encode_unary_envelope(env), cancel);
  decoded = decode_unary_envelope(cancel);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->kind, UnaryEnvelope::Kind::kCancel);
}

TEST(RpcCodec, EmptyResponseIsStillAResponse) {
  // A oneof member set to empty bytes is serialized (tag + zero length) and must decode as such.
  UnaryEnvelope env;
  env.call_id = call_id();
  env.kind = UnaryEnvelope::Kind::kResponse;
  const Bytes expected = concat({field(1, call_id()), Bytes{0x22, 0x02, 0x0a, 0x00}});
  EXPECT_EQ(encode_unary_envelope(env), expected);
  auto decoded = decode_unary_envelope(expected);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->kind, UnaryEnvelope::Kind::kResponse);
  EXPECT_TRUE(decoded->payload.empty());
}

TEST(RpcCodec, MalformedEnvelopesAreRejected) {
  auto expect_malformed = [](const Bytes& bytes, const char* what) {
    auto decoded = decode_unary_envelope(bytes);
    ASSERT_FALSE(decoded) << what;
    EXPECT_EQ(decoded.error(), NetErrc::kMalformedMessage) << what;
  };
  expect_malformed(Bytes{0xff, 0xff}, "garbage");
  expect_malformed(concat({field(1, call_id())}), "no message kind");
  expect_malformed(Bytes{0x2a, 0x00}, "missing required callId");
  expect_malformed(concat({field(1, call_id()), field(4, Bytes{})}), "response without result");
  // callUnary without its required data field.
  expect_malformed(concat({field(1, call_id()),
                           field(3, concat({field(1, Bytes{0x00}), field(2, as_bytes("x"))}))}),
                   "request without data");
  // addUnaryHandler (field 2) is a daemon-control kind we do not accept on peer streams.
  expect_malformed(concat({field(1, call_id()), field(2, Bytes{})}), "unknown kind");
  // Length running past the end.
  Bytes truncated = concat({field(1, call_id())});
  truncated.pop_back();
  expect_malformed(truncated, "truncated");

  Bytes huge(kMaxUnaryMessage + 1, 0);
  auto decoded = decode_unary_envelope(huge);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error(), NetErrc::kMessageTooLarge);
}

TEST(RpcCodec, DelimitedDecodesAtEverySplitPoint) {
  Bytes first(300, 0x11);  // two-byte prefix (0xac 0x02)
  Bytes buffer;
  append_delimited(buffer, first);
  append_delimited(buffer, as_bytes("xyz"));
  ASSERT_EQ(buffer[0], 0xac);
  ASSERT_EQ(buffer[1], 0x02);
  ASSERT_EQ(buffer.size(), 2 + 300 + 1 + 3);
  for (std::size_t split = 0; split <= buffer.size(); ++split) {
    auto decoded = decode_delimited(BytesView(buffer).first(split), 1024);
    ASSERT_TRUE(decoded) << split;
    if (split < 302) {
      EXPECT_FALSE(decoded->has_value()) << split;
    } else {
      ASSERT_TRUE(decoded->has_value()) << split;
      EXPECT_EQ((*decoded)->consumed, 302u);
      EXPECT_TRUE(std::equal(
          (*decoded)->message.begin(), (*decoded)->message.end(), first.begin(), first.end()));
    }
  }
  auto second = decode_delimited(BytesView(buffer).subspan(302), 1024);
  ASSERT_TRUE(second && second->has_value());
  EXPECT_EQ(std::string(as_chars((*second)->message)), "xyz");
  // Zero-length message.
  auto empty = decode_delimited(Bytes{0x00}, 0);
  ASSERT_TRUE(empty && empty->has_value());
  EXPECT_EQ((*empty)->consumed, 1u);
}

TEST(RpcCodec, DelimitedLimitAppliesToTheDeclaredLength) {
  Bytes prefix_only;
  append_uvarint(prefix_only, kMaxUnaryMessage + 1);
  auto decoded = decode_delimited(prefix_only, kMaxUnaryMessage);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error(), NetErrc::kMessageTooLarge);
  Bytes at_limit;
  append_uvarint(at_limit, 10);
  decoded = decode_delimited(at_limit, 10);
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(decoded->has_value());  // needs the body
}

TEST(RpcCodec, DelimitedRejectsMalformedPrefixes) {
  auto non_minimal = decode_delimited(Bytes{0x80, 0x00}, 100);
  ASSERT_FALSE(non_minimal);
  EXPECT_EQ(non_minimal.error(), NetErrc::kMalformedMessage);
  auto overflow = decode_delimited(Bytes(10, 0xff), 100);
  ASSERT_FALSE(overflow);
  EXPECT_EQ(overflow.error(), NetErrc::kMalformedMessage);
}

TEST(RpcCodec, StreamFrameIsByteExact) {
  Bytes out;
  append_stream_frame(out, StreamMarker::kMessage, as_bytes("abc"));
  EXPECT_EQ(out, (Bytes{0x00, 0, 0, 0, 0, 0, 0, 0, 0x03, 'a', 'b', 'c'}));
  out.clear();
  // hivemind's END_OF_STREAM: error marker + empty RPCError (zero-length body).
  EXPECT_TRUE(encode_rpc_error("").empty());
  append_stream_frame(out, StreamMarker::kError, encode_rpc_error(""));
  EXPECT_EQ(out, (Bytes{0x01, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(encode_rpc_error("boom"), (Bytes{0x0a, 0x04, 'b', 'o', 'o', 'm'}));
}

TEST(RpcCodec, StreamFrameDecodesAtEverySplitPoint) {
  Bytes buffer;
  Bytes big(70000, 0x5a);
  append_stream_frame(buffer, StreamMarker::kMessage, big);
  append_stream_frame(buffer, StreamMarker::kError, encode_rpc_error("oops"));
  const std::size_t first_size = kStreamFrameHeader + big.size();
  for (std::size_t split = 0; split <= buffer.size(); split += (split < 20 ? 1 : 997)) {
    auto decoded = decode_stream_frame(BytesView(buffer).first(split), 1 << 20);
    ASSERT_TRUE(decoded) << split;
    EXPECT_EQ(decoded->has_value(), split >= first_size) << split;
  }
  for (std::size_t split = first_size - 2; split <= first_size + 1; ++split) {
    auto decoded = decode_stream_frame(BytesView(buffer).first(split), 1 << 20);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->has_value(), split >= first_size) << split;
  }
  BytesView rest = BytesView(buffer).subspan(first_size);
  for (std::size_t split = 0; split <= rest.size(); ++split) {
    auto decoded = decode_stream_frame(rest.first(split), 1 << 20);
    ASSERT_TRUE(decoded) << split;
    ASSERT_EQ(decoded->has_value(), split == rest.size()) << split;
    if (split == rest.size()) {
      EXPECT_EQ((*decoded)->marker, StreamMarker::kError);
      EXPECT_EQ((*decoded)->consumed, rest.size());
      auto text = decode_rpc_error((*decoded)->payload);
      ASSERT_TRUE(text);
      EXPECT_EQ(*text, "oops");
    }
  }
}

TEST(RpcCodec, StreamFrameLimitsAndMarkers) {
  // An unknown marker fails with the first byte alone.
  auto bad_marker = decode_stream_frame(Bytes{0x02}, 100);
  ASSERT_FALSE(bad_marker);
  EXPECT_EQ(bad_marker.error(), NetErrc::kMalformedMessage);
  // The declared length is checked from the header alone, even 2^64-1.
  Bytes header{0x00};
  append_be<std::uint64_t>(header, 101);
  auto too_large = decode_stream_frame(header, 100);
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error(), NetErrc::kMessageTooLarge);
  Bytes max_header{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  auto max_length = decode_stream_frame(max_header, SIZE_MAX);
  ASSERT_TRUE(max_length);
  EXPECT_FALSE(max_length->has_value());
  // At the limit: fine.
  Bytes at_limit;
  append_stream_frame(at_limit, StreamMarker::kMessage, Bytes(100, 1));
  auto ok_frame = decode_stream_frame(at_limit, 100);
  ASSERT_TRUE(ok_frame && ok_frame->has_value());
  EXPECT_EQ((*ok_frame)->payload.size(), 100u);
}

TEST(RpcCodec, RpcErrorDecoding) {
  auto empty = decode_rpc_error({});
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
  auto text = decode_rpc_error(Bytes{0x0a, 0x02, 'h', 'i'});
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hi");
  auto truncated = decode_rpc_error(Bytes{0x0a, 0x05, 'h'});
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error(), NetErrc::kMalformedMessage);
  auto bad_tag = decode_rpc_error(Bytes{0x00});
  ASSERT_FALSE(bad_tag);
  EXPECT_EQ(bad_tag.error(), NetErrc::kMalformedMessage);
}

}  // namespace
}  // namespace hivemind::net
