// hivemind-local-swarm's pure parts (tools/local_swarm.hpp): grid text, the uids each server
// serves, the command lines it runs, the parsing of trainer lines; and tools/process.hpp on small
// shell commands (output lines, exit codes, process groups).
#include <csignal>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "local_swarm.hpp"
#include "process.hpp"

namespace hivemind::tools {
namespace {

using namespace std::chrono_literals;

TEST(LocalSwarmPlan, ParsesGridText) {
  EXPECT_EQ(*parse_grid_text("4x4"), (std::vector<int>{4, 4}));
  EXPECT_EQ(*parse_grid_text("3,2,5"), (std::vector<int>{3, 2, 5}));
  EXPECT_EQ(*parse_grid_text("16"), (std::vector<int>{16}));
  for (const char* bad : {"", "4x", "x4", "4x0", "4xa", "-1", "4,,4", "99999999999"})
    EXPECT_FALSE(parse_grid_text(bad)) << bad;
}

TEST(LocalSwarmPlan, SpreadsEveryCellOverTheServersOnce) {
  const auto uids = assign_expert_uids({4, 4}, 4, "expert");
  ASSERT_EQ(uids.size(), 4u);
  std::set<std::string> all;
  for (const auto& server : uids) {
    EXPECT_EQ(server.size(), 4u);
    std::set<char> rows, cols;
    for (const auto& uid : server) {
      all.insert(uid);
      rows.insert(uid[7]);  // "expert.R.C"
      cols.insert(uid[9]);
    }
    EXPECT_EQ(rows.size(), 4u);  // one expert of every row and every column
    EXPECT_EQ(cols.size(), 4u);
  }
  EXPECT_EQ(all.size(), 16u);
  EXPECT_EQ(uids[0].front(), "expert.0.0");
  EXPECT_EQ(assign_expert_uids({5}, 2, "ffn")[1], (std::vector<std::string>{"ffn.1", "ffn.3"}));
  EXPECT_TRUE(assign_expert_uids({2}, 3, "e")[2].empty());  // too few cells: caller rejects
}

TEST(LocalSwarmPlan, BuildsCommandLines) {
  LocalSwarmOptions o;
  o.server_path = "/s";
  o.trainer_path = "/t";
  o.lr = 0.0005;
  o.seed = 7;
  const auto server = server_command(o, "/ip4/1.2.3.4/tcp/5/p2p/X", {"expert.0.0", "expert.1.3"});
  EXPECT_EQ(server.front(), "/s");
  EXPECT_EQ(server[server.size() - 3], "--expert_uids");
  EXPECT_EQ(server.back(), "expert.1.3");
  const auto trainer = trainer_command(o, "/ip4/1.2.3.4/tcp/5/p2p/X", 2);
  const auto value_of = [&](const std::string& flag) {
    for (std::size_t i = 0; i + 1 < trainer.size(); ++i)
      if (trainer[i] == flag)
        return trainer[i + 1];
    return std::string("<missing>");
  };
  EXPECT_EQ(value_of("--grid"), "4x4");
  EXPECT_EQ(value_of("--lr"), "0.00050000000000000001");
  EXPECT_EQ(value_of("--seed"), "9");
  EXPECT_EQ(value_of("--initial_peers"), "/ip4/1.2.3.4/tcp/5/p2p/X");
}

TEST(LocalSwarmPlan, ParsesTrainerLines) {
  auto f = parse_fields("summary steps 300 failed_steps 2 test_acc 0.8123", 1);
  EXPECT_EQ(f["steps"], "300");
  EXPECT_EQ(parse_number(f["test_acc"]), 0.8123);
  EXPECT_EQ(parse_fields("step 120 loss 0.6", 0)["step"], "120");
  EXPECT_FALSE(parse_number(""));
  EXPECT_FALSE(parse_number("12abc"));
  EXPECT_FALSE(parse_number(f["missing"]));
}

TEST(ToolProcess, ReadsLinesAndExitCode) {
  auto p = Process::spawn({"/bin/sh", "-c", "echo one; echo two >&2; printf three; exit 4"}, true);
  ASSERT_TRUE(p) << p.error().message();
  auto code = p->wait_for(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 4);
  EXPECT_EQ(p->tail_text(), "one\ntwo\nthree");
}

TEST(ToolProcess, MissingProgramExits127) {
  auto p = Process::spawn({"/nonexistent/program"}, true);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->wait_for(30s), 127);
  EXPECT_EQ(p->tail_text(), "cannot execute /nonexistent/program");
}

TEST(ToolProcess, StopEndsTheWholeGroup) {
  // A shell that ignores SIGTERM and has a child: stop() escalates to SIGKILL of the group.
  auto p = Process::spawn({"/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo $!; wait"}, true);
  ASSERT_TRUE(p);
  for (int i = 0; i < 3000 && p->tail_text().empty(); ++i)
    p->wait_for(10ms);  // reads output for at most 10 ms
  const pid_t grandchild = std::stoi(p->tail_text());
  EXPECT_EQ(p->stop(200ms), 128 + SIGKILL);
  // The grandchild got the same SIGKILL; once its parent is gone, init reaps it.
  bool gone = false;
  for (int i = 0; i < 3000 && !gone; ++i) {
    gone = ::kill(grandchild, 0) != 0;
    if (!gone)
      std::this_thread::sleep_for(10ms);  // polling a condition, bounded at 30 s
  }
  EXPECT_TRUE(gone);
}

}  // namespace
}  // namespace hivemind::tools
