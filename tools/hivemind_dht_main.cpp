// hivemind-dht: runs one DHT node (hivemind's `hivemind-dht`), e.g. the bootstrap peer of a swarm.
// Prints the multiaddrs other peers should pass as --initial_peers, one per line on stdout, then a
// status line every --refresh_period seconds on stderr; exits cleanly on SIGINT or SIGTERM.
#include <iostream>
#include <random>

#include <CLI/CLI.hpp>

#include "hivemind/core/log.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/net/identity.hpp"
#include "signals.hpp"

namespace {

using hivemind::Result;
namespace dht = hivemind::dht;
namespace net = hivemind::net;

Result<std::vector<net::Multiaddr>> parse_addrs(const std::vector<std::string>& texts,
                                                const char* flag) {
  std::vector<net::Multiaddr> out;
  for (const auto& text : texts) {
    auto addr = net::Multiaddr::from_string(text);
    if (!addr) return hivemind::Err(addr.error().code(), std::string(flag) + ": bad multiaddr '" + text + "'");
    out.push_back(std::move(*addr));
  }
  return out;
}

std::string random_heartbeat_key() {
  std::random_device device;
  static const char* kHex = "0123456789abcdef";
  std::string key = "heartbeat_";
  for (int i = 0; i < 32; ++i) key += kHex[device() % 16];
  return key;
}

}  // namespace

int main(int argc, char** argv) {
  hivemind::tools::block_termination_signals();

  CLI::App app{"hivemind-dht: run a node of the hivemind DHT (e.g. a bootstrap peer)"};
  std::vector<std::string> initial_peers;
  std::vector<std::string> host_maddrs{"/ip4/0.0.0.0/tcp/0"};
  std::vector<std::string> announce_maddrs;
  std::string identity_path;
  int refresh_period = 30;
  bool client_mode = false;
  std::string log_level = "info";
  dht::DhtNodeOptions node_defaults;
  std::size_t bucket_size = node_defaults.bucket_size;
  std::size_t num_replicas = node_defaults.num_replicas;
  double wait_timeout = 3.0;
  app.add_option("--initial_peers", initial_peers,
                 "Multiaddrs of running peers to join (with /p2p/<peer id>); none starts a new swarm");
  app.add_option("--host_maddrs", host_maddrs, "Multiaddrs to listen on")->capture_default_str();
  app.add_option("--announce_maddrs", announce_maddrs,
                 "Multiaddrs to tell other peers instead of the listen addresses");
  app.add_option("--identity_path", identity_path,
                 "Private key file (libp2p protobuf format); created if missing, giving a stable "
                 "peer id across restarts");
  app.add_option("--refresh_period", refresh_period,
                 "Seconds between status reports (and crawls that evict dead peers)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--client_mode", client_mode,
               "Query the DHT without serving it (for peers that others cannot reach)");
  app.add_option("--log_level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_option("--bucket_size", bucket_size, "Kademlia k")->capture_default_str();
  app.add_option("--num_replicas", num_replicas, "Nodes that store each value")->capture_default_str();
  app.add_option("--wait_timeout", wait_timeout, "Seconds to wait for one RPC")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  hivemind::set_log_level(log_level);
  auto log = hivemind::logger("dht");

  dht::DHTOptions options;
  auto listen = parse_addrs(host_maddrs, "--host_maddrs");
  auto announce = parse_addrs(announce_maddrs, "--announce_maddrs");
  auto initial = parse_addrs(initial_peers, "--initial_peers");
  for (auto* parsed : {&listen, &announce, &initial})
    if (!*parsed) {
      std::cerr << parsed->error().message() << "\n";
      return 2;
    }
  options.host.listen_addrs = client_mode ? std::vector<net::Multiaddr>() : *listen;
  options.host.announce_addrs = *announce;
  if (!identity_path.empty()) {
    auto identity = net::load_or_create_key_file(identity_path);
    if (!identity) {
      std::cerr << "--identity_path " << identity_path << ": " << identity.error().message() << "\n";
      return 2;
    }
    options.host.identity = std::move(*identity);
  }
  options.node.initial_peers = *initial;
  options.node.client_mode = client_mode;
  options.node.bucket_size = bucket_size;
  options.node.num_replicas = num_replicas;
  options.node.wait_timeout = std::chrono::milliseconds(static_cast<long>(wait_timeout * 1000));

  auto node = dht::DHT::create(std::move(options));
  if (!node) {
    std::cerr << "hivemind-dht: " << node.error().message() << "\n";
    return 1;
  }
  auto& swarm = **node;
  log->info("Running a DHT instance. To connect other peers to this one, use --initial_peers "
            "with one of these multiaddrs (printed on stdout):");
  for (const auto& addr : swarm.visible_multiaddrs()) std::cout << addr.to_string() << "\n";
  std::cout.flush();

  const auto period = std::chrono::seconds(refresh_period);
  for (;;) {
    if (auto signal = hivemind::tools::wait_for_termination(period)) {
      log->info("received signal {}, shutting down", *signal);
      break;
    }
    auto status = swarm.run_coroutine<std::pair<std::size_t, std::size_t>>(
        [](dht::DhtNode& self) -> asio::awaitable<std::pair<std::size_t, std::size_t>> {
          // A crawl for a random key refreshes the routing table and evicts peers that left.
          const hivemind::dht::msgpack::Value key = random_heartbeat_key();
          co_await self.get(key, true);
          co_return std::make_pair(self.routing_table().size(), self.storage().size());
        });
    auto [peers, keys] = status.get();
    log->info("{} DHT nodes (including this one) are in the local routing table; local storage "
              "contains {} keys",
              peers + 1, keys);
  }
  swarm.shutdown();
  return 0;
}
