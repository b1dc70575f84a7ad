#pragma once
// Connection: one upgraded (secured + Yamux) connection to a remote peer. Runs a read loop
// (socket -> Noise -> Yamux session -> stream wakeups) and a write loop (Yamux outbound -> Noise
// -> socket), both in the host's task group. Network thread only.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "hivemind/core/async_signal.hpp"
#include "hivemind/net/multiaddr.hpp"
#include "hivemind/net/noise.hpp"
#include "hivemind/net/peer_id.hpp"
#include "hivemind/net/yamux.hpp"
#include "wire_buffer.hpp"

namespace hivemind::net {

class Host;
class Stream;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  /// Outbound plaintext above this waits for the write loop before more is queued.
  static constexpr std::size_t kOutboundHighWater = 1024 * 1024;

  Connection(Host& host,
             asio::ip::tcp::socket socket,
             std::optional<NoiseTransport> noise,
             Bytes early_plaintext,
             PeerId remote,
             bool outbound,
             Multiaddr remote_addr);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Spawns the read and write loops in the host's task group.
  void start();
  /// Sends go-away, closes the socket, fails every stream. Idempotent.
  void close(std::error_code reason);

  bool closed() const { return closed_; }

  std::error_code close_reason() const { return close_reason_; }

  /// Opens an outbound Yamux stream (not negotiated yet).
  Result<std::shared_ptr<Stream>> open_stream();

  YamuxSession& session() { return session_; }

  /// Wakes the write loop (after queueing frames in the session).
  void flush() { writer_signal_.notify_all(); }

  /// Queues up to data.size() bytes of `stream` data as far as its send window allows and wakes
  /// the write loop; returns the bytes taken (0: wait for a window update). On a Noise
  /// connection a large write is sealed at once, straight from `data` into the outgoing wire
  /// bytes (no plaintext copy); smaller ones are copied into the session's batch. Errors as
  /// YamuxSession::write.
  Result<std::size_t> write_data(std::uint32_t stream, BytesView data);

  /// Bytes queued for the socket: session frames not sealed yet plus sealed wire bytes.
  std::size_t outbound_size() const { return session_.outbound_size() + sealed_.size(); }

  /// Waits until the outbound queue is below the high-water mark (or the connection closed).
  asio::awaitable<void> wait_outbound_room();

  void register_stream(std::uint32_t id, Stream* stream) { streams_[id] = stream; }

  void unregister_stream(std::uint32_t id);

  asio::any_io_executor socket_executor() { return socket_.get_executor(); }

  const PeerId& remote_peer() const { return remote_; }

  const Multiaddr& remote_addr() const { return remote_addr_; }

  bool outbound() const { return outbound_; }

  std::size_t stream_count() const { return streams_.size(); }

  std::chrono::steady_clock::time_point idle_since() const { return idle_since_; }

 private:
  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();
  void dispatch_events();
  /// Noise: seals every frame queued in the session onto the end of `sealed_`.
  void seal_queued_frames();

  Host& host_;
  asio::ip::tcp::socket socket_;
  std::optional<NoiseTransport> noise_;
  Bytes early_plaintext_;
  YamuxSession session_;
  PeerId remote_;
  bool outbound_;
  Multiaddr remote_addr_;
  std::unordered_map<std::uint32_t, Stream*> streams_;
  Bytes plaintext_;            // Noise: takes turns with the session's outbound buffer
  detail::WireBuffer sealed_;  // Noise: wire bytes waiting for the write loop
  AsyncSignal writer_signal_;
  AsyncSignal drained_signal_;
  bool closed_ = false;
  std::error_code close_reason_;
  std::chrono::steady_clock::time_point idle_since_ = std::chrono::steady_clock::now();
};

}  // namespace hivemind::net
