#include "hivemind/core/async_signal.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace hivemind {

asio::awaitable<void> AsyncSignal::wait() {
  // The timer never expires; notify_all() cancels the pending waits, which is the wakeup.
  co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

}  // namespace hivemind
