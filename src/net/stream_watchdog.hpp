#pragma once
// Deadlines on one stream, enforced by resetting it: StreamWatchdog, and linger (the clean end of
// a stream). Private to the networking layer.

#include <chrono>
#include <memory>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "hivemind/net/stream.hpp"

namespace hivemind::net::detail {

/// Resets `stream` if the watchdog is still alive `timeout` after its construction; the pending
/// read or write then fails with kStreamReset and `expired()` tells that it was the deadline.
/// Cheaper than `with_timeout` around each operation: no coroutine and no timer per operation, and
/// an operation whose bytes are already buffered completes without a trip through the scheduler
/// (with_timeout resumes its caller only after the cancelled timer's completion was posted, which
/// let the write loop send a multistream answer on its own, ahead of the reply behind it).
/// Thread affinity: the stream's network thread. Holds the stream weakly; destroying the watchdog
/// disarms it.
class StreamWatchdog {
 public:
  StreamWatchdog(const std::shared_ptr<Stream>& stream,
                 const asio::any_io_executor& executor,
                 std::chrono::steady_clock::duration timeout);
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;
  ~StreamWatchdog();

  /// True once the deadline passed (and the stream was reset).
  bool expired() const { return *expired_; }

  /// Stops watching; the stream is left alone from now on.
  void disarm() { timer_.cancel(); }

 private:
  std::shared_ptr<bool> expired_;  // shared with the timer's handler, which may run after us
  asio::steady_timer timer_;
};

/// Waits until the remote closes its side, discarding anything it still sends, for at most
/// `timeout`; resets the stream if the remote does not close cleanly in time.
asio::awaitable<void> linger(std::shared_ptr<Stream> stream, std::chrono::milliseconds timeout);

}  // namespace hivemind::net::detail
