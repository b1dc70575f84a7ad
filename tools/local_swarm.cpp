// hivemind-local-swarm's run: start the DHT node, the servers and the trainers, relay, kill one
// server, summarize, and stop everything on every way out.
#include "local_swarm.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>

#include <poll.h>

#include "process.hpp"
#include "signals.hpp"

namespace hivemind::tools {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kDhtStartTimeout = 30s;
constexpr auto kServerStartTimeout = 180s;  // libtorch loads slowly on a busy machine
constexpr auto kStopGrace = 10s;

struct Child {
  std::string name;
  Process process;
  bool relay = false;
  bool reported_exit = false;
};

double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

class Swarm {
 public:
  Swarm(const LocalSwarmOptions& o, std::ostream& out) : o_(o), out_(out) {}

  int run();

 private:
  using LineHandler = std::function<void(Child&, const std::string&)>;

  /// Waits up to 100 ms for output and hands every line to `handle`; false when SIGINT or
  /// SIGTERM arrived (then in signal_).
  bool pump(const LineHandler& handle);
  Result<Child> spawn(std::string name, std::vector<std::string> argv, bool relay);
  Result<void> start_dht();
  Result<void> start_servers();
  int train();
  void on_trainer_line(std::size_t t, const std::string& line);
  void kill_one_server(std::int64_t step);
  void report_unexpected_exits();
  int print_summary();
  int stopped_by(int signal);

  const LocalSwarmOptions& o_;
  std::ostream& out_;
  const SteadyClock::time_point start_ = SteadyClock::now();
  double startup_s_ = 0;
  std::vector<Child> children_;  // [0] dht, then servers, then trainers
  std::string dht_addr_;
  std::vector<std::vector<std::string>> uids_;
  std::size_t first_trainer_ = 0;
  std::vector<std::int64_t> progress_;
  std::vector<std::optional<int>> trainer_exit_;
  std::vector<std::map<std::string, std::string>> trainer_summary_;
  std::optional<std::size_t> killed_;
  std::int64_t killed_at_ = 0;
  std::optional<int> signal_;
};

bool Swarm::pump(const LineHandler& handle) {
  std::vector<pollfd> fds;
  for (auto& child : children_)
    if (child.process.output_fd() >= 0)
      fds.push_back({child.process.output_fd(), POLLIN, 0});
  ::poll(fds.data(), fds.size(), 100);
  for (auto& child : children_)
    for (const auto& line : child.process.read_lines()) {
      if (child.relay)
        out_ << "[" << child.name << "] " << line << "\n";
      handle(child, line);
    }
  out_.flush();
  signal_ = wait_for_termination(0ms);
  return !signal_;
}

Result<Child> Swarm::spawn(std::string name, std::vector<std::string> argv, bool relay) {
  auto process = Process::spawn(argv, true);
  if (!process)
    return Err(process.error().code(), name + ": " + process.error().message());
  return Child{std::move(name), std::move(*process), relay, false};
}

Result<void> Swarm::start_dht() {
  HM_TRY(auto dht,
         spawn("dht", {o_.dht_path, "--host_maddrs", "/ip4/127.0.0.1/tcp/0"}, o_.verbose));
  children_.push_back(std::move(dht));
  const auto deadline = SteadyClock::now() + kDhtStartTimeout;
  while (dht_addr_.empty()) {
    if (!pump([&](Child& c, const std::string& line) {
          if (&c == &children_[0] && line.starts_with("/ip4/") && dht_addr_.empty())
            dht_addr_ = line;
        }))
      return Err(std::make_error_code(std::errc::interrupted), "signal");
    if (children_[0].process.poll_exit() || SteadyClock::now() > deadline)
      return Err(
          std::make_error_code(std::errc::timed_out),
          "hivemind-dht did not start; its last output:\n" + children_[0].process.tail_text());
  }
  out_ << "dht (pid " << children_[0].process.pid() << "): bootstrap node " << dht_addr_
       << std::endl;
  return ok();
}

Result<void> Swarm::start_servers() {
  uids_ = assign_expert_uids(grid_of(o_), o_.num_servers, o_.uid_prefix);
  for (std::size_t s = 0; s < uids_.size(); ++s) {
    auto argv = server_command(o_, dht_addr_, uids_[s]);
    HM_TRY(auto server, spawn("server " + std::to_string(s), std::move(argv), o_.verbose));
    children_.push_back(std::move(server));
  }
  std::size_t serving = 0;
  const auto deadline = SteadyClock::now() + kServerStartTimeout;
  while (serving < uids_.size()) {
    if (!pump([&](Child& c, const std::string& line) {
          if (&c != &children_[0] && line.starts_with("serving ")) {
            ++serving;
            out_ << c.name << " (pid " << c.process.pid() << "): " << line << "\n";
          }
        }))
      return Err(std::make_error_code(std::errc::interrupted), "signal");
    for (auto& child : children_)
      if (child.process.poll_exit())
        return Err(
            std::make_error_code(std::errc::no_child_process),
            child.name + " exited during startup; its last output:\n" + child.process.tail_text());
    if (SteadyClock::now() > deadline)
      return Err(
          std::make_error_code(std::errc::timed_out),
          "the servers did not start within " + std::to_string(kServerStartTimeout.count()) + " s");
  }
  return ok();
}

void Swarm::on_trainer_line(std::size_t t, const std::string& line) {
  if (line.starts_with("step ")) {
    const auto step = parse_number(parse_fields(line, 0)["step"]);
    if (!step)
      return;
    progress_[t] = static_cast<std::int64_t>(*step);
    if (t == 0 && !killed_ && o_.kill_at_step > 0 && progress_[0] >= o_.kill_at_step)
      kill_one_server(progress_[0]);
  } else if (line.starts_with("summary ")) {
    trainer_summary_[t] = parse_fields(line, 1);
  }
}

void Swarm::kill_one_server(std::int64_t step) {
  const std::size_t s = uids_.size() - 1;
  auto& server = children_[1 + s];
  std::string experts;
  for (const auto& uid : uids_[s])
    experts += (experts.empty() ? "" : " ") + uid;
  out_ << ">>> step " << step << ": killing " << server.name << " (pid " << server.process.pid()
       << ", SIGKILL; experts " << experts << "): training should carry on without it" << std::endl;
  server.process.kill();
  server.reported_exit = true;
  killed_ = s;
  killed_at_ = step;
}

void Swarm::report_unexpected_exits() {
  for (std::size_t i = 0; i < first_trainer_; ++i) {
    auto& child = children_[i];
    if (child.reported_exit)
      continue;
    if (auto code = child.process.poll_exit()) {
      child.reported_exit = true;
      out_ << "warning: " << child.name << " exited unexpectedly (code " << *code
           << "); its last output:\n"
           << child.process.tail_text() << std::endl;
    }
  }
}

int Swarm::train() {
  first_trainer_ = children_.size();
  const auto t_count = static_cast<std::size_t>(o_.num_trainers);
  progress_.assign(t_count, 0);
  trainer_exit_.assign(t_count, std::nullopt);
  trainer_summary_.assign(t_count, {});
  for (std::size_t t = 0; t < t_count; ++t) {
    auto argv = trainer_command(o_, dht_addr_, t);
    auto trainer = spawn("trainer " + std::to_string(t), std::move(argv), true);
    if (!trainer) {
      out_ << "error: " << trainer.error().message() << std::endl;
      return kSwarmExitFailed;
    }
    out_ << trainer->name << " (pid " << trainer->process.pid() << "): started" << std::endl;
    children_.push_back(std::move(*trainer));
  }
  startup_s_ = seconds_since(start_);
  const auto deadline = start_ + std::chrono::duration<double>(o_.timeout_s);
  for (;;) {
    if (!pump([&](Child& c, const std::string& line) {
          const auto index = static_cast<std::size_t>(&c - children_.data());
          if (index >= first_trainer_)
            on_trainer_line(index - first_trainer_, line);
        }))
      return stopped_by(*signal_);
    report_unexpected_exits();
    bool running = false;
    for (std::size_t t = 0; t < t_count; ++t) {
      auto& child = children_[first_trainer_ + t];
      if (!trainer_exit_[t] && child.process.output_ended()) {
        trainer_exit_[t] = child.process.poll_exit();
        if (trainer_exit_[t] && *trainer_exit_[t] != 0)
          out_ << "error: " << child.name << " failed (exit code " << *trainer_exit_[t]
               << (*trainer_exit_[t] > 128 ? ", killed by a signal" : "") << ")" << std::endl;
      }
      running = running || !trainer_exit_[t];
    }
    if (!running)
      return print_summary();
    if (SteadyClock::now() > deadline) {
      out_ << "error: the run took longer than --timeout " << o_.timeout_s << " s" << std::endl;
      return kSwarmExitFailed;
    }
  }
}

int Swarm::print_summary() {
  int code = 0;
  out_ << "=== summary ===\n";
  double min_acc = 1;
  for (std::size_t t = 0; t < trainer_exit_.size(); ++t) {
    auto& s = trainer_summary_[t];
    out_ << "trainer " << t << ": exit " << *trainer_exit_[t] << ", steps " << s["steps"]
         << ", failed steps " << s["failed_steps"] << ", failed expert calls "
         << s["experts_failed"] << ", " << s["steps_per_s"] << " steps/s, test accuracy "
         << s["test_acc"] << "\n";
    const double acc = parse_number(s["test_acc"]).value_or(0);
    min_acc = std::min(min_acc, acc);
    if (*trainer_exit_[t] != 0 || acc < o_.min_accuracy)
      code = kSwarmExitFailed;
  }
  if (killed_)
    out_ << "server " << *killed_ << " was killed at step " << killed_at_ << "; the other "
         << uids_.size() - 1 << " kept serving\n";
  char line[160];
  std::snprintf(line,
                sizeof line,
                "time: %.1f s (startup %.1f s, training %.1f s)\n",
                seconds_since(start_),
                startup_s_,
                seconds_since(start_) - startup_s_);
  out_ << line;
  std::snprintf(line,
                sizeof line,
                "swarm_result test_acc %.4f killed_servers %d time_s %.1f exit %d",
                min_acc,
                killed_ ? 1 : 0,
                seconds_since(start_),
                code);
  out_ << line << std::endl;
  if (code != 0 && min_acc < o_.min_accuracy)
    out_ << "error: test accuracy below --min_accuracy " << o_.min_accuracy << std::endl;
  return code;
}

int Swarm::stopped_by(int signal) {
  out_ << "received signal " << signal << ": stopping every process" << std::endl;
  return 128 + signal;
}

int Swarm::run() {
  int code = kSwarmExitFailed;
  auto started = start_dht();
  if (started)
    started = start_servers();
  if (started) {
    code = train();
  } else if (signal_) {
    code = stopped_by(*signal_);
  } else {
    out_ << "error: " << started.error().message() << std::endl;
  }
  // Trainers first (they use the servers), then the servers (withdrawing their experts from the
  // DHT, all at once), then the DHT node.
  const auto grace = code >= 128 ? 2s : kStopGrace;
  const std::size_t servers_end = first_trainer_ == 0 ? children_.size() : first_trainer_;
  const auto stop_range = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i)
      children_[i].process.signal_group(SIGTERM);
    for (std::size_t i = begin; i < end; ++i)
      children_[i].process.stop(grace);
  };
  stop_range(servers_end, children_.size());
  stop_range(std::min<std::size_t>(1, servers_end), servers_end);
  stop_range(0, std::min<std::size_t>(1, servers_end));
  out_ << "all " << children_.size() << " processes stopped" << std::endl;
  return code;
}

}  // namespace

int run_local_swarm(const LocalSwarmOptions& options, std::ostream& out) {
  Swarm swarm(options, out);
  return swarm.run();
}

}  // namespace hivemind::tools
