#pragma once
/// \file
/// Internals of hm-bench-dht (benchmarks/bench_dht*.cpp): options, a swarm of DhtNodes (each on
/// its own Host, all on one io_context driven by the calling thread), JSON result lines
/// (DESIGN.md section 9), statistics and process figures (RSS, open files).
/// Units: latencies in milliseconds unless a name says otherwise; memory in KiB.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "bench_json.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/node.hpp"
#include "hivemind/net/host.hpp"

namespace hivemind::bench {

/// Command-line options of hm-bench-dht. The defaults of the default mode are those of
/// hivemind's benchmarks/benchmark_dht.py; the `large_*` ones describe the published 1024-node run
/// (the older benchmark_dht.py with --num_peers 1024 --num_experts 16384 --expert_batch_size 64
/// --expiration 99999).
struct DhtBenchOptions {
  // --- default mode (benchmark_dht.py) ---
  std::size_t num_peers = 16;
  std::size_t initial_peers = 4;  ///< each new peer bootstraps from this many random earlier ones
  std::uint32_t seed = 30;
  std::size_t num_threads = 10;       ///< concurrent store-and-get tasks
  std::size_t total_num_rounds = 16;  ///< rounds per task
  std::size_t num_store_peers = 8;    ///< peers storing one subkey each per round
  std::size_t num_get_peers = 8;      ///< peers getting the key per round
  double wait_timeout_s = 5;          ///< DhtNodeOptions::wait_timeout of every peer
  double expiration_s = 300;          ///< stores expire this long after now
  bool latest = true;                 ///< get(key, latest)
  /// Fraction of peers killed mid-run; unset runs both 0 (the "_no_failures" cases) and 0.1.
  std::optional<double> failure_rate;

  // --- large mode ---
  bool large = false;
  std::size_t large_peers = 1024;
  std::size_t large_initial_peers = 1;  ///< the old script's default
  std::size_t num_experts = 16384;      ///< expert uids sampled (deduplicated)
  std::size_t expert_batch_size = 64;   ///< uids per store_many / get_many
  double large_expiration_s = 99999;
  /// --large closes idle connections sooner than the library's 120 s: 1024 peers in one process
  /// would otherwise hold ~40,000 sockets (two per in-process TCP connection) and exceed
  /// RLIMIT_NOFILE (hard limit 20,000 on the machine of docs/benchmarks.md).
  double large_idle_timeout_s = 10;

  // --- both ---
  /// Close connections idle this long (HostOptions::idle_timeout); 0 = the library default.
  double idle_timeout_s = 0;
  bool plaintext = false;  ///< /plaintext/2.0.0 instead of Noise (for profiling only)
  /// Large mode: io_context threads. 1: every peer on the main thread; 2+: the store and get
  /// peers on the main thread, the others spread over threads - 1 more.
  std::size_t threads = 1;
};

/// Summary of a sample (nearest-rank percentiles; std with ddof = 1 like numpy in the script).
struct Stats {
  std::size_t count = 0;
  double mean = 0;
  double std = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

Stats summarize(std::vector<double> values);

/// Milliseconds since `start` on the steady clock.
double ms_since(std::chrono::steady_clock::time_point start);
/// Peak resident set size of this process (VmHWM), KiB; 0 if unreadable.
std::size_t peak_rss_kib();
/// Current resident set size (VmRSS), KiB; 0 if unreadable.
std::size_t current_rss_kib();
/// CPU time (user + system) this process has used so far, seconds.
double cpu_seconds();
/// Open file descriptors of this process (entries of /proc/self/fd).
std::size_t open_fds();
/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
std::size_t raise_file_limit();
/// A uuid4-like random 32-character hex string.
std::string random_hex(std::mt19937& rng);

/// One participant: a DhtNode on its own Host, both owned by the thread of `executor`.
struct Peer {
  std::shared_ptr<net::Host> host;
  std::shared_ptr<dht::DhtNode> node;
  asio::any_io_executor executor;
  std::vector<net::Multiaddr> addrs;  ///< where others reach it (/p2p/ included)
  bool alive = true;
};

/// DhtNodes on hosts listening on 127.0.0.1. Peers live on the caller's io_context (driven by
/// the calling thread, e.g. with run_on) or on `extra_threads` more io_contexts with a thread
/// each; all swarm calls must come from the caller's thread. Call stop_all() before destruction.
class Swarm {
 public:
  Swarm(asio::io_context& io, const DhtBenchOptions& options, std::size_t extra_threads);
  Swarm(const Swarm&) = delete;
  Swarm& operator=(const Swarm&) = delete;
  ~Swarm();  ///< joins the extra threads

  /// Adds a peer bootstrapping from up to `initial_peers` random earlier peers (from `rng`),
  /// as benchmark_dht.py does. `num_workers` overrides DhtNodeOptions::num_workers when nonzero.
  /// The peer lives on the caller's thread if `on_caller_thread` or there are no extra threads,
  /// else on the next extra thread in turn. Errors: listen or bootstrap failures.
  asio::awaitable<Result<void>> add_peer(std::size_t initial_peers,
                                         std::mt19937& rng,
                                         std::size_t num_workers,
                                         bool on_caller_thread);
  /// Kills peer `i` abruptly: its host stops (connections closed, no goodbye message), then its
  /// node's background tasks are cancelled.
  asio::awaitable<void> kill(std::size_t i);
  /// Stops every live peer.
  asio::awaitable<void> stop_all();
  /// Connections over all live hosts (each in-process TCP connection counts twice).
  asio::awaitable<std::size_t> connection_count();

  std::vector<Peer>& peers() { return peers_; }

 private:
  /// Runs `fn` (returning awaitable<void>) on `executor` and waits for it.
  template <class Fn>
  asio::awaitable<void> on(const asio::any_io_executor& executor, Fn fn);

  asio::io_context& io_;
  net::HostOptions host_options_;
  dht::DhtNodeOptions node_options_;
  std::vector<std::unique_ptr<asio::io_context>> extra_;
  std::vector<std::thread> threads_;
  std::size_t next_extra_ = 0;
  std::vector<Peer> peers_;  // after the contexts: destroyed first
};

/// Runs `task` on `io` (driven by the calling thread) until it completes; rethrows its exception.
void run_on(asio::io_context& io, std::function<asio::awaitable<void>()> task);

/// Default mode: benchmark_dht.py with `failure_rate`; prints its result lines.
void run_rounds(const DhtBenchOptions& options, double failure_rate);
/// Large mode: the published 1024-node run's workload; prints its result lines.
void run_large(const DhtBenchOptions& options);

}  // namespace hivemind::bench
