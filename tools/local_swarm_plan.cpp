// The pure parts of hivemind-local-swarm: grid text, expert uids per server, command lines,
// trainer line parsing, program paths.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <sstream>
#include <system_error>

#include <unistd.h>

#include "hivemind/core/check.hpp"
#include "local_swarm.hpp"

namespace hivemind::tools {

Result<std::vector<int>> parse_grid_text(const std::string& text) {
  std::vector<int> grid;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find_first_of("x,", start), text.size());
    const auto part = text.substr(start, end - start);
    long value = part.empty() ? -1 : 0;
    for (char c : part) {
      if (c < '0' || c > '9' || value > 1'000'000) {
        value = -1;
        break;
      }
      value = value * 10 + (c - '0');
    }
    if (value <= 0 || value > 1'000'000)
      return Err(std::make_error_code(std::errc::invalid_argument),
                 "bad grid '" + text + "' (expected e.g. 4x4 or 4,4)");
    grid.push_back(static_cast<int>(value));
    start = end + 1;
  }
  return grid;
}

std::vector<std::vector<std::string>> assign_expert_uids(const std::vector<int>& grid,
                                                         int num_servers,
                                                         const std::string& prefix) {
  HM_CHECK(num_servers > 0, "assign_expert_uids: num_servers must be positive");
  HM_CHECK(!grid.empty(), "assign_expert_uids: empty grid");
  for (int size : grid)
    HM_CHECK(size > 0, "assign_expert_uids: grid sizes must be positive");
  std::vector<std::vector<std::string>> uids(static_cast<std::size_t>(num_servers));
  std::vector<int> cell(grid.size(), 0);
  for (;;) {
    int sum = 0;
    std::string uid = prefix;
    for (int c : cell) {
      sum += c;
      uid += "." + std::to_string(c);
    }
    uids[static_cast<std::size_t>(sum % num_servers)].push_back(std::move(uid));
    // Next cell, last coordinate fastest.
    std::size_t d = grid.size();
    while (d > 0) {
      --d;
      if (++cell[d] < grid[d])
        break;
      cell[d] = 0;
      if (d == 0)
        return uids;
    }
  }
}

std::vector<int> grid_of(const LocalSwarmOptions& options) {
  if (!options.grid.empty())
    return options.grid;
  return {options.num_servers, options.experts_per_server};
}

std::vector<std::string> server_command(const LocalSwarmOptions& o,
                                        const std::string& dht_addr,
                                        const std::vector<std::string>& uids) {
  std::vector<std::string> argv = {o.server_path,
                                   "--host_maddrs",
                                   "/ip4/127.0.0.1/tcp/0",
                                   "--initial_peers",
                                   dht_addr,
                                   "--device",
                                   "cpu",
                                   "--expert_cls",
                                   "ffn",
                                   "--hidden_dim",
                                   std::to_string(o.hidden_dim),
                                   "--num_threads",
                                   std::to_string(o.server_threads),
                                   "--expert_uids"};
  argv.insert(argv.end(), uids.begin(), uids.end());
  return argv;
}

std::vector<std::string> trainer_command(const LocalSwarmOptions& o,
                                         const std::string& dht_addr,
                                         std::size_t index) {
  std::string grid;
  for (int size : grid_of(o))
    grid += (grid.empty() ? "" : "x") + std::to_string(size);
  std::ostringstream lr;
  lr.precision(17);
  lr << o.lr;
  std::vector<std::string> argv = {o.trainer_path,
                                   "--initial_peers",
                                   dht_addr,
                                   "--grid",
                                   grid,
                                   "--uid_prefix",
                                   o.uid_prefix,
                                   "--hidden_dim",
                                   std::to_string(o.hidden_dim),
                                   "--k_best",
                                   std::to_string(o.k_best),
                                   "--k_min",
                                   std::to_string(o.k_min),
                                   "--batch_size",
                                   std::to_string(o.batch_size),
                                   "--steps",
                                   std::to_string(o.steps),
                                   "--lr",
                                   lr.str(),
                                   "--eval_every",
                                   std::to_string(o.eval_every),
                                   "--seed",
                                   std::to_string(o.seed + index)};
  // About 40 progress lines per run, every 10 to 50 steps.
  const std::int64_t log_every = std::clamp<std::int64_t>(o.steps / 400 * 10, 10, 50);
  argv.insert(argv.end(), {"--log_every", std::to_string(log_every)});
  if (!o.data_dir.empty())
    argv.insert(argv.end(), {"--data_dir", o.data_dir});
  return argv;
}

std::map<std::string, std::string> parse_fields(const std::string& line, std::size_t skip) {
  std::istringstream in(line);
  std::string key, value;
  for (std::size_t i = 0; i < skip && in >> key; ++i) {
  }
  std::map<std::string, std::string> out;
  while (in >> key >> value)
    out[key] = value;
  return out;
}

std::optional<double> parse_number(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

Result<void> resolve_program_paths(LocalSwarmOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path dir = ec ? fs::path(".") : self.parent_path();
  const auto executable = [](const fs::path& path) {
    return ::access(path.c_str(), X_OK) == 0;
  };
  const auto resolve = [&](std::string& path,
                           const char* name,
                           const char* flag,
                           std::vector<fs::path> candidates) -> Result<void> {
    if (!path.empty())
      candidates = {fs::path(path)};
    for (const auto& candidate : candidates) {
      if (executable(candidate)) {
        path = candidate.string();
        return ok();
      }
    }
    return Err(std::make_error_code(std::errc::no_such_file_or_directory),
               std::string("cannot find ") + name + " (looked at " + candidates.front().string()
                   + "); build it or pass " + flag);
  };
  HM_TRY_VOID(resolve(options.dht_path, "hivemind-dht", "--dht_path", {dir / "hivemind-dht"}));
  HM_TRY_VOID(
      resolve(options.server_path, "hivemind-server", "--server_path", {dir / "hivemind-server"}));
  const char* trainer = "hm-example-dmoe-fashion-mnist";
  HM_TRY_VOID(resolve(options.trainer_path,
                      trainer,
                      "--trainer_path",
                      {dir / trainer, dir.parent_path() / "examples" / trainer}));
  return ok();
}

}  // namespace hivemind::tools
