#pragma once
/// \file
/// Command-line pieces shared by the tools (`hivemind-dht`, `hivemind-server`): exit codes,
/// CLI11 checks for multiaddrs and log levels, and the translation of the network flags
/// (`--host_maddrs`, `--announce_maddrs`, `--initial_peers`, `--identity_path`) into
/// `dht::DHTOptions`. Startup code: call from main() only.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "hivemind/core/result.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::tools {

/// Exit codes common to the tools.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadFlags = 2;  ///< malformed or inconsistent flags (as argparse)
inline constexpr int kExitNoStart = 3;   ///< could not listen, load the identity or bootstrap

/// A CLI11 check that rejects text that is not a multiaddr, so that a bad address is a flag error
/// (exit 2, "--initial_peers: bad multiaddr '...'") like every other. With `need_peer_id`, the
/// address must also end in /p2p/<peer id> (initial peers: the node would otherwise skip it and
/// report a bootstrap failure).
CLI::Validator multiaddr_check(bool need_peer_id = false);

/// A CLI11 check for `--log_level`: trace, debug, info, warn, error, critical or off.
CLI::Validator log_level_check();

/// Parses every text as a multiaddr. Errors: the first malformed one, with `flag` and the text
/// in the detail.
Result<std::vector<net::Multiaddr>> parse_multiaddrs(const std::vector<std::string>& texts,
                                                     const char* flag);

/// The network flags of a DHT peer, as the tools spell them.
struct NetworkFlags {
  std::vector<std::string> host_maddrs;
  std::vector<std::string> announce_maddrs;
  std::vector<std::string> initial_peers;
  std::string identity_path;  ///< empty: a fresh random identity
  bool client_mode = false;   ///< listen nowhere, serve nothing
};

/// DHT options from the network flags: addresses parsed (listen addresses dropped in client
/// mode), the identity file loaded or created (blocking file I/O). Errors: a malformed multiaddr
/// (flag and text in the detail) or the identity file's error ("--identity_path PATH: ...").
Result<dht::DHTOptions> make_network_options(const NetworkFlags& flags);

}  // namespace hivemind::tools
