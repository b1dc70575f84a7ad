// hivemind-dht: runs one DHT node (hivemind's `hivemind-dht`), e.g. the bootstrap peer of a swarm.
// Prints the multiaddrs other peers should pass as --initial_peers, one per line on stdout, then a
// status line every --refresh_period seconds on stderr; exits cleanly on SIGINT or SIGTERM.
// One-shot commands (--store KEY VALUE, --get KEY) join a running swarm as a client, do one
// operation, print the outcome on stdout and exit.
#include <iostream>
#include <variant>

#include "dht_cli.hpp"
#include "dht_commands.hpp"
#include "hivemind/dht/error.hpp"
#include "signals.hpp"

namespace {

using namespace hivemind::tools;  // NOLINT(google-build-using-namespace)
namespace dht = hivemind::dht;

int run(const DhtCliOptions& cli) {
  auto options = make_dht_options(cli);
  if (!options) {
    std::cerr << "hivemind-dht: " << options.error().message() << "\n";
    return kExitNoStart;  // the identity file (addresses were checked while parsing)
  }
  auto node = dht::DHT::create(std::move(*options));
  if (!node) {
    const bool bootstrap = node.error() == dht::DhtErrc::kBootstrapFailed;
    std::cerr << "hivemind-dht: " << (bootstrap ? "DHT bootstrap failed: " : "cannot start: ")
              << node.error().message() << "\n";
    return kExitNoStart;
  }
  int code = kExitOk;
  switch (cli.command) {
    case DhtCommand::kServe:
      code = serve(**node, std::chrono::seconds(cli.refresh_period_s), std::cout);
      break;
    case DhtCommand::kStore:
      code = store_once(**node, cli, std::cout);
      break;
    case DhtCommand::kGet:
      code = get_once(**node, cli, std::cout);
      break;
  }
  (*node)->shutdown();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_command_line(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed))
    return *exit_code;
  const auto& cli = std::get<DhtCliOptions>(parsed);
  // A node runs until SIGINT/SIGTERM, collected synchronously: block them before any thread
  // starts. One-shot commands keep the default dispositions, so Ctrl-C stops them at once.
  if (cli.command == DhtCommand::kServe)
    block_termination_signals();
  return run(cli);
}
