#include "signals.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>

namespace hivemind::tools {
namespace {

sigset_t termination_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_termination_signals() {
  // A shell starts background jobs with SIGINT ignored; an ignored signal is discarded, so
  // sigtimedwait would never see it. Default dispositions plus a blocked mask deliver both
  // signals to wait_for_termination() only.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t set = termination_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::optional<int> wait_for_termination(std::chrono::milliseconds timeout) {
  sigset_t set = termination_set();
  timespec wait{};
  wait.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  wait.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1'000'000);
  for (;;) {
    int signal = sigtimedwait(&set, nullptr, &wait);
    if (signal > 0) return signal;
    if (errno == EAGAIN) return std::nullopt;
    // EINTR: interrupted by another signal; wait again (the timeout restarts, which is harmless
    // for a status period).
  }
}

}  // namespace hivemind::tools
