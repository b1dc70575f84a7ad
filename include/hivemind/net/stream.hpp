#pragma once
/// \file
/// `Stream`: one multiplexed, negotiated libp2p stream (a Yamux stream over a secured connection).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

#include "hivemind/core/async_signal.hpp"
#include "hivemind/core/bytes.hpp"
#include "hivemind/net/multiaddr.hpp"
#include "hivemind/net/peer_id.hpp"

namespace hivemind::net {

class Connection;

/// A bidirectional byte stream to one remote peer, with half-close. Created by `Host::new_stream`
/// (outbound) or handed to a stream handler (inbound). Held by `shared_ptr`; destroying the last
/// reference resets the stream unless both sides closed it. Thread affinity: the host's network
/// thread; at most one reader and one writer coroutine at a time.
class Stream : public std::enable_shared_from_this<Stream> {
 public:
  /// Internal: use Host::new_stream or a stream handler.
  Stream(std::shared_ptr<Connection> connection, std::uint32_t id);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  /// Appends between 1 and `max` bytes to `out`, waiting until some arrive. Returns 0 at the end
  /// of the stream (the remote closed its side and everything was read). Errors: kStreamReset,
  /// kConnectionClosed, kProtocolNotSupported (optimistic negotiation refused by the remote).
  asio::awaitable<Result<std::size_t>> read_some(Bytes& out, std::size_t max);
  /// Reads exactly `n` bytes (appended to `out`); kStreamClosed if the stream ends first.
  asio::awaitable<Result<void>> read_exact(Bytes& out, std::size_t n);
  /// Reads until the remote closes its side; kMessageTooLarge beyond `limit` bytes.
  asio::awaitable<Result<Bytes>> read_to_end(std::size_t limit);
  /// Writes all of `data`, waiting for flow-control credit as needed (a slow reader slows the
  /// writer; memory stays bounded). Errors: kStreamReset, kStreamClosed, kConnectionClosed.
  asio::awaitable<Result<void>> write(BytesView data);
  /// Half-close: the remote reads end-of-stream after the data already written. On a stream
  /// opened optimistically, the FIN is sent once the first read has confirmed the protocol.
  Result<void> close_write();
  /// Aborts both directions at once (RST); pending reads and writes fail with kStreamReset.
  void reset();

  /// The authenticated remote peer.
  const PeerId& remote_peer() const;
  /// The remote transport address of the connection.
  const Multiaddr& remote_addr() const;

  /// The negotiated protocol id ("" until negotiation completes).
  const std::string& protocol() const { return protocol_; }

  /// Yamux stream id (odd: opened by the dialer of the connection).
  std::uint32_t id() const { return id_; }

  // --- used by the networking layer itself ---
  void set_protocol(std::string protocol) { protocol_ = std::move(protocol); }

  /// Optimistic negotiation: the first read must first consume the multistream echo of
  /// `protocol` (we pipelined the proposal with our first data).
  void expect_negotiation_echo(std::string protocol);
  /// Puts bytes back in front of the received data (read ahead during negotiation).
  void unread(BytesView data);

  /// Wakes readers and writers (called by the connection on stream events).
  void notify() { signal_.notify_all(); }

  /// Records that the remote reset the stream, then wakes everyone.
  void on_remote_reset() {
    reset_by_remote_ = true;
    signal_.notify_all();
  }

 private:
  asio::awaitable<Result<void>> finish_optimistic_negotiation();
  /// Reads whatever is available without waiting; 0 if nothing (or at the end).
  std::size_t take_buffered(Bytes& out, std::size_t max);

  std::shared_ptr<Connection> connection_;
  std::uint32_t id_;
  AsyncSignal signal_;
  Bytes unread_;  // bytes put back by negotiation
  std::size_t unread_offset_ = 0;
  std::string protocol_;
  std::optional<std::string> pending_echo_;  // optimistic negotiation not yet confirmed
  bool reset_locally_ = false;
  bool reset_by_remote_ = false;
  bool fin_after_negotiation_ = false;  // close_write() called before the echo was checked  // the
                                        // session forgets streams; this tells reset from closed
};

}  // namespace hivemind::net
