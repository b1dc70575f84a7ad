#pragma once
/// \file
/// Internals of hm-bench-moe-throughput (benchmarks/bench_moe*.cpp), the equivalent of hivemind's
/// benchmarks/benchmark_throughput.py (shared/reference/hivemind-moe-averaging-optim.md §5): one
/// expert server in this process, many clients calling its experts over loopback, and the same
/// experts run locally with no network (the compute bound). JSON result lines as DESIGN.md §9.
/// Units: samples per second; seconds.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench_json.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/moe/server.hpp"
#include "hivemind/net/host.hpp"

namespace hivemind::bench {

/// One throughput configuration: benchmark_throughput()'s parameters, named as there.
struct MoeCase {
  std::string preset;  ///< the preset it came from (names the result line)
  std::size_t num_experts = 16;
  std::size_t num_clients = 128;
  std::size_t num_handlers = 0;  ///< 0 = max(1, num_clients / 2), as hivemind
  std::string expert_cls = "ffn";
  std::int64_t hid_dim = 1024;
  std::int64_t batch_size = 2048;
  std::int64_t max_batch_size = 0;  ///< 0 = 4 * batch_size, as hivemind
  std::size_t num_batches_per_client = 16;
  bool backprop = true;
  net::Security security = net::Security::kNoise;

  std::size_t handlers() const {
    return num_handlers ? num_handlers : std::max<std::size_t>(1, num_clients / 2);
  }

  std::int64_t max_batch() const { return max_batch_size ? max_batch_size : 4 * batch_size; }

  std::uint64_t total_samples() const {
    return static_cast<std::uint64_t>(batch_size) * num_clients * num_batches_per_client;
  }
};

/// Thread settings of a run (the ones that matter on 2 cores, DESIGN.md §7).
struct MoeThreads {
  int torch_threads = 1;            ///< at::set_num_threads (intra-op) during the run
  std::size_t compute_threads = 1;  ///< server runtime threads, or local-bound worker threads
  std::size_t codec_threads = 1;    ///< server ServerOptions::num_codec_threads
  std::size_t client_threads = 1;   ///< client io threads (one client Host each)
};

/// Outcome of one server run.
struct ThroughputResult {
  double samples_per_s = 0;
  double wall_s = 0;
  std::uint64_t samples = 0;
  moe::StartupTimes startup;
  std::size_t failed_calls = 0;
  std::string first_error;  ///< of the first failed call, if any
};

/// Starts a server for `c` (experts expert.0..N-1 on 127.0.0.1 with `c.security`), connects
/// `threads.client_threads` client hosts to it by multiaddr (no DHT lookups, as the script) and
/// runs `c.num_clients` client coroutines: each num_batches_per_client times picks a random
/// expert and calls forward (unary, or the streaming RPC above 2 MiB of raw input as hivemind's
/// client), then backward with gradient ones when `c.backprop`. Timed from the first call to the
/// last reply. Blocking; errors: server start or client connection failures.
Result<ThroughputResult> run_server_throughput(const MoeCase& c, const MoeThreads& threads);

/// Local compute bound: the same experts (ExpertBackend as the server builds them) run on the same
/// number of batches of the same size, forward (+ backward with gradient ones), no network.
struct LocalBound {
  double samples_per_s = 0;
  MoeThreads threads;  ///< the settings it was measured with (torch_threads, compute_threads)
  std::vector<std::pair<std::string, double>> tried;  ///< "t<torch>_w<workers>" -> samples/s
};

/// Measures the bound with every setting in {torch 1, 2} x {workers 1, 2} on a slice
/// (`search_fraction` of the batches, at least 4 per setting), then the best one on all the
/// batches. Blocking; throws std::invalid_argument on an unknown expert class.
LocalBound measure_local_bound(const MoeCase& c, double search_fraction);

/// Adds the parameters of `c` and `threads` to `line`.
void add_case_params(JsonLine& line, const MoeCase& c, const MoeThreads& threads);

/// The 1-minute load average (for params), or -1.
double load_average();

}  // namespace hivemind::bench
