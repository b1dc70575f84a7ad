// Fuzz target: untrusted bytes into a Yamux server session, driven like a real connection would
// drive it: the input is fed in pieces, every event is handled (streams read to the end, some
// answered, half-closed or reset, some outbound streams opened and pinged), outbound bytes are
// drained. Aborts if a memory bound documented by YamuxSession is exceeded: streams above the
// limits, a receive buffer above the window, or more events than the coalescing rules allow.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "hivemind/net/yamux.hpp"

namespace {

using hivemind::Bytes;
using hivemind::BytesView;
using hivemind::net::YamuxEvent;
using hivemind::net::YamuxOptions;
using hivemind::net::YamuxRole;
using hivemind::net::YamuxSession;

constexpr YamuxOptions kOptions{.receive_window = 256 * 1024,
                                .max_frame_payload = 1024,
                                .max_inbound_streams = 8,
                                .max_outbound_streams = 4,
                                .max_pending_inbound = 4,
                                .max_ack_backlog = 2,
                                .max_remembered_resets = 16};

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void check_stream(const YamuxSession& session, std::uint32_t id) {
  if (auto info = session.stream_info(id)) {
    require(info->readable <= kOptions.receive_window);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) {
    return 0;
  }
  // First byte: piece size for feeding the rest (1..64 bytes, or everything at once for 0).
  const std::size_t piece = data[0] % 65 == 0 ? size : data[0] % 65;
  const BytesView input(data + 1, size - 1);
  YamuxSession session(YamuxRole::kServer, kOptions);
  const Bytes reply(300, 0x5A);
  std::uint32_t pings = 0;
  std::uint32_t action = data[0];
  Bytes sink;
  for (std::size_t pos = 0; pos < input.size(); pos += piece) {
    const std::size_t streams_before = session.open_stream_count();
    const bool okay =
        session.receive(input.subspan(pos, std::min(piece, input.size() - pos))).has_value();
    const std::vector<YamuxEvent> events = session.take_events();
    // Per known stream at most kReadable, kWritable, kRemoteClosed, kReset (coalesced); per new
    // stream kInboundStream too; plus one kGoAway and one kPong per outstanding ping.
    require(events.size() <= 4 * streams_before + 5 * kOptions.max_pending_inbound + 1 + pings);
    for (const YamuxEvent& e : events) {
      ++action;
      switch (e.kind) {
        case YamuxEvent::Kind::kInboundStream:
        case YamuxEvent::Kind::kWritable:
          (void)session.write(e.stream, reply);
          break;
        case YamuxEvent::Kind::kReadable:
        case YamuxEvent::Kind::kRemoteClosed:
          check_stream(session, e.stream);
          sink.clear();
          session.read(e.stream, action % 2 == 0 ? SIZE_MAX : 100, sink);
          if (action % 5 == 0) {
            (void)session.close_write(e.stream);
          } else if (action % 11 == 0) {
            session.reset(e.stream);
          }
          break;
        case YamuxEvent::Kind::kPong:
          require(pings > 0);
          --pings;
          break;
        case YamuxEvent::Kind::kReset:
        case YamuxEvent::Kind::kGoAway:
          break;
      }
    }
    if (action % 7 == 0) {
      if (auto id = session.open_stream()) {
        (void)session.write(*id, reply);
      }
      session.ping(action);
      ++pings;
    }
    require(session.open_stream_count()
            <= kOptions.max_inbound_streams + kOptions.max_outbound_streams);
    (void)session.take_outbound();
    if (!okay) {
      require(session.failed());
      require(!session.receive({}).has_value());  // stays failed
      break;
    }
  }
  return 0;
}
