#pragma once
/// \file
/// `TaskPool`: a queue of expert tasks (one client request each) that a `Runtime` merges into
/// batches and runs through one batch function (an expert's forward or backward). The pool is the
/// meeting point of the network threads (which submit) and the runtime's compute threads.
/// hivemind: hivemind/moe/server/task_pool.py (see shared/reference §1.7).

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <asio/awaitable.hpp>

#include "hivemind/core/result.hpp"

namespace hivemind::moe {

/// Runs one batch on a runtime compute thread. Input i is the dim-0 concatenation of input i of
/// every task in the batch (in queue order). Every output must have the batch's size on dim 0;
/// the runtime splits it back row-wise. An error or exception reaches every task of the batch.
using BatchFunction = std::function<Result<std::vector<at::Tensor>>(std::vector<at::Tensor> batch)>;

/// Called exactly once per submitted task with its outputs (this task's rows only) or an error.
/// It runs on the thread that settled the task: a runtime compute thread (results), the thread
/// that called submit (rejections), cancel (kCancelled) or Runtime::stop (kShuttingDown). It must
/// not block for long and must not throw (a throw is logged and dropped).
using TaskCompletion = std::function<void(Result<std::vector<at::Tensor>>)>;

/// Options of one pool. Sizes count samples (rows on dim 0), not tasks.
struct TaskPoolOptions {
  std::string name{};                   ///< for log lines and stats, e.g. "expert.0_forward"
  std::int64_t max_batch_size = 4096;   ///< a batch never holds more samples; larger tasks refused
  std::int64_t min_batch_size = 1;      ///< a batch waits until this many samples are queued
  std::int64_t max_queued_samples = 0;  ///< queue limit; 0 means 8 * max_batch_size
};

/// Counters of one pool since its creation. `rejected` counts tasks refused by submit (too
/// large, queue full, empty, pool closed); cancelled tasks are not counted anywhere.
struct PoolStats {
  std::uint64_t batches = 0;  ///< batches run (including failed ones)
  std::uint64_t samples = 0;  ///< samples in those batches
  std::uint64_t tasks = 0;    ///< tasks in those batches
  std::uint64_t rejected = 0;
};

class TaskPool;

/// A handle on a submitted task. Thread-safe. Owned jointly by the submitter and the pool.
class PendingTask {
 public:
  /// If the task has not started (still queued), removes it, completes it with
  /// MoeErrc::kCancelled on the calling thread and returns true; it never runs. Returns false
  /// when it has already started or completed. Any thread.
  bool cancel();

  /// Samples in the task (rows of its first input).
  std::int64_t size() const noexcept { return size_; }

 private:
  friend class TaskPool;
  enum class State { kQueued, kRunning, kDone };

  PendingTask(std::weak_ptr<TaskPool> pool,
              std::vector<at::Tensor> inputs,
              TaskCompletion done,
              std::int64_t size);

  std::weak_ptr<TaskPool> pool_;
  std::vector<at::Tensor> inputs_;
  TaskCompletion done_;
  std::int64_t size_;
  std::chrono::steady_clock::time_point enqueued_;
  std::uint64_t sequence_ = 0;
  // Guarded by the pool's mutex.
  State state_ = State::kQueued;
  std::list<std::shared_ptr<PendingTask>>::iterator position_;
};

/// A thread-safe queue of tasks for one batch function. Must be owned by a std::shared_ptr
/// (create it with std::make_shared): submit() and run() take shared ownership of it. Tasks wait
/// until a `Runtime` that was given this pool runs them; one pool belongs to at most one Runtime,
/// and once that Runtime stops the pool is closed for good.
class TaskPool : public std::enable_shared_from_this<TaskPool> {
 public:
  using Completion = TaskCompletion;
  using Clock = std::chrono::steady_clock;

  /// Throws std::invalid_argument (HM_CHECK) unless 1 <= min_batch_size <= max_batch_size,
  /// max_queued_samples >= 0 and `fn` is set.
  TaskPool(TaskPoolOptions options, BatchFunction fn);
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;
  /// Completes every still-queued task with MoeErrc::kShuttingDown.
  ~TaskPool();

  /// Queues a task whose size is inputs[0].size(0); every input must have that size on dim 0.
  /// Refusals call `done` at once on this thread and keep nothing: kEmptyBatch (no inputs or
  /// zero rows), kSchemaMismatch (undefined/0-dim inputs, differing dim-0 sizes),
  /// kBatchTooLarge (size > max_batch_size), kQueueFull (queued samples would exceed the
  /// limit), kShuttingDown (pool closed). Any thread. Returns a handle for cancel().
  std::shared_ptr<PendingTask> submit(std::vector<at::Tensor> inputs, Completion done);

  /// Coroutine adapter for submit(): completes with the task's result, resuming on the caller's
  /// executor (posted back from the compute thread; the caller's executor is kept busy until
  /// then, so it must outlive the task, i.e. stop the Runtime first). When the awaiting coroutine
  /// is cancelled (any cancellation type, e.g. the RPC layer cancelling the handler of a caller
  /// that disconnected, or `||` with a timer), the task is cancelled if it has not started and the
  /// await completes with kCancelled; a started task runs to its end and its result is delivered.
  asio::awaitable<Result<std::vector<at::Tensor>>> run(std::vector<at::Tensor> inputs);

  /// Counters (a consistent snapshot). Any thread.
  PoolStats stats() const;

  /// Enqueue time of the oldest queued task, or nullopt when none waits. Any thread.
  std::optional<Clock::time_point> oldest_waiting() const;

  /// Samples currently queued (not yet taken into a batch). Any thread.
  std::int64_t queued_samples() const;

  /// The options given at construction (immutable).
  const TaskPoolOptions& options() const noexcept { return options_; }

  /// options().name.
  const std::string& name() const noexcept { return options_.name; }

 private:
  friend class PendingTask;
  friend class Runtime;
  /// Sort key of the oldest queued task: (enqueue time, global submission number).
  using Priority = std::pair<Clock::time_point, std::uint64_t>;

  // --- used by Runtime (any thread) ---
  /// Registers the runtime's wake-up callback (called after each successful submit).
  void attach(std::function<void()> notify);
  /// Priority of the pool if a batch can be formed now (queued samples >= min_batch_size).
  std::optional<Priority> ready_priority() const;
  /// Takes whole tasks from the front, up to max_batch_size samples; marks them running.
  std::vector<std::shared_ptr<PendingTask>> take_batch();
  /// Concatenates, runs the batch function, splits and completes every task. No locks held.
  void process(std::vector<std::shared_ptr<PendingTask>> batch);
  Result<std::vector<at::Tensor>> run_batch(std::vector<std::shared_ptr<PendingTask>>& batch,
                                            std::int64_t total) const;
  /// Refuses further submits and fails every queued task with kShuttingDown.
  void close();

  bool cancel_task(PendingTask& task);
  std::shared_ptr<PendingTask> reject(std::vector<at::Tensor> inputs, Completion& done, Err error);

  const TaskPoolOptions options_;
  const std::int64_t queue_limit_;
  const BatchFunction fn_;

  mutable std::mutex mutex_;
  std::list<std::shared_ptr<PendingTask>> queue_;  // guarded by mutex_
  std::int64_t queued_samples_ = 0;                // guarded by mutex_
  bool closed_ = false;                            // guarded by mutex_
  bool attached_ = false;                          // guarded by mutex_
  std::function<void()> notify_;                   // guarded by mutex_
  PoolStats stats_;                                // guarded by mutex_
};

}  // namespace hivemind::moe
