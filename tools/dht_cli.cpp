#include "dht_cli.hpp"

#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "hivemind/core/log.hpp"
#include "hivemind/net/identity.hpp"

namespace hivemind::tools {
namespace {

namespace net = hivemind::net;

/// A CLI11 check that rejects text that is not a multiaddr, so that a bad address is a flag error
/// (exit 2, "--initial_peers: bad multiaddr '...'") like every other.
/// With `need_peer_id`, the address must also end in /p2p/<peer id> (initial peers: the node
/// would otherwise skip it and report a bootstrap failure).
CLI::Validator multiaddr_check(bool need_peer_id = false) {
  return CLI::Validator(
      [need_peer_id](std::string& text) -> std::string {
        auto parsed = net::Multiaddr::from_string(text);
        if (!parsed)
          return "bad multiaddr '" + text + "' (" + parsed.error().message() + ")";
        if (need_peer_id && !parsed->peer_id())
          return "multiaddr '" + text + "' has no /p2p/<peer id> component";
        return {};
      },
      "MULTIADDR");
}

CLI::Validator log_level_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        static const char* const kLevels[] = {
            "trace", "debug", "info", "warn", "error", "critical", "off"};
        for (const char* level : kLevels)
          if (text == level)
            return {};
        return "unknown log level '" + text + "'";
      },
      "LEVEL");
}

Result<std::vector<net::Multiaddr>> parse_addrs(const std::vector<std::string>& texts,
                                                const char* flag) {
  std::vector<net::Multiaddr> out;
  for (const auto& text : texts) {
    auto addr = net::Multiaddr::from_string(text);
    if (!addr)
      return Err(addr.error().code(), std::string(flag) + ": bad multiaddr '" + text + "'");
    out.push_back(std::move(*addr));
  }
  return out;
}

/// Registers the flags of a long-running node (hivemind's run_dht.py and DHTNode options).
void add_node_flags(CLI::App& app, DhtCliOptions& cli) {
  app.add_option("--initial_peers",
                 cli.initial_peers,
                 "Multiaddrs of running peers to join (with /p2p/<peer id>); none starts a new "
                 "swarm")
      ->check(multiaddr_check(/*need_peer_id=*/true));
  app.add_option("--host_maddrs", cli.host_maddrs, "Multiaddrs to listen on")
      ->capture_default_str()
      ->check(multiaddr_check());
  app.add_option("--announce_maddrs",
                 cli.announce_maddrs,
                 "Multiaddrs to tell other peers instead of the listen addresses")
      ->check(multiaddr_check());
  app.add_option("--identity_path",
                 cli.identity_path,
                 "Private key file (libp2p protobuf format); created if missing, giving a stable "
                 "peer id across restarts");
  app.add_option("--refresh_period",
                 cli.refresh_period_s,
                 "Seconds between status reports (and crawls that evict dead peers)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_flag("--client_mode",
               cli.client_mode,
               "Query the DHT without serving it (for peers that others cannot reach)");
  app.add_option("--log_level", cli.log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str()
      ->check(log_level_check());
  app.add_option("--bucket_size", cli.bucket_size, "Kademlia k")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--num_replicas", cli.num_replicas, "Nodes that store each value")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--wait_timeout", cli.wait_timeout_s, "Seconds to wait for one RPC")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
}

/// Registers the one-shot commands and their rules; returns the --store and --get options.
std::pair<CLI::Option*, CLI::Option*> add_one_shot_flags(CLI::App& app,
                                                         DhtCliOptions& cli,
                                                         std::vector<std::string>& store_args) {
  auto* initial = app.get_option("--initial_peers");
  auto* store = app.add_option("--store",
                               store_args,
                               "One-shot: join the swarm of --initial_peers as a client, store "
                               "the string VALUE under the string KEY, exit (0: stored, 1: no "
                               "node accepted it)")
                    ->type_name("KEY VALUE")
                    ->expected(2)
                    ->needs(initial);
  auto* get = app.add_option("--get",
                             cli.key,
                             "One-shot: join as a client, print the value of the string KEY "
                             "(a dictionary: one 'subkey: value' line per entry) with its "
                             "expiration time, exit (0: found, 1: not found)")
                  ->type_name("KEY")
                  ->needs(initial)
                  ->excludes(store);
  app.add_option("--subkey", cli.subkey, "With --store: store a dictionary entry under this string")
      ->needs(store);
  app.add_option(
         "--expiration", cli.expiration_s, "With --store: seconds from now until the value expires")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e9))
      ->needs(store);
  app.add_flag("--latest",
               cli.latest,
               "With --get: the freshest value among all nearest nodes, dictionaries merged "
               "(else the first value found)")
      ->needs(get);
  return {store, get};
}

}  // namespace

std::variant<DhtCliOptions, int> parse_command_line(int argc, char** argv) {
  CLI::App app{
      "hivemind-dht: run a node of the hivemind DHT (e.g. a bootstrap peer), or store "
      "or get one value through a running swarm"};
  app.footer(
      "Exit codes: 0 success, 1 --get found nothing or --store was accepted by no node, "
      "2 bad flags, 3 could not start (listen, identity file, bootstrap).\n");
  DhtCliOptions cli;
  std::vector<std::string> store_args;
  add_node_flags(app, cli);
  auto [store, get] = add_one_shot_flags(app, cli, store_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and a hint on stderr
    return kExitBadFlags;
  }
  if (store->count() > 0) {
    cli.command = DhtCommand::kStore;
    cli.key = store_args.at(0);
    cli.value = store_args.at(1);
  } else if (get->count() > 0) {
    cli.command = DhtCommand::kGet;
  }
  set_log_level(cli.log_level);  // checked above
  return cli;
}

Result<dht::DHTOptions> make_dht_options(const DhtCliOptions& cli) {
  HM_TRY(auto listen, parse_addrs(cli.host_maddrs, "--host_maddrs"));
  HM_TRY(auto announce, parse_addrs(cli.announce_maddrs, "--announce_maddrs"));
  HM_TRY(auto initial, parse_addrs(cli.initial_peers, "--initial_peers"));
  // One-shot commands must not become replicas: the values they held would vanish on exit.
  const bool client_mode = cli.client_mode || cli.command != DhtCommand::kServe;
  dht::DHTOptions options;
  if (!client_mode)
    options.host.listen_addrs = std::move(listen);
  options.host.announce_addrs = std::move(announce);
  if (!cli.identity_path.empty()) {
    auto identity = net::load_or_create_key_file(cli.identity_path);
    if (!identity)
      return Err(identity.error().code(),
                 "--identity_path " + cli.identity_path + ": " + identity.error().message());
    options.host.identity = std::move(*identity);
  }
  options.node.initial_peers = std::move(initial);
  options.node.client_mode = client_mode;
  options.node.bucket_size = cli.bucket_size;
  options.node.num_replicas = cli.num_replicas;
  options.node.wait_timeout =
      std::chrono::milliseconds(static_cast<long>(cli.wait_timeout_s * 1000));
  return options;
}

}  // namespace hivemind::tools
