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
  // A non-interactive shell starts background jobs (`cmd &`) with SIGINT and SIGQUIT ignored.
  // POSIX leaves it unspecified whether a blocked signal whose action is "ignore" stays pending
  // or is discarded (Linux keeps it pending, checked with `sh -c 'trap "" INT; exec ...'`), so
  // sigtimedwait might never see it: default dispositions plus a blocked mask deliver both
  // signals to wait_for_termination() only, wherever the process was started from.
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
    if (signal > 0)
      return signal;
    if (errno == EAGAIN)
      return std::nullopt;
    // EINTR: interrupted by another signal; wait again (the timeout restarts, which is harmless
    // for a status period).
  }
}

}  // namespace hivemind::tools
