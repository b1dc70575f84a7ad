#pragma once
/// \file
/// Child processes of the tools that run other programs (hivemind-local-swarm): each child runs
/// in its own process group with stdout (and stderr) on a non-blocking pipe, dies with its parent
/// (PR_SET_PDEATHSIG, so even a SIGKILLed parent leaves no orphans), and is killed with its whole
/// group when its owner is destroyed. Linux only. Thread affinity: one thread uses a Process.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "hivemind/core/result.hpp"

namespace hivemind::tools {

/// A running child process. Move-only owner: destruction (or kill()) SIGKILLs the group and
/// reaps the child.
class Process {
 public:
  /// Starts `argv` (argv[0] a path; no PATH search) with stdin from /dev/null, stdout on a pipe
  /// and stderr on the same pipe when `merge_stderr` (else inherited). Signals: default
  /// dispositions, nothing blocked. Errors: pipe/fork failures (errno); a program that cannot be
  /// executed shows up as exit code 127 and a line "cannot execute <path>".
  static Result<Process> spawn(const std::vector<std::string>& argv, bool merge_stderr);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const noexcept { return pid_; }

  /// The read end of the output pipe (for poll()); -1 once closed.
  int output_fd() const noexcept { return fd_; }

  /// Reads what is available now and returns the complete lines (without '\n'); at the end of
  /// output, a last unterminated line too. Lines longer than kMaxLine are cut there. Never
  /// blocks. Every line is also kept in tail() (the last kTailLines).
  std::vector<std::string> read_lines();

  /// True once the output pipe reached its end (the child and its group closed it).
  bool output_ended() const noexcept { return fd_ < 0; }

  /// Sends `signal` to the child's process group (no-op once reaped).
  void signal_group(int signal);
  /// The exit code if the child has exited (128 + signal number when killed), without waiting.
  std::optional<int> poll_exit();
  /// Waits at most `timeout` for the exit (draining output into tail()); nullopt on timeout.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  /// SIGTERM, then SIGKILL after `grace` if still running; reaps. Returns the exit code.
  int stop(std::chrono::milliseconds grace);
  /// SIGKILLs the group and reaps the child at once. Idempotent.
  void kill();

  /// The last lines read, oldest first, joined with '\n'.
  std::string tail_text() const;

  static constexpr std::size_t kMaxLine = 64 * 1024;
  static constexpr std::size_t kTailLines = 20;

 private:
  Process() = default;
  void close_output() noexcept;
  void remember(const std::string& line);

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
  std::optional<int> exit_code_;
  std::vector<std::string> tail_;
};

}  // namespace hivemind::tools
