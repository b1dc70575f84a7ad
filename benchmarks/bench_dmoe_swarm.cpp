// hm-bench-dmoe: the swarm of child processes (one hivemind-dht, the hivemind-server processes)
// and the statistics of a window of steps.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <system_error>

#include <poll.h>

#include "bench_dmoe.hpp"
#include "local_swarm.hpp"

namespace hivemind::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kDhtStartTimeout = 30s;
constexpr auto kServerStartTimeout = 180s;  // libtorch loads slowly on a busy machine

/// Waits up to 100 ms for output of any of `children`.
void wait_output(std::vector<tools::Process*> children) {
  std::vector<pollfd> fds;
  for (auto* child : children)
    if (child->output_fd() >= 0)
      fds.push_back({child->output_fd(), POLLIN, 0});
  ::poll(fds.data(), fds.size(), 100);
}

double quantile(std::vector<double> values, double q) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

Result<std::unique_ptr<DmoeSwarm>> DmoeSwarm::start(const DmoeOptions& o) {
  std::unique_ptr<DmoeSwarm> swarm(new DmoeSwarm());
  HM_TRY(auto dht,
         tools::Process::spawn({o.dht_path, "--host_maddrs", "/ip4/127.0.0.1/tcp/0"}, true));
  swarm->dht_.push_back(std::move(dht));
  auto& dht_process = swarm->dht_.front();
  const auto dht_deadline = SteadyClock::now() + kDhtStartTimeout;
  while (swarm->dht_addr_.empty()) {
    wait_output({&dht_process});
    for (const auto& line : dht_process.read_lines())
      if (line.starts_with("/ip4/") && swarm->dht_addr_.empty())
        swarm->dht_addr_ = line;
    if (swarm->dht_addr_.empty() && (dht_process.poll_exit() || SteadyClock::now() > dht_deadline))
      return Err(std::make_error_code(std::errc::timed_out),
                 "hivemind-dht did not start; its last output:\n" + dht_process.tail_text());
  }

  tools::LocalSwarmOptions plan;
  plan.num_servers = o.num_servers;
  plan.grid = o.grid;
  plan.hidden_dim = o.hidden_dim;
  plan.server_path = o.server_path;
  for (const auto& uids : tools::assign_expert_uids(o.grid, o.num_servers, plan.uid_prefix)) {
    HM_TRY(auto server,
           tools::Process::spawn(tools::server_command(plan, swarm->dht_addr_, uids), true));
    swarm->servers_.push_back(std::move(server));
  }
  std::size_t serving = 0;
  const auto deadline = SteadyClock::now() + kServerStartTimeout;
  while (serving < swarm->servers_.size()) {
    std::vector<tools::Process*> all{&dht_process};
    for (auto& server : swarm->servers_)
      all.push_back(&server);
    wait_output(all);
    dht_process.read_lines();
    for (auto& server : swarm->servers_) {
      for (const auto& line : server.read_lines())
        serving += line.starts_with("serving ") ? 1 : 0;
      if (server.poll_exit())
        return Err(
            std::make_error_code(std::errc::no_child_process),
            "a hivemind-server exited during startup; its last output:\n" + server.tail_text());
    }
    if (SteadyClock::now() > deadline)
      return Err(
          std::make_error_code(std::errc::timed_out),
          "the servers did not start within " + std::to_string(kServerStartTimeout.count()) + " s");
  }
  return swarm;
}

std::size_t DmoeSwarm::kill_next_server() {
  const std::size_t index = servers_.size() - 1 - killed_;
  servers_[index].kill();
  ++killed_;
  return index;
}

void DmoeSwarm::drain() {
  for (auto& child : dht_)
    child.read_lines();
  for (auto& child : servers_)
    child.read_lines();
}

void DmoeSwarm::stop() {
  for (auto& child : servers_)
    child.kill();
  for (auto& child : dht_)
    child.kill();
}

std::size_t WindowStats::failed_steps() const {
  return static_cast<std::size_t>(
      std::count_if(steps.begin(), steps.end(), [](const StepTime& s) { return s.failed; }));
}

std::size_t WindowStats::failed_calls() const {
  std::size_t total = 0;
  for (const auto& s : steps)
    total += s.failed_calls;
  return total;
}

double WindowStats::moe_ms_quantile(double q) const {
  std::vector<double> values;
  for (const auto& s : steps)
    values.push_back(s.moe_s * 1e3);
  return quantile(std::move(values), q);
}

double WindowStats::step_ms_quantile(double q) const {
  std::vector<double> values;
  for (const auto& s : steps)
    values.push_back(s.step_s * 1e3);
  return quantile(std::move(values), q);
}

}  // namespace hivemind::bench
