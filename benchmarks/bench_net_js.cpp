// hm-bench-net (d): js-libp2p (tests/interop/js, Node) dials a C++ host on loopback: one-stream
// throughput into our /hm/sink/1.0.0, and ping round trips on one stream.
#include <cmath>

#include "bench_net.hpp"
#include "hivemind/net/error.hpp"
#include "interop_support.hpp"

namespace hivemind::bench {
namespace {

constexpr std::chrono::seconds kJsTimeout{300};

struct JsFigures {
  double throughput_mb_s = NAN;
  double ping_median_us = NAN;
  std::string error;
};

JsFigures run_js(const Options& options) {
  JsFigures figures;
  Loopback loop(/*two_threads=*/true);
  auto pair = start_hosts(
      loop, net::Security::kNoise, [](net::Host& host) { interop::serve_test_protocols(host); });
  if (!pair) {
    figures.error = "starting the C++ host: " + pair.error().message();
    return figures;
  }
  net::Multiaddr addr;
  loop.run_server([&]() -> asio::awaitable<void> {
    addr = pair->server->visible_addrs().front();
    co_return;
  });
  loop.run_client([&]() -> asio::awaitable<void> {
    std::vector<std::string> args;
    args.push_back("--bytes");
    args.push_back(std::to_string(options.payload_mib << 20));
    args.push_back("--timeout");
    args.push_back(std::to_string(kJsTimeout.count()));
    auto result = co_await interop::run_js_dial(
        addr, "throughput", std::move(args), kJsTimeout + std::chrono::seconds(30));
    if (!result || !(*result)["ok"].as_bool()) {
      figures.error =
          "js throughput: " + (result ? (*result)["error"].as_string() : result.error().message());
      co_return;
    }
    figures.throughput_mb_s = (*result)["mb_per_s"].as_number(NAN);
    std::vector<std::string> ping_args;
    ping_args.push_back("--count");
    ping_args.push_back(std::to_string(options.ping_count));
    auto ping = co_await interop::run_js_dial(
        addr, "ping", std::move(ping_args), std::chrono::seconds(120));
    if (!ping || !(*ping)["ok"].as_bool()) {
      figures.error = "js ping: " + (ping ? (*ping)["error"].as_string() : ping.error().message());
      co_return;
    }
    figures.ping_median_us = (*ping)["rtt_median_ms"].as_number(NAN) * 1000;
  });
  stop_hosts(loop, *pair);
  return figures;
}

}  // namespace

void run_js_cases(const Options& options, double our_noise_mb_s, double our_ping_p50_us) {
  const std::string setup = "js-libp2p (Node) dials a C++ host on its own thread over Noise+Yamux";
  if (auto problem = interop::js_install_problem(); !problem.empty()) {
    JsonLine("net", "js_libp2p_throughput").field("skipped", problem).print();
    return;
  }
  const JsFigures js = run_js(options);
  if (!js.error.empty() && std::isnan(js.throughput_mb_s)) {
    JsonLine("net", "js_libp2p_throughput").field("skipped", js.error).print();
    return;
  }
  JsonLine("net", "js_libp2p_throughput")
      .value(js.throughput_mb_s, "MB/s")
      .param("setup", setup)
      .param("payload_mib", static_cast<double>(options.payload_mib))
      .param("write_kib", 64)
      .print();
  JsonLine("net", "stream_throughput_vs_js_libp2p")
      .value(our_noise_mb_s, "MB/s")
      .against("js_libp2p_throughput", js.throughput_mb_s)
      .param("value_is", "stream_throughput_noise_yamux (server_thread)")
      .param("goal", "ratio >= 3")
      .print();
  if (std::isnan(js.ping_median_us)) {
    JsonLine("net", "js_libp2p_ping_rtt_median_us").field("skipped", js.error).print();
    return;
  }
  JsonLine("net", "js_libp2p_ping_rtt_median_us")
      .value(js.ping_median_us, "us")
      .against("ping_rtt_p50_us", our_ping_p50_us)
      .param("setup", setup)
      .param("pings", static_cast<double>(options.ping_count))
      .param("note", "pings on one /ipfs/ping/1.0.0 stream; against = a C++ client doing the same")
      .print();
}

}  // namespace hivemind::bench
