#include "hivemind/net/multistream.hpp"

#include <algorithm>
#include <stdexcept>

#include <gtest/gtest.h>

#include "hivemind/core/varint.hpp"
#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

Bytes framed(std::string_view text) {
  Bytes out;
  append_multistream_message(out, text);
  return out;
}

// Splits `bytes` into message texts; fails the test on a decode error or leftover bytes.
std::vector<std::string> decode_all(BytesView bytes) {
  std::vector<std::string> texts;
  while (!bytes.empty()) {
    auto decoded = decode_multistream_message(bytes);
    EXPECT_TRUE(decoded.has_value());
    if (!decoded || !decoded->has_value()) {
      ADD_FAILURE() << "incomplete message";
      break;
    }
    texts.push_back((*decoded)->text);
    bytes = bytes.subspan((*decoded)->consumed);
  }
  return texts;
}

struct Outcome {
  Result<std::optional<std::string>> initiator = std::optional<std::string>{};
  Result<std::optional<std::string>> responder = std::optional<std::string>{};
};

// Runs a negotiation in memory, passing bytes back and forth until both sides stop.
Outcome negotiate(std::vector<std::string> proposals, const std::vector<std::string>& supported) {
  MultistreamInitiator initiator(std::move(proposals));
  MultistreamResponder responder([supported](std::string_view id) {
    return std::find(supported.begin(), supported.end(), id) != supported.end();
  });
  Outcome outcome;
  Bytes to_responder = initiator.start();
  Bytes to_initiator;
  while (!to_responder.empty() || !to_initiator.empty()) {
    for (const auto& text : decode_all(to_responder)) {
      outcome.responder = responder.on_message(text, to_initiator);
      if (responder.finished())
        break;
    }
    to_responder.clear();
    for (const auto& text : decode_all(to_initiator)) {
      outcome.initiator = initiator.on_message(text, to_responder);
      if (initiator.finished())
        break;
    }
    to_initiator.clear();
    if (initiator.finished())
      break;
  }
  return outcome;
}

TEST(MultistreamCodec, EncodesHeaderAndNaByteExact) {
  const std::string header = "\x13/multistream/1.0.0\n";
  EXPECT_EQ(framed(kMultistreamProtocolId), to_bytes(header));
  // "na" from the libp2p connections spec: 0x036e610a.
  EXPECT_EQ(to_hex(framed("na")), "036e610a");
  EXPECT_EQ(to_hex(framed("ls")), "036c730a");
}

TEST(MultistreamCodec, DecodesOneMessageAndStopsThere) {
  Bytes two = framed("/noise");
  append(two, framed("/yamux/1.0.0"));
  auto first = decode_multistream_message(two);
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->text, "/noise");
  EXPECT_EQ((*first)->consumed, 8u);
  EXPECT_EQ(decode_all(two), (std::vector<std::string>{"/noise", "/yamux/1.0.0"}));
}

TEST(MultistreamCodec, NeedsMoreBytesAtEverySplitPoint) {
  const Bytes whole = framed(kMultistreamProtocolId);
  for (std::size_t n = 0; n < whole.size(); ++n) {
    auto decoded = decode_multistream_message(BytesView(whole).first(n));
    ASSERT_TRUE(decoded) << n;
    EXPECT_FALSE(decoded->has_value()) << n;
  }
  auto decoded = decode_multistream_message(whole);
  ASSERT_TRUE(decoded && decoded->has_value());
  EXPECT_EQ((*decoded)->consumed, whole.size());
}

TEST(MultistreamCodec, AcceptsLargestMessageAndRejectsOversize) {
  const std::string largest(kMaxMultistreamMessage - 1, 'a');
  auto decoded = decode_multistream_message(framed(largest));
  ASSERT_TRUE(decoded && decoded->has_value());
  EXPECT_EQ((*decoded)->text, largest);

  Bytes oversize;
  append_uvarint(oversize, kMaxMultistreamMessage + 1);
  // Rejected from the prefix alone, before the body arrives.
  EXPECT_EQ(decode_multistream_message(oversize).error(), NetErrc::kMessageTooLarge);
  // A prefix still incomplete after two bytes announces at least 16384 bytes.
  EXPECT_EQ(decode_multistream_message(Bytes{0x80, 0x80}).error(), NetErrc::kMessageTooLarge);
  EXPECT_THROW(append_multistream_message(oversize, std::string(kMaxMultistreamMessage, 'a')),
               std::invalid_argument);
}

TEST(MultistreamCodec, RejectsMalformedMessages) {
  EXPECT_EQ(decode_multistream_message(Bytes{0x00}).error(), NetErrc::kMalformedMessage);
  // Missing trailing newline.
  EXPECT_EQ(decode_multistream_message(Bytes{0x02, 'n', 'a'}).error(), NetErrc::kMalformedMessage);
  // Non-minimal length prefix.
  EXPECT_EQ(decode_multistream_message(Bytes{0x83, 0x00, 'n', 'a', '\n'}).error(),
            NetErrc::kMalformedMessage);
  // Just a newline is a well-formed empty message.
  auto empty = decode_multistream_message(Bytes{0x01, '\n'});
  ASSERT_TRUE(empty && empty->has_value());
  EXPECT_EQ((*empty)->text, "");
}

TEST(MultistreamNegotiation, InitiatorPipelinesHeaderAndFirstProposal) {
  MultistreamInitiator initiator({"/noise", "/tls/1.0.0"});
  Bytes expected = framed(kMultistreamProtocolId);
  append(expected, framed("/noise"));
  EXPECT_EQ(initiator.start(), expected);
  EXPECT_THROW((void)initiator.start(), std::invalid_argument);
}

TEST(MultistreamNegotiation, AgreesOnFirstSupportedProposal) {
  auto outcome = negotiate({"/noise", "/tls/1.0.0"}, {"/noise"});
  ASSERT_TRUE(outcome.initiator && outcome.responder);
  EXPECT_EQ(*outcome.initiator, std::optional<std::string>("/noise"));
  EXPECT_EQ(*outcome.responder, std::optional<std::string>("/noise"));
}

TEST(MultistreamNegotiation, FallsBackToSecondProposal) {
  auto outcome = negotiate({"/tls/1.0.0", "/noise"}, {"/noise", "/yamux/1.0.0"});
  ASSERT_TRUE(outcome.initiator && outcome.responder);
  EXPECT_EQ(*outcome.initiator, std::optional<std::string>("/noise"));
  EXPECT_EQ(*outcome.responder, std::optional<std::string>("/noise"));
}

TEST(MultistreamNegotiation, FailsWhenEveryProposalIsRejected) {
  auto outcome = negotiate({"/tls/1.0.0", "/secio/1.0.0"}, {"/noise"});
  EXPECT_EQ(outcome.initiator.error(), NetErrc::kProtocolNotSupported);
  ASSERT_TRUE(outcome.responder);
  EXPECT_FALSE(outcome.responder->has_value());
}

TEST(MultistreamNegotiation, InitiatorRejectsUnexpectedMessages) {
  Bytes out;
  MultistreamInitiator wrong_header({"/noise"});
  (void)wrong_header.start();
  EXPECT_EQ(wrong_header.on_message("/multistream/2.0.0", out).error(),
            NetErrc::kProtocolViolation);
  EXPECT_TRUE(wrong_header.finished());
  EXPECT_THROW((void)wrong_header.on_message("na", out), std::invalid_argument);

  MultistreamInitiator wrong_echo({"/noise"});
  (void)wrong_echo.start();
  ASSERT_TRUE(wrong_echo.on_message(kMultistreamProtocolId, out));
  EXPECT_EQ(wrong_echo.on_message("/tls/1.0.0", out).error(), NetErrc::kProtocolViolation);
  EXPECT_TRUE(out.empty());

  MultistreamInitiator not_started({"/noise"});
  EXPECT_THROW((void)not_started.on_message(kMultistreamProtocolId, out), std::invalid_argument);
  EXPECT_THROW(MultistreamInitiator({}), std::invalid_argument);
  EXPECT_THROW(MultistreamInitiator({"a\nb"}), std::invalid_argument);
}

TEST(MultistreamNegotiation, ResponderRequiresHeaderFirst) {
  MultistreamResponder responder([](std::string_view) { return true; });
  Bytes out;
  EXPECT_EQ(responder.on_message("/noise", out).error(), NetErrc::kProtocolViolation);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(responder.finished());
}

TEST(MultistreamNegotiation, ResponderCapsRejectedProposals) {
  MultistreamResponder responder([](std::string_view) { return false; });
  Bytes out;
  ASSERT_TRUE(responder.on_message(kMultistreamProtocolId, out));
  EXPECT_EQ(out, framed(kMultistreamProtocolId));
  for (std::size_t i = 0; i < kMaxMultistreamRejections; ++i) {
    out.clear();
    auto r = responder.on_message("/nope/" + std::to_string(i), out);
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(out, framed("na"));
  }
  out.clear();
  EXPECT_EQ(responder.on_message("/nope", out).error(), NetErrc::kProtocolNotSupported);
  EXPECT_TRUE(out.empty());
}

TEST(MultistreamNegotiation, ResponderAnswersLs) {
  MultistreamResponder responder([](std::string_view id) { return id == "/yamux/1.0.0"; });
  responder.set_protocols_for_ls({"/yamux/1.0.0", "/mplex/6.7.0"});
  Bytes out;
  ASSERT_TRUE(responder.on_message(kMultistreamProtocolId, out));
  out.clear();
  auto r = responder.on_message("ls", out);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  // One message whose text is the framed protocol ids, one after another.
  auto texts = decode_all(out);
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(decode_all(to_bytes(texts[0])),
            (std::vector<std::string>{"/yamux/1.0.0", "/mplex/6.7.0"}));
  out.clear();
  auto selected = responder.on_message("/yamux/1.0.0", out);
  ASSERT_TRUE(selected);
  EXPECT_EQ(*selected, std::optional<std::string>("/yamux/1.0.0"));
  EXPECT_EQ(out, framed("/yamux/1.0.0"));
}

}  // namespace
}  // namespace hivemind::net
