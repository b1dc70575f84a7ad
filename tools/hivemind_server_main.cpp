// hivemind-server: serves experts of a decentralized mixture of experts (hivemind's
// `hivemind-server`). Prints the multiaddrs clients and peers should use, one per line on stdout,
// then one line "serving N <class> experts on <device>: <uids> (startup: experts X s, networking
// Y s)", and serves until SIGINT or SIGTERM; then it withdraws its experts from the DHT, saves
// checkpoints and exits 0. Exit codes: common_cli.hpp (2 bad flags or config, 3 cannot start).
#include <cstdio>
#include <iostream>
#include <sstream>
#include <variant>

#include "common_cli.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/server.hpp"
#include "server_cli.hpp"
#include "signals.hpp"

namespace {

using namespace hivemind::tools;  // NOLINT(google-build-using-namespace)
namespace moe = hivemind::moe;

std::string serving_line(const moe::Server& server, const ServerCliOptions& cli) {
  const auto& uids = server.expert_uids();
  const auto device = server.backends().empty() ? std::string("?") : server.backends()[0]->device();
  const auto times = server.startup_times();
  std::ostringstream line;
  line << "serving " << uids.size() << " " << cli.expert_cls << " expert"
       << (uids.size() == 1 ? "" : "s") << " on " << device << ":";
  for (std::size_t i = 0; i < uids.size(); ++i)
    line << (i == 0 ? " " : ", ") << uids[i];
  char startup[96];
  std::snprintf(startup,
                sizeof startup,
                " (startup: experts %.3f s, networking %.3f s)",
                times.experts_s,
                times.networking_s);
  line << startup;
  return line.str();
}

int run(const ServerCliOptions& cli) {
  auto log = hivemind::logger("moe");
  for (const auto& warning : cli.warnings)
    log->warn("{}", warning);
  if (cli.increase_file_limit) {
    auto raised = raise_file_limit();
    if (raised)
      log->info("open file limit raised to {}", *raised);
    else
      log->warn("cannot raise the open file limit: {}", raised.error().message());
  }
  auto options = make_server_options(cli);
  if (!options) {
    std::cerr << "hivemind-server: " << options.error().message() << "\n";
    return kExitNoStart;  // the identity file (addresses were checked while parsing)
  }
  auto server = moe::Server::create(std::move(*options));
  if (!server) {
    std::cerr << "hivemind-server: cannot start: " << server.error().message() << "\n";
    return kExitNoStart;
  }
  for (const auto& addr : (*server)->visible_multiaddrs())
    std::cout << addr.to_string() << "\n";
  std::cout << serving_line(**server, cli) << std::endl;
  std::optional<int> signal;
  while (!(signal = wait_for_termination(std::chrono::hours(1)))) {
  }
  log->info("received signal {}, shutting down", *signal);
  (*server)->shutdown();
  log->info("shut down cleanly");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_server_command_line(argc, argv);
  if (const auto* done = std::get_if<CliExit>(&parsed)) {
    if (done->code == kExitOk)
      std::cout << done->message << "\n";
    else
      std::cerr << "hivemind-server: " << done->message << "\n";
    return done->code;
  }
  const auto& cli = std::get<ServerCliOptions>(parsed);
  hivemind::set_log_level(cli.log_level);  // checked while parsing
  // Collected synchronously by the main thread: block the signals before any thread starts.
  block_termination_signals();
  return run(cli);
}
