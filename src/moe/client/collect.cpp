#include "collect.hpp"

namespace hivemind::moe::client {
namespace {

// How long cancelled calls get to complete (a reset is local: this is a safety bound).
constexpr auto kDrainGrace = std::chrono::seconds(2);

}  // namespace

asio::awaitable<void> collect(std::shared_ptr<CallBatch> batch,
                              ResponseCollector& collector,
                              CallHandler handle) {
  using Clock = ResponseCollector::Clock;
  while (!collector.done(Clock::now())) {
    auto result = co_await batch->async_next(collector.deadline());
    if (result)
      collector.on_finished(result->index, handle(*result), Clock::now());
  }
  batch->cancel();
  const auto until = Clock::now() + kDrainGrace;
  while (co_await batch->async_next(until)) {
  }
}

}  // namespace hivemind::moe::client
