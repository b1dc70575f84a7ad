#include "process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hivemind::tools {
namespace {

using SteadyClock = std::chrono::steady_clock;

Err sys_error(int errnum, const std::string& what) {
  return Err(std::error_code(errnum, std::generic_category()), what + ": " + std::strerror(errnum));
}

int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

/// In the forked child, before exec: async-signal-safe calls only.
[[noreturn]] void exec_child(char* const* argv, int out_fd, bool merge_stderr, pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)  // the parent died before prctl took effect
    ::_exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  struct sigaction dfl {};

  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP})
    ::sigaction(sig, &dfl, nullptr);
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0)
    ::dup2(null_fd, STDIN_FILENO);
  ::dup2(out_fd, STDOUT_FILENO);
  if (merge_stderr)
    ::dup2(out_fd, STDERR_FILENO);
  ::execv(argv[0], argv);
  static const char kMessage[] = "cannot execute ";
  (void)!::write(STDOUT_FILENO, kMessage, sizeof kMessage - 1);
  (void)!::write(STDOUT_FILENO, argv[0], std::strlen(argv[0]));
  (void)!::write(STDOUT_FILENO, "\n", 1);
  ::_exit(127);
}

}  // namespace

Result<Process> Process::spawn(const std::vector<std::string>& argv, bool merge_stderr) {
  if (argv.empty())
    return Err(std::make_error_code(std::errc::invalid_argument), "empty command line");
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (auto& arg : args)
    raw.push_back(arg.data());
  raw.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return sys_error(errno, "pipe2");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return sys_error(e, "fork");
  }
  if (pid == 0)
    exec_child(raw.data(), fds[1], merge_stderr, parent);
  ::setpgid(pid, pid);  // also here: no window in which signal_group() misses the child
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  Process process;
  process.pid_ = pid;
  process.fd_ = fds[0];
  return process;
}

Process::Process(Process&& other) noexcept {
  *this = std::move(other);
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    kill();
    close_output();
    pid_ = std::exchange(other.pid_, -1);
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    exit_code_ = other.exit_code_;
    tail_ = std::move(other.tail_);
  }
  return *this;
}

Process::~Process() {
  kill();
  close_output();
}

void Process::close_output() noexcept {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

void Process::remember(const std::string& line) {
  if (tail_.size() == kTailLines)
    tail_.erase(tail_.begin());
  tail_.push_back(line);
}

std::vector<std::string> Process::read_lines() {
  std::vector<std::string> lines;
  while (fd_ >= 0) {
    char chunk[16 * 1024];
    const auto n = ::read(fd_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
      close_output();
    } else if (errno != EINTR) {
      break;  // nothing more now
    }
    for (std::size_t newline; (newline = buffer_.find('\n')) != std::string::npos;) {
      lines.push_back(buffer_.substr(0, std::min(newline, kMaxLine)));
      buffer_.erase(0, newline + 1);
    }
    if (buffer_.size() > kMaxLine) {  // a runaway line: keep its start, drop the rest
      lines.push_back(buffer_.substr(0, kMaxLine));
      buffer_.clear();
    }
  }
  if (fd_ < 0 && !buffer_.empty()) {
    lines.push_back(std::move(buffer_));
    buffer_.clear();
  }
  for (const auto& line : lines)
    remember(line);
  return lines;
}

void Process::signal_group(int signal) {
  if (pid_ > 0 && !exit_code_)
    ::kill(-pid_, signal);
}

std::optional<int> Process::poll_exit() {
  if (exit_code_ || pid_ <= 0)
    return exit_code_;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_)
    exit_code_ = decode_status(status);
  else if (r < 0 && errno == ECHILD)
    exit_code_ = -1;
  return exit_code_;
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    read_lines();
    if (auto code = poll_exit()) {
      read_lines();  // what it wrote just before exiting
      return code;
    }
    if (SteadyClock::now() >= deadline)
      return std::nullopt;
    if (fd_ >= 0) {
      pollfd pfd{fd_, POLLIN, 0};
      ::poll(&pfd, 1, 10);  // wakes on output; exits are polled every 10 ms
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

int Process::stop(std::chrono::milliseconds grace) {
  signal_group(SIGTERM);
  if (auto code = wait_for(grace))
    return *code;
  kill();
  return exit_code_.value_or(-1);
}

void Process::kill() {
  if (pid_ <= 0)
    return;
  if (!poll_exit()) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code_ = decode_status(status);
  }
  pid_ = -1;
}

std::string Process::tail_text() const {
  std::string out;
  for (const auto& line : tail_)
    out += (out.empty() ? "" : "\n") + line;
  return out;
}

}  // namespace hivemind::tools
