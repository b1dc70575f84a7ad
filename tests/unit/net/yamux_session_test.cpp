// Yamux sessions wired back to back: stream lifecycle, data, half-close, reset, ping, go-away.
#include <gtest/gtest.h>

#include "yamux_test_util.hpp"

namespace hivemind::net {
namespace {

using yamux_test::count_kind;
using yamux_test::data_frame;
using yamux_test::frame;
using yamux_test::headers_of;
using yamux_test::Kind;
using yamux_test::pattern;
using yamux_test::YamuxPair;

TEST(YamuxSession, OpenSendsByteExactSynAndIdsFollowParity) {
  YamuxSession client(YamuxRole::kClient);
  YamuxSession server(YamuxRole::kServer);
  EXPECT_EQ(*client.open_stream(), 1U);
  EXPECT_EQ(*client.open_stream(), 3U);
  EXPECT_EQ(*server.open_stream(), 2U);
  EXPECT_EQ(*server.open_stream(), 4U);
  // WindowUpdate|SYN, stream 1, delta 0 (default window), then the same for stream 3.
  EXPECT_EQ(to_hex(client.take_outbound()), "000100010000000100000000000100010000000300000000");
  EXPECT_FALSE(client.has_outbound());
}

TEST(YamuxSession, OpenAcceptAndDataBothWays) {
  YamuxPair p;
  auto id = p.client.open_stream();
  ASSERT_TRUE(id);
  ASSERT_EQ(*p.client.write(*id, as_bytes("hello")), 5U);
  p.pump();
  ASSERT_EQ(p.server_events.size(), 2U);
  EXPECT_EQ(p.server_events[0], (YamuxEvent{Kind::kInboundStream, *id, 0}));
  EXPECT_EQ(p.server_events[1], (YamuxEvent{Kind::kReadable, *id, 0}));
  Bytes got;
  EXPECT_EQ(p.server.read(*id, 100, got), 5U);
  EXPECT_EQ(as_chars(got), "hello");

  ASSERT_EQ(*p.server.write(*id, as_bytes("world!")), 6U);
  p.pump();
  EXPECT_EQ(p.client_events.back(), (YamuxEvent{Kind::kReadable, *id, 0}));
  got.clear();
  EXPECT_EQ(p.client.read(*id, 3, got), 3U);  // partial reads keep the rest
  EXPECT_EQ(p.client.read(*id, 100, got), 3U);
  EXPECT_EQ(as_chars(got), "world!");
  EXPECT_EQ(p.client.read(*id, 100, got), 0U);
  EXPECT_EQ(p.client.open_stream_count(), 1U);
  EXPECT_EQ(p.server.open_stream_count(), 1U);
}

TEST(YamuxSession, InboundAckIsByteExact) {
  YamuxSession server(YamuxRole::kServer);
  auto syn = from_hex("000100010000000100000000");
  ASSERT_TRUE(syn);
  ASSERT_TRUE(server.receive(*syn));
  EXPECT_EQ(to_hex(server.take_outbound()), "000100020000000100000000");  // WindowUpdate|ACK
  EXPECT_EQ(server.take_events(), (std::vector<YamuxEvent>{{Kind::kInboundStream, 1, 0}}));
}

TEST(YamuxSession, SplitsWritesIntoMaxFramePayload) {
  YamuxSession client(YamuxRole::kClient, {.max_frame_payload = 1000});
  auto id = client.open_stream();
  ASSERT_TRUE(id);
  (void)client.take_outbound();
  ASSERT_EQ(*client.write(*id, pattern(2500)), 2500U);
  Bytes out = client.take_outbound();
  EXPECT_EQ(out.size(), 2500U + 3 * kYamuxHeaderSize);
  auto headers = headers_of(out);
  ASSERT_EQ(headers.size(), 3U);
  EXPECT_EQ(headers[0].length, 1000U);
  EXPECT_EQ(headers[1].length, 1000U);
  EXPECT_EQ(headers[2].length, 500U);
  for (const auto& h : headers) {
    EXPECT_EQ(h.type, YamuxType::kData);
    EXPECT_EQ(h.flags, 0);
    EXPECT_EQ(h.stream, *id);
  }
  EXPECT_EQ(*client.write(*id, {}), 0U);
  EXPECT_FALSE(client.has_outbound());
}

TEST(YamuxSession, SendCreditIsTakenFromTheWindowWithoutQueueingFrames) {
  YamuxSession client(YamuxRole::kClient);
  const std::uint32_t id = *client.open_stream();
  (void)client.take_outbound();
  EXPECT_EQ(*client.take_send_credit(id, 1000), 1000U);
  EXPECT_FALSE(client.has_outbound());  // the caller frames the data itself
  EXPECT_EQ(*client.take_send_credit(id, kYamuxInitialWindow), kYamuxInitialWindow - 1000);
  EXPECT_EQ(*client.take_send_credit(id, 1), 0U);   // window exhausted
  EXPECT_EQ(*client.write(id, as_bytes("x")), 0U);  // write() shares the same credit
  ASSERT_TRUE(client.close_write(id));
  EXPECT_EQ(client.take_send_credit(id, 1).error(), NetErrc::kStreamClosed);
  EXPECT_EQ(client.take_send_credit(99, 1).error(), NetErrc::kStreamClosed);
}

TEST(YamuxSession, HalfCloseKeepsOtherDirectionOpen) {
  YamuxPair p;
  auto id = *p.client.open_stream();
  ASSERT_EQ(*p.client.write(id, as_bytes("request")), 7U);
  ASSERT_TRUE(p.client.close_write(id));
  ASSERT_TRUE(p.client.close_write(id));  // idempotent: one FIN only
  EXPECT_EQ(p.client.write(id, as_bytes("x")).error(), NetErrc::kStreamClosed);
  p.pump();
  EXPECT_EQ(count_kind(p.server_events, Kind::kRemoteClosed), 1U);
  auto info = p.server.stream_info(id);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->remote_closed);
  EXPECT_FALSE(info->local_closed);
  EXPECT_EQ(info->readable, 7U);  // buffered data stays readable after FIN

  ASSERT_EQ(*p.server.write(id, as_bytes("reply")), 5U);
  ASSERT_TRUE(p.server.close_write(id));
  // Server: both sides closed but 7 bytes unread -> still known.
  EXPECT_EQ(p.server.open_stream_count(), 1U);
  Bytes got;
  EXPECT_EQ(p.server.read(id, 100, got), 7U);
  EXPECT_EQ(as_chars(got), "request");
  EXPECT_EQ(p.server.open_stream_count(), 0U);  // drained -> forgotten
  EXPECT_FALSE(p.server.stream_info(id));

  p.pump();
  EXPECT_EQ(count_kind(p.client_events, Kind::kRemoteClosed), 1U);
  got.clear();
  EXPECT_EQ(p.client.read(id, 100, got), 5U);
  EXPECT_EQ(as_chars(got), "reply");
  EXPECT_EQ(p.client.open_stream_count(), 0U);
  EXPECT_EQ(p.client.close_write(id).error(), NetErrc::kStreamClosed);
}

TEST(YamuxSession, RemoteResetIsReportedAndStreamIsGone) {
  YamuxPair p;
  auto id = *p.client.open_stream();
  ASSERT_EQ(*p.client.write(id, as_bytes("abc")), 3U);
  p.pump();
  p.client.reset(id);
  p.client.reset(id);  // no-op: already forgotten
  EXPECT_EQ(p.client.open_stream_count(), 0U);
  EXPECT_EQ(headers_of(p.client.take_outbound()),
            (std::vector<YamuxHeader>{
                {.type = YamuxType::kWindowUpdate, .flags = kYamuxFlagRst, .stream = id}}));
  auto rst = frame(YamuxType::kWindowUpdate, kYamuxFlagRst, id, 0);
  ASSERT_TRUE(p.server.receive(rst));
  EXPECT_EQ(p.server.take_events(), (std::vector<YamuxEvent>{{Kind::kReset, id, 0}}));
  EXPECT_EQ(p.server.open_stream_count(), 0U);
  EXPECT_EQ(p.server.write(id, as_bytes("x")).error(), NetErrc::kStreamReset);
  EXPECT_EQ(p.server.close_write(id).error(), NetErrc::kStreamReset);
  Bytes got;
  EXPECT_EQ(p.server.read(id, 10, got), 0U);  // buffered data is dropped with the stream
  auto info = p.server.stream_info(id);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->reset);
  EXPECT_EQ(p.client.write(id, as_bytes("x")).error(), NetErrc::kStreamReset);
}

TEST(YamuxSession, DataInFlightAfterLocalResetIsDiscarded) {
  YamuxPair p;
  auto id = *p.client.open_stream();
  p.pump();
  ASSERT_EQ(*p.client.write(id, pattern(1000)), 1000U);
  ASSERT_TRUE(p.client.close_write(id));
  p.server.reset(id);  // crosses the client's data and FIN
  p.pump();
  EXPECT_EQ(p.client_events.back(), (YamuxEvent{Kind::kReset, id, 0}));
  EXPECT_EQ(count_kind(p.server_events, Kind::kReadable), 0U);
  EXPECT_EQ(p.server.open_stream_count(), 0U);
  EXPECT_EQ(p.client.open_stream_count(), 0U);
  EXPECT_FALSE(p.server.failed());
}

TEST(YamuxSession, PingIsAnsweredWithItsOpaqueValue) {
  YamuxPair p;
  p.client.ping(0xC0FFEE);
  p.server.ping(7);
  p.pump();
  EXPECT_EQ(p.client_events, (std::vector<YamuxEvent>{{Kind::kPong, 0, 0xC0FFEE}}));
  EXPECT_EQ(p.server_events, (std::vector<YamuxEvent>{{Kind::kPong, 0, 7}}));
  // An unsolicited pong produces no event.
  ASSERT_TRUE(p.client.receive(frame(YamuxType::kPing, kYamuxFlagAck, 0, 1)));
  EXPECT_TRUE(p.client.take_events().empty());
}

TEST(YamuxSession, PingRequestGetsByteExactReply) {
  YamuxSession server(YamuxRole::kServer);
  auto ping = from_hex("000200010000000012345678");
  ASSERT_TRUE(ping);
  ASSERT_TRUE(server.receive(*ping));
  EXPECT_EQ(to_hex(server.take_outbound()), "000200020000000012345678");
  EXPECT_TRUE(server.take_events().empty());
}

TEST(YamuxSession, GoAwayStopsNewStreamsButNotOpenOnes) {
  YamuxPair p;
  auto id = *p.client.open_stream();
  p.pump();
  p.client.go_away();
  p.client.go_away(2);  // only the first is sent
  EXPECT_EQ(headers_of(p.client.take_outbound()),
            (std::vector<YamuxHeader>{{.type = YamuxType::kGoAway}}));
  EXPECT_TRUE(p.client.local_go_away());
  EXPECT_EQ(p.client.open_stream().error(), NetErrc::kGoAway);
  ASSERT_TRUE(p.server.receive(frame(YamuxType::kGoAway, 0, 0, 0)));
  ASSERT_TRUE(p.server.receive(frame(YamuxType::kGoAway, 0, 0, 0)));  // reported once
  EXPECT_EQ(p.server.take_events(), (std::vector<YamuxEvent>{{Kind::kGoAway, 0, 0}}));
  EXPECT_TRUE(p.server.remote_go_away());
  EXPECT_EQ(p.server.open_stream().error(), NetErrc::kGoAway);
  // The open stream still carries data both ways.
  ASSERT_EQ(*p.server.write(id, as_bytes("still")), 5U);
  ASSERT_EQ(*p.client.write(id, as_bytes("here")), 4U);
  p.pump();
  Bytes got;
  EXPECT_EQ(p.client.read(id, 10, got), 5U);
  EXPECT_EQ(p.server.read(id, 10, got), 4U);
}

TEST(YamuxSession, SynAfterLocalGoAwayIsRefusedWithRst) {
  YamuxPair p;
  p.server.go_away(0);
  auto id = *p.client.open_stream();  // crosses the go-away
  ASSERT_EQ(*p.client.write(id, as_bytes("early data")), 10U);
  p.pump();
  EXPECT_TRUE(p.server_events.empty());
  EXPECT_EQ(p.client_events,
            (std::vector<YamuxEvent>{{Kind::kGoAway, 0, 0}, {Kind::kReset, id, 0}}));
  EXPECT_FALSE(p.server.failed());
}

TEST(YamuxSession, LargerReceiveWindowIsAdvertisedWithSynAndAck) {
  constexpr std::uint32_t kWindow = 1024 * 1024;
  YamuxPair p({.receive_window = kWindow}, {.receive_window = 4 * kWindow});
  auto id = *p.client.open_stream();
  auto syn = headers_of(p.client.take_outbound());
  ASSERT_EQ(syn.size(), 1U);
  EXPECT_EQ(syn[0].flags, kYamuxFlagSyn);
  EXPECT_EQ(syn[0].length, kWindow - kYamuxInitialWindow);
  ASSERT_TRUE(p.server.receive(frame(YamuxType::kWindowUpdate, syn[0].flags, id, syn[0].length)));
  auto ack = headers_of(p.server.take_outbound());
  ASSERT_EQ(ack.size(), 1U);
  EXPECT_EQ(ack[0].flags, kYamuxFlagAck);
  EXPECT_EQ(ack[0].length, 4 * kWindow - kYamuxInitialWindow);
  EXPECT_EQ(p.server.stream_info(id)->send_window, kWindow);
  ASSERT_TRUE(p.client.receive(frame(YamuxType::kWindowUpdate, ack[0].flags, id, ack[0].length)));
  EXPECT_EQ(p.client.stream_info(id)->send_window, 4 * kWindow);
  // The server really accepts the advertised amount.
  EXPECT_EQ(*p.client.write(id, pattern(std::size_t{5} * kWindow)), 4 * kWindow);
  p.pump();
  EXPECT_EQ(p.server.stream_info(id)->readable, 4 * kWindow);
}

TEST(YamuxSession, ReadableEventsAreCoalesced) {
  YamuxSession server(YamuxRole::kServer);
  ASSERT_TRUE(server.receive(frame(YamuxType::kWindowUpdate, kYamuxFlagSyn, 1, 0)));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(server.receive(data_frame(1, as_bytes("xy"))));
  }
  EXPECT_EQ(server.take_events(),
            (std::vector<YamuxEvent>{{Kind::kInboundStream, 1, 0}, {Kind::kReadable, 1, 0}}));
  ASSERT_TRUE(server.receive(data_frame(1, as_bytes("z"))));
  EXPECT_EQ(server.take_events(), (std::vector<YamuxEvent>{{Kind::kReadable, 1, 0}}));
  EXPECT_EQ(server.stream_info(1)->readable, 101U);
}

}  // namespace
}  // namespace hivemind::net
