#pragma once
/// \file
/// `hivemind-local-swarm`: a whole Decentralized Mixture-of-Experts swarm on 127.0.0.1 — one
/// hivemind-dht bootstrap node, `num_servers` hivemind-server processes serving disjoint parts of
/// an expert grid, and `num_trainers` Fashion-MNIST trainers (hm-example-dmoe-fashion-mnist) —
/// with the trainers' progress relayed, one server SIGKILLed part-way, and a summary at the end.
/// Every child runs in its own process group, dies with this process, and is stopped on every
/// way out (normal end, error, SIGINT/SIGTERM). Startup code: call from main() only.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "hivemind/core/result.hpp"

namespace hivemind::tools {

/// Everything hivemind-local-swarm takes; defaults are its flags' defaults.
struct LocalSwarmOptions {
  int num_servers = 4;
  int experts_per_server = 4;
  std::vector<int> grid{};  ///< empty: {num_servers, experts_per_server}
  std::string uid_prefix = "expert";
  std::int64_t hidden_dim = 64;
  int server_threads = 1;  ///< hivemind-server --num_threads
  int num_trainers = 1;
  std::int64_t steps = 600;
  std::int64_t batch_size = 64;
  int k_best = 4;
  int k_min = 1;
  double lr = 1e-3;
  std::int64_t eval_every = 200;
  std::int64_t kill_at_step = -1;  ///< -1: steps / 2; 0: never
  std::uint64_t seed = 0;
  double min_accuracy = 0;  ///< exit 3 when a trainer's final test accuracy is lower
  double timeout_s = 900;   ///< the whole run
  bool verbose = false;     ///< relay the DHT's and servers' output too
  std::string dht_path{};   ///< empty: next to this program
  std::string server_path{};
  std::string trainer_path{};  ///< empty: next to this program or in ../examples
  std::string data_dir{};      ///< empty: the trainer's default
};

/// Exit codes (common_cli.hpp's, plus the signal that stopped the run as 128 + N).
inline constexpr int kSwarmExitFailed = 3;

/// "4x4", "4,4" or "16". Errors: std::errc::invalid_argument naming the text.
Result<std::vector<int>> parse_grid_text(const std::string& text);

/// The expert uids of each server: every cell (c_0, ..., c_{n-1}) of `grid` goes to server
/// (c_0 + ... + c_{n-1}) mod num_servers, so that one server's experts are spread over every row
/// and column (a dead server never holds all of a sample's best experts). Uids are
/// `prefix.c_0.c_1...`. Precondition (HM_CHECK): num_servers > 0, grid entries > 0.
std::vector<std::vector<std::string>> assign_expert_uids(const std::vector<int>& grid,
                                                         int num_servers,
                                                         const std::string& prefix);

/// The grid the options ask for: `grid`, or {num_servers, experts_per_server} when empty.
std::vector<int> grid_of(const LocalSwarmOptions& options);

/// The command line of a hivemind-server on 127.0.0.1 serving `uids`, joined to `dht_addr`.
std::vector<std::string> server_command(const LocalSwarmOptions& options,
                                        const std::string& dht_addr,
                                        const std::vector<std::string>& uids);

/// The command line of trainer number `index` (seed: options.seed + index).
std::vector<std::string> trainer_command(const LocalSwarmOptions& options,
                                         const std::string& dht_addr,
                                         std::size_t index);

/// The `key value` pairs of a line after its first `skip` words (a trainer's progress lines).
std::map<std::string, std::string> parse_fields(const std::string& line, std::size_t skip);

/// The number `text` spells in full, or nullopt.
std::optional<double> parse_number(const std::string& text);

/// The sibling programs: explicit paths win; else the directory of /proc/self/exe (and its
/// ../examples for the trainer). Errors: std::errc::no_such_file_or_directory naming the program.
Result<void> resolve_program_paths(LocalSwarmOptions& options);

/// Runs the swarm, writing progress and the summary to `out`. Blocks; SIGINT and SIGTERM must be
/// blocked already (signals.hpp) and stop the run. Returns the exit code: 0 when every trainer
/// finished (with min_accuracy reached), kSwarmExitFailed otherwise, 128 + signal when stopped.
int run_local_swarm(const LocalSwarmOptions& options, std::ostream& out);

}  // namespace hivemind::tools
