#pragma once
/// \file
/// Yamux 1.0.0 session state machine (stream multiplexing over one secured connection), with no
/// I/O: the driver feeds received bytes to `receive`, takes events with `take_events`, calls the
/// local actions (open, write, read, close, reset, ping, go-away) and writes whatever
/// `take_outbound` returns to the connection, in order. Flow control is per stream, credit based
/// (256 KiB initial window each way); a reader that stops reading stops the remote writer.
/// Wire format and the choices this implementation makes: docs/protocols/yamux.md.

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/yamux_frame.hpp"

namespace hivemind::net {

/// Limits and windows of one session. Aggregate; defaults are the values used on the wire by
/// go-libp2p and rust-libp2p where they exist.
struct YamuxOptions {
  /// Per-stream receive window in bytes (>= kYamuxInitialWindow, HM_CHECKed). Above 256 KiB it is
  /// advertised with the window update that carries our SYN or ACK. At most this many received
  /// bytes are ever buffered per stream.
  std::uint32_t receive_window = kYamuxInitialWindow;
  /// Window auto-tuning: when a stream's reader keeps up (its buffer is empty when a window
  /// update is due), the window doubles, up to this many bytes (>= receive_window). A stream
  /// whose reader falls behind keeps the window it has, so memory stays bounded by this value
  /// per stream and by `window_growth_budget` per session. Set equal to receive_window to
  /// disable. go-yamux and js-yamux grow to 16 MiB too.
  std::uint32_t max_receive_window = 16 * 1024 * 1024;
  /// Sum over all streams of (window - receive_window) that auto-tuning may grant.
  std::size_t window_growth_budget = 64 * 1024 * 1024;
  /// Outgoing data is split into DATA frames of at most this many payload bytes (> 0).
  std::uint32_t max_frame_payload = 64 * 1024;
  /// Concurrently open remote-initiated streams; a SYN beyond this is answered with RST.
  std::size_t max_inbound_streams = 512;
  /// Concurrently open locally opened streams; open_stream fails with kTooManyStreams beyond.
  std::size_t max_outbound_streams = 4096;
  /// kInboundStream events queued but not yet taken with take_events(); a SYN beyond this is
  /// answered with RST (this bounds the event queue when the driver falls behind).
  std::size_t max_pending_inbound = 256;
  /// Locally opened streams the remote has not acknowledged yet (the libp2p "ACK backlog",
  /// spec: at most 256); open_stream fails with kTooManyStreams beyond.
  std::size_t max_ack_backlog = 256;
  /// Stream ids reset (by either side, or refused) that are remembered so that late frames for
  /// them are dropped silently and writes report kStreamReset. Oldest forgotten first.
  std::size_t max_remembered_resets = 1024;
};

/// Which side of the connection we are: the client (dialer) opens odd stream ids, the server
/// (listener) even ones.
enum class YamuxRole { kClient, kServer };

/// Something the driver must react to. Events of one kind for one stream are coalesced until taken.
struct YamuxEvent {
  enum class Kind {
    kInboundStream,  ///< the remote opened `stream` (we already queued the ACK)
    kReadable,       ///< new data is buffered for `stream`
    kWritable,       ///< the send window of `stream` grew (writers may continue)
    kRemoteClosed,   ///< FIN received on `stream`: no more data will arrive (buffered data
                     ///< remains readable)
    kReset,          ///< `stream` was reset by the remote; it is gone
    kPong,           ///< a ping we sent was answered; `value` = opaque
    kGoAway,         ///< remote sent go-away; `value` = error code; no new inbound streams will
                     ///< come and open_stream fails
  };
  Kind kind;
  std::uint32_t stream = 0;  ///< the stream concerned; 0 for kPong and kGoAway
  std::uint32_t value = 0;   ///< kPong: the opaque value; kGoAway: the error code; else 0
  friend bool operator==(const YamuxEvent&, const YamuxEvent&) = default;
};

/// One Yamux session (one per connection). Not thread-safe: every method runs on the connection's
/// network thread. Owns all stream buffers; memory is bounded by the options (receive buffers by
/// `receive_window` per stream, streams and queued events by the stream limits) except the
/// outbound buffer, which grows with what the caller writes and with replies to received frames
/// (proportional to the input): the driver drains it with take_outbound().
class YamuxSession {
 public:
  /// HM_CHECKs the options (receive_window >= 256 KiB, max_frame_payload > 0).
  explicit YamuxSession(YamuxRole role, YamuxOptions options = {});

  // --- remote input ---

  /// Parses frames from `bytes` (untrusted; any split; a partial frame is buffered, payload bytes
  /// are copied once, straight into the stream's buffer). Appends events (take_events()) and
  /// queues automatic replies (ping ACK, stream ACK, RST for refused streams). Window updates are
  /// sent by read(). A fatal protocol error (bad version/type, data beyond the receive window,
  /// data on an unknown stream other than one reset recently, wrong stream id parity, stream ids
  /// not increasing, frames for the session with a stream id or vice versa, window overflow...)
  /// returns NetErrc::kProtocolViolation and queues GoAway(protocol error); the caller then
  /// flushes outbound and closes the connection. Every later call fails the same way.
  Result<void> receive(BytesView bytes);

  /// Moves out the queued events, oldest first.
  std::vector<YamuxEvent> take_events();

  // --- local actions (each appends frames to the outbound buffer) ---

  /// Opens a stream: queues a WindowUpdate with SYN (delta = receive_window - 256 KiB) and returns
  /// its id. Data may be written at once. Errors: kGoAway after the remote's go-away or our own
  /// (or a protocol failure), kTooManyStreams (max_outbound_streams, max_ack_backlog, or ids
  /// exhausted).
  Result<std::uint32_t> open_stream();

  /// Queues up to min(data.size(), send window) bytes as DATA frames (<= max_frame_payload each);
  /// returns bytes accepted (0 when the window is exhausted: wait for kWritable). Copies `data`
  /// once into the outbound buffer. Errors: kStreamReset (reset recently by either side),
  /// kStreamClosed (we already closed our side, or unknown stream).
  Result<std::size_t> write(std::uint32_t stream, BytesView data);

  /// For callers that emit DATA frames themselves (the Noise connection seals a header and the
  /// caller's payload straight to the wire): takes send credit for up to `want` bytes and returns
  /// how much was granted (0 when the window is exhausted). The caller must then send exactly
  /// that many bytes as DATA frames of this stream, after every frame already queued here (take
  /// the outbound buffer first). Same errors as write().
  Result<std::size_t> take_send_credit(std::uint32_t stream, std::size_t want);

  /// Moves up to `max` buffered received bytes of `stream` into `out` (appends) and returns how
  /// many (0 for an unknown stream). When `out` is empty and the oldest received chunk (one per
  /// large DATA frame) fits in `max`, that chunk is swapped into `out` instead of copied (`out`'s
  /// old capacity is dropped). When the
  /// consumed-but-not-yet-credited amount reaches half the receive window, queues a WindowUpdate
  /// for it. Forgets the stream when both sides have closed and its buffer is now empty.
  std::size_t read(std::uint32_t stream, std::size_t max, Bytes& out);

  /// Half-close: queues FIN (idempotent). Errors: kStreamReset (reset recently), kStreamClosed
  /// (unknown stream).
  Result<void> close_write(std::uint32_t stream);

  /// Queues RST and forgets the stream (no-op for an unknown stream). Frames still in flight for
  /// it are dropped silently.
  void reset(std::uint32_t stream);

  /// Queues a ping with `opaque`; the answer arrives as a kPong event carrying it.
  void ping(std::uint32_t opaque);

  /// Queues GoAway(code) once (later calls do nothing); afterwards open_stream fails and inbound
  /// SYNs are refused with RST. Open streams continue.
  void go_away(std::uint32_t code = 0);

  // --- queries ---

  /// State of one stream. For a stream reset recently (and still remembered) every field is zero
  /// or false except `reset`.
  struct StreamInfo {
    std::size_t readable;       ///< bytes buffered for read()
    std::uint32_t send_window;  ///< bytes write() would accept now
    bool remote_closed;         ///< FIN received
    bool local_closed;          ///< FIN sent
    bool reset;                 ///< reset by either side (the stream is gone)
  };

  /// The stream's state; nullopt for an unknown stream or one closed and forgotten (or reset
  /// and no longer remembered). Streams are forgotten automatically when both sides closed and
  /// the buffer was drained, and when reset by either side (then `reset` is reported while the
  /// id is among the last max_remembered_resets).
  std::optional<StreamInfo> stream_info(std::uint32_t stream) const;

  /// Streams currently known (open in at least one direction, or closed with data unread).
  std::size_t open_stream_count() const noexcept { return streams_.size(); }

  /// Whether there are outbound bytes to write to the connection.
  bool has_outbound() const noexcept { return !outbound_.empty(); }

  /// Number of outbound bytes queued (a driver may stop reading while this is large).
  std::size_t outbound_size() const noexcept { return outbound_.size(); }

  /// Moves the outbound bytes out, to be written to the connection in order (the session
  /// starts a new, empty buffer).
  Bytes take_outbound();

  /// As take_outbound(), swapping the outbound bytes into `buffer`: its old contents are
  /// discarded and its capacity is kept for the next outbound bytes (no reallocation per batch).
  void take_outbound(Bytes& buffer);

  /// Whether we queued a go-away (go_away() or a protocol failure).
  bool local_go_away() const noexcept { return local_go_away_; }

  /// Whether the remote sent go-away.
  bool remote_go_away() const noexcept { return remote_go_away_; }

  /// Whether receive() has failed with a protocol violation (the session is dead).
  bool failed() const noexcept { return failed_; }

 private:
  /// FIFO of received bytes in chunks: append copies once, read copies once (or not at all: a
  /// whole chunk that an empty `out` can take is swapped into it), O(n) overall.
  class RecvBuffer {
   public:
    /// Appends `data`, part of a DATA frame of which `frame_left` bytes (>= data.size(),
    /// within the receive window) are still due, `data` included; `frame_start`: `data` is the
    /// frame's first piece.
    void append(BytesView data, std::size_t frame_left, bool frame_start);
    std::size_t read(std::size_t max, Bytes& out);

    std::size_t size() const noexcept { return size_; }

   private:
    std::deque<Bytes> chunks_;
    std::size_t head_ = 0;  // consumed bytes of chunks_.front()
    std::size_t size_ = 0;
  };

  struct Stream {
    RecvBuffer buffer;
    std::uint32_t send_window = kYamuxInitialWindow;
    std::uint32_t recv_credit = 0;  // bytes the remote may still send
    std::uint32_t consumed = 0;     // read but not yet credited back
    std::uint32_t window = 0;       // current receive window (grows by auto-tuning)
    bool inbound = false;
    bool acked = false;  // outbound: the remote's ACK arrived
    bool local_closed = false;
    bool remote_closed = false;
    bool readable_queued = false;
    bool writable_queued = false;
  };

  bool is_local_id(std::uint32_t id) const noexcept;
  Result<void> fail();
  Result<void> on_header(const YamuxHeader& h);
  Result<void> on_stream_frame(const YamuxHeader& h);
  Result<void> on_unknown_stream_frame(const YamuxHeader& h);
  Result<Stream*> on_syn(const YamuxHeader& h);
  void start_payload(std::uint32_t length, std::uint32_t stream, bool discard, bool fin);
  void deliver_payload(BytesView chunk);
  void finish_payload();
  void apply_remote_fin(std::uint32_t id, Stream& s);
  void forget_if_done(std::uint32_t id, Stream& s);
  void forget(std::uint32_t id, Stream& s);
  void remember_reset(std::uint32_t id);
  void queue_frame(YamuxType type, std::uint16_t flags, std::uint32_t stream, std::uint32_t length);
  void reserve_outbound(std::size_t extra);

  YamuxRole role_;
  YamuxOptions options_;
  std::unordered_map<std::uint32_t, Stream> streams_;
  std::size_t inbound_count_ = 0;
  std::size_t outbound_count_ = 0;
  std::size_t window_growth_ = 0;  // sum of (window - receive_window) over live streams
  std::size_t ack_backlog_ = 0;
  std::uint64_t next_outbound_id_;
  std::uint32_t last_inbound_id_ = 0;
  std::unordered_set<std::uint32_t> recent_resets_;
  std::deque<std::uint32_t> recent_reset_order_;
  std::vector<YamuxEvent> events_;
  std::size_t pending_inbound_events_ = 0;
  std::uint32_t outstanding_pings_ = 0;
  Bytes outbound_;
  bool local_go_away_ = false;
  bool remote_go_away_ = false;
  bool failed_ = false;
  // Receive parser: a header being assembled, or the rest of a DATA payload.
  std::array<std::uint8_t, kYamuxHeaderSize> header_buf_{};
  std::size_t header_fill_ = 0;
  std::uint32_t payload_left_ = 0;
  std::uint32_t payload_stream_ = 0;
  bool payload_discard_ = false;
  bool payload_fin_ = false;
  bool payload_start_ = false;  // no byte of the current DATA payload delivered yet
};

}  // namespace hivemind::net
