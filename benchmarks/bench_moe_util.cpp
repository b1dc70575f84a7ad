// hm-bench-moe-throughput: JSON result lines and small helpers.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "bench_moe.hpp"

namespace hivemind::bench {

void add_case_params(JsonLine& line, const MoeCase& c, const MoeThreads& threads) {
  line.param("preset", c.preset)
      .param("expert_cls", c.expert_cls)
      .param("num_experts", static_cast<double>(c.num_experts))
      .param("num_clients", static_cast<double>(c.num_clients))
      .param("num_handlers", static_cast<double>(c.handlers()))
      .param("hid_dim", static_cast<double>(c.hid_dim))
      .param("batch_size", static_cast<double>(c.batch_size))
      .param("max_batch_size", static_cast<double>(c.max_batch()))
      .param("num_batches_per_client", static_cast<double>(c.num_batches_per_client))
      .param("backprop", c.backprop ? "true" : "false")
      .param("security", c.security == net::Security::kNoise ? "noise" : "plaintext")
      .param("torch_threads", threads.torch_threads)
      .param("compute_threads", static_cast<double>(threads.compute_threads))
      .param("codec_threads", static_cast<double>(threads.codec_threads))
      .param("client_threads", static_cast<double>(threads.client_threads));
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  line.param("omp_wait_policy", wait ? wait : "unset");
}

double load_average() {
  double loads[1] = {-1};
  return ::getloadavg(loads, 1) == 1 ? loads[0] : -1;
}

}  // namespace hivemind::bench
