#pragma once
/// \file
/// The training loop of examples/02_dmoe_fashion_mnist.cpp: a Fashion-MNIST classifier
/// Linear(784, H) -> ReLU -> RemoteMixtureOfExperts(H, grid, uid_prefix, k_best) -> Linear(H, 10)
/// whose experts live on hivemind-server processes found through the DHT. Only the local layers
/// (and the gating function) are trained here; the experts train on their servers.
///
/// Output (one line each, `key value` pairs after a leading word, for hivemind-local-swarm and
/// tests to parse):
///   `step S loss L acc A experts_failed F failed_steps K steps_per_s R` every log_every steps
///   `step_failed S error <message>` for a step skipped because the mixture failed
///   `eval step S test_acc A samples N` every eval_every steps (first eval_samples test images)
///   `final test_acc A samples N` on the whole test split at the end
///   `summary steps S failed_steps K experts_failed F time_s T steps_per_s R test_acc A`
///
/// Thread affinity: run_trainer() blocks the calling thread (not a DHT thread).

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "fashion_mnist.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::examples {

/// Exit codes of the example (as the tools').
inline constexpr int kTrainerExitOk = 0;
inline constexpr int kTrainerExitUsage = 2;
inline constexpr int kTrainerExitFailed = 3;

/// Everything the trainer takes; defaults are the example's flags' defaults.
struct TrainerOptions {
  std::vector<std::string> initial_peers{};  ///< multiaddrs with /p2p/<peer id>
  std::string data_dir = kDefaultFashionMnistDir;
  std::int64_t hidden_dim = 64;       ///< H: the experts' width (hivemind-server --hidden_dim)
  std::vector<int> grid{4, 4};        ///< expert grid: uids `uid_prefix.i.j`
  std::string uid_prefix = "expert";  ///< without the trailing '.'
  std::size_t k_best = 4;             ///< experts per sample
  std::size_t k_min = 1;              ///< fewest answers per sample for a step to count
  std::int64_t batch_size = 64;
  std::int64_t steps = 300;
  std::string optimizer = "adam";  ///< adam or sgd (local parameters only)
  double lr = 1e-3;
  std::int64_t log_every = 10;      ///< steps between progress lines
  std::int64_t eval_every = 100;    ///< steps between evaluations (0: only at the end)
  std::size_t eval_samples = 2000;  ///< test images of an intermediate evaluation
  std::int64_t eval_batch_size = 500;
  std::uint64_t seed = 0;
  double forward_timeout_s = 10;        ///< of one forward (and backward) pass
  double timeout_after_k_min_s = 1;     ///< wait for late experts once k_min answered (< 0: no)
  std::int64_t max_failed_in_row = 20;  ///< consecutive failed steps that end the run
  double startup_timeout_s = 60;        ///< how long to wait for the experts to appear
  int threads = 1;                      ///< torch intra-op threads
};

/// "4x4", "4,4" or "16" as grid dimensions. Errors: std::errc::invalid_argument with the text.
Result<std::vector<int>> parse_grid(std::string_view text);

/// Joins the DHT (client mode), loads the data, trains and evaluates, printing the lines above on
/// `out`; problems go to `err`. Returns kTrainerExitOk, or kTrainerExitFailed (cannot join or
/// load, no experts within startup_timeout_s, max_failed_in_row failures in a row).
int run_trainer(const TrainerOptions& options, std::ostream& out, std::ostream& err);

}  // namespace hivemind::examples
