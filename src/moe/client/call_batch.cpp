#include "call_batch.hpp"

#include <functional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "hivemind/dht/node.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe::client {
namespace {

// Delivers a result when the coroutine frame is destroyed without having delivered one (its
// io_context stopped), so that no waiter waits forever.
class DeliveryGuard {
 public:
  explicit DeliveryGuard(std::function<void()> on_abandon) : on_abandon_(std::move(on_abandon)) {}

  DeliveryGuard(const DeliveryGuard&) = delete;
  DeliveryGuard& operator=(const DeliveryGuard&) = delete;

  ~DeliveryGuard() {
    if (on_abandon_)
      on_abandon_();
  }

  void delivered() { on_abandon_ = nullptr; }

 private:
  std::function<void()> on_abandon_;
};

}  // namespace

CallBatch::CallBatch(std::shared_ptr<dht::DhtNode> node,
                     asio::any_io_executor network,
                     std::vector<PendingCall> calls,
                     std::chrono::milliseconds timeout)
    : node_(std::move(node)),
      network_(std::move(network)),
      calls_(std::move(calls)),
      timeout_(timeout),
      cancel_timer_(network_, asio::steady_timer::time_point::max()),
      outstanding_(calls_.size()) {}

std::shared_ptr<CallBatch> CallBatch::start(std::shared_ptr<dht::DhtNode> node,
                                            asio::any_io_executor network,
                                            std::vector<PendingCall> calls,
                                            std::chrono::milliseconds timeout) {
  auto batch = std::make_shared<CallBatch>(std::move(node), network, std::move(calls), timeout);
  asio::post(network, [batch] {
    for (std::size_t i = 0; i < batch->calls_.size(); ++i)
      asio::co_spawn(batch->network_, batch->run_one(i), asio::detached);
  });
  return batch;
}

asio::awaitable<void> CallBatch::run_one(std::size_t index) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  auto self = shared_from_this();
  DeliveryGuard guard([self, index] {
    self->deliver(index, Err(MoeErrc::kShuttingDown, "the client's network thread stopped"));
  });
  if (cancelled_) {
    guard.delivered();
    deliver(index, Err(MoeErrc::kCancelled, "cancelled"));
    co_return;
  }
  // Only this coroutine touches calls_[index]: the request's bytes move into the call (no copy).
  ExpertCallRequest request = std::move(calls_[index].request);
  auto winner =
      co_await (send_request(node_->host(), calls_[index].peer, std::move(request), timeout_)
                || cancel_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
  guard.delivered();
  if (winner.index() == 0)
    deliver(index, std::move(std::get<0>(winner)));
  else
    deliver(index, Err(MoeErrc::kCancelled, "cancelled"));
}

void CallBatch::deliver(std::size_t index, Result<std::vector<Bytes>> reply) {
  // Everything under the lock, the count last: once the consumer sees nothing outstanding it may
  // return and destroy its executor, so this thread must be done with the consumer's timer (the
  // wake-up is posted, and the posted copy is the only one left) before that can happen.
  std::lock_guard lock(mutex_);
  ready_.push_back(CallResult{.index = index, .reply = std::move(reply)});
  if (waiter_) {
    std::shared_ptr<asio::steady_timer> waiter = std::move(waiter_);
    asio::post(waiter->get_executor(), [waiter] { waiter->cancel(); });
  }
  --outstanding_;
}

asio::awaitable<std::optional<CallResult>> CallBatch::async_next(Clock::time_point until) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    std::optional<CallResult> result;
    std::shared_ptr<asio::steady_timer> timer;
    {
      std::lock_guard lock(mutex_);
      if (!ready_.empty()) {
        result = std::move(ready_.front());
        ready_.pop_front();
      } else if (outstanding_ != 0 && Clock::now() < until) {
        timer = std::make_shared<asio::steady_timer>(executor, until);
        waiter_ = timer;
      }
    }
    if (!timer)
      co_return result;  // a result, or nothing more to wait for
    co_await timer->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    {
      std::lock_guard lock(mutex_);
      if (waiter_ == timer)
        waiter_.reset();
    }
  }
}

void CallBatch::cancel() {
  asio::post(network_, [self = shared_from_this()] {
    self->cancelled_ = true;
    self->cancel_timer_.cancel();
  });
}

}  // namespace hivemind::moe::client
