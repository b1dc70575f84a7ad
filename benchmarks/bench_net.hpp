#pragma once
/// \file
/// Internals of hm-bench-net (benchmarks/bench_net*.cpp): JSON result lines (DESIGN.md §9), a
/// loopback harness with the server on its own io_context thread or on the client's, and the
/// measurements. Units: MB/s = 10^6 bytes per second of payload; latencies in microseconds.

#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include "bench_json.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/net/host.hpp"

namespace hivemind::bench {

/// Command-line options of hm-bench-net (defaults = the default run).
struct Options {
  std::size_t payload_mib = 256;     ///< bytes per throughput measurement
  std::size_t write_kib = 64;        ///< application write size (js-libp2p's test writes 64 KiB)
  int repeats = 5;                   ///< each throughput figure is the median of this many runs
  std::size_t rpc_calls = 2000;      ///< timed unary calls with one caller (after warmup)
  std::size_t rpc_warmup = 200;      ///< untimed calls first
  std::size_t rpc_concurrency = 64;  ///< callers of the concurrent calls/s figure
  std::size_t rpc_concurrent_calls = 12800;  ///< calls in all for that figure
  std::size_t ping_count = 200;              ///< pings on one stream (C++ and js clients)
  std::size_t window_kib = 0;  ///< Yamux receive window of both hosts, KiB (0 = library default)
  bool single_thread = true;   ///< also measure with client and server on one io_context
  bool js = true;              ///< run the js-libp2p cases (d)
  bool throughput = true;      ///< run the throughput cases (a), (b)
  bool rpc = true;             ///< run the latency cases (c)
};

double median(std::vector<double> values);
/// Nearest-rank percentile, q in [0, 1].
double percentile(std::vector<double> values, double q);
/// Seconds since `start` on the steady clock.
double seconds_since(std::chrono::steady_clock::time_point start);

/// Two io_contexts on loopback: the client's, driven by the calling thread in run_client(), and
/// the server's, driven by its own thread (two_threads) or the same as the client's. Not
/// thread-safe; the calling thread owns it. The destructor joins the server thread (stop every
/// host first).
class Loopback {
 public:
  explicit Loopback(bool two_threads);
  Loopback(const Loopback&) = delete;
  Loopback& operator=(const Loopback&) = delete;
  ~Loopback();

  bool two_threads() const { return two_threads_; }

  std::string setup() const;  ///< "server_thread" or "one_thread" (for params)

  asio::any_io_executor client_executor() { return client_io_.get_executor(); }

  asio::any_io_executor server_executor();
  /// Runs `task` on the client io_context and drives it until the task completes.
  void run_client(std::function<asio::awaitable<void>()> task);
  /// Runs `task` on the server side and blocks until it completes.
  void run_server(std::function<asio::awaitable<void>()> task);

 private:
  bool two_threads_;
  asio::io_context client_io_;
  asio::io_context server_io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread server_thread_;
};

/// A client host connected to a listening server host, each on its side of a Loopback.
struct HostPair {
  std::shared_ptr<net::Host> server;
  std::shared_ptr<net::Host> client;
};

/// Creates both hosts (server listening on 127.0.0.1, `serve` called on the server's thread
/// before the client connects) with `security` on both, and `receive_window` bytes of Yamux
/// receive window (0 = the library default). Errors: listen or connect failures.
Result<HostPair> start_hosts(Loopback& loop,
                             net::Security security,
                             std::function<void(net::Host&)> serve,
                             std::uint32_t receive_window = 0);
/// Stops both hosts (each on its own thread).
void stop_hosts(Loopback& loop, HostPair& pair);

/// Which ChaCha20-Poly1305-IETF implementation measure_seal_open runs.
enum class AeadImpl {
  kLibsodium,  ///< libsodium's (the issue's reference bound)
  kTransport,  ///< the one the Noise transport uses (OpenSSL, src/net/chacha20_poly1305.hpp)
};

/// (a) ChaCha20-Poly1305-IETF seal + open of `message`-byte messages, one core: MB/s of payload
/// (total_bytes payload bytes each way).
double measure_seal_open(std::size_t total_bytes, std::size_t message, AeadImpl impl);
/// Plain asio TCP, `total` bytes in `write_size` writes to a counting reader that answers the
/// 8-byte count; timed from the first write to the count. MB/s.
Result<double> measure_raw_tcp(Loopback& loop, std::size_t total, std::size_t write_size);
/// One /hm/sink/1.0.0 stream between two Hosts with `security` + Yamux, timed like the raw TCP
/// case (and like js-libp2p's throughput test). MB/s.
Result<double> measure_host_stream(Loopback& loop,
                                   net::Security security,
                                   std::size_t total,
                                   std::size_t write_size,
                                   std::uint32_t receive_window);

/// (c) Unary RPC figures over Noise + Yamux, and raw-TCP and ping round trips for reference.
struct RpcFigures {
  double p50_us = 0;
  double p99_us = 0;
  double calls_per_s_1 = 0;
  double calls_per_s_n = 0;
  double tcp_rtt_p50_us = 0;   ///< 64-byte ping-pong over a plain asio socket
  double ping_rtt_p50_us = 0;  ///< /ipfs/ping/1.0.0, 32 bytes, many pings on one stream
};

Result<RpcFigures> measure_rpc(Loopback& loop, const Options& options);

/// (d) js-libp2p dialing a C++ host (server thread): prints its lines, or a "skipped" line.
void run_js_cases(const Options& options, double our_noise_mb_s, double our_ping_p50_us);

}  // namespace hivemind::bench
