#include "stream_watchdog.hpp"

#include <asio/this_coro.hpp>

namespace hivemind::net::detail {

StreamWatchdog::StreamWatchdog(const std::shared_ptr<Stream>& stream,
                               const asio::any_io_executor& executor,
                               std::chrono::steady_clock::duration timeout)
    : expired_(std::make_shared<bool>(false)), timer_(executor, timeout) {
  timer_.async_wait(
      [expired = expired_, weak = std::weak_ptr<Stream>(stream)](const std::error_code& ec) {
        if (ec)
          return;  // disarmed
        *expired = true;
        if (auto alive = weak.lock())
          alive->reset();
      });
}

StreamWatchdog::~StreamWatchdog() {
  disarm();
}

namespace {

asio::awaitable<Result<void>> drain(std::shared_ptr<Stream> stream) {
  Bytes scratch;
  while (true) {
    scratch.clear();
    HM_CO_TRY(std::size_t n, co_await stream->read_some(scratch, 64 * 1024));
    if (n == 0)
      co_return ok();
  }
}

}  // namespace

asio::awaitable<void> linger(std::shared_ptr<Stream> stream, std::chrono::milliseconds timeout) {
  StreamWatchdog deadline(stream, co_await asio::this_coro::executor, timeout);
  if (!co_await drain(stream))
    stream->reset();  // no-op when the deadline already did it
}

}  // namespace hivemind::net::detail
