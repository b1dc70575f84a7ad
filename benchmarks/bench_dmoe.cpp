// hm-bench-dmoe: training steps per second of the DMoE example's model against 4 hivemind-server
// processes with 0, 1 and 2 of them SIGKILLed mid-run, next to the same model with local experts,
// and the latency one remote mixture layer adds to a step (p50/p99). Figures: docs/benchmarks.md.
#include "bench_dmoe.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include "bench_json.hpp"
#include "hivemind/core/log.hpp"

namespace hivemind::bench {
namespace {

double load_average() {
  std::ifstream in("/proc/loadavg");
  double value = -1;
  in >> value;
  return value;
}

void add_params(JsonLine& line, const DmoeOptions& o) {
  line.param("servers", static_cast<double>(o.num_servers))
      .param("experts", 16.0)
      .param("grid", "4x4")
      .param("hidden_dim", static_cast<double>(o.hidden_dim))
      .param("batch_size", static_cast<double>(o.batch_size))
      .param("k_best", static_cast<double>(o.k_best))
      .param("window_steps", static_cast<double>(o.window_steps))
      .param("load_average", load_average());
}

void print_window(const char* name,
                  const WindowStats& w,
                  const WindowStats& local,
                  const DmoeOptions& o,
                  int killed,
                  double kill_step_ms) {
  JsonLine line("dmoe", name);
  line.value(w.steps_per_s(), "steps/s")
      .against("local_experts_steps_per_s", local.steps_per_s())
      .param("servers_killed", static_cast<double>(killed))
      .param("step_p50_ms", w.step_ms_quantile(0.5))
      .param("step_p99_ms", w.step_ms_quantile(0.99))
      .param("moe_p50_ms", w.moe_ms_quantile(0.5))
      .param("failed_steps", static_cast<double>(w.failed_steps()))
      .param("failed_calls_per_step",
             static_cast<double>(w.failed_calls()) / static_cast<double>(w.steps.size()));
  if (killed > 0)
    line.param("kill_step_ms", kill_step_ms);
  add_params(line, o);
  line.print();
}

/// One step during which the next server is SIGKILLed (about half-way through it); its time.
double step_with_kill(DmoeTrainer& trainer, DmoeSwarm& swarm, double step_s) {
  std::thread killer([&swarm, step_s] {
    std::this_thread::sleep_for(std::chrono::duration<double>(step_s / 2));  // where to kill
    swarm.kill_next_server();
  });
  const StepTime t = trainer.step();
  killer.join();
  swarm.drain();
  return t.step_s * 1e3;
}

void usage() {
  std::puts(
      "hm-bench-dmoe [--quick] [--window N] [--warmup N] [--data_dir DIR]\n"
      "  Trains the DMoE example's model (batch 64, 16 ffn experts of width 64 on 4\n"
      "  hivemind-server processes, k_best 4) and prints JSON lines: steps/s with 0, 1 and 2\n"
      "  servers SIGKILLed against the same model with local experts, and the latency of the\n"
      "  mixture layer (forward + backward) remote vs local.\n"
      "  --quick      a few steps per window (smoke test)\n"
      "  --window N   steps per measured window (default 500)\n"
      "  --warmup N   steps before measuring (default 20)");
}

int parse_args(int argc, char** argv, DmoeOptions& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--help" || arg == "-h") {
      usage();
      return 1;
    } else if (arg == "--quick") {
      o.warmup_steps = 3;
      o.window_steps = 10;
      o.settle_steps = 2;
    } else if ((arg == "--window" || arg == "--warmup") && value != nullptr
               && std::atol(value) > 0) {
      (arg == "--window" ? o.window_steps : o.warmup_steps) = std::atol(value);
      ++i;
    } else if (arg == "--data_dir" && value != nullptr) {
      o.data_dir = value;
      ++i;
    } else {
      std::fprintf(stderr, "bad argument near '%s' (see --help)\n", arg.c_str());
      return 2;
    }
  }
  return 0;
}

int run(const DmoeOptions& o) {
  auto data = load_dmoe_data(o);
  if (!data) {
    std::fprintf(stderr, "cannot load Fashion-MNIST: %s\n", data.error().message().c_str());
    return 1;
  }
  auto swarm = DmoeSwarm::start(o);
  if (!swarm) {
    std::fprintf(stderr, "cannot start the swarm: %s\n", swarm.error().message().c_str());
    return 1;
  }
  auto remote = make_remote_trainer(o, *data, (*swarm)->dht_addr(), 120);
  if (!remote) {
    std::fprintf(stderr, "cannot start the trainer: %s\n", remote.error().message().c_str());
    return 1;
  }
  DmoeSwarm& s = **swarm;
  run_window(**remote, o.warmup_steps, &s);
  WindowStats windows[3];
  double kill_step_ms[3] = {0, 0, 0};
  windows[0] = run_window(**remote, o.window_steps, &s);
  for (int killed = 1; killed <= 2; ++killed) {
    kill_step_ms[killed] = step_with_kill(**remote, s, windows[0].step_ms_quantile(0.5) / 1e3);
    run_window(**remote, o.settle_steps, &s);
    windows[killed] = run_window(**remote, o.window_steps, &s);
  }
  remote->reset();
  s.stop();

  auto local = make_local_trainer(o, *data);
  run_window(*local, o.warmup_steps, nullptr);
  const WindowStats local_window = run_window(*local, o.window_steps, nullptr);

  const char* names[3] = {
      "train_steps_per_s_kill0", "train_steps_per_s_kill1", "train_steps_per_s_kill2"};
  for (int killed = 0; killed < 3; ++killed)
    print_window(names[killed], windows[killed], local_window, o, killed, kill_step_ms[killed]);
  const WindowStats& w = windows[0];
  for (double q : {0.5, 0.99}) {
    const std::string tag = q == 0.5 ? "p50" : "p99";
    JsonLine remote_line("dmoe", "moe_layer_" + tag + "_ms_remote");
    remote_line.value(w.moe_ms_quantile(q), "ms")
        .against("moe_layer_" + tag + "_ms_local", local_window.moe_ms_quantile(q))
        .param("what", "mixture forward + backward per step, 0 servers killed");
    add_params(remote_line, o);
    remote_line.print();
    JsonLine added("dmoe", "moe_layer_added_" + tag + "_ms");
    added.value(w.moe_ms_quantile(q) - local_window.moe_ms_quantile(q), "ms")
        .against("remote_step_" + tag + "_ms", w.step_ms_quantile(q))
        .param("local_step_" + tag + "_ms", local_window.step_ms_quantile(q));
    add_params(added, o);
    added.print();
  }
  std::size_t failed = 0;
  for (const auto& window : windows)
    failed += window.failed_steps();
  // A failed step is a legitimate outcome (a sample lost all its experts), but never all of them.
  return failed < static_cast<std::size_t>(3 * o.window_steps) ? 0 : 1;
}

}  // namespace
}  // namespace hivemind::bench

int main(int argc, char** argv) {
  using namespace hivemind::bench;
  reexec_with_passive_openmp(argv);
  DmoeOptions options;
  options.dht_path = HM_DMOE_DHT_PATH;
  options.server_path = HM_DMOE_SERVER_PATH;
  if (const int rc = parse_args(argc, argv, options); rc != 0)
    return rc == 1 ? 0 : 2;
  hivemind::logger("moe")->set_level(spdlog::level::err);
  hivemind::logger("dht")->set_level(spdlog::level::err);
  at::set_num_threads(1);
  at::manual_seed(options.seed);
  try {
    return run(options);  // the swarm's children are SIGKILLed when it goes out of scope
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hm-bench-dmoe: %s\n", e.what());
    return 1;
  }
}
