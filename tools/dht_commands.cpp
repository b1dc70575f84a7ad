#include "dht_commands.hpp"

#include <cstdio>
#include <future>
#include <iostream>
#include <optional>
#include <random>
#include <utility>

#include "hivemind/core/clock.hpp"
#include "hivemind/core/log.hpp"
#include "signals.hpp"

namespace hivemind::tools {
namespace {

namespace msgpack = hivemind::dht::msgpack;
using namespace std::chrono_literals;

/// Peers in the routing table and keys in local storage, as of one status report.
struct Status {
  std::size_t peers = 0;
  std::size_t keys = 0;
};

std::string random_heartbeat_key() {
  std::random_device device;
  static const char* kHex = "0123456789abcdef";
  std::string key = "heartbeat_";
  for (int i = 0; i < 32; ++i)
    key += kHex[device() % 16];
  return key;
}

/// hivemind's `report_status`: a crawl for a random key refreshes the routing table and evicts
/// peers that left, then the counts are read on the network thread.
std::future<Status> start_status_report(dht::DHT& node) {
  return node.run_coroutine<Status>([](dht::DhtNode& self) -> asio::awaitable<Status> {
    const msgpack::Value key = random_heartbeat_key();
    co_await self.get(key, true);
    co_return Status{self.routing_table().size(), self.storage().size()};
  });
}

/// Waits for `pending` while watching for SIGINT/SIGTERM (a crawl may wait for RPC timeouts);
/// returns the signal if one came first.
template <class T>
std::optional<int> wait_or_signal(std::future<T>& pending) {
  while (pending.wait_for(0s) != std::future_status::ready)
    if (auto signal = wait_for_termination(50ms))
      return signal;
  return std::nullopt;
}

std::string format_entry(const msgpack::Value& value, dht::Expiration expiration, double now) {
  char when[96];
  std::snprintf(when, sizeof when, "\texpiration=%.3f (in %.1f s)", expiration, expiration - now);
  return msgpack::to_string(value) + when;
}

}  // namespace

int serve(dht::DHT& node, std::chrono::seconds refresh_period, std::ostream& out) {
  auto log = logger("dht");
  if (node.client_mode())
    log->info("Running a DHT client (it serves nothing; other peers cannot join through it)");
  else
    log->info(
        "Running a DHT instance. To connect other peers to this one, use --initial_peers "
        "with one of these multiaddrs (printed on stdout):");
  for (const auto& addr : node.visible_multiaddrs())
    out << addr.to_string() << "\n";
  out.flush();

  std::optional<int> signal;
  for (;;) {
    if ((signal = wait_for_termination(refresh_period)))
      break;
    auto report = start_status_report(node);
    if ((signal = wait_or_signal(report)))
      break;
    const Status status = report.get();
    log->info(
        "{} DHT nodes (including this one) are in the local routing table; local storage "
        "contains {} keys",
        status.peers + 1,
        status.keys);
  }
  log->info("received signal {}, shutting down", *signal);
  return kExitOk;
}

int store_once(dht::DHT& node, const DhtCliOptions& cli, std::ostream& out) {
  const double expiration = SystemClock::instance().unix_seconds() + cli.expiration_s;
  std::optional<msgpack::Value> subkey;
  if (cli.subkey)
    subkey = msgpack::Value(*cli.subkey);
  if (!node.store(msgpack::Value(cli.key), msgpack::Value(cli.value), expiration, subkey)) {
    std::cerr << "hivemind-dht: --store '" << cli.key << "': no node accepted the value\n";
    return kExitNotDone;
  }
  out << "stored" << std::endl;
  return kExitOk;
}

int get_once(dht::DHT& node, const DhtCliOptions& cli, std::ostream& out) {
  auto found = node.get(msgpack::Value(cli.key), cli.latest);
  if (!found) {
    std::cerr << "hivemind-dht: --get '" << cli.key << "': not found\n";
    return kExitNotDone;
  }
  for (const auto& line : format_found_value(*found, SystemClock::instance().unix_seconds()))
    out << line << "\n";
  out.flush();
  return kExitOk;
}

std::vector<std::string> format_found_value(const dht::FoundValue& found, double now) {
  std::vector<std::string> lines;
  if (!found.is_dictionary) {
    lines.push_back(format_entry(found.value, found.expiration, now));
    return lines;
  }
  for (const auto& [subkey, entry] : found.subkeys)
    lines.push_back(msgpack::to_string(subkey) + ": "
                    + format_entry(entry.value, entry.expiration, now));
  return lines;
}

}  // namespace hivemind::tools
