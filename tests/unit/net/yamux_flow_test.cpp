// Yamux flow control, large transfers and incremental parsing at every split point.
#include <gtest/gtest.h>

#include "yamux_test_util.hpp"

namespace hivemind::net {
namespace {

using yamux_test::concat;
using yamux_test::data_frame;
using yamux_test::frame;
using yamux_test::headers_of;
using yamux_test::Kind;
using yamux_test::pattern;
using yamux_test::YamuxPair;

TEST(YamuxFlow, WholeFramesReachAnEmptyReaderIntactWhateverTheSplit) {
  // Receive chunks are handed to a reader whose buffer is empty instead of copied; a chunk may
  // still be filling (half a frame arrived) when it is handed over.
  YamuxPair p;
  auto id = *p.client.open_stream();
  const Bytes src = pattern(std::size_t{3} * 64 * 1024 + 100);
  ASSERT_EQ(*p.client.write(id, src), src.size());
  const Bytes wire = p.client.take_outbound();
  Bytes got;
  for (std::size_t off = 0; off < wire.size(); off += 40000) {
    ASSERT_TRUE(p.server.receive(
        BytesView(wire).subspan(off, std::min<std::size_t>(40000, wire.size() - off))));
    Bytes piece;  // empty: may receive a whole chunk
    while (p.server.read(id, 64 * 1024, piece) > 0) {
      append(got, piece);
      piece.clear();
    }
  }
  EXPECT_EQ(got, src);
}

TEST(YamuxFlow, WriterBlocksAtInitialWindowUntilReaderReads) {
  YamuxPair p;
  auto id = *p.client.open_stream();
  const Bytes src = pattern(std::size_t{1024} * 1024);
  ASSERT_EQ(*p.client.write(id, src), kYamuxInitialWindow);
  EXPECT_EQ(*p.client.write(id, src), 0U);
  EXPECT_EQ(p.client.stream_info(id)->send_window, 0U);
  p.pump();
  EXPECT_EQ(p.server.stream_info(id)->readable, kYamuxInitialWindow);
  EXPECT_EQ(*p.client.write(id, src), 0U);  // nothing read, so no credit came back

  Bytes got;
  ASSERT_EQ(p.server.read(id, kYamuxInitialWindow / 2 - 1, got), kYamuxInitialWindow / 2 - 1);
  EXPECT_FALSE(p.server.has_outbound());  // below half a window: no update yet
  ASSERT_EQ(p.server.read(id, 1, got), 1U);
  EXPECT_EQ(
      headers_of(p.server.take_outbound()),
      (std::vector<YamuxHeader>{
          {.type = YamuxType::kWindowUpdate, .stream = id, .length = kYamuxInitialWindow / 2}}));
  ASSERT_TRUE(p.client.receive(frame(YamuxType::kWindowUpdate, 0, id, kYamuxInitialWindow / 2)));
  EXPECT_EQ(p.client.take_events(), (std::vector<YamuxEvent>{{Kind::kWritable, id, 0}}));
  EXPECT_EQ(p.client.stream_info(id)->send_window, kYamuxInitialWindow / 2);
  EXPECT_EQ(Bytes(src.begin(), src.begin() + kYamuxInitialWindow / 2), got);
}

// Moves `src` from `from` to `to` on stream `id` with a reader that reads `read_sizes` in turn,
// checking after every delivery that the receive buffer never exceeds `window`.
void transfer(YamuxPair& p,
              bool client_writes,
              std::uint32_t id,
              const Bytes& src,
              std::uint32_t window,
              std::vector<std::size_t> read_sizes) {
  YamuxSession& writer = client_writes ? p.client : p.server;
  YamuxSession& reader = client_writes ? p.server : p.client;
  std::size_t sent = 0;
  std::size_t blocked = 0;
  Bytes got;
  for (std::size_t round = 0; got.size() < src.size(); ++round) {
    ASSERT_LT(round, 100000U) << "transfer stalled";
    if (sent < src.size()) {
      auto n = writer.write(id, BytesView(src).subspan(sent));
      ASSERT_TRUE(n);
      if (*n == 0) {
        ++blocked;
      }
      sent += *n;
      if (sent == src.size()) {
        ASSERT_TRUE(writer.close_write(id));
      }
    }
    if (client_writes) {
      p.to_server();
    } else {
      p.to_client();
    }
    auto info = reader.stream_info(id);
    ASSERT_TRUE(info);
    ASSERT_LE(info->readable, window);
    reader.read(id, read_sizes[round % read_sizes.size()], got);
    if (client_writes) {
      p.to_client();
    } else {
      p.to_server();
    }
  }
  EXPECT_EQ(got, src);
  EXPECT_GT(blocked, 0U) << "the writer should have hit the window";
}

TEST(YamuxFlow, MultiMegabyteTransferRespectsWindow) {
  // A fixed window (auto-tuning off) must bound the buffer at every step.
  YamuxPair p({}, {.max_receive_window = kYamuxInitialWindow});
  auto id = *p.client.open_stream();
  const Bytes src = pattern(std::size_t{8} * 1024 * 1024, 3);
  transfer(p, true, id, src, kYamuxInitialWindow, {1, 70000, 4096, 300000, 65536, 17});
  ASSERT_TRUE(p.server.close_write(id));
  p.pump();
  EXPECT_EQ(p.server.open_stream_count(), 0U);  // both FINs, drained: forgotten
  EXPECT_EQ(p.client.open_stream_count(), 0U);
}

TEST(YamuxFlow, AutoTuningGrowsTheWindowOfAReaderThatKeepsUp) {
  YamuxOptions tuned{.max_receive_window = 1024 * 1024};
  YamuxPair p({}, tuned);
  auto id = *p.client.open_stream();
  const Bytes src = pattern(8 * 1024 * 1024, 5);
  std::size_t sent = 0;
  std::size_t largest_burst = 0;
  Bytes got;
  while (got.size() < src.size()) {
    auto n = p.client.write(id, BytesView(src).subspan(sent));
    ASSERT_TRUE(n);
    sent += *n;
    largest_burst = std::max(largest_burst, *n);
    p.to_server();
    auto info = p.server.stream_info(id);
    ASSERT_TRUE(info);
    EXPECT_LE(info->readable, tuned.max_receive_window);
    p.server.read(id, info->readable, got);  // reads everything at once: keeps up
    p.to_client();
  }
  EXPECT_EQ(got, src);
  // The sender was allowed more than the initial window at once, but never more than the max.
  EXPECT_GT(largest_burst, kYamuxInitialWindow);
  EXPECT_LE(largest_burst, tuned.max_receive_window);
}

TEST(YamuxFlow, AutoTuningStopsAtTheSessionBudget) {
  YamuxOptions tuned{.max_receive_window = 4 * 1024 * 1024, .window_growth_budget = 256 * 1024};
  YamuxPair p({}, tuned);
  auto a = *p.client.open_stream();
  auto b = *p.client.open_stream();
  const Bytes src = pattern(4 * 1024 * 1024, 6);
  std::vector<std::size_t> sent(2, 0);
  std::vector<Bytes> got(2);
  const std::uint32_t ids[] = {a, b};
  std::size_t largest_burst = 0;
  for (int round = 0; round < 10000 && (got[0].size() < src.size() || got[1].size() < src.size());
       ++round) {
    for (int i = 0; i < 2; ++i) {
      auto n = p.client.write(ids[i], BytesView(src).subspan(sent[i]));
      ASSERT_TRUE(n);
      sent[i] += *n;
      largest_burst = std::max(largest_burst, *n);
    }
    p.to_server();
    for (int i = 0; i < 2; ++i) {
      auto info = p.server.stream_info(ids[i]);
      ASSERT_TRUE(info);
      p.server.read(ids[i], info->readable, got[i]);
    }
    p.to_client();
  }
  EXPECT_EQ(got[0], src);
  EXPECT_EQ(got[1], src);
  // Both streams together were granted at most 256 KiB beyond their initial windows.
  EXPECT_LE(largest_burst, kYamuxInitialWindow + tuned.window_growth_budget);
}

TEST(YamuxFlow, ServerToClientTransferWithLargerWindow) {
  constexpr std::uint32_t kWindow = 2 * 1024 * 1024;
  YamuxPair p({.receive_window = kWindow, .max_receive_window = kWindow}, {});
  auto id = *p.client.open_stream();
  p.pump();
  const Bytes src = pattern(6 * 1024 * 1024 + 5, 4);
  transfer(p, false, id, src, kWindow, {1 << 20, 12345, 999999});
}

TEST(YamuxFlow, InterleavedStreamsEachGetTheirOwnWindow) {
  YamuxPair p;
  std::vector<std::uint32_t> ids;
  std::vector<Bytes> src;
  for (std::uint32_t i = 0; i < 3; ++i) {
    ids.push_back(*p.client.open_stream());
    src.push_back(pattern(1024 * 1024 + i * 777, 10 + i));
  }
  std::vector<std::size_t> sent(3, 0);
  std::vector<Bytes> got(3);
  for (int round = 0; round < 10000; ++round) {
    bool done = true;
    for (std::size_t i = 0; i < 3; ++i) {
      if (sent[i] < src[i].size()) {
        sent[i] += *p.client.write(ids[i], BytesView(src[i]).subspan(sent[i]));
      }
      done = done && got[i].size() == src[i].size();
    }
    if (done) {
      break;
    }
    p.to_server();
    for (std::size_t i = 0; i < 3; ++i) {
      ASSERT_LE(p.server.stream_info(ids[i])->readable, kYamuxInitialWindow);
      // Stream i is read at a different pace: slow readers do not stall fast ones.
      p.server.read(ids[i], 50000 * (i + 1), got[i]);
    }
    p.to_client();
  }
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i], src[i]) << i;
  }
}

// A frame sequence as a client would send it, exercising every frame type and flag.
Bytes sample_sequence() {
  return concat({frame(YamuxType::kWindowUpdate, kYamuxFlagSyn, 1, 1000),
                 data_frame(1, as_bytes("hello world")),
                 data_frame(3, as_bytes("abc"), kYamuxFlagSyn | kYamuxFlagFin),
                 frame(YamuxType::kPing, kYamuxFlagSyn, 0, 9),
                 frame(YamuxType::kData, 0, 1, 0),
                 frame(YamuxType::kWindowUpdate, 0, 1, 100),
                 data_frame(1, as_bytes("!"), kYamuxFlagFin),
                 frame(YamuxType::kWindowUpdate, kYamuxFlagSyn | kYamuxFlagFin, 5, 0),
                 frame(YamuxType::kWindowUpdate, kYamuxFlagRst, 5, 0),
                 frame(YamuxType::kGoAway, 0, 0, 0)});
}

struct Outcome {
  std::vector<YamuxEvent> events;
  Bytes outbound;
  Bytes data1, data3;
  bool operator==(const Outcome&) const = default;
};

Outcome feed(const std::vector<BytesView>& pieces) {
  YamuxSession server(YamuxRole::kServer);
  for (BytesView piece : pieces) {
    EXPECT_TRUE(server.receive(piece));
  }
  Outcome o;
  o.events = server.take_events();
  o.outbound = server.take_outbound();
  server.read(1, 100, o.data1);
  server.read(3, 100, o.data3);
  return o;
}

TEST(YamuxFlow, EverySplitPointGivesTheSameResult) {
  const Bytes seq = sample_sequence();
  const Outcome whole = feed({seq});
  EXPECT_EQ(as_chars(whole.data1), "hello world!");
  EXPECT_EQ(as_chars(whole.data3), "abc");
  EXPECT_EQ(whole.events,
            (std::vector<YamuxEvent>{{Kind::kInboundStream, 1, 0},
                                     {Kind::kReadable, 1, 0},
                                     {Kind::kInboundStream, 3, 0},
                                     {Kind::kReadable, 3, 0},
                                     {Kind::kRemoteClosed, 3, 0},
                                     {Kind::kWritable, 1, 0},
                                     {Kind::kRemoteClosed, 1, 0},
                                     {Kind::kInboundStream, 5, 0},
                                     {Kind::kRemoteClosed, 5, 0},
                                     {Kind::kReset, 5, 0},
                                     {Kind::kGoAway, 0, 0}}));
  EXPECT_EQ(headers_of(whole.outbound).size(), 4U);  // ACK 1, ACK 3, pong, ACK 5
  const BytesView all(seq);
  for (std::size_t i = 0; i <= seq.size(); ++i) {
    ASSERT_EQ(feed({all.first(i), all.subspan(i)}), whole) << "split at " << i;
  }
  for (std::size_t i = 0; i + 7 <= seq.size(); i += 5) {  // three pieces
    ASSERT_EQ(feed({all.first(i), all.subspan(i, 7), all.subspan(i + 7)}), whole) << i;
  }
  std::vector<BytesView> bytewise;
  for (std::size_t i = 0; i < seq.size(); ++i) {
    bytewise.push_back(all.subspan(i, 1));
  }
  EXPECT_EQ(feed(bytewise), whole);
}

}  // namespace
}  // namespace hivemind::net
