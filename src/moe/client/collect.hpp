#pragma once
// Drives a CallBatch until its ResponseCollector says the pass is done: each completed call is
// handed to `handle` (which decodes it on the caller's thread and says whether it succeeded);
// then every unfinished call is cancelled and its completion awaited, so that no call outlives
// the pass.

#include <functional>
#include <memory>

#include <asio/awaitable.hpp>

#include "call_batch.hpp"
#include "response_collector.hpp"

namespace hivemind::moe::client {

/// Decodes one completed call; returns whether it counts as an answer.
using CallHandler = std::function<bool(CallResult&)>;

/// For a coroutine on a single-threaded executor (or strand) other than the network thread.
asio::awaitable<void> collect(std::shared_ptr<CallBatch> batch,
                              ResponseCollector& collector,
                              CallHandler handle);

}  // namespace hivemind::moe::client
