// hm-bench-dht default mode: hivemind's benchmarks/benchmark_dht.py (reference:
// shared/reference/hivemind-dht-p2p.md section 3). num_threads concurrent tasks each run
// total_num_rounds rounds: num_store_peers random peers store one distinct subkey each under a
// fresh key, in parallel; then num_get_peers random peers get the key (latest) in parallel. A get
// succeeds only if its dictionary holds exactly as many subkeys as stores succeeded in that round,
// each with the stored value. Peers chosen to fail are killed at random iterations mid-run.
//
// Deviations from the script: all peers share one process and one io_context thread (the script
// runs one process per peer); random choices come from std::mt19937 seeded like the script, so
// they differ from Python's; each store and get is also timed on its own (the script times only
// the parallel batch of a round, which we report as *_round_wall_time_*).
#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

#include "bench_dht.hpp"
#include "hivemind/core/clock.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/core/parallel.hpp"

namespace hivemind::bench {
namespace {

namespace msgpack = dht::msgpack;

using Clock = std::chrono::steady_clock;

/// random.sample(population, k)
std::vector<std::size_t> sample(std::vector<std::size_t> population,
                                std::size_t k,
                                std::mt19937& rng) {
  k = std::min(k, population.size());
  for (std::size_t i = 0; i < k; ++i) {
    std::uniform_int_distribution<std::size_t> pick(i, population.size() - 1);
    std::swap(population[i], population[pick(rng)]);
  }
  population.resize(k);
  return population;
}

std::vector<std::size_t> range(std::size_t n) {
  std::vector<std::size_t> out(n);
  std::iota(out.begin(), out.end(), std::size_t{0});
  return out;
}

/// The script's NodeKiller: at the iterations in `timestamps` (sorted), kills a random victim.
class NodeKiller {
 public:
  NodeKiller(std::vector<std::size_t> victims, std::vector<std::size_t> timestamps)
      : victims_(std::move(victims)), timestamps_(std::move(timestamps)) {}

  /// Counts one iteration; returns the peer to kill now, if any. Decided before any suspension,
  /// which gives the mutual exclusion the script gets from its asyncio.Lock.
  std::optional<std::size_t> check(std::mt19937& rng) {
    std::optional<std::size_t> out;
    if (next_ < timestamps_.size() && iteration_ == timestamps_[next_] && !victims_.empty()) {
      std::uniform_int_distribution<std::size_t> pick(0, victims_.size() - 1);
      std::size_t at = pick(rng);
      out = victims_[at];
      victims_.erase(victims_.begin() + static_cast<std::ptrdiff_t>(at));
      ++next_;
    }
    ++iteration_;
    return out;
  }

 private:
  std::vector<std::size_t> victims_;
  std::vector<std::size_t> timestamps_;
  std::size_t next_ = 0;
  std::size_t iteration_ = 0;
};

struct Totals {
  std::vector<double> store_round_ms, get_round_ms, store_ms, get_ms;
  std::size_t stores = 0, stores_ok = 0, gets = 0, gets_ok = 0, killed = 0;
};

/// One task of the script (store_and_get_task).
asio::awaitable<void> store_and_get_task(Swarm& swarm,
                                         const DhtBenchOptions& options,
                                         const std::vector<std::size_t>& remaining,
                                         NodeKiller& killer,
                                         std::mt19937& rng,
                                         Totals& totals) {
  for (std::size_t round = 0; round < options.total_num_rounds; ++round) {
    const std::string key = random_hex(rng);
    const auto store_start = Clock::now();
    const auto store_peers = sample(remaining, options.num_store_peers, rng);
    std::vector<std::string> subkeys, values;
    for (std::size_t j = 0; j < store_peers.size(); ++j)
      subkeys.push_back(random_hex(rng));
    for (std::size_t j = 0; j < store_peers.size(); ++j)
      values.push_back(random_hex(rng));
    std::vector<char> stored(store_peers.size(), 0);
    co_await for_each_concurrently(
        0, store_peers.size(), [&](std::size_t j) -> asio::awaitable<void> {
          const auto start = Clock::now();
          const double expiration = SystemClock::instance().unix_seconds() + options.expiration_s;
          msgpack::Value key_value(key);
          msgpack::Value value(values[j]);
          std::optional<msgpack::Value> subkey(msgpack::Value(subkeys[j]));
          auto& node = *swarm.peers()[store_peers[j]].node;
          const bool ok = co_await node.store(
              std::move(key_value), std::move(value), expiration, std::move(subkey));
          stored[j] = ok ? 1 : 0;
          totals.store_ms.push_back(ms_since(start));
        });
    if (auto victim = killer.check(rng)) {
      co_await swarm.kill(*victim);
      ++totals.killed;
    }
    totals.store_round_ms.push_back(ms_since(store_start));
    const auto ok_stores = static_cast<std::size_t>(std::count(stored.begin(), stored.end(), 1));
    totals.stores += stored.size();
    totals.stores_ok += ok_stores;

    const auto get_start = Clock::now();
    const auto get_peers = sample(remaining, options.num_get_peers, rng);
    std::vector<std::optional<dht::FoundValue>> found(get_peers.size());
    co_await for_each_concurrently(
        0, get_peers.size(), [&](std::size_t j) -> asio::awaitable<void> {
          const auto start = Clock::now();
          msgpack::Value key_value(key);
          auto& node = *swarm.peers()[get_peers[j]].node;
          auto result = co_await node.get(std::move(key_value), options.latest);
          found[j] = std::move(result);
          totals.get_ms.push_back(ms_since(start));
        });
    totals.get_round_ms.push_back(ms_since(get_start));
    totals.gets += found.size();
    for (const auto& result : found) {
      if (!result || !result->is_dictionary || result->subkeys.size() != ok_stores)
        continue;
      bool good = true;
      for (const auto& [subkey, entry] : result->subkeys) {
        auto at = std::find_if(subkeys.begin(), subkeys.end(), [&](const std::string& s) {
          return subkey == msgpack::Value(s);
        });
        good = good && at != subkeys.end()
               && entry.value
                      == msgpack::Value(values[static_cast<std::size_t>(at - subkeys.begin())]);
      }
      totals.gets_ok += good ? 1 : 0;
    }
  }
}

void print_latencies(const std::string& what,
                     const std::string& suffix,
                     const Stats& s,
                     const std::function<JsonLine(JsonLine)>& params) {
  params(JsonLine("dht", what + "_latency_mean_ms" + suffix).value(s.mean, "ms")).print();
  params(JsonLine("dht", what + "_latency_p50_ms" + suffix).value(s.p50, "ms")).print();
  params(JsonLine("dht", what + "_latency_p99_ms" + suffix).value(s.p99, "ms")).print();
  params(JsonLine("dht", what + "_latency_max_ms" + suffix).value(s.max, "ms")).print();
}

}  // namespace

void run_rounds(const DhtBenchOptions& options, double failure_rate) {
  asio::io_context io;
  Swarm swarm(io, options, 0);
  std::mt19937 rng(options.seed);
  Totals totals;
  double creation_s = 0, total_s = 0;
  std::size_t victims_count = 0;
  run_on(io, [&]() -> asio::awaitable<void> {
    const auto created = Clock::now();
    for (std::size_t i = 0; i < options.num_peers; ++i) {
      auto added = co_await swarm.add_peer(options.initial_peers, rng, 0, true);
      if (!added) {
        std::fprintf(stderr, "hm-bench-dht: peer %zu: %s\n", i, added.error().message().c_str());
        std::exit(1);
      }
    }
    creation_s = ms_since(created) / 1000;
    const auto started = Clock::now();
    const std::size_t n = options.num_peers;
    victims_count = std::min(static_cast<std::size_t>(failure_rate * static_cast<double>(n)), n);
    if (victims_count >= n) {
      std::fprintf(stderr, "hm-bench-dht: failure_rate would kill every peer\n");
      std::exit(2);
    }
    auto victims = sample(range(n), victims_count, rng);
    std::vector<std::size_t> remaining;
    for (std::size_t i = 0; i < n; ++i)
      if (std::find(victims.begin(), victims.end(), i) == victims.end())
        remaining.push_back(i);
    const std::size_t iterations = options.num_threads * options.total_num_rounds;
    auto timestamps = sample(range(iterations), std::min(victims_count, iterations), rng);
    std::sort(timestamps.begin(), timestamps.end());
    NodeKiller killer(victims, timestamps);
    co_await for_each_concurrently(0, options.num_threads, [&](std::size_t) {
      return store_and_get_task(swarm, options, remaining, killer, rng, totals);
    });
    total_s = ms_since(started) / 1000;
    co_await swarm.stop_all();
  });

  const std::string suffix = failure_rate == 0 ? "_no_failures" : "";
  auto params = [&](JsonLine line) {
    return line.param("peers", static_cast<double>(options.num_peers))
        .param("initial_peers", static_cast<double>(options.initial_peers))
        .param("threads", static_cast<double>(options.num_threads))
        .param("rounds", static_cast<double>(options.total_num_rounds))
        .param("store_peers", static_cast<double>(options.num_store_peers))
        .param("get_peers", static_cast<double>(options.num_get_peers))
        .param("failure_rate", failure_rate)
        .param("killed", static_cast<double>(totals.killed))
        .param("latest", options.latest ? "true" : "false")
        .param("seed", static_cast<double>(options.seed))
        .param("security", options.plaintext ? "plaintext" : "noise")
        .param("setup", "one process, one io_context thread for all peers");
  };
  const double store_rate = 100.0 * static_cast<double>(totals.stores_ok)
                            / static_cast<double>(std::max<std::size_t>(totals.stores, 1));
  const double get_rate = 100.0 * static_cast<double>(totals.gets_ok)
                          / static_cast<double>(std::max<std::size_t>(totals.gets, 1));
  const double get_goal = failure_rate == 0 ? 100 : 99;
  params(JsonLine("dht", "swarm_creation_s" + suffix).value(creation_s, "s")).print();
  params(JsonLine("dht", "store_success_rate" + suffix).value(store_rate, "%"))
      .param("ok", static_cast<double>(totals.stores_ok))
      .param("total", static_cast<double>(totals.stores))
      .param("goal", "100%")
      .param("goal_met", totals.stores_ok == totals.stores ? "yes" : "no")
      .print();
  params(JsonLine("dht", "get_success_rate" + suffix).value(get_rate, "%"))
      .param("ok", static_cast<double>(totals.gets_ok))
      .param("total", static_cast<double>(totals.gets))
      .param("goal", get_goal == 100 ? "100%" : ">= 99%")
      .param("goal_met", get_rate >= get_goal ? "yes" : "no")
      .print();
  print_latencies("store", suffix, summarize(totals.store_ms), params);
  print_latencies("get", suffix, summarize(totals.get_ms), params);
  // The script's "Store wall time" / "Get wall time": one parallel batch per round (the store
  // batch includes the kill check, as in the script).
  for (const auto& [what, sample_ms] :
       {std::pair<std::string, const std::vector<double>*>{"store", &totals.store_round_ms},
        std::pair<std::string, const std::vector<double>*>{"get", &totals.get_round_ms}}) {
    const Stats s = summarize(*sample_ms);
    params(JsonLine("dht", what + "_round_wall_time_mean_ms" + suffix).value(s.mean, "ms"))
        .param("std_ms", s.std)
        .param("max_ms", s.max)
        .print();
  }
  params(JsonLine("dht", "total_benchmark_time_s" + suffix).value(total_s, "s")).print();
}

}  // namespace hivemind::bench
