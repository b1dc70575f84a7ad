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

  Host& host_;
  asio::ip::tcp::socket socket_;
  std::optional<NoiseTransport> noise_;
  Bytes early_plaintext_;
  YamuxSession session_;
  PeerId remote_;
  bool outbound_;
  Multiaddr remote_addr_;
  std::unordered_map<std::uint32_t, Stream*> streams_;
  AsyncSignal writer_signal_;
  AsyncSignal drained_signal_;
  bool closed_ = false;
  std::error_code close_reason_;
  std::chrono::steady_clock::time_point idle_since_ = std::chrono::steady_clock::now();
};

}  // namespace hivemind::net
