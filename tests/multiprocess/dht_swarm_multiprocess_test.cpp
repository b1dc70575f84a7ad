// A swarm of real hivemind-dht processes on 127.0.0.1: three long-running nodes chained (B joins
// A, C joins B), one-shot --store/--get processes joining through different nodes, dictionary
// subkeys written through different nodes and read back merged, the status line counting the
// swarm, and a node keeping its peer id across a restart (--identity_path) and rejoining.
// (hivemind's tests/test_cli_scripts.py starts two nodes and checks their status lines;
// ../shared/reference/hivemind-dht-p2p.md §1.12 and §4.)
#include <csignal>
#include <deque>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "dht_tool_process.hpp"

namespace hivemind::dht::tooltest {
namespace {

/// The "(in S s)" figure of a --get line.
std::optional<double> seconds_left(const std::string& line) {
  auto start = line.rfind("(in ");
  if (start == std::string::npos)
    return std::nullopt;
  try {
    return std::stod(line.substr(start + 4));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// "VALUE<TAB>expiration=..." as --get prints a plain value; "SUBKEY: VALUE<TAB>..." for an entry.
std::string value_prefix(const std::string& rendered) {
  return rendered + "\texpiration=";
}

class DhtToolSwarm : public ::testing::Test {
 protected:
  void TearDown() override {
    // Every node still running must stop cleanly on SIGTERM.
    for (auto& node : nodes_) {
      node.process.signal(SIGTERM);
      auto code = node.process.wait(kExitTimeout);
      EXPECT_TRUE(code && *code == 0)
          << "node " << node.peer_id
          << " exit: " << (code ? std::to_string(*code) : code.error().message()) << "\n"
          << node.process.history_tail(20);
    }
  }

  /// Starts a node (with `args`) and keeps it; nullptr after recording a failure.
  DhtToolNode* start(const std::vector<std::string>& args = {}) {
    auto node = start_dht_node(args);
    if (!node) {
      ADD_FAILURE() << "hivemind-dht did not start: " << node.error().message();
      return nullptr;
    }
    nodes_.push_back(std::move(*node));
    return &nodes_.back();
  }

  /// Starts A, B joining A, C joining B.
  bool start_chain() {
    DhtToolNode* a = start();
    if (a == nullptr)
      return false;
    const std::string a_addr = a->addr;
    DhtToolNode* b = start({"--initial_peers", a_addr});
    if (b == nullptr)
      return false;
    const std::string b_addr = b->addr;
    return start({"--initial_peers", b_addr}) != nullptr;
  }

  /// A one-shot run that must succeed (exit 0); returns its stdout lines.
  std::vector<std::string> one_shot(const std::vector<std::string>& args) {
    auto run = run_dht_tool(args);
    if (!run) {
      ADD_FAILURE() << "hivemind-dht " << join_lines(args) << ": " << run.error().message();
      return {};
    }
    EXPECT_EQ(run->exit_code, 0) << join_lines(args) << "output:\n" << join_lines(run->lines);
    return run->lines;
  }

  std::deque<DhtToolNode> nodes_;  ///< push_back keeps pointers to earlier nodes valid
};

TEST_F(DhtToolSwarm, StoreThroughOneNodeGetThroughAnother) {
  ASSERT_TRUE(start_chain());
  const auto& a = nodes_[0];
  const auto& c = nodes_[2];
  auto stored = one_shot({"--initial_peers", a.addr, "--store", "greeting", "hello world"});
  EXPECT_EQ(stored, std::vector<std::string>{"stored"});

  auto got = one_shot({"--initial_peers", c.addr, "--get", "greeting"});
  ASSERT_EQ(got.size(), 1u) << join_lines(got);
  EXPECT_TRUE(got[0].starts_with(value_prefix("'hello world'"))) << got[0];
  // The default --expiration is 300 s from the store (at most a few seconds ago).
  auto left = seconds_left(got[0]);
  ASSERT_TRUE(left.has_value()) << got[0];
  EXPECT_GT(*left, 290.0) << got[0];
  EXPECT_LE(*left, 300.0) << got[0];

  // A key nobody stored: exit code 1 and nothing on stdout.
  auto missing = run_dht_tool({"--initial_peers", c.addr, "--get", "nobody stored this"});
  ASSERT_TRUE(missing) << missing.error().message();
  EXPECT_EQ(missing->exit_code, 1);
  EXPECT_TRUE(missing->lines.empty()) << join_lines(missing->lines);
}

TEST_F(DhtToolSwarm, DictionarySubkeysStoredThroughTwoNodesReadBackMerged) {
  ASSERT_TRUE(start_chain());
  one_shot({"--initial_peers", nodes_[0].addr, "--store", "experts", "alice", "--subkey", "e.0"});
  one_shot({"--initial_peers",
            nodes_[2].addr,
            "--store",
            "experts",
            "bob",
            "--subkey",
            "e.1",
            "--expiration",
            "60"});
  auto got = one_shot({"--initial_peers", nodes_[1].addr, "--get", "experts", "--latest"});
  ASSERT_EQ(got.size(), 2u) << join_lines(got);
  EXPECT_TRUE(got[0].starts_with(value_prefix("'e.0': 'alice'"))) << got[0];
  EXPECT_TRUE(got[1].starts_with(value_prefix("'e.1': 'bob'"))) << got[1];
  auto left = seconds_left(got[1]);
  ASSERT_TRUE(left.has_value()) << got[1];
  EXPECT_GT(*left, 50.0) << "expires in ~60 s: " << got[1];
  EXPECT_LE(*left, 60.0) << "expires in ~60 s: " << got[1];
}

TEST_F(DhtToolSwarm, StatusLineCountsThreeNodes) {
  ASSERT_TRUE(start_chain());
  for (auto& node : nodes_) {
    // --refresh_period 1: a report every second; allow a few.
    auto line = read_until_line_with(node.process, "3 DHT nodes (including this one)", 10s);
    EXPECT_TRUE(line) << node.peer_id << ": " << line.error().message();
    if (line) {
      EXPECT_NE(line->find("local storage contains 0 keys"), std::string::npos) << *line;
    }
  }
}

TEST_F(DhtToolSwarm, IdentityPathKeepsPeerIdAcrossRestartAndNodeRejoins) {
  std::random_device random;
  const auto dir =
      std::filesystem::temp_directory_path()
      / ("hm_dht_identity_" + std::to_string(::getpid()) + "_" + std::to_string(random()));
  std::filesystem::create_directories(dir);
  const std::string key_path = (dir / "node.key").string();

  DhtToolNode* a = start();
  ASSERT_NE(a, nullptr);
  const std::string a_addr = a->addr;
  DhtToolNode* first = start({"--initial_peers", a_addr, "--identity_path", key_path});
  ASSERT_NE(first, nullptr);
  const std::string peer_id = first->peer_id;
  EXPECT_TRUE(std::filesystem::exists(key_path));
  one_shot({"--initial_peers", a_addr, "--store", "before restart", "kept by A"});

  first->process.signal(SIGTERM);
  auto code = first->process.wait(kExitTimeout);
  ASSERT_TRUE(code && *code == 0) << (code ? std::to_string(*code) : code.error().message());
  nodes_.erase(nodes_.begin() + 1);

  DhtToolNode* second = start({"--initial_peers", a_addr, "--identity_path", key_path});
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->peer_id, peer_id);
  auto status = read_until_line_with(second->process, "2 DHT nodes (including this one)", 10s);
  EXPECT_TRUE(status) << status.error().message();
  // Reached through the restarted node, the swarm still has the value stored before.
  auto got = one_shot({"--initial_peers", second->addr, "--get", "before restart"});
  ASSERT_EQ(got.size(), 1u) << join_lines(got);
  EXPECT_TRUE(got[0].starts_with(value_prefix("'kept by A'"))) << got[0];
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hivemind::dht::tooltest
