// WorkerPool: a job is {fn, n, next index}. Threads claim indices with an atomic counter until
// none are left. A job lives on its caller's stack, so the caller first takes it off the queue
// (no new worker can pick it up) and then waits until every worker that picked it has let go.
#include "hivemind/compression/worker_pool.hpp"

#include <atomic>

#include "hivemind/core/check.hpp"

namespace hivemind::compression {

struct WorkerPool::Job {
  const std::function<void(std::size_t)>* fn = nullptr;
  std::size_t n = 0;
  std::atomic<std::size_t> next{0};
  std::size_t users = 0;  // workers holding a pointer to this job (guarded by mutex_)
};

WorkerPool::WorkerPool(std::size_t concurrency) {
  HM_CHECK(concurrency >= 1, "WorkerPool needs a concurrency of at least 1");
  workers_.reserve(concurrency - 1);
  for (std::size_t i = 0; i + 1 < concurrency; ++i)
    workers_.emplace_back([this] { worker_loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_)
    t.join();
}

void WorkerPool::run_claims(Job& job) noexcept {
  for (;;) {
    const std::size_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.n)
      return;
    (*job.fn)(i);  // noexcept context: an exception terminates
  }
}

void WorkerPool::parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
  if (n == 0)
    return;
  if (workers_.empty() || n == 1) {
    for (std::size_t i = 0; i < n; ++i)
      fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(&job);
  }
  if (n - 1 >= workers_.size())
    work_cv_.notify_all();
  else
    for (std::size_t i = 0; i + 1 < n; ++i)
      work_cv_.notify_one();
  run_claims(job);
  std::unique_lock lock(mutex_);
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    if (*it == &job) {
      jobs_.erase(it);
      break;
    }
  }
  done_cv_.wait(lock, [&] { return job.users == 0; });
  // Every index was claimed (our run_claims returned) and every worker that claimed one has
  // finished it (users == 0), so all calls have returned.
}

void WorkerPool::worker_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (stopping_)
      return;
    Job* job = jobs_.front();
    ++job->users;
    lock.unlock();
    run_claims(*job);
    lock.lock();
    // All indices are claimed: keep other workers from picking the job up again.
    if (!jobs_.empty() && jobs_.front() == job)
      jobs_.pop_front();
    if (--job->users == 0)
      done_cv_.notify_all();
  }
}

}  // namespace hivemind::compression
