// hivemind-local-swarm: the whole Decentralized Mixture-of-Experts on this machine, in one
// command. Starts a hivemind-dht bootstrap node, --num_servers hivemind-server processes serving
// the experts `expert.i.j` of a grid between them, and --num_trainers Fashion-MNIST trainers
// (hm-example-dmoe-fashion-mnist); relays the trainers' progress, SIGKILLs one server at
// --kill_at_step to show that training carries on, and ends with the test accuracy and a
// summary. Ctrl-C (or SIGTERM) stops every process it started. Exit codes: 0 done, 2 bad flags,
// 3 a process failed (or --min_accuracy was missed), 128 + N stopped by signal N.
#include <iostream>

#include <CLI/CLI.hpp>

#include "common_cli.hpp"
#include "local_swarm.hpp"
#include "signals.hpp"

namespace {

using namespace hivemind::tools;  // NOLINT(google-build-using-namespace)

/// The short form (ctest, CI): small grid, few steps; flags given explicitly still win.
void apply_quick_defaults(LocalSwarmOptions& o, const CLI::App& app) {
  const auto unset = [&](const char* flag) {
    return app.count(flag) == 0;
  };
  if (unset("--num_servers"))
    o.num_servers = 3;
  if (unset("--experts_per_server"))
    o.experts_per_server = 2;
  if (unset("--hidden_dim"))
    o.hidden_dim = 32;
  if (unset("--steps"))
    o.steps = 120;
  if (unset("--k_best"))
    o.k_best = 3;
  if (unset("--eval_every"))
    o.eval_every = 0;
  if (unset("--min_accuracy"))
    o.min_accuracy = 0.6;
}

}  // namespace

int main(int argc, char** argv) {
  LocalSwarmOptions o;
  std::string grid;
  bool quick = false;
  CLI::App app{"Runs a local DMoE swarm (DHT, expert servers, Fashion-MNIST trainers)"};
  app.add_option("--num_servers", o.num_servers)->check(CLI::Range(1, 64))->capture_default_str();
  app.add_option("--experts_per_server", o.experts_per_server, "Sets the default --grid")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--grid", grid, "Expert grid (default: num_servers x experts_per_server)");
  app.add_option("--uid_prefix", o.uid_prefix)->capture_default_str();
  app.add_option("--hidden_dim", o.hidden_dim)
      ->check(CLI::Range(1, 1 << 14))
      ->capture_default_str();
  app.add_option("--server_threads", o.server_threads)
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--num_trainers", o.num_trainers)->check(CLI::Range(1, 16))->capture_default_str();
  app.add_option("--steps", o.steps)->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--batch_size", o.batch_size)
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  app.add_option("--k_best", o.k_best)->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--k_min", o.k_min)->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--lr", o.lr)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--eval_every", o.eval_every)
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  app.add_option("--kill_at_step",
                 o.kill_at_step,
                 "Step of trainer 0 at which one server is "
                 "SIGKILLed (default: half way; 0: never)");
  app.add_option("--seed", o.seed)->capture_default_str();
  app.add_option("--min_accuracy", o.min_accuracy, "Exit 3 when the test accuracy is lower")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--timeout", o.timeout_s, "Seconds the whole run may take")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--verbose", o.verbose, "Show the DHT node's and the servers' output too");
  app.add_flag("--quick", quick, "Short form: 3 servers x 2 experts, 120 steps, accuracy >= 0.6");
  app.add_option("--dht_path", o.dht_path, "hivemind-dht (default: next to this program)");
  app.add_option("--server_path", o.server_path, "hivemind-server (default: next to this program)");
  app.add_option("--trainer_path",
                 o.trainer_path,
                 "hm-example-dmoe-fashion-mnist (default: here or in ../examples)");
  app.add_option("--data_dir", o.data_dir, "Fashion-MNIST folder (default: the trainer's)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitBadFlags;
  }
  if (quick)
    apply_quick_defaults(o, app);
  if (!grid.empty()) {
    auto parsed = parse_grid_text(grid);
    if (!parsed) {
      std::cerr << "hivemind-local-swarm: --grid: " << parsed.error().message() << "\n";
      return kExitBadFlags;
    }
    o.grid = *parsed;
  }
  if (o.k_min > o.k_best) {
    std::cerr << "hivemind-local-swarm: --k_min must not exceed --k_best\n";
    return kExitBadFlags;
  }
  const auto cells = grid_of(o);
  long total = 1;
  for (int size : cells)
    total = std::min(total * size, 1L << 20);
  if (total > 4096) {
    std::cerr << "hivemind-local-swarm: --grid has more than 4096 cells\n";
    return kExitBadFlags;
  }
  for (const auto& uids : assign_expert_uids(cells, o.num_servers, o.uid_prefix)) {
    if (uids.empty()) {
      std::cerr << "hivemind-local-swarm: the grid has too few cells for --num_servers\n";
      return kExitBadFlags;
    }
  }
  if (o.kill_at_step < 0)  // half way, unless the only server would be killed
    o.kill_at_step = o.num_servers > 1 ? o.steps / 2 : 0;
  if (auto found = resolve_program_paths(o); !found) {
    std::cerr << "hivemind-local-swarm: " << found.error().message() << "\n";
    return kExitBadFlags;
  }
  // Ctrl-C and SIGTERM are collected by the run loop, which then stops every child.
  block_termination_signals();
  return run_local_swarm(o, std::cout);
}
