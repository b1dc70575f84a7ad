#include "dht_cli.hpp"

#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "hivemind/core/log.hpp"

namespace hivemind::tools {
namespace {

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
  // One-shot commands must not become replicas: the values they held would vanish on exit.
  const NetworkFlags flags{.host_maddrs = cli.host_maddrs,
                           .announce_maddrs = cli.announce_maddrs,
                           .initial_peers = cli.initial_peers,
                           .identity_path = cli.identity_path,
                           .client_mode = cli.client_mode || cli.command != DhtCommand::kServe};
  HM_TRY(auto options, make_network_options(flags));
  options.node.bucket_size = cli.bucket_size;
  options.node.num_replicas = cli.num_replicas;
  options.node.wait_timeout =
      std::chrono::milliseconds(static_cast<long>(cli.wait_timeout_s * 1000));
  return options;
}

}  // namespace hivemind::tools
