#pragma once
/// \file
/// Child processes for multi-process and interop tests (and benchmarks): spawn a program with
/// pipes, read its stdout line by line with deadlines (blocking, or from a coroutine without
/// blocking the io_context), parse JSON lines, and make sure the child never outlives its owner.
/// Linux/POSIX only. Does not depend on gtest, so benchmarks can compile it too.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <sys/types.h>

#include "hivemind/core/result.hpp"
#include "testutil/json_value.hpp"

namespace hivemind::testing {

/// How to start a child.
struct ChildOptions {
  /// argv[0] is the program path (absolute or relative to the current directory; no PATH search).
  std::vector<std::string> argv;
  /// Extra "NAME=value" entries added to (and overriding) the parent's environment.
  std::vector<std::string> env;
  /// Send the child's stderr into the same pipe as stdout (else it is inherited, i.e. shows up in
  /// the test log).
  bool merge_stderr = false;
  /// Longest line accepted from the child; a longer one makes reads fail (memory stays bounded).
  std::size_t max_line = 1 << 20;
};

/// A running child process with its stdin and stdout connected to pipes, in its own process
/// group. Move-only owner: destroying it (or kill()) sends SIGKILL to the whole group and reaps
/// the child, so no test leaves processes behind. Not thread-safe: one thread (or one io_context
/// thread) uses it at a time.
class ChildProcess {
 public:
  /// Starts `options.argv`. Errors: the pipe/spawn failure as a system error code (e.g. ENOENT).
  static Result<ChildProcess> spawn(ChildOptions options);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  /// Next stdout line (without '\n'), waiting at most `timeout` (blocks the calling thread).
  /// Errors: std::errc::timed_out; std::errc::broken_pipe at end of output (the detail includes
  /// the lines read so far' tail); std::errc::message_size for a line above max_line.
  Result<std::string> read_line(std::chrono::milliseconds timeout);
  /// Same as read_line, from a coroutine: polls the pipe every millisecond with a timer on the
  /// current executor, so the io_context keeps serving other coroutines meanwhile.
  asio::awaitable<Result<std::string>> async_read_line(std::chrono::milliseconds timeout);

  /// Reads lines until one parses as a JSON object for which `match` is true and returns it;
  /// other lines are skipped (kept in history()). Deadline for the whole wait. Errors: those
  /// of read_line.
  Result<JsonValue> read_json(const std::function<bool(const JsonValue&)>& match,
                              std::chrono::milliseconds timeout);
  asio::awaitable<Result<JsonValue>> async_read_json(std::function<bool(const JsonValue&)> match,
                                                     std::chrono::milliseconds timeout);

  /// Closes the child's stdin (it reads EOF). Idempotent.
  void close_stdin();
  /// Sends `signal` to the child's process group (no-op once reaped).
  void signal(int signal);
  /// Waits at most `timeout` for the child to exit; returns its exit code (128 + signal number
  /// when killed by a signal). Errors: std::errc::timed_out. Blocking / coroutine variants.
  Result<int> wait(std::chrono::milliseconds timeout);
  asio::awaitable<Result<int>> async_wait(std::chrono::milliseconds timeout);
  /// SIGKILLs the group and reaps the child (immediate). Idempotent.
  void kill();

  /// Every stdout line read so far (for failure messages), most recent last; at most 200 kept.
  const std::vector<std::string>& history() const { return history_; }

  /// The last `n` lines of history() joined with '\n'.
  std::string history_tail(std::size_t n = 10) const;

 private:
  ChildProcess() = default;
  /// Non-blocking step: a complete line if one is buffered or readable now; nullopt if none yet.
  Result<std::optional<std::string>> poll_line();
  /// Non-blocking: the exit code if the child has exited.
  std::optional<int> poll_exit();
  void release() noexcept;

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::size_t max_line_ = 0;
  std::string buffer_;
  bool eof_ = false;
  std::optional<int> exit_code_;
  std::vector<std::string> history_;
};

/// What a child printed and how it exited.
struct ChildRun {
  int exit_code = -1;
  std::vector<std::string> lines;  ///< stdout (plus stderr when merged), in order
};

/// Starts `options.argv`, reads its output to the end, then waits for it to exit; `timeout`
/// bounds the whole run. Blocking. Errors: spawn failure, std::errc::timed_out, message_size.
Result<ChildRun> run_to_exit(ChildOptions options, std::chrono::milliseconds timeout);

}  // namespace hivemind::testing
