// Trains a Fashion-MNIST classifier whose middle layer is a Decentralized Mixture-of-Experts:
// Linear(784, H) -> ReLU -> RemoteMixtureOfExperts -> Linear(H, 10). The experts live on
// hivemind-server processes, found through the DHT that --initial_peers joins; this process
// trains its own layers and the gating function, the servers train the experts on the gradients
// it sends back. Start a swarm first, e.g.
//   hivemind-dht --host_maddrs /ip4/127.0.0.1/tcp/0          (prints ADDR)
//   hivemind-server --initial_peers ADDR --expert_cls ffn --hidden_dim 64
//       --expert_pattern "expert.[0:4].[0:4]" --num_experts 16
//   hm-example-dmoe-fashion-mnist --initial_peers ADDR
// or let `hivemind-local-swarm` do all of it. Output lines: examples/common/dmoe_trainer.hpp.
// Exit codes: 0 done, 2 bad flags, 3 could not train (no DHT, no data, no experts).
#include <iostream>

#include <CLI/CLI.hpp>

#include "dmoe_trainer.hpp"

int main(int argc, char** argv) {
  using namespace hivemind::examples;  // NOLINT(google-build-using-namespace)
  TrainerOptions o;
  std::string grid = "4x4";
  CLI::App app{"Trains a Fashion-MNIST classifier with a remote mixture-of-experts layer"};
  app.add_option("--initial_peers", o.initial_peers, "Multiaddrs of DHT peers (with /p2p/ID)")
      ->required();
  app.add_option("--data_dir", o.data_dir, "Folder with the Fashion-MNIST .gz files")
      ->capture_default_str();
  app.add_option("--hidden_dim", o.hidden_dim, "Width H of the experts")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  app.add_option("--grid", grid, "Expert grid, e.g. 4x4 or 4,4")->capture_default_str();
  app.add_option("--uid_prefix", o.uid_prefix, "Experts are <prefix>.i.j")->capture_default_str();
  app.add_option("--k_best", o.k_best, "Experts chosen per sample")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--k_min", o.k_min, "Fewest answering experts per sample")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--batch_size", o.batch_size)
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  app.add_option("--steps", o.steps)->check(CLI::Range(1, 1 << 30))->capture_default_str();
  app.add_option("--optimizer", o.optimizer)
      ->check(CLI::IsMember({"adam", "sgd"}))
      ->capture_default_str();
  app.add_option("--lr", o.lr)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--log_every", o.log_every, "Steps between progress lines")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  app.add_option("--eval_every", o.eval_every, "Steps between test evaluations (0: at the end)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  app.add_option("--eval_samples", o.eval_samples, "Test images of intermediate evaluations")
      ->capture_default_str();
  app.add_option("--seed", o.seed)->capture_default_str();
  app.add_option("--forward_timeout", o.forward_timeout_s, "Seconds for one forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--timeout_after_k_min",
                 o.timeout_after_k_min_s,
                 "Seconds to wait for late experts once k_min answered (negative: no limit)")
      ->capture_default_str();
  app.add_option("--max_failed_in_row", o.max_failed_in_row, "Failed steps in a row that stop it")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  app.add_option("--startup_timeout", o.startup_timeout_s, "Seconds to wait for the experts")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--threads", o.threads, "torch threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kTrainerExitOk : kTrainerExitUsage;
  }
  auto parsed = parse_grid(grid);
  if (!parsed) {
    std::cerr << "--grid: " << parsed.error().message() << "\n";
    return kTrainerExitUsage;
  }
  o.grid = *parsed;
  if (o.k_min > o.k_best) {
    std::cerr << "--k_min must not exceed --k_best\n";
    return kTrainerExitUsage;
  }
  return run_trainer(o, std::cout, std::cerr);
}
