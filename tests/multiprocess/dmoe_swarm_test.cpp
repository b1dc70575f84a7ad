// The Decentralized Mixture-of-Experts as separate processes: a Fashion-MNIST trainer
// (examples/02_dmoe_fashion_mnist.cpp) against a real hivemind-dht node and real hivemind-server
// processes reaches a set test accuracy within a bounded number of steps although one server is
// SIGKILLed part-way; and hivemind-local-swarm, stopped by SIGTERM mid-run, leaves no process
// behind. Programs: HM_DHT_TOOL_PATH, HM_SERVER_TOOL_PATH, HM_DMOE_TRAINER_PATH,
// HM_LOCAL_SWARM_PATH (fixed at build time). No sleeps: every wait reads a child's output or
// exit status with a deadline.
#include <cerrno>
#include <charconv>
#include <csignal>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "dht_tool_process.hpp"
#include "testutil/child_process.hpp"

namespace hivemind::moe {
namespace {

using namespace std::chrono_literals;
using testing::ChildOptions;
using testing::ChildProcess;

constexpr auto kServerStart = 120s;  // libtorch loads slowly on a shared machine
constexpr auto kTrainerRun = 240s;   // a failure bound, far above the usual ~40 s
constexpr auto kExit = 30s;
constexpr const char* kDataDir = "/usr/share/datasets/fashion-mnist";
constexpr double kMinAccuracy = 0.7;  // a linear model reaches ~0.8 in these 200 steps

/// "word key value key value ..." as a map (the first word skipped).
std::map<std::string, std::string> fields(const std::string& line) {
  std::istringstream in(line);
  std::string word, key, value;
  in >> word;
  std::map<std::string, std::string> out;
  while (in >> key >> value)
    out[key] = value;
  return out;
}

double number(const std::string& text) {
  double value = -1;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

bool data_installed() {
  struct stat st {};

  return ::stat((std::string(kDataDir) + "/t10k-labels-idx1-ubyte.gz").c_str(), &st) == 0;
}

Result<ChildProcess> start_server(const std::string& bootstrap, std::vector<std::string> uids) {
  ChildOptions options;
  options.argv = {HM_SERVER_TOOL_PATH,
                  "--host_maddrs",
                  "/ip4/127.0.0.1/tcp/0",
                  "--device",
                  "cpu",
                  "--initial_peers",
                  bootstrap,
                  "--expert_cls",
                  "ffn",
                  "--hidden_dim",
                  "32",
                  "--expert_uids"};
  options.argv.insert(options.argv.end(), uids.begin(), uids.end());
  options.merge_stderr = true;
  HM_TRY(auto child, ChildProcess::spawn(std::move(options)));
  HM_TRY_VOID(dht::tooltest::read_until_line_with(child, "serving ", kServerStart));
  return child;
}

TEST(DmoeSwarm, TrainerReachesAccuracyWhileAServerIsKilled) {
  if (!data_installed())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh)";
  auto bootstrap = dht::tooltest::start_dht_node({});
  ASSERT_TRUE(bootstrap) << bootstrap.error().message();
  // A 3 x 2 grid over three servers, each holding one expert of every column.
  const std::vector<std::vector<std::string>> uids = {
      {"expert.0.0", "expert.1.1"}, {"expert.0.1", "expert.2.0"}, {"expert.1.0", "expert.2.1"}};
  std::vector<ChildProcess> servers;
  for (const auto& server_uids : uids) {
    auto server = start_server(bootstrap->addr, server_uids);
    ASSERT_TRUE(server) << server.error().message();
    servers.push_back(std::move(*server));
  }
  ChildOptions options;
  const std::int64_t steps = 200;
  const std::int64_t kill_at = 60;
  options.argv = {HM_DMOE_TRAINER_PATH,
                  "--initial_peers",
                  bootstrap->addr,
                  "--grid",
                  "3x2",
                  "--hidden_dim",
                  "32",
                  "--k_best",
                  "3",
                  "--steps",
                  std::to_string(steps),
                  "--eval_every",
                  "0",
                  "--log_every",
                  "20",
                  "--data_dir",
                  kDataDir};
  options.merge_stderr = true;
  auto trainer = ChildProcess::spawn(std::move(options));
  ASSERT_TRUE(trainer) << trainer.error().message();
  const pid_t killed_pid = servers[2].pid();
  bool killed = false;
  std::int64_t last_step = 0;
  std::map<std::string, std::string> final_line, summary;
  for (;;) {
    auto line = trainer->read_line(kTrainerRun);
    if (!line) {
      ASSERT_EQ(line.error(), std::errc::broken_pipe) << line.error().message();
      break;
    }
    if (line->starts_with("step ")) {
      last_step = static_cast<std::int64_t>(number(fields("x " + *line)["step"]));
      if (!killed && last_step >= kill_at) {
        servers[2].kill();  // SIGKILL, reaped
        killed = true;
      }
    } else if (line->starts_with("final ")) {
      final_line = fields(*line);
    } else if (line->starts_with("summary ")) {
      summary = fields(*line);
    }
  }
  auto code = trainer->wait(kExit);
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 0) << trainer->history_tail(30);
  EXPECT_TRUE(killed) << trainer->history_tail(30);
  EXPECT_EQ(last_step, steps);
  EXPECT_EQ(summary["steps"], std::to_string(steps)) << trainer->history_tail(30);
  EXPECT_EQ(final_line["samples"], "10000") << trainer->history_tail(30);
  EXPECT_GE(number(final_line["test_acc"]), kMinAccuracy) << trainer->history_tail(30);
  EXPECT_LT(number(summary["failed_steps"]), steps / 4) << trainer->history_tail(30);

  // Every process stops cleanly and none is left.
  std::vector<pid_t> pids = {bootstrap->process.pid(), killed_pid};
  for (std::size_t s = 0; s < 2; ++s) {
    pids.push_back(servers[s].pid());
    servers[s].signal(SIGTERM);
    auto exited = servers[s].wait(kExit);
    ASSERT_TRUE(exited) << exited.error().message();
    EXPECT_EQ(*exited, 0) << servers[s].history_tail();
  }
  bootstrap->process.signal(SIGTERM);
  ASSERT_TRUE(bootstrap->process.wait(kExit));
  for (pid_t pid : pids)
    EXPECT_FALSE(process_exists(pid)) << pid;
}

/// The pid in "<name> (pid N)...", or -1.
pid_t pid_in(const std::string& line) {
  const auto at = line.find("(pid ");
  if (at == std::string::npos)
    return -1;
  return static_cast<pid_t>(number(line.substr(at + 5, line.find(')', at) - at - 5)));
}

TEST(DmoeSwarm, LocalSwarmStopsEveryProcessOnSigterm) {
  if (!data_installed())
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install_deps.sh)";
  ChildOptions options;
  options.argv = {HM_LOCAL_SWARM_PATH,
                  "--quick",
                  "--steps",
                  "100000",
                  "--dht_path",
                  HM_DHT_TOOL_PATH,
                  "--server_path",
                  HM_SERVER_TOOL_PATH,
                  "--trainer_path",
                  HM_DMOE_TRAINER_PATH};
  options.merge_stderr = true;
  auto swarm = ChildProcess::spawn(std::move(options));
  ASSERT_TRUE(swarm) << swarm.error().message();
  std::vector<pid_t> pids;
  // Wait until the trainer is training: every child is running then.
  for (;;) {
    auto line = swarm->read_line(kServerStart);
    ASSERT_TRUE(line) << line.error().message();
    if (pid_in(*line) > 0)
      pids.push_back(pid_in(*line));
    if (line->starts_with("[trainer 0] step "))
      break;
  }
  ASSERT_EQ(pids.size(), 5u) << swarm->history_tail(20);  // dht, 3 servers, 1 trainer
  for (pid_t pid : pids)
    ASSERT_TRUE(process_exists(pid)) << pid;
  swarm->signal(SIGTERM);  // the swarm's own group: its children have groups of their own
  auto code = swarm->wait(kExit);
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 128 + SIGTERM) << swarm->history_tail(20);
  for (pid_t pid : pids)
    EXPECT_FALSE(process_exists(pid)) << pid << "\n" << swarm->history_tail(20);
}

}  // namespace
}  // namespace hivemind::moe
