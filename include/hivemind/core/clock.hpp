#pragma once
/// \file
/// Injectable clocks, so that expiration and timeout logic can be tested with a manual clock.

#include <atomic>
#include <chrono>

namespace hivemind {

/// Time source. `now()` is monotonic (for timeouts); `unix_seconds()` is wall-clock time in
/// seconds since the Unix epoch (hivemind's `get_dht_time()`, used for DHT expirations).
/// Implementations must be callable from any thread.
class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  virtual double unix_seconds() const = 0;
};

/// The real clocks. Stateless; `SystemClock::instance()` is shared by everyone who needs no other.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }

  double unix_seconds() const override {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

/// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(double unix_start = 1.7e9) : unix_start_(unix_start) {}

  TimePoint now() const override { return TimePoint(Duration(elapsed_.load())); }

  double unix_seconds() const override {
    return unix_start_ + std::chrono::duration<double>(Duration(elapsed_.load())).count();
  }

  /// Moves both clocks forward by `d` (d >= 0).
  void advance(Duration d) { elapsed_.fetch_add(d.count()); }

 private:
  double unix_start_;
  std::atomic<Duration::rep> elapsed_{0};
};

}  // namespace hivemind
