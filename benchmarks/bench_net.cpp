// hm-bench-net: networking benchmarks, each figure printed next to the bound or baseline it is
// compared with, measured in the same run (DESIGN.md §9; figures in docs/benchmarks.md).
#include "bench_net.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "hivemind/core/log.hpp"

namespace hivemind::bench {
namespace {

constexpr char kUsage[] = R"(usage: hm-bench-net [options]
Prints one JSON object per line (DESIGN.md section 9). Cases:
  chacha20poly1305_seal_open_1core   libsodium seal+open of 64 KiB messages, one core (bound)
  chacha20poly1305_seal_open_1core_transport  the same with the transport's AEAD (OpenSSL)
  tcp_raw_throughput                 plain asio sockets on loopback, one connection (bound)
  stream_throughput_noise_yamux      one Host stream over Noise+Yamux vs the seal+open bound
  stream_throughput_plaintext_yamux  one Host stream over plaintext+Yamux vs raw TCP
  unary_rpc_latency_p50_us / _p99_us, unary_rpc_calls_per_s (1 and N callers), ping_rtt_p50_us
  js_libp2p_throughput, stream_throughput_vs_js_libp2p, js_libp2p_ping_rtt_median_us
    (needs `npm ci` in tests/interop/js; else a "skipped" line)
The server runs on its own io_context thread (realistic: two peers are two processes); the
_one_thread cases repeat the throughput figures with both hosts on one io_context.
Options:
  --payload-mib N     bytes per throughput run, MiB (default 256)
  --write-kib N       application write size, KiB (default 64, as js-libp2p's test)
  --window-kib N      Yamux receive window of both hosts in the stream cases, KiB
                      (default: the library's, 256 KiB)
  --repeats N         throughput runs per figure, median reported (default 5)
  --rpc-calls N       timed unary calls with one caller (default 2000, after 200 warmup)
  --concurrency N     concurrent callers for the second calls/s figure (default 64)
  --no-single-thread  skip the _one_thread cases
  --no-js             skip the js-libp2p cases
  --only GROUP        run one group: throughput, rpc or js (js then has no C++ figure to
                      compare with)
  --quick             small sizes (smoke test): 16 MiB, 1 repeat, 200 calls
  --help              this text
)";

bool parse_size(const char* text, std::size_t& out) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v == 0 || v > (1ull << 20))
    return false;
  out = static_cast<std::size_t>(v);
  return true;
}

/// Returns 0 to run, 1 after --help, 2 on a usage error.
int parse_args(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::size_t& out) {
      if (i + 1 >= argc || !parse_size(argv[i + 1], out)) {
        std::fprintf(stderr, "hm-bench-net: %s needs a positive integer\n", arg.c_str());
        return false;
      }
      ++i;
      return true;
    };
    std::size_t repeats = 0;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 1;
    } else if (arg == "--payload-mib") {
      if (!value(options.payload_mib))
        return 2;
    } else if (arg == "--write-kib") {
      if (!value(options.write_kib))
        return 2;
    } else if (arg == "--repeats") {
      if (!value(repeats))
        return 2;
      options.repeats = static_cast<int>(std::min<std::size_t>(repeats, 100));
    } else if (arg == "--window-kib") {
      if (!value(options.window_kib))
        return 2;
    } else if (arg == "--rpc-calls") {
      if (!value(options.rpc_calls))
        return 2;
    } else if (arg == "--concurrency") {
      if (!value(options.rpc_concurrency))
        return 2;
    } else if (arg == "--no-single-thread") {
      options.single_thread = false;
    } else if (arg == "--no-js") {
      options.js = false;
    } else if (arg == "--only") {
      const std::string group = i + 1 < argc ? argv[++i] : "";
      if (group != "throughput" && group != "rpc" && group != "js") {
        std::fprintf(stderr, "hm-bench-net: --only needs throughput, rpc or js\n");
        return 2;
      }
      options.throughput = group == "throughput";
      options.rpc = group == "rpc";
      options.js = group == "js";
    } else if (arg == "--quick") {
      options.payload_mib = 16;
      options.repeats = 1;
      options.rpc_calls = 200;
      options.rpc_warmup = 20;
      options.rpc_concurrent_calls = 1280;
      options.ping_count = 50;
    } else {
      std::fprintf(stderr, "hm-bench-net: unknown option %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  options.rpc_concurrent_calls = std::max(options.rpc_concurrent_calls, options.rpc_concurrency);
  return 0;
}

[[noreturn]] void fail(const std::string& what, const Error& error) {
  std::fprintf(stderr, "hm-bench-net: %s failed: %s\n", what.c_str(), error.message().c_str());
  std::exit(1);
}

struct Throughputs {
  double tcp = 0;
  double noise = 0;
  double plaintext = 0;
};

/// Medians over `repeats` interleaved runs of raw TCP, Noise and plaintext streams.
Throughputs measure_throughputs(const Options& options, bool two_threads) {
  const std::size_t total = options.payload_mib << 20;
  const std::size_t write_size = options.write_kib << 10;
  const auto window = static_cast<std::uint32_t>(options.window_kib << 10);
  std::vector<double> tcp, noise, plain;
  for (int r = 0; r < options.repeats; ++r) {
    Loopback loop(two_threads);
    auto t = measure_raw_tcp(loop, total, write_size);
    if (!t)
      fail("raw TCP throughput", t.error());
    tcp.push_back(*t);
    auto n = measure_host_stream(loop, net::Security::kNoise, total, write_size, window);
    if (!n)
      fail("Noise stream throughput", n.error());
    noise.push_back(*n);
    auto p = measure_host_stream(loop, net::Security::kPlaintext, total, write_size, window);
    if (!p)
      fail("plaintext stream throughput", p.error());
    plain.push_back(*p);
  }
  return {median(tcp), median(noise), median(plain)};
}

/// The single-core seal+open figures: libsodium's (the issue's bound) and the transport's own.
struct SealOpen {
  double libsodium = 0;
  double transport = 0;
};

void print_throughputs(const Options& options,
                       const Throughputs& t,
                       const SealOpen& seal_open,
                       const std::string& setup,
                       const std::string& suffix) {
  auto params = [&](JsonLine line) {
    return line.param("setup", setup)
        .param("payload_mib", static_cast<double>(options.payload_mib))
        .param("write_kib", static_cast<double>(options.write_kib))
        .param("repeats", options.repeats)
        .param("window_kib", options.window_kib ? static_cast<double>(options.window_kib) : 256);
  };
  params(JsonLine("net", "tcp_raw_throughput" + suffix).value(t.tcp, "MB/s")).print();
  params(JsonLine("net", "stream_throughput_noise_yamux" + suffix)
             .value(t.noise, "MB/s")
             .against("chacha20poly1305_seal_open_1core", seal_open.libsodium))
      .param("goal", "ratio >= 0.6")
      .param("ratio_to_transport_aead_1core", t.noise / seal_open.transport)
      .print();
  params(JsonLine("net", "stream_throughput_plaintext_yamux" + suffix)
             .value(t.plaintext, "MB/s")
             .against("tcp_raw_throughput" + suffix, t.tcp))
      .print();
}

void run_throughputs(const Options& options, Throughputs& two) {
  const std::size_t total = options.payload_mib << 20;
  constexpr std::size_t kMessage = 64 * 1024;
  SealOpen seal_open;
  for (const AeadImpl impl : {AeadImpl::kLibsodium, AeadImpl::kTransport}) {
    std::vector<double> runs;
    for (int r = 0; r < options.repeats; ++r)
      runs.push_back(measure_seal_open(total, kMessage, impl));
    const bool sodium = impl == AeadImpl::kLibsodium;
    (sodium ? seal_open.libsodium : seal_open.transport) = median(runs);
    JsonLine(
        "net",
        sodium ? "chacha20poly1305_seal_open_1core" : "chacha20poly1305_seal_open_1core_transport")
        .value(sodium ? seal_open.libsodium : seal_open.transport, "MB/s")
        .param("implementation", sodium ? "libsodium" : "OpenSSL (used by the Noise transport)")
        .param("message_bytes", static_cast<double>(kMessage))
        .param("payload_mib", static_cast<double>(options.payload_mib))
        .param("repeats", options.repeats)
        .print();
  }
  two = measure_throughputs(options, /*two_threads=*/true);
  print_throughputs(options, two, seal_open, "server_thread", "");
  if (options.single_thread) {
    const Throughputs one = measure_throughputs(options, /*two_threads=*/false);
    print_throughputs(options, one, seal_open, "one_thread", "_one_thread");
  }
}

RpcFigures run_rpc(const Options& options) {
  Loopback loop(/*two_threads=*/true);
  auto rpc = measure_rpc(loop, options);
  if (!rpc)
    fail("unary RPC", rpc.error());
  const std::string setup = "server_thread";
  JsonLine("net", "tcp_roundtrip_p50_us")
      .value(rpc->tcp_rtt_p50_us, "us")
      .param("setup", setup)
      .param("message_bytes", 64)
      .print();
  JsonLine("net", "ping_rtt_p50_us")
      .value(rpc->ping_rtt_p50_us, "us")
      .against("tcp_roundtrip_p50_us", rpc->tcp_rtt_p50_us)
      .param("setup", setup)
      .param("pings", static_cast<double>(options.ping_count))
      .print();
  for (const auto& [name, value] : {std::pair{"unary_rpc_latency_p50_us", rpc->p50_us},
                                    {"unary_rpc_latency_p99_us", rpc->p99_us}}) {
    auto line = JsonLine("net", name)
                    .value(value, "us")
                    .against("tcp_roundtrip_p50_us", rpc->tcp_rtt_p50_us);
    line.param("setup", setup)
        .param("calls", static_cast<double>(options.rpc_calls))
        .param("request_bytes", 64);
    if (std::string(name).ends_with("p50_us"))
      line.param("goal", "value < 150");
    line.print();
  }
  JsonLine("net", "unary_rpc_calls_per_s")
      .value(rpc->calls_per_s_1, "calls/s")
      .against("tcp_roundtrips_per_s", 1e6 / rpc->tcp_rtt_p50_us)
      .param("setup", setup)
      .param("callers", 1)
      .param("calls", static_cast<double>(options.rpc_calls))
      .print();
  JsonLine("net", "unary_rpc_calls_per_s")
      .value(rpc->calls_per_s_n, "calls/s")
      .against("unary_rpc_calls_per_s_1_caller", rpc->calls_per_s_1)
      .param("setup", setup)
      .param("callers", static_cast<double>(options.rpc_concurrency))
      .param("calls", static_cast<double>(options.rpc_concurrent_calls))
      .print();
  return *rpc;
}

int run(const Options& options) {
  Throughputs two;
  two.noise = NAN;
  RpcFigures rpc;
  rpc.ping_rtt_p50_us = NAN;
  if (options.throughput)
    run_throughputs(options, two);
  if (options.rpc)
    rpc = run_rpc(options);
  if (options.js)
    run_js_cases(options, two.noise, rpc.ping_rtt_p50_us);
  return 0;
}

}  // namespace
}  // namespace hivemind::bench

int main(int argc, char** argv) {
  hivemind::bench::Options options;
  if (const int parsed = hivemind::bench::parse_args(argc, argv, options); parsed != 0)
    return parsed == 1 ? 0 : 2;
  hivemind::set_log_level("warn");
  try {
    return hivemind::bench::run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hm-bench-net: %s\n", e.what());
    return 1;
  }
}
