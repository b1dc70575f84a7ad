#pragma once
/// \file
/// The command line of `hivemind-server`: flags named and defaulted as in hivemind's
/// `hivemind/hivemind_cli/run_server.py`, an optional YAML config file with the same keys
/// (`--config PATH`; flags on the command line win), their checks, and their translation into
/// `moe::ServerOptions`. Startup code: call from main() only.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common_cli.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/moe/server.hpp"

namespace hivemind::tools {

/// Everything hivemind-server takes; defaults are the flags' defaults (hivemind's run_server,
/// where it differs from `Server.create`: max_batch_size 16384).
struct ServerCliOptions {
  NetworkFlags network{.host_maddrs = {"/ip4/0.0.0.0/tcp/0"},
                       .announce_maddrs = {},
                       .initial_peers = {},
                       .identity_path = {},
                       .client_mode = false};
  // Which experts.
  std::vector<std::string> expert_uids;
  std::optional<std::size_t> num_experts;
  std::optional<std::string> expert_pattern;
  std::string expert_cls = "ffn";
  std::int64_t hidden_dim = 1024;
  // Batching and compute.
  std::size_t num_handlers = 1;  ///< ServerOptions::num_codec_threads (hivemind: processes)
  std::size_t num_threads = 1;   ///< ServerOptions::num_compute_threads (ours)
  std::int64_t min_batch_size = 1;
  std::int64_t max_batch_size = 16384;
  std::string device;  ///< empty: cuda if available, else cpu
  // Training.
  std::string optimizer = "adam";  ///< adam (lr 1e-3), sgd (lr 0.01), none
  std::string scheduler = "none";  ///< none, linear
  std::int64_t num_warmup_steps = 0;
  std::optional<std::int64_t> num_training_steps;
  std::optional<double> clip_grad_norm;
  // Serving.
  double update_period_s = 30;
  std::optional<double> expiration_s;
  std::string compression = "NONE";  ///< hivemind's enum name
  std::optional<std::string> checkpoint_dir;
  std::optional<double> stats_report_interval_s;
  bool increase_file_limit = false;
  std::string log_level = "info";
  std::optional<std::string> config_path;
  /// Config keys that were ignored (hivemind keys without an equivalent here), one warning each;
  /// main() logs them.
  std::vector<std::string> warnings;
};

/// How a parse ended when it did not give options: the exit code and what to print (on stdout
/// for --help, code 0; on stderr otherwise).
struct CliExit {
  int code = kExitBadFlags;
  std::string message;
};

/// Parses the arguments (without the program name) and the config file they name. Returns the
/// options, or CliExit: kExitOk with the help text, or kExitBadFlags with a message naming the
/// flag or config key at fault. Does not touch the log level.
std::variant<ServerCliOptions, CliExit> parse_server_args(const std::vector<std::string>& args);

/// As above from main()'s argv.
std::variant<ServerCliOptions, CliExit> parse_server_command_line(int argc, char** argv);

/// The server options the flags ask for: the network flags as hivemind-dht reads them (identity
/// file loaded or created: blocking file I/O), the optimizer's learning rate from its name.
/// Errors: a malformed multiaddr or the identity file's error, with the flag in the detail.
Result<moe::ServerOptions> make_server_options(const ServerCliOptions& cli);

/// Raises the soft limit of open files to the hard limit (hivemind's `increase_file_limit`).
/// Returns the new soft limit. Errors: getrlimit/setrlimit's errno.
Result<std::uint64_t> raise_file_limit();

}  // namespace hivemind::tools
