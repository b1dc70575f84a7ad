#pragma once
// SIGINT/SIGTERM handling for the tools without async-signal-unsafe handlers: the signals are
// blocked in every thread and collected synchronously by the main thread.
#include <chrono>
#include <optional>

namespace hivemind::tools {

/// Blocks SIGINT and SIGTERM in the calling thread and in every thread it starts afterwards.
/// Call first thing in main().
void block_termination_signals();

/// Waits up to `timeout` for SIGINT or SIGTERM; returns the signal number, or nullopt on timeout.
std::optional<int> wait_for_termination(std::chrono::milliseconds timeout);

}  // namespace hivemind::tools
