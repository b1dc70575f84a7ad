#pragma once
// A set of expert calls in flight on a DHT node's host thread, handed back one result at a time,
// as they complete, to a coroutine on the caller's executor (blocking callers run that coroutine
// on a local io_context: run_blocking.hpp). Cancelling resets the streams of unfinished calls, so
// their servers drop the work. Thread-safe: start on any thread, results taken by one consumer.

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/error.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/moe/client/remote_call.hpp"

namespace hivemind::dht {
class DhtNode;
}

namespace hivemind::moe::client {

/// One call to make: where, and the serialized request.
struct PendingCall {
  net::PeerId peer;
  ExpertCallRequest request;
};

/// A completed call: its index in the batch and the reply messages or the failure.
struct CallResult {
  std::size_t index = 0;
  Result<std::vector<Bytes>> reply = Err(CoreErrc::kCancelled);
};

class CallBatch : public std::enable_shared_from_this<CallBatch> {
 public:
  using Clock = std::chrono::steady_clock;

  /// Starts every call on `network` (the node's host executor); each has deadline `timeout`.
  static std::shared_ptr<CallBatch> start(std::shared_ptr<dht::DhtNode> node,
                                          asio::any_io_executor network,
                                          std::vector<PendingCall> calls,
                                          std::chrono::milliseconds timeout);

  /// The next completed call, waiting until `until`; nullopt when `until` passed first or every
  /// result has been taken. The awaiting coroutine's executor must be single-threaded (or a
  /// strand) and not the network thread.
  asio::awaitable<std::optional<CallResult>> async_next(Clock::time_point until);

  /// Cancels every unfinished call (their results: MoeErrc::kCancelled). Any thread.
  void cancel();

  /// Call `index` as given (its request's messages are moved out once the call is sent).
  const PendingCall& call(std::size_t index) const { return calls_[index]; }

  std::size_t size() const noexcept { return calls_.size(); }

  /// Internal (public for make_shared).
  CallBatch(std::shared_ptr<dht::DhtNode> node,
            asio::any_io_executor network,
            std::vector<PendingCall> calls,
            std::chrono::milliseconds timeout);

 private:
  asio::awaitable<void> run_one(std::size_t index);
  void deliver(std::size_t index, Result<std::vector<Bytes>> reply);

  std::shared_ptr<dht::DhtNode> node_;
  asio::any_io_executor network_;
  std::vector<PendingCall> calls_;
  std::chrono::milliseconds timeout_;
  asio::steady_timer cancel_timer_;  // network thread only: cancelled to stop every call
  bool cancelled_ = false;           // network thread only

  std::mutex mutex_;
  std::deque<CallResult> ready_;
  std::size_t outstanding_;
  std::shared_ptr<asio::steady_timer> waiter_;  // an async_next waiting, woken by delivery
};

}  // namespace hivemind::moe::client
