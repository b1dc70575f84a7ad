// hm-bench-moe-throughput: the local compute bound. The experts the server would host (built
// the same way: the registry's class, its sample input as the argument schema, Adam) run the same
// number of batches of the same size on worker threads, with no network, no serialization and no
// task pools. The thread settings are searched on a slice of the work first.
#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "bench_moe.hpp"
#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_registry.hpp"
#include "hivemind/moe/tensor_schema.hpp"

namespace hivemind::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::shared_ptr<moe::ExpertBackend>> build_backends(const MoeCase& c) {
  const auto registry = moe::ExpertRegistry::with_builtins();
  const moe::ExpertClass* cls = registry.find(c.expert_cls);
  if (cls == nullptr)
    throw std::invalid_argument("unknown expert class " + c.expert_cls);
  std::vector<moe::TensorSchema> args;
  for (const auto& t : cls->sample_input(3, c.hid_dim))
    args.push_back(moe::schema_of(t));
  std::vector<std::shared_ptr<moe::ExpertBackend>> backends;
  for (std::size_t i = 0; i < c.num_experts; ++i)
    backends.push_back(std::make_shared<moe::ExpertBackend>(
        "expert." + std::to_string(i),
        cls->make(c.hid_dim),
        moe::ExpertBackendOptions{.args_schema = args, .device = "cpu"}));
  return backends;
}

/// Runs `batches` batches on `workers` threads with `torch_threads` intra-op threads; samples/s.
double run_batches(const MoeCase& c,
                   const std::vector<std::shared_ptr<moe::ExpertBackend>>& backends,
                   const std::vector<at::Tensor>& inputs,
                   const at::Tensor& grad,
                   std::size_t batches,
                   int torch_threads,
                   std::size_t workers) {
  at::set_num_threads(torch_threads);
  std::mt19937_64 rng(7);
  std::vector<std::size_t> experts(batches);
  for (auto& e : experts)
    e = rng() % backends.size();
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      for (std::size_t i = w; i < batches; i += workers) {
        const at::Tensor& x = inputs[i % inputs.size()];
        auto& backend = *backends[experts[i]];
        if (!backend.forward({x}))
          failed = true;
        if (c.backprop && !backend.backward({x}, {grad}))
          failed = true;
      }
    });
  for (auto& t : threads)
    t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed)
    throw std::runtime_error("local expert call failed");
  return static_cast<double>(batches) * static_cast<double>(c.batch_size) / wall;
}

}  // namespace

LocalBound measure_local_bound(const MoeCase& c, double search_fraction) {
  const auto backends = build_backends(c);
  std::vector<at::Tensor> inputs;
  for (int i = 0; i < 4; ++i)
    inputs.push_back(at::randn({c.batch_size, c.hid_dim}));
  const at::Tensor grad = at::ones({c.batch_size, c.hid_dim});
  const std::size_t total = c.num_clients * c.num_batches_per_client;
  const std::size_t slice = std::max<std::size_t>(
      4, static_cast<std::size_t>(search_fraction * static_cast<double>(total)));

  LocalBound bound;
  run_batches(c, backends, inputs, grad, std::min<std::size_t>(2, total), 1, 1);  // warm up
  double best = 0;
  for (int torch_threads : {1, 2})
    for (std::size_t workers : {std::size_t{1}, std::size_t{2}}) {
      const double rate = run_batches(c, backends, inputs, grad, slice, torch_threads, workers);
      bound.tried.emplace_back("t" + std::to_string(torch_threads) + "_w" + std::to_string(workers),
                               rate);
      if (rate > best) {
        best = rate;
        bound.threads.torch_threads = torch_threads;
        bound.threads.compute_threads = workers;
      }
    }
  bound.samples_per_s = run_batches(
      c, backends, inputs, grad, total, bound.threads.torch_threads, bound.threads.compute_threads);
  return bound;
}

}  // namespace hivemind::bench
