// Yamux session: the receive path. Bytes are parsed incrementally: a header is assembled in a
// 12-byte buffer only when it straddles two receive() calls; DATA payload bytes are appended
// straight from the input to the stream's buffer (one copy), or skipped for streams we reset.
// All length checks happen on the header, before any payload byte is accepted.
#include <algorithm>
#include <cstring>
#include <limits>

#include "hivemind/net/error.hpp"
#include "hivemind/net/yamux.hpp"

namespace hivemind::net {

Result<void> YamuxSession::receive(BytesView bytes) {
  if (failed_) {
    return Err(NetErrc::kProtocolViolation);
  }
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (payload_left_ > 0) {
      const std::size_t k = std::min<std::size_t>(payload_left_, bytes.size() - pos);
      deliver_payload(bytes.subspan(pos, k));
      pos += k;
      payload_left_ -= static_cast<std::uint32_t>(k);
      if (payload_left_ == 0) {
        finish_payload();
      }
      continue;
    }
    BytesView header_bytes;
    if (header_fill_ == 0 && bytes.size() - pos >= kYamuxHeaderSize) {
      header_bytes = bytes.subspan(pos, kYamuxHeaderSize);
      pos += kYamuxHeaderSize;
    } else {
      const std::size_t k = std::min(kYamuxHeaderSize - header_fill_, bytes.size() - pos);
      std::memcpy(header_buf_.data() + header_fill_, bytes.data() + pos, k);
      header_fill_ += k;
      pos += k;
      if (header_fill_ < kYamuxHeaderSize) {
        break;
      }
      header_fill_ = 0;
      header_bytes = header_buf_;
    }
    auto header = decode_yamux_header(header_bytes);
    if (!header) {
      return fail();
    }
    if (auto r = on_header(*header); !r) {
      return fail();
    }
  }
  return ok();
}

Result<void> YamuxSession::fail() {
  if (!failed_) {
    failed_ = true;
    local_go_away_ = true;
    queue_frame(
        YamuxType::kGoAway, 0, 0, static_cast<std::uint32_t>(YamuxGoAwayCode::kProtocolError));
  }
  return Err(NetErrc::kProtocolViolation);
}

Result<void> YamuxSession::on_header(const YamuxHeader& h) {
  switch (h.type) {
    case YamuxType::kPing:
      if (h.stream != 0) {
        return Err(NetErrc::kProtocolViolation);
      }
      if (h.has(kYamuxFlagSyn)) {
        queue_frame(YamuxType::kPing, kYamuxFlagAck, 0, h.length);
      } else if (h.has(kYamuxFlagAck)) {
        // Unsolicited pongs are ignored, so pong events are bounded by our own pings.
        if (outstanding_pings_ > 0) {
          --outstanding_pings_;
          events_.push_back({YamuxEvent::Kind::kPong, 0, h.length});
        }
      } else {
        return Err(NetErrc::kProtocolViolation);
      }
      return ok();
    case YamuxType::kGoAway:
      if (h.stream != 0) {
        return Err(NetErrc::kProtocolViolation);
      }
      if (!remote_go_away_) {
        remote_go_away_ = true;
        events_.push_back({YamuxEvent::Kind::kGoAway, 0, h.length});
      }
      return ok();
    case YamuxType::kData:
    case YamuxType::kWindowUpdate:
      if (h.stream == 0) {
        return Err(NetErrc::kProtocolViolation);
      }
      return on_stream_frame(h);
  }
  return Err(NetErrc::kProtocolViolation);
}

Result<void> YamuxSession::on_stream_frame(const YamuxHeader& h) {
  const bool is_data = h.type == YamuxType::kData;
  Stream* s = nullptr;
  if (h.has(kYamuxFlagSyn)) {
    HM_TRY(s, on_syn(h));
    if (s == nullptr) {  // refused: drop whatever the frame carries
      if (is_data) {
        start_payload(h.length, h.stream, /*discard=*/true, false);
      }
      return ok();
    }
  } else {
    auto it = streams_.find(h.stream);
    if (it == streams_.end()) {
      return on_unknown_stream_frame(h);
    }
    s = &it->second;
  }

  if (h.has(kYamuxFlagAck) && !s->inbound && !s->acked) {
    s->acked = true;
    --ack_backlog_;
  }
  if (h.has(kYamuxFlagRst)) {
    events_.push_back({YamuxEvent::Kind::kReset, h.stream, 0});
    remember_reset(h.stream);
    forget(h.stream, *s);
    if (is_data) {
      start_payload(h.length, h.stream, /*discard=*/true, false);
    }
    return ok();
  }
  if (!is_data) {
    if (h.length > std::numeric_limits<std::uint32_t>::max() - s->send_window) {
      return Err(NetErrc::kProtocolViolation);  // window above 4 GiB
    }
    s->send_window += h.length;
    if (h.length > 0 && !h.has(kYamuxFlagSyn) && !s->local_closed && !s->writable_queued) {
      s->writable_queued = true;
      events_.push_back({YamuxEvent::Kind::kWritable, h.stream, 0});
    }
  } else if (h.length > 0) {
    if (s->remote_closed) {
      return Err(NetErrc::kProtocolViolation);  // data after FIN
    }
    if (h.length > s->recv_credit) {
      return Err(NetErrc::kProtocolViolation);
    }
    s->recv_credit -= h.length;
    // FIN on a frame with payload takes effect once the payload is in.
    start_payload(h.length, h.stream, /*discard=*/false, h.has(kYamuxFlagFin));
    return ok();
  }
  if (h.has(kYamuxFlagFin)) {
    apply_remote_fin(h.stream, *s);
  }
  return ok();
}

Result<void> YamuxSession::on_unknown_stream_frame(const YamuxHeader& h) {
  const bool is_data = h.type == YamuxType::kData;
  if (recent_resets_.contains(h.stream)) {
    // In flight when we reset (or refused) the stream, or after the remote's own RST: drop.
    if (is_data) {
      start_payload(h.length, h.stream, /*discard=*/true, false);
    }
    return ok();
  }
  const bool ever_opened =
      is_local_id(h.stream) ? h.stream < next_outbound_id_ : h.stream <= last_inbound_id_;
  if (!ever_opened) {
    return Err(NetErrc::kProtocolViolation);  // no SYN for this id
  }
  // A closed and forgotten stream: a late window update, FIN or RST is harmless; data is not
  // (the remote sent FIN, or the stream was reset long ago and its id is no longer remembered).
  if (is_data && h.length > 0) {
    return Err(NetErrc::kProtocolViolation);
  }
  return ok();
}

Result<YamuxSession::Stream*> YamuxSession::on_syn(const YamuxHeader& h) {
  if (is_local_id(h.stream)) {
    return Err(NetErrc::kProtocolViolation);  // wrong parity
  }
  if (h.stream <= last_inbound_id_) {
    return Err(NetErrc::kProtocolViolation);  // reused id
  }
  last_inbound_id_ = h.stream;
  if (h.has(kYamuxFlagRst)) {  // opened and reset at once: nothing to accept
    remember_reset(h.stream);
    return static_cast<Stream*>(nullptr);
  }
  if (local_go_away_ || remote_go_away_ || inbound_count_ >= options_.max_inbound_streams
      || pending_inbound_events_ >= options_.max_pending_inbound) {
    queue_frame(YamuxType::kWindowUpdate, kYamuxFlagRst, h.stream, 0);
    remember_reset(h.stream);
    return static_cast<Stream*>(nullptr);
  }
  Stream& s = streams_[h.stream];
  s.inbound = true;
  s.acked = true;
  s.recv_credit = options_.receive_window;
  s.window = options_.receive_window;
  ++inbound_count_;
  ++pending_inbound_events_;
  events_.push_back({YamuxEvent::Kind::kInboundStream, h.stream, 0});
  // Accept at once (the driver is told with kInboundStream), advertising a larger window.
  queue_frame(YamuxType::kWindowUpdate,
              kYamuxFlagAck,
              h.stream,
              options_.receive_window - kYamuxInitialWindow);
  return &s;
}

void YamuxSession::start_payload(std::uint32_t length,
                                 std::uint32_t stream,
                                 bool discard,
                                 bool fin) {
  payload_stream_ = stream;
  payload_discard_ = discard;
  payload_fin_ = fin;
  payload_left_ = length;
  payload_start_ = true;
  if (length == 0) {
    finish_payload();
  }
}

void YamuxSession::deliver_payload(BytesView chunk) {
  const bool frame_start = payload_start_;
  payload_start_ = false;
  if (payload_discard_) {
    return;
  }
  auto it = streams_.find(payload_stream_);
  if (it == streams_.end()) {
    return;  // reset locally while its frame was arriving
  }
  Stream& s = it->second;
  s.buffer.append(chunk, payload_left_, frame_start);
  if (!s.readable_queued) {
    s.readable_queued = true;
    events_.push_back({YamuxEvent::Kind::kReadable, payload_stream_, 0});
  }
}

void YamuxSession::finish_payload() {
  if (payload_discard_ || !payload_fin_) {
    return;
  }
  auto it = streams_.find(payload_stream_);
  if (it != streams_.end()) {
    apply_remote_fin(payload_stream_, it->second);
  }
}

void YamuxSession::apply_remote_fin(std::uint32_t id, Stream& s) {
  if (s.remote_closed) {
    return;
  }
  s.remote_closed = true;
  events_.push_back({YamuxEvent::Kind::kRemoteClosed, id, 0});
  forget_if_done(id, s);
}

}  // namespace hivemind::net
