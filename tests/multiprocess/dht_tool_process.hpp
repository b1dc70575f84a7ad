#pragma once
// Helpers for multi-process tests of the `hivemind-dht` tool (HM_DHT_TOOL_PATH, fixed at build
// time): long-running nodes on 127.0.0.1 whose output is read line by line with deadlines, and
// one-shot runs collected until the process exits. No sleeps: every wait reads the child's
// output or its exit status with a deadline. Test thread only.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "hivemind/core/result.hpp"
#include "testutil/child_process.hpp"

namespace hivemind::dht::tooltest {

using namespace std::chrono_literals;

/// Generous bounds (processes start in ~50 ms, but CI machines are shared and may run ASan).
inline constexpr std::chrono::milliseconds kStartTimeout = 20s;
inline constexpr std::chrono::milliseconds kRunTimeout = 20s;
/// How long a node may take to exit after SIGINT/SIGTERM ("promptly").
inline constexpr std::chrono::milliseconds kExitTimeout = 5s;

/// A long-running hivemind-dht node; its stderr is merged into the stdout pipe so that status
/// lines can be read. Killed (SIGKILL) when destroyed unless it exited before.
struct DhtToolNode {
  testing::ChildProcess process;
  std::string addr;     ///< the first multiaddr it printed (/ip4/127.0.0.1/tcp/P/p2p/ID)
  std::string peer_id;  ///< the ID part of addr
};

/// Starts `hivemind-dht --host_maddrs /ip4/127.0.0.1/tcp/0 --refresh_period 1 <args>` and waits
/// for its first multiaddr line. Errors: spawn failure, timeout, the process ending first (the
/// detail holds its last output lines).
Result<DhtToolNode> start_dht_node(const std::vector<std::string>& args);

/// A finished tool run: exit code and output lines.
using ToolRun = testing::ChildRun;

/// Runs `hivemind-dht <args>` to completion (stderr merged into `lines` when `merge_stderr`,
/// else shown in the test log). Errors: spawn failure, timed_out after `timeout`.
Result<ToolRun> run_dht_tool(const std::vector<std::string>& args,
                             bool merge_stderr = false,
                             std::chrono::milliseconds timeout = kRunTimeout);

/// Reads `child`'s lines until one contains `text` and returns it. Errors: those of read_line
/// (timed_out, broken_pipe when the output ends first).
Result<std::string> read_until_line_with(testing::ChildProcess& child,
                                         std::string_view text,
                                         std::chrono::milliseconds timeout);

/// Whether some line of `lines` contains `text`.
bool any_line_contains(const std::vector<std::string>& lines, std::string_view text);

/// All lines joined with '\n' (for failure messages).
std::string join_lines(const std::vector<std::string>& lines);

}  // namespace hivemind::dht::tooltest
