#include "hivemind/core/task_group.hpp"

#include <cassert>
#include <exception>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/system_error.hpp>
#include <asio/use_awaitable.hpp>

#include "hivemind/core/log.hpp"

namespace hivemind {

TaskGroup::TaskGroup(asio::any_io_executor executor, std::string name)
    : executor_(std::move(executor)),
      name_(std::move(name)),
      idle_signal_(
          std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max())) {}

TaskGroup::~TaskGroup() {
  assert(tasks_.empty() && "TaskGroup destroyed with running tasks");
}

void TaskGroup::spawn(asio::awaitable<void> task) {
  if (stopping_)
    return;
  auto it = tasks_.emplace(tasks_.end());
  asio::co_spawn(executor_,
                 std::move(task),
                 asio::bind_cancellation_slot(it->signal.slot(), [this, it](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const asio::system_error& ex) {
                       if (ex.code() != asio::error::operation_aborted) {
                         logger("core")->warn("{}: task ended with error: {}", name_, ex.what());
                       }
                     } catch (const std::exception& ex) {
                       logger("core")->warn("{}: task ended with exception: {}", name_, ex.what());
                     } catch (...) {
                       logger("core")->warn("{}: task ended with unknown exception", name_);
                     }
                   }
                   on_task_done(it);
                 }));
}

void TaskGroup::on_task_done(std::list<Entry>::iterator it) {
  tasks_.erase(it);
  if (tasks_.empty()) {
    // Wake every waiter; re-arm the timer for the next time the group drains.
    idle_signal_->cancel();
    idle_signal_->expires_at(asio::steady_timer::time_point::max());
  }
}

asio::awaitable<void> TaskGroup::wait_idle() {
  while (!tasks_.empty()) {
    auto signal = idle_signal_;  // keep the timer alive even if the group is destroyed meanwhile
    co_await signal->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> TaskGroup::stop() {
  stopping_ = true;
  for (auto& entry : tasks_)
    entry.signal.emit(asio::cancellation_type::terminal);
  co_await wait_idle();
}

}  // namespace hivemind
