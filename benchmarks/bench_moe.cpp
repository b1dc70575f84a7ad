// hm-bench-moe-throughput: expert server throughput (hivemind's benchmarks/benchmark_throughput.py,
// shared/reference/hivemind-moe-averaging-optim.md §5) next to the same experts run locally.
// Default run: the `cpu` preset (forward+backward against its local compute bound, startup
// times), then the `nop_reference` preset with plaintext and with Noise. Figures:
// docs/benchmarks.md.
#include "bench_moe.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <ATen/Parallel.h>
#include <unistd.h>

#include "bench_json.hpp"
#include "hivemind/core/log.hpp"

namespace hivemind::bench {
namespace {

constexpr double kPythonNopSamplesPerS = 31000;  // hivemind 0.9.9, issue 5
constexpr double kPythonFfnSamplesPerS = 8750;   // 8,300-9,200, issue 5

struct Args {
  std::optional<std::string> preset;
  bool quick = false;
  std::optional<std::size_t> batches;
  std::optional<net::Security> security;
  MoeThreads threads;
  int repeats = 1;
  bool local = true;
};

/// benchmark_throughput.py's presets, plus `cpu` (the default here) and `nop_reference` (the
/// issue's Python reference case).
std::map<std::string, MoeCase> presets() {
  const MoeCase d{};  // benchmark_throughput() defaults
  std::map<std::string, MoeCase> p;
  p["default"] = d;
  p["ffn_forward_backward"] = d;
  p["ffn_forward"] = d;
  p["ffn_forward"].backprop = false;
  p["ffn_small_batch"] = d;
  p["ffn_small_batch"].backprop = false;
  p["ffn_small_batch"].num_experts = 4;
  p["ffn_small_batch"].batch_size = 32;
  p["ffn_small_batch"].max_batch_size = 8192;
  MoeCase many = d;
  many.num_experts = 1;
  many.batch_size = 1;
  many.max_batch_size = 8192;
  many.num_clients = 512;
  p["ffn_small_batch_512clients"] = many;
  many.num_handlers = 32;
  p["ffn_small_batch_512clients_32handlers"] = many;
  p["ffn_massive"] = d;
  p["ffn_massive"].backprop = false;
  p["ffn_massive"].num_clients = 512;
  p["ffn_massive"].batch_size = 512;
  p["ffn_massive"].max_batch_size = 8192;
  p["minimalistic"] = d;
  p["minimalistic"].num_experts = 1;
  p["minimalistic"].num_clients = 1;
  p["minimalistic"].num_handlers = 1;
  p["nop"] = d;
  p["nop"].expert_cls = "nop";
  p["nop"].backprop = false;
  p["nop_reference"] = p["nop"];
  p["nop_reference"].num_clients = 32;
  p["nop_reference"].security = net::Security::kPlaintext;
  MoeCase cpu = d;
  cpu.num_experts = 4;
  cpu.num_clients = 8;
  cpu.batch_size = 256;
  cpu.hid_dim = 256;
  cpu.num_batches_per_client = 128;
  p["cpu"] = cpu;
  for (auto& [name, c] : p)
    c.preset = name;
  return p;
}

/// The tiny versions of the default run's cases (--quick): a few seconds, unary and streaming.
void make_quick(MoeCase& c) {
  c.num_experts = 2;
  c.num_clients = 4;
  c.num_batches_per_client = 2;
  if (c.expert_cls == "nop") {
    c.hid_dim = 1024;
    c.batch_size = 1024;  // 4 MiB of input: the streaming RPC
  } else {
    c.hid_dim = 32;
    c.batch_size = 16;
  }
}

std::string case_name(const MoeCase& c) {
  if (c.preset == "cpu")
    return "forward_backward_samples_per_s";
  std::string prefix = c.preset == "nop_reference" ? "nop" : c.preset;
  return prefix + (c.backprop ? "_forward_backward" : "_forward") + "_samples_per_s_"
         + (c.security == net::Security::kNoise ? "noise" : "plaintext");
}

void print_startup(const moe::StartupTimes& t, const MoeCase& c) {
  JsonLine("moe", "startup_networking_s")
      .value(t.networking_s, "s")
      .param("preset", c.preset)
      .param("python_0_9_9_s", "0.04-0.2")
      .param("goal_s", 0.1)
      .print();
  JsonLine("moe", "startup_experts_s")
      .value(t.experts_s, "s")
      .param("preset", c.preset)
      .param("num_experts", static_cast<double>(c.num_experts))
      .param("expert_cls", c.expert_cls)
      .param("hid_dim", static_cast<double>(c.hid_dim))
      .print();
}

/// Runs one case (repeats times) and its local bound; prints its lines. False on failure.
bool run_case(MoeCase c, const Args& args, bool startup) {
  if (args.batches)
    c.num_batches_per_client = *args.batches;
  MoeThreads threads = args.threads;
  if (threads.codec_threads == 0)
    threads.codec_threads =
        std::min<std::size_t>(c.handlers(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<double> rates;
  ThroughputResult last;
  for (int r = 0; r < args.repeats; ++r) {
    auto result = run_server_throughput(c, threads);
    if (!result) {
      JsonLine("moe", case_name(c)).field("status", "Failure: " + result.error().message()).print();
      return false;
    }
    if (result->failed_calls > 0) {
      JsonLine("moe", case_name(c))
          .field("status",
                 "Failure: " + std::to_string(result->failed_calls)
                     + " calls failed, first: " + result->first_error)
          .print();
      return false;
    }
    rates.push_back(result->samples_per_s);
    last = *result;
  }
  std::sort(rates.begin(), rates.end());
  JsonLine line("moe", case_name(c));
  line.value(rates[rates.size() / 2], "samples/s");
  std::optional<LocalBound> bound;
  if (args.local) {
    bound = measure_local_bound(c, 0.1);
    line.against("local_compute_bound_samples_per_s", bound->samples_per_s);
  }
  line.field("status", "Success");
  add_case_params(line, c, threads);
  line.param("samples", static_cast<double>(last.samples))
      .param("wall_s", last.wall_s)
      .param("repeats", args.repeats)
      .param("min", rates.front())
      .param("max", rates.back())
      .param("startup_experts_s", last.startup.experts_s)
      .param("startup_networking_s", last.startup.networking_s)
      .param("load_avg_1min", load_average());
  if (c.expert_cls == "nop" && c.num_clients == 32)
    line.param("python_0_9_9_samples_per_s", kPythonNopSamplesPerS)
        .param("x_python", rates[rates.size() / 2] / kPythonNopSamplesPerS);
  if (c.preset == "cpu")
    line.param("python_0_9_9_samples_per_s", kPythonFfnSamplesPerS)
        .param("x_python", rates[rates.size() / 2] / kPythonFfnSamplesPerS);
  line.print();
  if (bound) {
    JsonLine bound_line("moe", c.preset + "_local_compute_bound_samples_per_s");
    bound_line.value(bound->samples_per_s, "samples/s");
    add_case_params(bound_line, c, bound->threads);
    for (const auto& [setting, rate] : bound->tried)
      bound_line.param("search_" + setting, rate);
    bound_line.param("load_avg_1min", load_average()).print();
  }
  if (startup)
    print_startup(last.startup, c);
  return true;
}

void usage() {
  std::puts(
      "hm-bench-moe-throughput: expert server throughput (hivemind benchmark_throughput.py)\n"
      "next to the same experts run locally. One JSON object per line.\n"
      "  --preset NAME            run one preset: cpu, nop_reference, default,\n"
      "                           ffn_forward_backward, ffn_forward, ffn_small_batch,\n"
      "                           ffn_small_batch_512clients, "
      "ffn_small_batch_512clients_32handlers,\n"
      "                           ffn_massive, minimalistic, nop (default run: cpu, then\n"
      "                           nop_reference with plaintext and with noise)\n"
      "  --num_batches_per_client N   override the preset's\n"
      "  --security noise|plaintext   (with --preset) connection security\n"
      "  --torch-threads N        intra-op threads of the server run (default 1)\n"
      "  --compute-threads N      server runtime threads (default 1)\n"
      "  --codec-threads N        server codec threads (default min(handlers, cores))\n"
      "  --client-threads N       client io threads, one Host each (default 1)\n"
      "  --repeats N              server runs per case; the median is reported (default 1)\n"
      "  --no-local               skip the local compute bound\n"
      "  --quick                  tiny sizes (a few seconds)\n"
      "Sets OMP_WAIT_POLICY=PASSIVE (re-executing itself) unless it is set.");
}

/// Returns 0 to run, 1 after --help, 2 on a usage error.
int parse_args(int argc, char** argv, Args& a) {
  a.threads.codec_threads = 0;  // = min(handlers, cores)
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* {
      return i + 1 < argc ? argv[++i] : nullptr;
    };
    auto number = [&](auto& out) {
      const char* v = next();
      if (v == nullptr)
        return false;
      out = static_cast<std::remove_reference_t<decltype(out)>>(std::strtoul(v, nullptr, 10));
      return out > 0;
    };
    bool good = true;
    if (arg == "--help" || arg == "-h") {
      usage();
      return 1;
    } else if (arg == "--preset") {
      const char* v = next();
      good = v != nullptr && presets().count(v) > 0;
      if (good)
        a.preset = v;
    } else if (arg == "--num_batches_per_client") {
      std::size_t n = 0;
      good = number(n);
      a.batches = n;
    } else if (arg == "--security") {
      const char* v = next();
      good = v != nullptr && (std::strcmp(v, "noise") == 0 || std::strcmp(v, "plaintext") == 0);
      if (good)
        a.security =
            std::strcmp(v, "noise") == 0 ? net::Security::kNoise : net::Security::kPlaintext;
    } else if (arg == "--torch-threads") {
      good = number(a.threads.torch_threads);
    } else if (arg == "--compute-threads") {
      good = number(a.threads.compute_threads);
    } else if (arg == "--codec-threads") {
      good = number(a.threads.codec_threads);
    } else if (arg == "--client-threads") {
      good = number(a.threads.client_threads);
    } else if (arg == "--repeats") {
      good = number(a.repeats);
    } else if (arg == "--no-local") {
      a.local = false;
    } else if (arg == "--quick") {
      a.quick = true;
    } else {
      good = false;
    }
    if (!good) {
      std::fprintf(stderr, "bad argument near '%s' (see --help)\n", arg.c_str());
      return 2;
    }
  }
  return 0;
}

}  // namespace
}  // namespace hivemind::bench

int main(int argc, char** argv) {
  using namespace hivemind::bench;
  reexec_with_passive_openmp(argv);
  Args args;
  if (const int rc = parse_args(argc, argv, args); rc != 0)
    return rc == 1 ? 0 : 2;
  // The single-node DHT cannot store declarations anywhere; that warning is expected here.
  hivemind::logger("moe")->set_level(spdlog::level::err);
  std::vector<MoeCase> cases;
  const auto all = presets();
  if (args.preset) {
    cases.push_back(all.at(*args.preset));
    if (args.security)
      cases.back().security = *args.security;
  } else {
    cases.push_back(all.at("cpu"));
    cases.push_back(all.at("nop_reference"));
    cases.push_back(all.at("nop_reference"));
    cases.back().security = hivemind::net::Security::kNoise;
  }
  bool ok = true;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (args.quick)
      make_quick(cases[i]);
    ok = run_case(cases[i], args, i == 0) && ok;
  }
  return ok ? 0 : 1;
}
