#include "testutil/child_process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace hivemind::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kHistoryLimit = 200;
constexpr std::chrono::milliseconds kPollInterval{1};

Err sys_error(int errnum, std::string what) {
  return Err(std::error_code(errnum, std::generic_category()), what + ": " + std::strerror(errnum));
}

std::optional<int> decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return std::nullopt;
}

}  // namespace

Result<ChildProcess> ChildProcess::spawn(ChildOptions options) {
  if (options.argv.empty())
    return Err(std::make_error_code(std::errc::invalid_argument), "ChildOptions.argv is empty");
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0)
    return sys_error(errno, "pipe2");
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return sys_error(e, "pipe2");
  }
  // Environment: the parent's, with options.env entries replacing same-named ones.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    bool overridden = false;
    for (const auto& extra : options.env)
      overridden = overridden || extra.starts_with(name);
    if (!overridden)
      env_strings.emplace_back(entry);
  }
  env_strings.insert(env_strings.end(), options.env.begin(), options.env.end());
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& s : options.argv)
    argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  // dup2 clears FD_CLOEXEC on the target; every other pipe end closes on exec.
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  if (options.merge_stderr)
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDERR_FILENO);
  // Own process group (so kill() reaches grandchildren) and default signal dispositions.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    return sys_error(rc, "posix_spawn " + options.argv[0]);
  }
  ::fcntl(out_pipe[0], F_SETFL, ::fcntl(out_pipe[0], F_GETFL) | O_NONBLOCK);
  ChildProcess child;
  child.pid_ = pid;
  child.stdin_fd_ = in_pipe[1];
  child.stdout_fd_ = out_pipe[0];
  child.max_line_ = options.max_line;
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept {
  *this = std::move(other);
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill();
    release();
    pid_ = std::exchange(other.pid_, -1);
    stdin_fd_ = std::exchange(other.stdin_fd_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    max_line_ = other.max_line_;
    buffer_ = std::move(other.buffer_);
    eof_ = other.eof_;
    exit_code_ = other.exit_code_;
    history_ = std::move(other.history_);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  kill();
  release();
}

void ChildProcess::release() noexcept {
  if (stdin_fd_ >= 0)
    ::close(stdin_fd_);
  if (stdout_fd_ >= 0)
    ::close(stdout_fd_);
  stdin_fd_ = stdout_fd_ = -1;
}

Result<std::optional<std::string>> ChildProcess::poll_line() {
  while (true) {
    const auto newline = buffer_.find('\n');
    // Checked whether or not the line's end has arrived yet: a long line read in one chunk
    // (newline included) must fail just like one that arrives piecemeal.
    if (std::min(newline, buffer_.size()) > max_line_)
      return Err(std::make_error_code(std::errc::message_size),
                 "child printed a line longer than " + std::to_string(max_line_) + " bytes");
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      if (history_.size() == kHistoryLimit)
        history_.erase(history_.begin());
      history_.push_back(line);
      return std::optional<std::string>(std::move(line));
    }
    if (eof_ || stdout_fd_ < 0)
      return Err(std::make_error_code(std::errc::broken_pipe),
                 "child output ended; last lines:\n" + history_tail() + "\n" + buffer_);
    char chunk[16 * 1024];
    const auto n = ::read(stdout_fd_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      eof_ = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return std::optional<std::string>();
    } else if (errno != EINTR) {
      return sys_error(errno, "read from child");
    }
  }
}

Result<std::string> ChildProcess::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    HM_TRY(auto line, poll_line());
    if (line)
      return std::move(*line);
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0)
      return Err(std::make_error_code(std::errc::timed_out),
                 "no line from the child within " + std::to_string(timeout.count())
                     + " ms; last lines:\n" + history_tail());
    pollfd pfd{stdout_fd_, POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(left));
  }
}

asio::awaitable<Result<std::string>> ChildProcess::async_read_line(
    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    auto line = poll_line();
    if (!line)
      co_return Err(line.error());
    if (*line)
      co_return std::move(**line);
    if (Clock::now() >= deadline)
      co_return Err(std::make_error_code(std::errc::timed_out),
                    "no line from the child within " + std::to_string(timeout.count())
                        + " ms; last lines:\n" + history_tail());
    timer.expires_after(kPollInterval);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

Result<JsonValue> ChildProcess::read_json(const std::function<bool(const JsonValue&)>& match,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    HM_TRY(auto line, read_line(std::max(left, std::chrono::milliseconds(0))));
    auto value = parse_json(line);
    if (value && value->is_object() && match(*value))
      return std::move(*value);
  }
}

asio::awaitable<Result<JsonValue>> ChildProcess::async_read_json(
    std::function<bool(const JsonValue&)> match, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto line = co_await async_read_line(std::max(left, std::chrono::milliseconds(0)));
    if (!line)
      co_return Err(line.error());
    auto value = parse_json(*line);
    if (value && value->is_object() && match(*value))
      co_return std::move(*value);
  }
}

void ChildProcess::close_stdin() {
  if (stdin_fd_ >= 0)
    ::close(stdin_fd_);
  stdin_fd_ = -1;
}

void ChildProcess::signal(int signal) {
  if (pid_ > 0 && !exit_code_)
    ::kill(-pid_, signal);
}

std::optional<int> ChildProcess::poll_exit() {
  if (exit_code_ || pid_ <= 0)
    return exit_code_;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_)
    exit_code_ = decode_status(status);
  else if (r < 0 && errno == ECHILD)
    exit_code_ = -1;  // reaped elsewhere; nothing left to wait for
  return exit_code_;
}

Result<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (auto code = poll_exit())
      return *code;
    if (Clock::now() >= deadline)
      return Err(std::make_error_code(std::errc::timed_out),
                 "child did not exit within " + std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(kPollInterval);
  }
}

asio::awaitable<Result<int>> ChildProcess::async_wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    if (auto code = poll_exit())
      co_return *code;
    if (Clock::now() >= deadline)
      co_return Err(std::make_error_code(std::errc::timed_out),
                    "child did not exit within " + std::to_string(timeout.count()) + " ms");
    timer.expires_after(kPollInterval);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

void ChildProcess::kill() {
  if (pid_ <= 0)
    return;
  if (!poll_exit()) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code_ = decode_status(status).value_or(-1);
  }
  pid_ = -1;
}

std::string ChildProcess::history_tail(std::size_t n) const {
  std::string out;
  const std::size_t first = history_.size() > n ? history_.size() - n : 0;
  for (std::size_t i = first; i < history_.size(); ++i) {
    if (!out.empty())
      out += '\n';
    out += history_[i];
  }
  return out;
}

Result<ChildRun> run_to_exit(ChildOptions options, std::chrono::milliseconds timeout) {
  HM_TRY(auto child, ChildProcess::spawn(std::move(options)));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  ChildRun run;
  for (;;) {
    auto line = child.read_line(left());
    if (line) {
      run.lines.push_back(std::move(*line));
      continue;
    }
    if (line.error() == std::errc::broken_pipe)
      break;  // the output ended: the child is exiting
    return Err(line.error());
  }
  HM_TRY(run.exit_code, child.wait(left()));
  return run;
}

}  // namespace hivemind::testing
