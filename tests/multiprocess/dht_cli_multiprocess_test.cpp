// hivemind-dht as a process: SIGINT and SIGTERM stop a node promptly with exit code 0 (also
// when it was started with SIGINT ignored, as a non-interactive shell starts `cmd &`), a node
// whose initial peers refuse or never answer exits 3 with the bootstrap-failure message on
// stderr, and malformed or inconsistent flags exit 2 with a message naming the flag.
#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dht_tool_process.hpp"

namespace hivemind::dht::tooltest {
namespace {

/// The libp2p vector (DESIGN.md): a well-formed peer id nobody in these tests runs.
constexpr char kAbsentPeerId[] = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

/// A TCP socket bound to 127.0.0.1 on a free port: with `listen`, connections complete in the
/// kernel but nothing is ever read or written (a peer that never answers); without, connecting
/// is refused. Holding the port keeps anyone else from using it during the test.
class DeadPort {
 public:
  explicit DeadPort(bool listen) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0
        || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0
        || (listen && ::listen(fd_, 16) != 0))
      ADD_FAILURE() << "cannot set up a dead port";
    port_ = ntohs(addr.sin_port);
  }

  DeadPort(const DeadPort&) = delete;
  DeadPort& operator=(const DeadPort&) = delete;

  ~DeadPort() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  std::string multiaddr() const {
    return "/ip4/127.0.0.1/tcp/" + std::to_string(port_) + "/p2p/" + kAbsentPeerId;
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

/// Sends `signal` to a started node and expects "received signal N" and exit code 0 promptly.
void expect_clean_stop(testing::ChildProcess& node, int signal) {
  node.signal(signal);
  const std::string said = "received signal " + std::to_string(signal);
  auto line = read_until_line_with(node, said, kExitTimeout);
  EXPECT_TRUE(line) << said << ": " << line.error().message();
  auto code = node.wait(kExitTimeout);
  ASSERT_TRUE(code) << "no exit within " << kExitTimeout.count() << " ms after signal " << signal;
  EXPECT_EQ(*code, 0) << node.history_tail(20);
}

TEST(DhtToolCli, SigtermAndSigintStopNodesPromptlyWithExitCodeZero) {
  auto a = start_dht_node({});
  ASSERT_TRUE(a) << a.error().message();
  auto b = start_dht_node({"--initial_peers", a->addr});
  ASSERT_TRUE(b) << b.error().message();
  // Both are connected to each other while they stop.
  expect_clean_stop(b->process, SIGINT);
  expect_clean_stop(a->process, SIGTERM);
}

TEST(DhtToolCli, SigintStopsNodeStartedWithSigintIgnored) {
  // `trap "" INT` makes SIGINT ignored, and exec keeps it ignored in the tool, as for a job a
  // script starts with `hivemind-dht ... &`. The tool must reset it to be able to collect it.
  testing::ChildOptions options;
  options.argv = {"/bin/sh",
                  "-c",
                  "trap '' INT; exec \"$0\" \"$@\"",
                  HM_DHT_TOOL_PATH,
                  "--host_maddrs",
                  "/ip4/127.0.0.1/tcp/0"};
  options.merge_stderr = true;
  auto node = testing::ChildProcess::spawn(std::move(options));
  ASSERT_TRUE(node) << node.error().message();
  auto addr = read_until_line_with(*node, "/ip4/127.0.0.1/tcp/", kStartTimeout);
  ASSERT_TRUE(addr) << addr.error().message();
  expect_clean_stop(*node, SIGINT);
}

TEST(DhtToolCli, UnreachableInitialPeersFailWithBootstrapMessage) {
  const DeadPort refusing(false);
  const DeadPort silent(true);
  for (const auto* dead : {&refusing, &silent}) {
    // A node and a one-shot get both give up after the bootstrap deadline (--wait_timeout).
    const std::vector<std::vector<std::string>> commands{
        {"--host_maddrs",
         "/ip4/127.0.0.1/tcp/0",
         "--initial_peers",
         dead->multiaddr(),
         "--wait_timeout",
         "0.5"},
        {"--initial_peers", dead->multiaddr(), "--wait_timeout", "0.5", "--get", "key"},
    };
    for (const auto& args : commands) {
      auto run = run_dht_tool(args, /*merge_stderr=*/true);
      ASSERT_TRUE(run) << run.error().message();
      EXPECT_EQ(run->exit_code, 3) << join_lines(run->lines);
      EXPECT_TRUE(any_line_contains(run->lines,
                                    "hivemind-dht: DHT bootstrap failed: none of the "
                                    "1 initial peers responded"))
          << join_lines(run->lines);
    }
  }
}

TEST(DhtToolCli, MalformedFlagsExitTwoWithMessageNamingTheFlag) {
  const std::string peer = std::string("/ip4/127.0.0.1/tcp/1/p2p/") + kAbsentPeerId;

  struct Case {
    std::vector<std::string> args;
    std::string message;
  };

  const std::vector<Case> cases{
      {{"--initial_peers", "/ip4/1.2.3/tcp/5"},
       "--initial_peers: bad multiaddr '/ip4/1.2.3/tcp/5'"},
      {{"--initial_peers", "/ip4/127.0.0.1/tcp/5"}, "has no /p2p/<peer id> component"},
      {{"--host_maddrs", "not-a-multiaddr"}, "--host_maddrs: bad multiaddr 'not-a-multiaddr'"},
      {{"--announce_maddrs", "/ip4/127.0.0.1/tcp/70000"}, "--announce_maddrs: bad multiaddr"},
      {{"--refresh_period", "0"}, "--refresh_period"},
      {{"--log_level", "loud"}, "--log_level: unknown log level 'loud'"},
      {{"--no_such_flag"}, "--no_such_flag"},
      {{"--get", "key"}, "--get requires --initial_peers"},
      {{"--subkey", "s"}, "--subkey requires --store"},
      {{"--initial_peers", peer, "--store", "key"}, "--store"},
      {{"--initial_peers", peer, "--store", "k", "v", "--get", "k"}, "excludes"},
  };
  for (const auto& c : cases) {
    auto run = run_dht_tool(c.args, /*merge_stderr=*/true);
    ASSERT_TRUE(run) << run.error().message();
    EXPECT_EQ(run->exit_code, 2) << join_lines(c.args) << join_lines(run->lines);
    EXPECT_TRUE(any_line_contains(run->lines, c.message)) << "expected '" << c.message << "' in:\n"
                                                          << join_lines(run->lines);
  }
}

}  // namespace
}  // namespace hivemind::dht::tooltest
