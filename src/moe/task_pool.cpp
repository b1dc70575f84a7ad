// TaskPool: queueing, cancellation and batch processing. Scheduling across pools lives in
// runtime.cpp; the coroutine adapter in task_pool_run.cpp.
//
// Differences from hivemind's TaskPool (hivemind/moe/server/task_pool.py, reference §1.7):
// - no process per pool and no shared memory: submitters and compute threads share one queue
//   under a mutex, and a Runtime thread forms and runs the batch itself;
// - the queue is bounded (max_queued_samples): a full queue refuses new tasks with kQueueFull
//   instead of growing without limit;
// - a cancelled task is removed at once and completes with kCancelled (hivemind skips it when
//   set_running_or_notify_cancel() fails while forming the batch);
// - outputs are checked to have the batch's size on dim 0 before they are split, so a bad expert
//   yields an error for every task instead of wrong rows.
// Like hivemind, a batch is formed from whole tasks in queue order, stops before a task that
// would exceed max_batch_size, and a pool waits until min_batch_size samples are queued.

#include "hivemind/moe/task_pool.hpp"

#include <atomic>
#include <exception>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "hivemind/core/check.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe {
namespace {

using TaskResult = Result<std::vector<at::Tensor>>;

// Global submission counter: breaks ties between equal enqueue times so that "oldest first"
// across pools follows submission order exactly.
std::atomic<std::uint64_t> g_sequence{0};

void complete(TaskCompletion& done, TaskResult result) {
  if (!done)
    return;
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    logger("moe")->error("task completion threw: {}", e.what());
  } catch (...) {
    logger("moe")->error("task completion threw a non-standard exception");
  }
}

}  // namespace

PendingTask::PendingTask(std::weak_ptr<TaskPool> pool,
                         std::vector<at::Tensor> inputs,
                         TaskCompletion done,
                         std::int64_t size)
    : pool_(std::move(pool)),
      inputs_(std::move(inputs)),
      done_(std::move(done)),
      size_(size),
      enqueued_(std::chrono::steady_clock::now()),
      sequence_(g_sequence.fetch_add(1, std::memory_order_relaxed)) {}

bool PendingTask::cancel() {
  auto pool = pool_.lock();
  return pool && pool->cancel_task(*this);
}

TaskPool::TaskPool(TaskPoolOptions options, BatchFunction fn)
    : options_(std::move(options)),
      queue_limit_(options_.max_queued_samples == 0 ? 8 * options_.max_batch_size
                                                    : options_.max_queued_samples),
      fn_(std::move(fn)) {
  HM_CHECK(options_.min_batch_size >= 1, "min_batch_size must be at least 1");
  HM_CHECK(options_.max_batch_size >= options_.min_batch_size,
           "max_batch_size must be at least min_batch_size");
  HM_CHECK(options_.max_queued_samples >= 0, "max_queued_samples must not be negative");
  HM_CHECK(static_cast<bool>(fn_), "a TaskPool needs a batch function");
}

TaskPool::~TaskPool() {
  close();
}

std::shared_ptr<PendingTask> TaskPool::reject(std::vector<at::Tensor> inputs,
                                              Completion& done,
                                              Err error) {
  {
    std::lock_guard lock(mutex_);
    ++stats_.rejected;
  }
  auto size =
      inputs.empty() || !inputs[0].defined() || inputs[0].dim() == 0 ? 0 : inputs[0].size(0);
  inputs.clear();
  std::shared_ptr<PendingTask> task(new PendingTask(weak_from_this(), {}, nullptr, size));
  task->state_ = PendingTask::State::kDone;
  complete(done, std::move(error));
  return task;
}

std::shared_ptr<PendingTask> TaskPool::submit(std::vector<at::Tensor> inputs, Completion done) {
  if (inputs.empty())
    return reject(std::move(inputs), done, Err(MoeErrc::kEmptyBatch, "a task has no inputs"));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || inputs[i].dim() == 0)
      return reject(std::move(inputs),
                    done,
                    Err(MoeErrc::kSchemaMismatch,
                        "input " + std::to_string(i) + " is undefined or has no batch dimension"));
  }
  const std::int64_t size = inputs[0].size(0);
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].size(0) != size)
      return reject(std::move(inputs),
                    done,
                    Err(MoeErrc::kSchemaMismatch,
                        "input " + std::to_string(i) + " has " + std::to_string(inputs[i].size(0))
                            + " rows, input 0 has " + std::to_string(size)));
  }
  if (size == 0)
    return reject(std::move(inputs), done, Err(MoeErrc::kEmptyBatch, "a task with 0 samples"));
  if (size > options_.max_batch_size)
    return reject(std::move(inputs),
                  done,
                  Err(MoeErrc::kBatchTooLarge,
                      "task of " + std::to_string(size) + " samples, max_batch_size is "
                          + std::to_string(options_.max_batch_size)));

  std::shared_ptr<PendingTask> task(
      new PendingTask(weak_from_this(), std::move(inputs), std::move(done), size));
  std::function<void()> notify;
  {
    std::unique_lock lock(mutex_);
    if (closed_ || queued_samples_ + size > queue_limit_) {
      const bool closed = closed_;
      lock.unlock();
      auto error = closed ? Err(MoeErrc::kShuttingDown, "task pool " + name() + " is closed")
                          : Err(MoeErrc::kQueueFull,
                                "task pool " + name() + " holds " + std::to_string(queue_limit_)
                                    + " queued samples at most");
      auto task_done = std::move(task->done_);
      return reject(std::move(task->inputs_), task_done, std::move(error));
    }
    task->position_ = queue_.insert(queue_.end(), task);
    queued_samples_ += size;
    notify = notify_;
  }
  if (notify)
    notify();
  return task;
}

bool TaskPool::cancel_task(PendingTask& task) {
  TaskCompletion done;
  {
    std::lock_guard lock(mutex_);
    if (task.state_ != PendingTask::State::kQueued)
      return false;
    task.state_ = PendingTask::State::kDone;
    queued_samples_ -= task.size_;
    done = std::move(task.done_);
    task.inputs_.clear();
    queue_.erase(task.position_);  // may drop the pool's reference; the caller holds another
  }
  complete(done, Err(MoeErrc::kCancelled, "task cancelled before it ran"));
  return true;
}

PoolStats TaskPool::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::optional<TaskPool::Clock::time_point> TaskPool::oldest_waiting() const {
  std::lock_guard lock(mutex_);
  if (queue_.empty())
    return std::nullopt;
  return queue_.front()->enqueued_;
}

std::int64_t TaskPool::queued_samples() const {
  std::lock_guard lock(mutex_);
  return queued_samples_;
}

void TaskPool::attach(std::function<void()> notify) {
  std::lock_guard lock(mutex_);
  HM_CHECK(!attached_, "task pool " + name() + " already belongs to a Runtime");
  attached_ = true;
  notify_ = std::move(notify);
}

std::optional<TaskPool::Priority> TaskPool::ready_priority() const {
  std::lock_guard lock(mutex_);
  if (queue_.empty() || queued_samples_ < options_.min_batch_size)
    return std::nullopt;
  const auto& front = *queue_.front();
  return Priority{front.enqueued_, front.sequence_};
}

std::vector<std::shared_ptr<PendingTask>> TaskPool::take_batch() {
  std::vector<std::shared_ptr<PendingTask>> batch;
  std::lock_guard lock(mutex_);
  std::int64_t total = 0;
  while (!queue_.empty() && total + queue_.front()->size_ <= options_.max_batch_size) {
    auto task = std::move(queue_.front());
    queue_.pop_front();
    task->state_ = PendingTask::State::kRunning;
    total += task->size_;
    batch.push_back(std::move(task));
  }
  queued_samples_ -= total;
  return batch;
}

void TaskPool::close() {
  std::list<std::shared_ptr<PendingTask>> failed;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    notify_ = nullptr;
    failed.swap(queue_);
    queued_samples_ = 0;
    for (auto& task : failed)
      task->state_ = PendingTask::State::kDone;
  }
  for (auto& task : failed) {
    task->inputs_.clear();
    complete(task->done_, Err(MoeErrc::kShuttingDown, "task pool " + name() + " stopped"));
    task->done_ = nullptr;
  }
}

TaskResult TaskPool::run_batch(std::vector<std::shared_ptr<PendingTask>>& batch,
                               std::int64_t total) const {
  try {
    const std::size_t num_inputs = batch.front()->inputs_.size();
    std::vector<at::Tensor> inputs;
    inputs.reserve(num_inputs);
    for (std::size_t i = 0; i < num_inputs; ++i) {
      if (batch.size() == 1) {
        inputs.push_back(std::move(batch.front()->inputs_[i]));
        continue;
      }
      std::vector<at::Tensor> parts;
      parts.reserve(batch.size());
      for (auto& task : batch) {
        if (task->inputs_.size() != num_inputs)
          return Err(MoeErrc::kSchemaMismatch, "tasks in one batch differ in their input count");
        parts.push_back(task->inputs_[i]);
      }
      inputs.push_back(at::cat(parts, 0));
    }
    for (auto& task : batch)
      task->inputs_.clear();  // the batch holds the data now; free the tasks' copies early
    auto outputs = fn_(std::move(inputs));
    if (!outputs)
      return outputs;
    for (std::size_t j = 0; j < outputs->size(); ++j) {
      const auto& out = (*outputs)[j];
      if (!out.defined() || out.dim() == 0 || out.size(0) != total)
        return Err(MoeErrc::kExpertFailed,
                   "output " + std::to_string(j) + " of " + name() + " does not have "
                       + std::to_string(total) + " rows");
    }
    return outputs;
  } catch (const c10::Error& e) {
    return Err(MoeErrc::kExpertFailed, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Err(MoeErrc::kExpertFailed, e.what());
  } catch (...) {
    return Err(MoeErrc::kExpertFailed, "the batch function threw a non-standard exception");
  }
}

void TaskPool::process(std::vector<std::shared_ptr<PendingTask>> batch) {
  if (batch.empty())
    return;
  std::vector<std::int64_t> sizes;
  sizes.reserve(batch.size());
  std::int64_t total = 0;
  for (const auto& task : batch) {
    sizes.push_back(task->size_);
    total += task->size_;
  }
  auto result = run_batch(batch, total);
  {
    std::lock_guard lock(mutex_);
    ++stats_.batches;
    stats_.samples += static_cast<std::uint64_t>(total);
    stats_.tasks += batch.size();
  }
  if (!result) {
    for (auto& task : batch)
      complete(task->done_, Err(result.error()));
  } else {
    // Split every output into per-task row ranges (views into the batch output).
    std::vector<std::vector<at::Tensor>> per_output;
    per_output.reserve(result->size());
    for (auto& out : *result)
      per_output.push_back(batch.size() == 1 ? std::vector<at::Tensor>(1, out)
                                             : out.split_with_sizes(sizes, 0));
    for (std::size_t k = 0; k < batch.size(); ++k) {
      std::vector<at::Tensor> outputs;
      outputs.reserve(per_output.size());
      for (auto& parts : per_output)
        outputs.push_back(std::move(parts[k]));
      complete(batch[k]->done_, std::move(outputs));
    }
  }
  for (auto& task : batch)
    task->done_ = nullptr;  // state stays kRunning: cancel() refuses; nothing else reads done_
}

}  // namespace hivemind::moe
