#pragma once
/// \file
/// `Runtime`: the compute threads of an expert server. They take batches from a set of
/// `TaskPool`s (always serving the pool with the oldest waiting work) and run them.
/// hivemind: hivemind/moe/server/runtime.py (see shared/reference §1.7).

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "hivemind/moe/task_pool.hpp"

namespace hivemind::moe {

/// Options of a Runtime.
struct RuntimeOptions {
  /// Compute threads. Each runs one batch at a time; two threads never run batches of the same
  /// pool at once, so more threads than pools adds nothing.
  std::size_t num_threads = 1;
  /// When set, one log line per pool ("moe" logger, info) every interval: batches/s,
  /// samples/s and mean batch size since the previous line. Seconds.
  std::optional<std::chrono::duration<double>> stats_report_interval{};
};

/// Runs the batches of its pools on `num_threads` compute threads.
///
/// Scheduling: an idle thread takes, among the pools that are not being processed and hold at
/// least min_batch_size queued samples, the one whose oldest waiting task is oldest (ties: the
/// earlier submission). This deliberately deviates from hivemind, whose runtime picks the pool
/// with the smallest "priority" = enqueue time of the newest task of that pool's previous batch;
/// oldest-waiting-first bounds every task's wait by the work queued before it. The thread then
/// forms a batch of whole tasks up to max_batch_size (TaskPool), runs it, splits the outputs and
/// completes the tasks; errors and exceptions go to every task of that batch and the runtime goes
/// on. Idle threads sleep on a condition variable (no polling).
///
/// Thread affinity: construct, start() and stop() from one controlling thread; pools may be
/// submitted to from any thread. Ownership: shares ownership of the pools; each pool may belong
/// to one Runtime only, and is closed for good when the Runtime stops.
class Runtime {
 public:
  /// Attaches to the pools (throws std::invalid_argument if one is null or already attached to
  /// another Runtime, or num_threads is 0). Tasks submitted before start() wait in the queues.
  Runtime(std::vector<std::shared_ptr<TaskPool>> pools, RuntimeOptions options);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  /// Calls stop().
  ~Runtime();

  /// Starts the compute threads (and the stats reporter when configured). Throws
  /// std::invalid_argument if called twice or after stop().
  void start();

  /// Stops: every queued task (in every pool) completes with MoeErrc::kShuttingDown and further
  /// submits are refused with it; batches already running finish and deliver their results; the
  /// threads are joined before it returns. Idempotent. Must not be called from a compute thread
  /// (i.e. from a batch function or a task completion).
  void stop();

  /// The pools, in the order given.
  const std::vector<std::shared_ptr<TaskPool>>& pools() const noexcept { return pools_; }

 private:
  struct Shared;

  void compute_loop();
  void report_loop(std::vector<PoolStats> previous, std::chrono::steady_clock::time_point last);

  std::vector<std::shared_ptr<TaskPool>> pools_;
  RuntimeOptions options_;
  std::shared_ptr<Shared> shared_;  // scheduler state; shared with the pools' wake-up callbacks
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace hivemind::moe
