// Yamux protocol violations (fatal: GoAway(protocol error) queued) and stream limits (not fatal).
#include <gtest/gtest.h>

#include "yamux_test_util.hpp"

namespace hivemind::net {
namespace {

using yamux_test::concat;
using yamux_test::count_kind;
using yamux_test::data_frame;
using yamux_test::frame;
using yamux_test::headers_of;
using yamux_test::Kind;
using yamux_test::pattern;
using yamux_test::YamuxPair;

Bytes go_away_protocol_error() {
  return frame(YamuxType::kGoAway, 0, 0, 1);
}

// Feeds `bytes` to a fresh session of `role` and expects a protocol violation with
// GoAway(protocol error) as the last queued frame.
void expect_violation(YamuxRole role, const Bytes& bytes) {
  YamuxSession s(role);
  auto r = s.receive(bytes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), NetErrc::kProtocolViolation);
  EXPECT_TRUE(s.failed());
  Bytes out = s.take_outbound();
  ASSERT_GE(out.size(), kYamuxHeaderSize);
  EXPECT_EQ(Bytes(out.end() - kYamuxHeaderSize, out.end()), go_away_protocol_error());
  // The session stays dead: no second GoAway, no new streams.
  EXPECT_FALSE(s.receive(frame(YamuxType::kPing, kYamuxFlagSyn, 0, 1)));
  EXPECT_FALSE(s.has_outbound());
  EXPECT_EQ(s.open_stream().error(), NetErrc::kGoAway);
}

Bytes syn(std::uint32_t id) {
  return frame(YamuxType::kWindowUpdate, kYamuxFlagSyn, id, 0);
}

TEST(YamuxLimits, BadVersionOrTypeIsFatal) {
  auto bad_version = from_hex("010100010000000100000000");
  auto bad_type = from_hex("000400010000000100000000");
  expect_violation(YamuxRole::kServer, *bad_version);
  expect_violation(YamuxRole::kServer, *bad_type);
  // Also when the bad header arrives after valid frames and split across calls.
  YamuxSession s(YamuxRole::kServer);
  ASSERT_TRUE(s.receive(concat({syn(1), Bytes(bad_type->begin(), bad_type->begin() + 5)})));
  EXPECT_FALSE(s.receive(BytesView(*bad_type).subspan(5)));
}

TEST(YamuxLimits, StreamIdParityIsEnforced) {
  expect_violation(YamuxRole::kServer, syn(2));  // a client must open odd ids
  expect_violation(YamuxRole::kClient, syn(1));  // a server must open even ids
  expect_violation(YamuxRole::kServer, data_frame(4, as_bytes("x"), kYamuxFlagSyn));
}

TEST(YamuxLimits, StreamIdsMustIncrease) {
  expect_violation(YamuxRole::kServer, concat({syn(1), syn(1)}));  // SYN for an existing stream
  expect_violation(YamuxRole::kServer, concat({syn(5), syn(3)}));  // going backwards
  // Reusing the id of a stream that was closed and forgotten is also refused.
  YamuxPair p;
  auto id = *p.client.open_stream();
  ASSERT_TRUE(p.client.close_write(id));
  p.pump();
  ASSERT_TRUE(p.server.close_write(id));
  p.pump();
  EXPECT_EQ(p.server.open_stream_count(), 0U);
  EXPECT_FALSE(p.server.receive(syn(id)));
}

TEST(YamuxLimits, SessionFramesNeedStreamZeroAndStreamFramesNonZero) {
  expect_violation(YamuxRole::kServer, frame(YamuxType::kPing, kYamuxFlagSyn, 1, 0));
  expect_violation(YamuxRole::kServer, frame(YamuxType::kGoAway, 0, 2, 0));
  expect_violation(YamuxRole::kServer, data_frame(0, as_bytes("x")));
  expect_violation(YamuxRole::kServer, frame(YamuxType::kWindowUpdate, kYamuxFlagSyn, 0, 0));
  expect_violation(YamuxRole::kServer, frame(YamuxType::kPing, 0, 0, 0));  // neither SYN nor ACK
}

TEST(YamuxLimits, DataBeyondReceiveWindowIsFatal) {
  const Bytes big = pattern(kYamuxInitialWindow + 1);
  expect_violation(YamuxRole::kServer, concat({syn(1), data_frame(1, big)}));
  // Checked on the header: no payload byte needs to arrive.
  expect_violation(YamuxRole::kServer, concat({syn(1), frame(YamuxType::kData, 0, 1, 0xFFFFFFFF)}));
  // Cumulative: a full window, then one byte more without a window update.
  const Bytes full = pattern(kYamuxInitialWindow);
  expect_violation(YamuxRole::kServer,
                   concat({syn(1), data_frame(1, full), data_frame(1, as_bytes("x"))}));
  // Exactly the window is fine.
  YamuxSession s(YamuxRole::kServer);
  ASSERT_TRUE(s.receive(concat({syn(1), data_frame(1, full)})));
  EXPECT_EQ(s.stream_info(1)->readable, kYamuxInitialWindow);
}

TEST(YamuxLimits, DataOnUnknownOrFinishedStreamIsFatal) {
  expect_violation(YamuxRole::kServer, data_frame(1, as_bytes("x")));  // never opened
  expect_violation(YamuxRole::kServer, frame(YamuxType::kWindowUpdate, 0, 7, 10));
  expect_violation(YamuxRole::kClient, data_frame(1, as_bytes("x")));  // our id, never opened
  expect_violation(YamuxRole::kServer,
                   concat({syn(1),
                           data_frame(1, as_bytes("a"), kYamuxFlagFin),
                           data_frame(1, as_bytes("b"))}));  // data after FIN
}

TEST(YamuxLimits, LateControlFramesForForgottenStreamsAreIgnored) {
  YamuxSession s(YamuxRole::kServer);
  ASSERT_TRUE(s.receive(concat({syn(1), frame(YamuxType::kWindowUpdate, kYamuxFlagFin, 1, 0)})));
  ASSERT_TRUE(s.close_write(1));
  EXPECT_EQ(s.open_stream_count(), 0U);
  EXPECT_TRUE(s.receive(frame(YamuxType::kWindowUpdate, 0, 1, 4096)));
  EXPECT_TRUE(s.receive(frame(YamuxType::kWindowUpdate, kYamuxFlagRst, 1, 0)));
  EXPECT_TRUE(s.receive(frame(YamuxType::kData, kYamuxFlagFin, 1, 0)));
  EXPECT_FALSE(s.failed());
}

TEST(YamuxLimits, WindowOverflowIsFatal) {
  expect_violation(YamuxRole::kServer,
                   concat({syn(1), frame(YamuxType::kWindowUpdate, 0, 1, 0xFFFFFFFF)}));
}

TEST(YamuxLimits, ExcessInboundStreamsAreResetAndSessionStaysUsable) {
  YamuxPair p({}, {.max_inbound_streams = 2});
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(*p.client.open_stream());
    ASSERT_EQ(*p.client.write(ids.back(), as_bytes("req")), 3U);
  }
  p.pump();
  EXPECT_EQ(count_kind(p.server_events, Kind::kInboundStream), 2U);
  EXPECT_EQ(p.server.open_stream_count(), 2U);
  EXPECT_EQ(p.client_events,
            (std::vector<YamuxEvent>{{Kind::kReset, ids[2], 0}, {Kind::kReset, ids[3], 0}}));
  EXPECT_EQ(p.client.open_stream_count(), 2U);
  EXPECT_EQ(p.client.write(ids[2], as_bytes("x")).error(), NetErrc::kStreamReset);
  // Closing one accepted stream frees a slot for a new one.
  p.client.reset(ids[0]);
  p.pump();
  EXPECT_EQ(p.server.open_stream_count(), 1U);
  auto next = *p.client.open_stream();
  ASSERT_EQ(*p.client.write(next, as_bytes("again")), 5U);
  p.server_events.clear();
  p.pump();
  EXPECT_EQ(p.server_events,
            (std::vector<YamuxEvent>{{Kind::kInboundStream, next, 0}, {Kind::kReadable, next, 0}}));
  EXPECT_FALSE(p.server.failed());
}

TEST(YamuxLimits, PendingInboundEventsAreBounded) {
  YamuxSession server(YamuxRole::kServer, {.max_pending_inbound = 2});
  ASSERT_TRUE(server.receive(concat({syn(1), syn(3), syn(5)})));
  auto headers = headers_of(server.take_outbound());
  ASSERT_EQ(headers.size(), 3U);
  EXPECT_EQ(headers[2].flags, kYamuxFlagRst);  // the third is refused
  EXPECT_EQ(headers[2].stream, 5U);
  EXPECT_EQ(server.take_events().size(), 2U);
  ASSERT_TRUE(server.receive(syn(7)));  // taking the events made room
  EXPECT_EQ(headers_of(server.take_outbound())[0].flags, kYamuxFlagAck);
}

TEST(YamuxLimits, OutboundLimitsAndAckBacklog) {
  YamuxPair p({.max_outbound_streams = 3, .max_ack_backlog = 2}, {});
  auto a = p.client.open_stream();
  auto b = p.client.open_stream();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(p.client.open_stream().error(), NetErrc::kTooManyStreams);  // 2 unacknowledged
  p.pump();                                                             // ACKs arrive
  auto c = p.client.open_stream();
  ASSERT_TRUE(c);
  p.pump();
  EXPECT_EQ(p.client.open_stream().error(), NetErrc::kTooManyStreams);  // 3 open
  p.client.reset(*a);
  EXPECT_TRUE(p.client.open_stream());
}

TEST(YamuxLimits, RememberedResetsAreBounded) {
  YamuxSession server(YamuxRole::kServer, {.max_remembered_resets = 2});
  ASSERT_TRUE(server.receive(concat({syn(1), syn(3), syn(5)})));
  server.reset(1);
  server.reset(3);
  server.reset(5);  // evicts 1
  EXPECT_TRUE(server.stream_info(5)->reset);
  EXPECT_TRUE(server.stream_info(3)->reset);
  EXPECT_FALSE(server.stream_info(1));
  EXPECT_TRUE(server.receive(data_frame(3, as_bytes("late"))));   // remembered: dropped
  EXPECT_FALSE(server.receive(data_frame(1, as_bytes("late"))));  // forgotten: violation
}

}  // namespace
}  // namespace hivemind::net
