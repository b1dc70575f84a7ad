#pragma once
/// \file
/// What `hivemind-dht` does once its DHT is up: serve until a termination signal, or run one
/// store or get and print the outcome. Each function runs on the main thread, blocks, and
/// returns the process exit code (dht_cli.hpp); the DHT is shut down by the caller.

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "dht_cli.hpp"
#include "hivemind/dht/dht.hpp"

namespace hivemind::tools {

/// Prints the multiaddrs other peers should use on `out` (one per line, flushed), then logs a
/// status line every `refresh_period` (peers in the routing table, stored keys) after a crawl
/// for a random key, until SIGINT or SIGTERM (block_termination_signals() must have been called
/// before the DHT started). Returns kExitOk.
int serve(dht::DHT& node, std::chrono::seconds refresh_period, std::ostream& out);

/// Stores `cli.value` under `cli.key` (and `cli.subkey`), expiring `cli.expiration_s` from now.
/// Prints "stored" on `out` and returns kExitOk when at least one node accepted it; otherwise
/// says so on stderr and returns kExitNotDone.
int store_once(dht::DHT& node, const DhtCliOptions& cli, std::ostream& out);

/// Gets `cli.key` (`cli.latest`: the freshest among all nearest nodes) and prints it as
/// format_found_value() does; returns kExitOk, or kExitNotDone (message on stderr) when absent.
int get_once(dht::DHT& node, const DhtCliOptions& cli, std::ostream& out);

/// The lines --get prints: for a plain value `VALUE<TAB>expiration=T (in S s)`, for a dictionary
/// one `SUBKEY: VALUE<TAB>expiration=T (in S s)` line per entry (in subkey byte order), values
/// rendered by msgpack::to_string, T in Unix seconds, S relative to `now` (Unix seconds).
std::vector<std::string> format_found_value(const dht::FoundValue& found, double now);

}  // namespace hivemind::tools
