// Yamux session: local actions, queries, events and bookkeeping. The receive path (frame parser
// and remote-frame handling) is in yamux_receive.cpp.
//
// Per stream we keep two credits: `send_window` (bytes the remote allows us to send; grows with
// its WindowUpdates, shrinks with our DATA) and `recv_credit` (bytes the remote may still send us;
// shrinks with its DATA, grows when read() credits consumed bytes back). Invariant:
// recv_credit + buffered + consumed == receive_window, so at most receive_window bytes are ever
// buffered. A WindowUpdate is sent once consumed >= window / 2 (as go-yamux does), so a bulk
// transfer costs one 12-byte update per half window. Auto-tuning: `window` starts at
// receive_window and doubles (up to max_receive_window, within the session's growth budget) at a
// window update that finds the stream's buffer empty, i.e. when the reader keeps up and the
// sender is limited by the window; the invariant holds with `window` for receive_window.
#include <algorithm>
#include <limits>

#include "hivemind/core/check.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/yamux.hpp"

namespace hivemind::net {
namespace {

// New receive chunks hold at least this much, so that many small frames do not become many
// small allocations (at most ~2x overhead, see append). A reader whose empty buffer can take a
// whole chunk gets the chunk itself (no copy).
constexpr std::size_t kMinChunk = std::size_t{16} * 1024;
// Large DATA frames are stored in chunks of this size (the usual frame size of every yamux).
constexpr std::size_t kFrameChunk = std::size_t{64} * 1024;

}  // namespace

// --- RecvBuffer ---

void YamuxSession::RecvBuffer::append(BytesView data, std::size_t frame_left, bool frame_start) {
  size_ += data.size();
  while (!data.empty()) {
    std::size_t spare = chunks_.empty() ? 0 : chunks_.back().capacity() - chunks_.back().size();
    const std::size_t chunk = std::min(frame_left, kFrameChunk);
    if (spare == 0 || (frame_start && spare < chunk)) {
      // A frame that does not fit the last chunk starts a new one, so a large frame lands in
      // whole chunks of kFrameChunk (the last one smaller) that a reader can take without a
      // copy. frame_left passed the receive-window check: the reservation is within the credit.
      Bytes fresh;
      fresh.reserve(std::max(chunk, kMinChunk));
      chunks_.push_back(std::move(fresh));
      spare = chunks_.back().capacity();
    }
    frame_start = false;
    const std::size_t k = std::min(spare, data.size());
    chunks_.back().insert(chunks_.back().end(), data.begin(), data.begin() + k);
    data = data.subspan(k);
    frame_left -= k;
  }
}

std::size_t YamuxSession::RecvBuffer::read(std::size_t max, Bytes& out) {
  const std::size_t total = std::min(max, size_);
  std::size_t want = total;
  if (want > 0 && out.empty() && head_ == 0 && chunks_.front().size() <= want) {
    // The reader takes the whole first chunk: hand it over instead of copying it.
    want -= chunks_.front().size();
    out.swap(chunks_.front());
    chunks_.pop_front();
  }
  while (want > 0) {
    const Bytes& front = chunks_.front();
    const std::size_t k = std::min(front.size() - head_, want);
    const auto begin = front.begin() + static_cast<std::ptrdiff_t>(head_);
    out.insert(out.end(), begin, begin + static_cast<std::ptrdiff_t>(k));
    head_ += k;
    want -= k;
    if (head_ == front.size()) {
      chunks_.pop_front();
      head_ = 0;
    }
  }
  size_ -= total;
  return total;
}

// --- construction, events, outbound ---

YamuxSession::YamuxSession(YamuxRole role, YamuxOptions options)
    : role_(role), options_(options), next_outbound_id_(role == YamuxRole::kClient ? 1 : 2) {
  HM_CHECK(options_.max_receive_window >= options_.receive_window,
           "yamux max_receive_window must be at least receive_window");
  HM_CHECK(options_.receive_window >= kYamuxInitialWindow,
           "yamux receive_window must be at least 256 KiB (the window the remote assumes)");
  HM_CHECK(options_.max_frame_payload > 0, "yamux max_frame_payload must be positive");
}

bool YamuxSession::is_local_id(std::uint32_t id) const noexcept {
  const bool odd = (id & 1U) != 0;
  return role_ == YamuxRole::kClient ? odd : !odd;
}

std::vector<YamuxEvent> YamuxSession::take_events() {
  std::vector<YamuxEvent> taken;
  taken.swap(events_);
  pending_inbound_events_ = 0;
  // Re-arm coalescing for the streams whose events are now handed out.
  for (const YamuxEvent& e : taken) {
    if (e.kind != YamuxEvent::Kind::kReadable && e.kind != YamuxEvent::Kind::kWritable) {
      continue;
    }
    auto it = streams_.find(e.stream);
    if (it == streams_.end()) {
      continue;
    }
    if (e.kind == YamuxEvent::Kind::kReadable) {
      it->second.readable_queued = false;
    } else {
      it->second.writable_queued = false;
    }
  }
  return taken;
}

Bytes YamuxSession::take_outbound() {
  Bytes taken;
  taken.swap(outbound_);
  return taken;
}

void YamuxSession::take_outbound(Bytes& buffer) {
  buffer.clear();
  buffer.swap(outbound_);
}

void YamuxSession::reserve_outbound(std::size_t extra) {
  // Geometric growth: an exact reserve per call would make repeated writes quadratic.
  const std::size_t needed = outbound_.size() + extra;
  if (needed > outbound_.capacity()) {
    outbound_.reserve(std::max(needed, 2 * outbound_.capacity()));
  }
}

void YamuxSession::queue_frame(YamuxType type,
                               std::uint16_t flags,
                               std::uint32_t stream,
                               std::uint32_t length) {
  reserve_outbound(kYamuxHeaderSize);
  append_yamux_header(outbound_,
                      {.type = type, .flags = flags, .stream = stream, .length = length});
}

// --- stream bookkeeping ---

void YamuxSession::remember_reset(std::uint32_t id) {
  if (options_.max_remembered_resets == 0) {
    return;
  }
  if (!recent_resets_.insert(id).second) {
    return;
  }
  recent_reset_order_.push_back(id);
  if (recent_reset_order_.size() > options_.max_remembered_resets) {
    recent_resets_.erase(recent_reset_order_.front());
    recent_reset_order_.pop_front();
  }
}

void YamuxSession::forget(std::uint32_t id, Stream& s) {
  window_growth_ -= s.window - options_.receive_window;
  if (s.inbound) {
    --inbound_count_;
  } else {
    --outbound_count_;
    if (!s.acked) {
      --ack_backlog_;
    }
  }
  streams_.erase(id);
}

void YamuxSession::forget_if_done(std::uint32_t id, Stream& s) {
  if (s.local_closed && s.remote_closed && s.buffer.size() == 0) {
    forget(id, s);
  }
}

// --- local actions ---

Result<std::uint32_t> YamuxSession::open_stream() {
  if (local_go_away_ || remote_go_away_) {
    return Err(NetErrc::kGoAway);
  }
  if (outbound_count_ >= options_.max_outbound_streams) {
    return Err(NetErrc::kTooManyStreams);
  }
  if (ack_backlog_ >= options_.max_ack_backlog) {
    return Err(NetErrc::kTooManyStreams);
  }
  if (next_outbound_id_ > std::numeric_limits<std::uint32_t>::max()) {
    return Err(NetErrc::kTooManyStreams);
  }
  const auto id = static_cast<std::uint32_t>(next_outbound_id_);
  next_outbound_id_ += 2;
  Stream& s = streams_[id];
  s.recv_credit = options_.receive_window;
  s.window = options_.receive_window;
  ++outbound_count_;
  ++ack_backlog_;
  queue_frame(
      YamuxType::kWindowUpdate, kYamuxFlagSyn, id, options_.receive_window - kYamuxInitialWindow);
  return id;
}

Result<std::size_t> YamuxSession::take_send_credit(std::uint32_t stream, std::size_t want) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    return Err(recent_resets_.contains(stream) ? NetErrc::kStreamReset : NetErrc::kStreamClosed);
  }
  Stream& s = it->second;
  if (s.local_closed) {
    return Err(NetErrc::kStreamClosed);
  }
  const std::size_t n = std::min<std::size_t>(want, s.send_window);
  s.send_window -= static_cast<std::uint32_t>(n);
  return n;
}

Result<std::size_t> YamuxSession::write(std::uint32_t stream, BytesView data) {
  HM_TRY(const std::size_t n, take_send_credit(stream, data.size()));
  if (n == 0) {
    return std::size_t{0};
  }
  const std::size_t frame = options_.max_frame_payload;
  reserve_outbound(n + (n + frame - 1) / frame * kYamuxHeaderSize);
  for (std::size_t off = 0; off < n; off += frame) {
    const std::size_t k = std::min(frame, n - off);
    append_yamux_header(
        outbound_,
        {.type = YamuxType::kData, .stream = stream, .length = static_cast<std::uint32_t>(k)});
    const auto begin = data.begin() + static_cast<std::ptrdiff_t>(off);
    outbound_.insert(outbound_.end(), begin, begin + static_cast<std::ptrdiff_t>(k));
  }
  return n;
}

std::size_t YamuxSession::read(std::uint32_t stream, std::size_t max, Bytes& out) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    return 0;
  }
  Stream& s = it->second;
  const std::size_t n = s.buffer.read(max, out);
  if (n == 0) {
    return 0;
  }
  s.consumed += static_cast<std::uint32_t>(n);  // n <= buffered <= window
  if (!s.remote_closed && s.consumed >= s.window / 2) {
    std::uint32_t growth = 0;
    if (s.buffer.size() == 0 && s.window < options_.max_receive_window) {
      const std::size_t budget_left = options_.window_growth_budget - window_growth_;
      growth = static_cast<std::uint32_t>(
          std::min<std::size_t>({s.window, options_.max_receive_window - s.window, budget_left}));
      s.window += growth;
      window_growth_ += growth;
    }
    queue_frame(YamuxType::kWindowUpdate, 0, stream, s.consumed + growth);
    s.recv_credit += s.consumed + growth;
    s.consumed = 0;
  }
  forget_if_done(stream, s);
  return n;
}

Result<void> YamuxSession::close_write(std::uint32_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    return Err(recent_resets_.contains(stream) ? NetErrc::kStreamReset : NetErrc::kStreamClosed);
  }
  Stream& s = it->second;
  if (s.local_closed) {
    return ok();
  }
  s.local_closed = true;
  queue_frame(YamuxType::kWindowUpdate, kYamuxFlagFin, stream, 0);
  forget_if_done(stream, s);
  return ok();
}

void YamuxSession::reset(std::uint32_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    return;
  }
  queue_frame(YamuxType::kWindowUpdate, kYamuxFlagRst, stream, 0);
  remember_reset(stream);
  forget(stream, it->second);
}

void YamuxSession::ping(std::uint32_t opaque) {
  if (outstanding_pings_ < std::numeric_limits<std::uint32_t>::max()) {
    ++outstanding_pings_;
  }
  queue_frame(YamuxType::kPing, kYamuxFlagSyn, 0, opaque);
}

void YamuxSession::go_away(std::uint32_t code) {
  if (local_go_away_) {
    return;
  }
  local_go_away_ = true;
  queue_frame(YamuxType::kGoAway, 0, 0, code);
}

std::optional<YamuxSession::StreamInfo> YamuxSession::stream_info(std::uint32_t stream) const {
  auto it = streams_.find(stream);
  if (it != streams_.end()) {
    const Stream& s = it->second;
    return StreamInfo{.readable = s.buffer.size(),
                      .send_window = s.send_window,
                      .remote_closed = s.remote_closed,
                      .local_closed = s.local_closed,
                      .reset = false};
  }
  if (recent_resets_.contains(stream)) {
    return StreamInfo{.readable = 0,
                      .send_window = 0,
                      .remote_closed = false,
                      .local_closed = false,
                      .reset = true};
  }
  return std::nullopt;
}

}  // namespace hivemind::net
