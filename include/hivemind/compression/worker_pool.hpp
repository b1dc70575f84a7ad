#pragma once
/// \file
/// A small fixed thread pool for data-parallel codec work. The codecs split large tensors into
/// fixed-size ranges and run them here; results never depend on how many threads there are.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hivemind::compression {

/// Runs index ranges of a job on `concurrency() - 1` background threads plus the calling thread.
/// Thread-safe: several threads may call parallel_for at once (their jobs share the workers).
/// Owns its threads; the destructor joins them and must not run while a call is in progress.
class WorkerPool {
 public:
  /// `concurrency` threads work on each job, the caller included (so 1 = no background thread).
  /// HM_CHECKs concurrency >= 1.
  explicit WorkerPool(std::size_t concurrency);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Threads that work on one job, the caller included.
  std::size_t concurrency() const noexcept { return workers_.size() + 1; }

  /// Calls fn(i) for every i in [0, n), in any order and on any of the threads; returns when
  /// all calls have returned. `fn` must not throw (std::terminate otherwise).
  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

 private:
  struct Job;
  void worker_loop();
  static void run_claims(Job& job) noexcept;

  std::mutex mutex_;
  std::condition_variable work_cv_;  // workers wait here for jobs
  std::condition_variable done_cv_;  // callers wait here for their job's workers
  std::deque<Job*> jobs_;            // jobs with unclaimed indices
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace hivemind::compression
