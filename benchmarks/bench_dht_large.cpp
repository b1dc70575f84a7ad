// hm-bench-dht --large: the workload of hivemind's published 1024-node DHT run (reference:
// shared/reference/hivemind-dht-p2p.md section 3, "Published figure"; the older benchmark_dht.py
// with --num_peers 1024 --num_experts 16384 --expert_batch_size 64 --expiration 99999).
//
// Peers are created one after another, each bootstrapping from `large_initial_peers` random
// earlier ones (the old script's default: 1). Expert uids "expert.X.Y.Z" (X, Y, Z in 0..999,
// deduplicated, shuffled) are declared by the second-to-last peer in batches of 64 as the old
// DHT.declare_experts did: per uid, uid -> endpoint, ("expert.X.Y", Z) -> [uid, endpoint] and
// ("expert.X", Y) -> [uid, endpoint], all in one store_many. The last peer then gets the uids in
// batches of 64 (get_many, first unexpired value) and checks each endpoint. As in the script, the
// store and get calls of the two peers use one worker per key of the batch (here:
// DhtNodeOptions::num_workers = 64 on those two peers), and the means are total batch time
// divided by items (stores) or keys (gets), which is how the published means were computed.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include <fmt/format.h>

#include "bench_dht.hpp"
#include "hivemind/core/clock.hpp"

namespace hivemind::bench {
namespace {

namespace msgpack = dht::msgpack;

using Clock = std::chrono::steady_clock;

// Published figures (docs/user/benchmarks.md of hivemind, 2021-02-28, v0.9.x, gRPC era):
// "Mean store time: 0.01487", "Mean get time: 0.00664", 1024 peers created in 1:45.
constexpr double kPublishedStoreMeanMs = 14.87;
constexpr double kPublishedGetMeanMs = 6.64;
constexpr double kPublishedCreationS = 105;

/// CLOCK_MONOTONIC seconds, printed with progress lines so that profiles (perf -k
/// CLOCK_MONOTONIC) can be cut into phases.
double monotonic_s() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

struct Uid {
  int x, y, z;

  std::string text() const { return fmt::format("expert.{}.{}.{}", x, y, z); }
};

std::vector<Uid> sample_uids(std::size_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> coord(0, 999);
  std::set<std::tuple<int, int, int>> seen;
  std::vector<Uid> out;
  for (std::size_t i = 0; i < count; ++i) {
    Uid uid{coord(rng), coord(rng), coord(rng)};
    if (seen.emplace(uid.x, uid.y, uid.z).second)
      out.push_back(uid);
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

std::string random_endpoint(std::mt19937& rng) {
  std::uniform_int_distribution<int> octet(0, 256);  // sic: randint(0, 256)
  std::uniform_int_distribution<int> port(0, 65535);
  return fmt::format("{}.{}.{}.{}:{}", octet(rng), octet(rng), octet(rng), octet(rng), port(rng));
}

/// The items declare_experts stores for one batch, deduplicated by (key, subkey), last wins.
std::vector<dht::StoreItem> declare_items(const std::vector<Uid>& uids,
                                          std::size_t begin,
                                          std::size_t end,
                                          const std::string& endpoint,
                                          double expiration) {
  std::vector<dht::StoreItem> items;
  std::map<std::pair<std::string, std::int64_t>, std::size_t> index;  // subkey -1: none
  auto put = [&](std::string key, std::optional<std::int64_t> subkey, msgpack::Value value) {
    auto [it, fresh] = index.emplace(std::make_pair(key, subkey.value_or(-1)), items.size());
    if (!fresh) {
      items[it->second].value = std::move(value);
      return;
    }
    dht::StoreItem item;
    item.key = msgpack::Value(std::move(key));
    item.value = std::move(value);
    item.expiration = expiration;
    if (subkey)
      item.subkey = msgpack::Value(*subkey);
    items.push_back(std::move(item));
  };
  for (std::size_t i = begin; i < end; ++i) {
    const Uid& uid = uids[i];
    const std::string text = uid.text();
    auto pair = [&] {
      msgpack::Array array;
      array.items.push_back(msgpack::Value(text));
      array.items.push_back(msgpack::Value(endpoint));
      return msgpack::Value(std::move(array));
    };
    put(text, std::nullopt, msgpack::Value(endpoint));
    put(fmt::format("expert.{}.{}", uid.x, uid.y), uid.z, pair());
    put(fmt::format("expert.{}", uid.x), uid.y, pair());
  }
  return items;
}

}  // namespace

void run_large(const DhtBenchOptions& options) {
  const std::size_t file_limit = raise_file_limit();
  if (file_limit < 16 * options.large_peers)
    std::fprintf(stderr,
                 "hm-bench-dht: warning: RLIMIT_NOFILE is %zu; %zu peers in one process may need "
                 "~16 per peer (lower --idle_timeout or --large_peers if dials fail)\n",
                 file_limit,
                 options.large_peers);
  asio::io_context io;
  Swarm swarm(io, options, options.threads > 1 ? options.threads - 1 : 0);
  std::mt19937 rng(options.seed);
  const std::size_t n = std::max<std::size_t>(options.large_peers, 2);
  const std::size_t batch = std::max<std::size_t>(options.expert_batch_size, 1);
  const std::size_t baseline_kib = current_rss_kib();
  double creation_s = 0, after_creation_kib = 0;
  double creation_cpu_s = 0, store_cpu_s = 0, get_cpu_s = 0;
  std::size_t fds_peak = 0, connections_peak = 0;
  std::vector<Uid> uids;
  std::vector<double> store_batch_ms, get_batch_ms;
  std::size_t stores = 0, stores_ok = 0, gets_ok = 0;
  std::size_t connections = 0;
  auto sample_usage = [&]() -> asio::awaitable<void> {
    fds_peak = std::max(fds_peak, open_fds());
    connections = co_await swarm.connection_count();
    connections_peak = std::max(connections_peak, connections);
  };

  run_on(io, [&]() -> asio::awaitable<void> {
    const auto created = Clock::now();
    double cpu_mark = cpu_seconds();
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t workers = i + 2 >= n ? batch : 0;  // the store and get peers
      auto added = co_await swarm.add_peer(options.large_initial_peers, rng, workers, workers != 0);
      if (!added) {
        std::fprintf(stderr, "hm-bench-dht: peer %zu: %s\n", i, added.error().message().c_str());
        std::exit(1);
      }
      if ((i + 1) % 128 == 0 || i + 1 == n) {
        co_await sample_usage();
        std::fprintf(stderr,
                     "hm-bench-dht: %zu peers in %.1f s, %zu connections, %zu fds (t=%.3f)\n",
                     i + 1,
                     ms_since(created) / 1000,
                     connections,
                     open_fds(),
                     monotonic_s());
      }
    }
    creation_s = ms_since(created) / 1000;
    const double cpu_created = cpu_seconds();
    creation_cpu_s = cpu_created - cpu_mark;
    cpu_mark = cpu_created;
    after_creation_kib = static_cast<double>(current_rss_kib());

    uids = sample_uids(options.num_experts, rng);
    auto& store_peer = *swarm.peers()[n - 2].node;
    auto& get_peer = *swarm.peers()[n - 1].node;
    std::vector<std::string> endpoints;
    for (std::size_t start = 0; start < uids.size(); start += batch) {
      const std::size_t end = std::min(start + batch, uids.size());
      endpoints.push_back(random_endpoint(rng));
      const auto t0 = Clock::now();
      auto items =
          declare_items(uids,
                        start,
                        end,
                        endpoints.back(),
                        SystemClock::instance().unix_seconds() + options.large_expiration_s);
      const std::size_t count = items.size();
      auto ok = co_await store_peer.store_many(std::move(items));
      store_batch_ms.push_back(ms_since(t0));
      stores += count;
      stores_ok += static_cast<std::size_t>(std::count(ok.begin(), ok.end(), true));
      if ((start / batch + 1) % 32 == 0) {
        co_await sample_usage();
        std::fprintf(stderr, "hm-bench-dht: %zu of %zu uids declared\n", end, uids.size());
      }
    }
    co_await sample_usage();
    const double cpu_stored = cpu_seconds();
    store_cpu_s = cpu_stored - cpu_mark;
    cpu_mark = cpu_stored;
    std::fprintf(stderr,
                 "hm-bench-dht: %zu stores done, %zu connections, %zu fds (t=%.3f)\n",
                 stores,
                 connections,
                 open_fds(),
                 monotonic_s());
    for (std::size_t start = 0; start < uids.size(); start += batch) {
      const std::size_t end = std::min(start + batch, uids.size());
      std::vector<msgpack::Value> keys;
      for (std::size_t i = start; i < end; ++i)
        keys.push_back(msgpack::Value(uids[i].text()));
      const auto t0 = Clock::now();
      auto found = co_await get_peer.get_many(std::move(keys), false);
      get_batch_ms.push_back(ms_since(t0));
      const msgpack::Value expected(endpoints[start / batch]);
      for (const auto& result : found)
        gets_ok += result && !result->is_dictionary && result->value == expected ? 1 : 0;
      if ((start / batch + 1) % 32 == 0)
        co_await sample_usage();
    }
    get_cpu_s = cpu_seconds() - cpu_mark;
    co_await sample_usage();
    std::fprintf(stderr, "hm-bench-dht: gets done (t=%.3f)\n", monotonic_s());
    co_await swarm.stop_all();
  });
  const std::size_t peak_kib = peak_rss_kib();

  auto params = [&](JsonLine line) {
    return line.param("mode", "large")
        .param("peers", static_cast<double>(n))
        .param("initial_peers", static_cast<double>(options.large_initial_peers))
        .param("experts", static_cast<double>(uids.size()))
        .param("batch", static_cast<double>(batch))
        .param("seed", static_cast<double>(options.seed))
        .param("security", options.plaintext ? "plaintext" : "noise")
        .param("threads", static_cast<double>(options.threads))
        .param("setup",
               options.threads > 1
                   ? "one process; store and get peers on the main io_context thread, "
                     "the other peers on the other threads"
                   : "one process, one io_context thread for all peers")
        .param("idle_timeout_s", options.idle_timeout_s > 0 ? options.idle_timeout_s : 120);
  };
  auto published = [&](JsonLine line) {
    return params(std::move(line))
        .param("against_source",
               "published figure (hivemind docs/user/benchmarks.md, 2021, 1024 processes), not "
               "measured in this run")
        .param("mean_definition", "total batch wall time / items, as the published run");
  };
  double total_store_ms = 0, total_get_ms = 0;
  for (double v : store_batch_ms)
    total_store_ms += v;
  for (double v : get_batch_ms)
    total_get_ms += v;
  params(JsonLine("dht", "swarm_creation_s").value(creation_s, "s"))
      .against("hivemind_published_creation_s", kPublishedCreationS)
      .param("cpu_s", creation_cpu_s)
      .print();
  params(JsonLine("dht", "store_success_rate")
             .value(100.0 * static_cast<double>(stores_ok)
                        / static_cast<double>(std::max<std::size_t>(stores, 1)),
                    "%"))
      .param("ok", static_cast<double>(stores_ok))
      .param("total", static_cast<double>(stores))
      .print();
  params(JsonLine("dht", "get_success_rate")
             .value(100.0 * static_cast<double>(gets_ok)
                        / static_cast<double>(std::max<std::size_t>(uids.size(), 1)),
                    "%"))
      .param("ok", static_cast<double>(gets_ok))
      .param("total", static_cast<double>(uids.size()))
      .print();
  const double store_mean = total_store_ms / static_cast<double>(std::max<std::size_t>(stores, 1));
  const double get_mean = total_get_ms / static_cast<double>(std::max<std::size_t>(uids.size(), 1));
  published(JsonLine("dht", "store_latency_mean_ms").value(store_mean, "ms"))
      .against("hivemind_published_store_mean_ms", kPublishedStoreMeanMs)
      .param("cpu_ms_per_item",
             1000 * store_cpu_s / static_cast<double>(std::max<std::size_t>(stores, 1)))
      .param("goal", "ratio <= 0.1")
      .param("goal_met", store_mean <= 0.1 * kPublishedStoreMeanMs ? "yes" : "no")
      .print();
  published(JsonLine("dht", "get_latency_mean_ms").value(get_mean, "ms"))
      .against("hivemind_published_get_mean_ms", kPublishedGetMeanMs)
      .param("cpu_ms_per_key",
             1000 * get_cpu_s / static_cast<double>(std::max<std::size_t>(uids.size(), 1)))
      .param("goal", "ratio <= 0.1")
      .param("goal_met", get_mean <= 0.1 * kPublishedGetMeanMs ? "yes" : "no")
      .print();
  for (const auto& [what, sample_ms] :
       {std::pair<std::string, const std::vector<double>*>{"store", &store_batch_ms},
        std::pair<std::string, const std::vector<double>*>{"get", &get_batch_ms}}) {
    const Stats s = summarize(*sample_ms);
    for (const auto& [name, v] : {std::pair<std::string, double>{"mean", s.mean},
                                  {"p50", s.p50},
                                  {"p99", s.p99},
                                  {"max", s.max}})
      params(JsonLine("dht", what + "_batch_latency_" + name + "_ms").value(v, "ms"))
          .param("batches", static_cast<double>(s.count))
          .print();
  }
  const double per_node_kib =
      static_cast<double>(peak_kib > baseline_kib ? peak_kib - baseline_kib : 0)
      / static_cast<double>(n);
  params(JsonLine("dht", "memory_per_node_kib").value(per_node_kib, "KiB"))
      .param("definition", "(peak RSS VmHWM - RSS before the swarm) / peers")
      .param("peak_rss_mib", static_cast<double>(peak_kib) / 1024)
      .param("baseline_rss_mib", static_cast<double>(baseline_kib) / 1024)
      .param("idle_after_creation_per_node_kib",
             (after_creation_kib - static_cast<double>(baseline_kib)) / static_cast<double>(n))
      .print();
  params(JsonLine("dht", "open_files_peak").value(static_cast<double>(fds_peak), "fds"))
      .against("rlimit_nofile", static_cast<double>(file_limit))
      .param("connections_peak", static_cast<double>(connections_peak))
      .print();
}

}  // namespace hivemind::bench
