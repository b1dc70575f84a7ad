#include "dht_tool_process.hpp"

#include <system_error>
#include <utility>

namespace hivemind::dht::tooltest {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

std::vector<std::string> tool_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{HM_DHT_TOOL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

Result<DhtToolNode> start_dht_node(const std::vector<std::string>& args) {
  std::vector<std::string> all{"--host_maddrs", "/ip4/127.0.0.1/tcp/0", "--refresh_period", "1"};
  all.insert(all.end(), args.begin(), args.end());
  testing::ChildOptions options;
  options.argv = tool_argv(all);
  options.merge_stderr = true;
  HM_TRY(auto child, testing::ChildProcess::spawn(std::move(options)));
  // Log lines (stderr) and the multiaddrs (stdout) share the pipe; the first address is the
  // first line that starts with "/ip4/".
  const auto deadline = Clock::now() + kStartTimeout;
  for (;;) {
    HM_TRY(auto line, child.read_line(left_until(deadline)));
    if (!line.starts_with("/ip4/"))
      continue;
    const auto p2p = line.find("/p2p/");
    if (p2p == std::string::npos)
      return Err(std::make_error_code(std::errc::protocol_error),
                 "multiaddr line without /p2p/: " + line);
    DhtToolNode node{std::move(child), line, line.substr(p2p + 5)};
    return node;
  }
}

Result<ToolRun> run_dht_tool(const std::vector<std::string>& args,
                             bool merge_stderr,
                             std::chrono::milliseconds timeout) {
  testing::ChildOptions options;
  options.argv = tool_argv(args);
  options.merge_stderr = merge_stderr;
  return testing::run_to_exit(std::move(options), timeout);
}

Result<std::string> read_until_line_with(testing::ChildProcess& child,
                                         std::string_view text,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    HM_TRY(auto line, child.read_line(left_until(deadline)));
    if (line.find(text) != std::string::npos)
      return line;
  }
}

bool any_line_contains(const std::vector<std::string>& lines, std::string_view text) {
  for (const auto& line : lines)
    if (line.find(text) != std::string::npos)
      return true;
  return false;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines)
    out += line + "\n";
  return out;
}

}  // namespace hivemind::dht::tooltest
