// TaskPool::run: the coroutine adapter over submit().
//
// It is an asio asynchronous operation (async_initiate with use_awaitable), not a coroutine of
// its own: the completion handler is the awaiting coroutine. That gives two things for free:
// - the handler's associated executor is the caller's executor, so the compute thread posts the
//   result there and the coroutine resumes on the caller's thread;
// - the handler's associated cancellation slot is the caller's, so when the caller is cancelled
//   (a `||` with a timer, TaskGroup::stop, the RPC layer dropping a disconnected caller) the slot
//   handler cancels the task if it is still queued. The task then completes with kCancelled,
//   which is posted back like any other result (the operation always completes exactly once).

#include <memory>
#include <optional>
#include <utility>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/use_awaitable.hpp>

#include "hivemind/moe/task_pool.hpp"

namespace hivemind::moe {
namespace {

using TaskResult = Result<std::vector<at::Tensor>>;

// Initiation of the run operation. Holds the pool alive until the task is submitted.
struct RunInitiation {
  std::shared_ptr<TaskPool> pool;
  std::vector<at::Tensor> inputs;

  template <typename Handler>
  void operator()(Handler handler) {
    // The caller's executor, marked as having outstanding work so that its io_context does not
    // run out of work while the task waits on a compute thread.
    auto executor = asio::prefer(asio::get_associated_executor(handler),
                                 asio::execution::outstanding_work.tracked);
    auto slot = asio::get_associated_cancellation_slot(handler);
    // std::function needs a copyable callable; the handler is move-only, so it lives in a shared
    // box that the single completion empties.
    auto box = std::make_shared<std::optional<Handler>>(std::move(handler));
    auto done = [box, executor](TaskResult result) mutable {
      auto ex = std::move(executor);
      asio::post(ex, [box = std::move(box), result = std::move(result)]() mutable {
        auto h = std::move(**box);
        box->reset();
        std::move(h)(std::move(result));  // clears the caller's cancellation slot, then resumes
      });
    };
    auto task = pool->submit(std::move(inputs), std::move(done));
    pool.reset();
    if (slot.is_connected()) {
      // Runs on the caller's thread when the caller is cancelled; the handler may already have
      // been posted (cancel() then returns false and the result arrives as usual).
      std::weak_ptr<PendingTask> weak = task;
      slot.assign([weak](asio::cancellation_type) {
        if (auto t = weak.lock())
          t->cancel();
      });
    }
  }
};

}  // namespace

asio::awaitable<Result<std::vector<at::Tensor>>> TaskPool::run(std::vector<at::Tensor> inputs) {
  RunInitiation initiation{shared_from_this(), std::move(inputs)};
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(TaskResult)>(
      std::move(initiation), asio::use_awaitable);
}

}  // namespace hivemind::moe
