#pragma once
/// \file
/// Internals of hm-bench-dmoe (benchmarks/bench_dmoe*.cpp): training steps per second of the
/// DMoE example's model (Linear(784, H) -> ReLU -> RemoteMixtureOfExperts -> Linear(H, 10),
/// examples/common/dmoe_trainer.hpp) against 4 local hivemind-server processes with 0, 1 and 2 of
/// them SIGKILLed, next to the same model with its 16 experts computed locally; and the latency
/// one mixture layer adds to a step. JSON result lines as DESIGN.md §9. Units: seconds unless a
/// name says otherwise. Thread affinity: everything here runs on main()'s thread.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hivemind/core/result.hpp"
#include "process.hpp"

namespace hivemind::bench {

/// What one run measures; defaults are the full run's.
struct DmoeOptions {
  int num_servers = 4;
  std::vector<int> grid{4, 4};  ///< 16 ffn experts `expert.i.j`
  std::int64_t hidden_dim = 64;
  std::int64_t batch_size = 64;
  std::size_t k_best = 4;
  double timeout_after_k_min_s = 1;
  double forward_timeout_s = 10;
  double lr = 1e-3;
  std::int64_t warmup_steps = 20;   ///< before the kill=0 window and the local baseline
  std::int64_t window_steps = 500;  ///< steps per measured window
  std::int64_t settle_steps = 5;    ///< steps between a kill and its window
  std::uint64_t seed = 0;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string dht_path{};     ///< empty: ../tools/hivemind-dht next to this program
  std::string server_path{};  ///< empty: ../tools/hivemind-server
};

/// The timing of one training step: the whole step and the mixture layer's forward + backward
/// (the gating projection included).
struct StepTime {
  double step_s = 0;
  double moe_s = 0;
  bool failed = false;           ///< the mixture threw (too few experts); the step did no update
  std::size_t failed_calls = 0;  ///< expert calls that failed in its forward pass
};

/// A window of steps.
struct WindowStats {
  std::vector<StepTime> steps;
  double wall_s = 0;

  double steps_per_s() const { return wall_s > 0 ? static_cast<double>(steps.size()) / wall_s : 0; }

  std::size_t failed_steps() const;
  std::size_t failed_calls() const;
  /// The q-quantile (0..1, nearest rank) of the mixture layer's time, in milliseconds.
  double moe_ms_quantile(double q) const;
  double step_ms_quantile(double q) const;
};

/// The DHT node and the expert servers, as child processes (process.hpp: each dies with this
/// process, and is SIGKILLed when the swarm is destroyed or stop() is called).
class DmoeSwarm {
 public:
  /// Starts hivemind-dht, then num_servers hivemind-server processes with the grid's uids spread
  /// as hivemind-local-swarm spreads them, and waits until every server prints "serving".
  /// Errors: a program that cannot start, exits or stays silent past the startup timeout.
  static Result<std::unique_ptr<DmoeSwarm>> start(const DmoeOptions& options);

  /// The bootstrap multiaddr (with /p2p/<peer id>).
  const std::string& dht_addr() const { return dht_addr_; }

  /// SIGKILLs the last live server (index num_servers - 1 - killed so far); returns its index.
  std::size_t kill_next_server();
  /// Reads (and drops) the children's pending output so that no pipe fills up. Never blocks.
  void drain();
  /// SIGKILLs every child and reaps it. Idempotent.
  void stop();

 private:
  DmoeSwarm() = default;

  std::vector<tools::Process> servers_;
  std::vector<tools::Process> dht_;  // zero or one
  std::string dht_addr_;
  std::size_t killed_ = 0;
};

/// The training data, loaded once.
struct DmoeData;

/// Loads the training split of Fashion-MNIST (normalized). Errors: the reader's.
Result<std::shared_ptr<DmoeData>> load_dmoe_data(const DmoeOptions& options);

/// A trainer of one model: remote (RemoteMixtureOfExperts through the DHT) or local (16 local
/// ffn experts, the same gating and top-k rule, one Adam for everything).
class DmoeTrainer {
 public:
  virtual ~DmoeTrainer() = default;
  /// One step on the next random batch.
  virtual StepTime step() = 0;
};

/// The example's model against the swarm at `dht_addr`. Joins the DHT (client mode) and waits
/// (up to `timeout_s`) until a forward pass reaches every chosen expert. Errors: cannot join; no
/// clean forward pass in time (the last error).
Result<std::unique_ptr<DmoeTrainer>> make_remote_trainer(const DmoeOptions& options,
                                                         std::shared_ptr<DmoeData> data,
                                                         const std::string& dht_addr,
                                                         double timeout_s);

/// The same model with local experts (ExpertRegistry's `ffn`).
std::unique_ptr<DmoeTrainer> make_local_trainer(const DmoeOptions& options,
                                                std::shared_ptr<DmoeData> data);

/// Runs `steps` steps of `trainer`; after each (untimed) drains `swarm`'s output when non-null.
WindowStats run_window(DmoeTrainer& trainer, std::int64_t steps, DmoeSwarm* swarm);

}  // namespace hivemind::bench
