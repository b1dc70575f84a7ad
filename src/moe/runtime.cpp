// Runtime: compute threads that pick pools and run their batches.
//
// hivemind's Runtime (hivemind/moe/server/runtime.py) is one thread that selects over the pools'
// batch pipes and picks the ready pool with the smallest priority, where a pool's priority is the
// enqueue time of the newest task of its previous batch. Here N threads share one scheduler:
// - a pool is ready when it holds >= min_batch_size queued samples and no thread is running a
//   batch of it (so one pool's batches never overlap; its expert's optimizer steps stay serial);
// - among ready pools the one whose oldest queued task is oldest wins (deviation: every queued
//   task waits at most for the work queued before it, where hivemind's rule can let a pool that
//   was served recently keep an older task waiting);
// - lock order: Shared::mutex, then a pool's mutex (ready_priority). Pools call the wake-up
//   callback after releasing their own mutex, so there is no inverse order.

#include "hivemind/moe/runtime.hpp"

#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>

#include "hivemind/core/check.hpp"
#include "hivemind/core/log.hpp"

namespace hivemind::moe {

struct Runtime::Shared {
  std::mutex mutex;
  std::condition_variable work;      // compute threads: a pool may have become ready
  std::condition_variable stopping;  // stats reporter: stop requested
  bool stop = false;                 // guarded by mutex
  std::vector<bool> busy;            // per pool: a thread runs a batch of it; guarded by mutex
};

Runtime::Runtime(std::vector<std::shared_ptr<TaskPool>> pools, RuntimeOptions options)
    : pools_(std::move(pools)), options_(options), shared_(std::make_shared<Shared>()) {
  HM_CHECK(options_.num_threads >= 1, "a Runtime needs at least one thread");
  if (options_.stats_report_interval)
    HM_CHECK(options_.stats_report_interval->count() > 0, "stats_report_interval must be > 0");
  for (const auto& pool : pools_)
    HM_CHECK(pool != nullptr, "a Runtime was given a null TaskPool");
  shared_->busy.assign(pools_.size(), false);
  for (const auto& pool : pools_) {
    pool->attach([shared = shared_] {
      { std::lock_guard lock(shared->mutex); }  // orders the wake-up after a scan in progress
      shared->work.notify_one();
    });
  }
}

Runtime::~Runtime() {
  stop();
}

void Runtime::start() {
  HM_CHECK(!started_ && !stopped_, "Runtime::start called twice or after stop");
  started_ = true;
  threads_.reserve(options_.num_threads + 1);
  // The reporter's baseline is taken before any compute thread runs, so that batches of tasks
  // queued before start() are counted in the first report.
  std::vector<PoolStats> baseline;
  for (const auto& pool : pools_)
    baseline.push_back(pool->stats());
  const auto baseline_time = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < options_.num_threads; ++i)
    threads_.emplace_back([this] { compute_loop(); });
  if (options_.stats_report_interval)
    threads_.emplace_back([this, baseline = std::move(baseline), baseline_time]() mutable {
      report_loop(std::move(baseline), baseline_time);
    });
}

void Runtime::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stop = true;
  }
  shared_->work.notify_all();
  shared_->stopping.notify_all();
  // Fail queued tasks now (running batches finish and deliver), then wait for the threads.
  for (const auto& pool : pools_)
    pool->close();
  for (auto& thread : threads_)
    thread.join();
  threads_.clear();
}

void Runtime::compute_loop() {
  for (;;) {
    std::size_t index = 0;
    {
      std::unique_lock lock(shared_->mutex);
      for (;;) {
        if (shared_->stop)
          return;
        std::optional<TaskPool::Priority> best;
        for (std::size_t i = 0; i < pools_.size(); ++i) {
          if (shared_->busy[i])
            continue;
          auto priority = pools_[i]->ready_priority();
          if (priority && (!best || *priority < *best)) {
            best = priority;
            index = i;
          }
        }
        if (best) {
          shared_->busy[index] = true;
          break;
        }
        shared_->work.wait(lock);
      }
    }
    // A cancel or close may have emptied the queue since the scan: process() skips empty batches.
    pools_[index]->process(pools_[index]->take_batch());
    {
      std::lock_guard lock(shared_->mutex);
      shared_->busy[index] = false;
    }
    // The pool may hold more work that an idle thread skipped because it was busy.
    shared_->work.notify_all();
  }
}

void Runtime::report_loop(std::vector<PoolStats> previous,
                          std::chrono::steady_clock::time_point last) {
  using Clock = std::chrono::steady_clock;
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(*options_.stats_report_interval);
  for (;;) {
    {
      std::unique_lock lock(shared_->mutex);
      if (shared_->stopping.wait_until(lock, last + interval, [this] { return shared_->stop; }))
        return;
    }
    const auto now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - last).count();
    for (std::size_t i = 0; i < pools_.size(); ++i) {
      const auto current = pools_[i]->stats();
      const auto batches = current.batches - previous[i].batches;
      const auto samples = current.samples - previous[i].samples;
      logger("moe")->info(
          "{}: {:.2f} batches/s, {:.2f} samples/s, mean batch size {:.2f}",
          pools_[i]->name(),
          static_cast<double>(batches) / seconds,
          static_cast<double>(samples) / seconds,
          batches == 0 ? 0.0 : static_cast<double>(samples) / static_cast<double>(batches));
      previous[i] = current;
    }
    last = now;
  }
}

}  // namespace hivemind::moe
