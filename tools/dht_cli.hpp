#pragma once
/// \file
/// The command line of `hivemind-dht`: its flags (named as in hivemind's
/// `hivemind/hivemind_cli/run_dht.py`, plus one-shot `--store`/`--get` commands), their parsing
/// and their translation into `dht::DHTOptions`. Startup code: call from main() only.

#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common_cli.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/dht.hpp"

namespace hivemind::tools {

/// Exit codes of hivemind-dht: those of common_cli.hpp (0 ok, 2 bad flags, 3 could not start)
/// and this one.
inline constexpr int kExitNotDone = 1;  ///< --get found nothing, --store was accepted by no one

/// What one run of the tool does.
enum class DhtCommand {
  kServe,  ///< run a node until SIGINT/SIGTERM (the default)
  kStore,  ///< join, store one value, exit
  kGet,    ///< join, get one key, print it, exit
};

/// Everything hivemind-dht takes on its command line; defaults are the flags' defaults.
struct DhtCliOptions {
  DhtCommand command = DhtCommand::kServe;
  std::vector<std::string> initial_peers;
  std::vector<std::string> host_maddrs{"/ip4/0.0.0.0/tcp/0"};
  std::vector<std::string> announce_maddrs;
  std::string identity_path;  ///< empty: a fresh random identity
  int refresh_period_s = 30;  ///< status report period
  bool client_mode = false;   ///< always on for one-shot commands
  std::string log_level = "info";
  std::size_t bucket_size = 20;
  std::size_t num_replicas = 5;
  double wait_timeout_s = 3.0;  ///< per RPC
  // One-shot commands. Keys, subkeys and values are msgpack strings.
  std::string key;                    ///< --store KEY VALUE, --get KEY
  std::string value;                  ///< --store only
  std::optional<std::string> subkey;  ///< --store --subkey S: a dictionary entry
  double expiration_s = 300;          ///< --store: the value expires this long from now
  bool latest = false;                ///< --get --latest: ask every nearest node
};

/// Parses `argv`. Returns the options, or the exit code to return right away: kExitOk after
/// --help (printed on stdout), kExitBadFlags after an error (message printed on stderr).
std::variant<DhtCliOptions, int> parse_command_line(int argc, char** argv);

/// The DHT options the flags ask for: addresses parsed, the identity file loaded or created
/// (blocking file I/O), client mode forced for one-shot commands. Errors: a malformed multiaddr
/// (with the flag and the text in the detail) or the identity file's error.
Result<dht::DHTOptions> make_dht_options(const DhtCliOptions& cli);

}  // namespace hivemind::tools
