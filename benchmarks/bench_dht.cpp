// hm-bench-dht: an equivalent of hivemind's benchmarks/benchmark_dht.py (default mode) and of
// its published 1024-node run (--large), printing JSON lines (DESIGN.md section 9; figures in
// docs/benchmarks.md).
#include "bench_dht.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "hivemind/core/log.hpp"

namespace hivemind::bench {
namespace {

constexpr char kUsage[] = R"(usage: hm-bench-dht [options]
Prints one JSON object per line (DESIGN.md section 9). All peers are DhtNodes on their own Host
(127.0.0.1, Noise + Yamux) in this process, driven by one io_context thread.

Default mode = hivemind's benchmarks/benchmark_dht.py with its defaults: 16 peers, each
bootstrapping from 4 random earlier ones; 10 concurrent tasks x 16 rounds; per round 8 peers
store one subkey each under a new key, then 8 peers get it (latest); failure_rate 0.1 kills
int(0.1 * peers) peers at random iterations. Without --failure_rate it runs twice: failure
rate 0 (cases *_no_failures) and 0.1. Cases: store_success_rate, get_success_rate,
store_latency_{mean,p50,p99,max}_ms, get_latency_..._ms (each call), store/get_round_wall_time
_mean_ms (the script's per-round batch figure), swarm_creation_s, total_benchmark_time_s.

--large: the published 1024-node run (1024 peers, 16384 expert uids declared in batches of 64
by one peer, then got in batches of 64 by another). store_latency_mean_ms and
get_latency_mean_ms are compared with the published 14.87 ms and 6.64 ms (batch time / items,
as published); also memory_per_node_kib and open_files_peak. Takes minutes.

Options (the script's names; dashes or underscores):
  --num_peers N --initial_peers N --random_seed N --num_threads N --total_num_rounds N
  --num_store_peers N --num_get_peers N --wait_timeout S --expiration S --failure_rate F
  --latest 0|1
  --large               run the 1024-node mode instead
  --large_peers N       peers in --large (default 1024)
  --num_experts N       expert uids in --large (default 16384)
  --expert_batch_size N uids per batch in --large (default 64)
  --idle_timeout S      close connections idle this long (default: the library's 120 s;
                        --large: 10 s, to stay within RLIMIT_NOFILE)
  --threads N           --large: io_context threads (default 1: every peer on one thread;
                        N > 1: store and get peers on the main thread, the rest on N - 1)
  --plaintext           /plaintext/2.0.0 instead of Noise (profiling only)
  --quick               small smoke run (8 peers, 4 tasks x 4 rounds; with --large: 64 peers,
                        1024 uids)
  --help                this text
)";

bool parse_number(const char* text, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  return end != text && *end == '\0' && out >= 0 && out < 1e9;
}

/// Returns 0 to run, 1 after --help, 2 on a usage error.
int parse_args(int argc, char** argv, DhtBenchOptions& o) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    for (auto& c : arg)
      if (c == '-' && &c != &arg[0] && &c != &arg[1])
        c = '_';
    double v = 0;
    auto number = [&]() {
      if (i + 1 >= argc || !parse_number(argv[i + 1], v)) {
        std::fprintf(stderr, "hm-bench-dht: %s needs a non-negative number\n", argv[i]);
        return false;
      }
      ++i;
      return true;
    };
    auto count = [&](std::size_t& out) {
      if (!number())
        return false;
      out = static_cast<std::size_t>(v);
      return true;
    };
    bool good = true;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 1;
    } else if (arg == "--num_peers") {
      good = count(o.num_peers);
    } else if (arg == "--initial_peers") {
      good = count(o.initial_peers);
    } else if (arg == "--random_seed") {
      good = number();
      o.seed = static_cast<std::uint32_t>(v);
    } else if (arg == "--num_threads") {
      good = count(o.num_threads);
    } else if (arg == "--total_num_rounds") {
      good = count(o.total_num_rounds);
    } else if (arg == "--num_store_peers") {
      good = count(o.num_store_peers);
    } else if (arg == "--num_get_peers") {
      good = count(o.num_get_peers);
    } else if (arg == "--wait_timeout") {
      good = number() && (o.wait_timeout_s = v) > 0;
    } else if (arg == "--expiration") {
      good = number() && (o.expiration_s = o.large_expiration_s = v) > 0;
    } else if (arg == "--failure_rate") {
      good = number() && v < 1;
      o.failure_rate = v;
    } else if (arg == "--latest") {
      good = number();
      o.latest = v != 0;
    } else if (arg == "--large") {
      o.large = true;
    } else if (arg == "--large_peers") {
      good = count(o.large_peers);
    } else if (arg == "--num_experts") {
      good = count(o.num_experts);
    } else if (arg == "--expert_batch_size") {
      good = count(o.expert_batch_size) && o.expert_batch_size > 0;
    } else if (arg == "--idle_timeout") {
      good = number();
      o.idle_timeout_s = v;
    } else if (arg == "--threads") {
      good = count(o.threads) && o.threads >= 1 && o.threads <= 64;
    } else if (arg == "--plaintext") {
      o.plaintext = true;
    } else if (arg == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "hm-bench-dht: unknown option %s\n%s", argv[i], kUsage);
      return 2;
    }
    if (!good) {
      std::fprintf(stderr, "hm-bench-dht: bad value for %s\n", argv[i - 1]);
      return 2;
    }
  }
  if (quick) {
    o.num_peers = 8;
    o.num_threads = 4;
    o.total_num_rounds = 4;
    o.num_store_peers = o.num_get_peers = 4;
    o.large_peers = 64;
    o.num_experts = 1024;
  }
  if (o.large && o.idle_timeout_s == 0)
    o.idle_timeout_s = o.large_idle_timeout_s;
  if (o.num_peers < 2 || o.num_store_peers == 0 || o.num_get_peers == 0) {
    std::fprintf(stderr, "hm-bench-dht: need at least 2 peers and 1 store and get peer\n");
    return 2;
  }
  return 0;
}

}  // namespace
}  // namespace hivemind::bench

int main(int argc, char** argv) {
  using namespace hivemind::bench;  // NOLINT(google-build-using-namespace)
  DhtBenchOptions options;
  if (int rc = parse_args(argc, argv, options); rc != 0)
    return rc == 1 ? 0 : rc;
  hivemind::set_log_level("error");  // killed peers make the survivors log failed calls
  raise_file_limit();                // every peer's listener and connections are ours
  try {
    if (options.large) {
      run_large(options);
    } else if (options.failure_rate) {
      run_rounds(options, *options.failure_rate);
    } else {
      run_rounds(options, 0);
      run_rounds(options, 0.1);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hm-bench-dht: %s\n", e.what());
    return 1;
  }
  return 0;
}
