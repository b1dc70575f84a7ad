// hm-bench-dht: result lines, statistics, process figures and the swarm of DhtNodes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <sys/resource.h>

#include "bench_dht.hpp"
#include "hivemind/net/multiaddr.hpp"

namespace hivemind::bench {
namespace {

/// A "Vm...:   1234 kB" line of /proc/self/status, in KiB.
std::size_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0)
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return 0;
}

}  // namespace

Stats summarize(std::vector<double> values) {
  Stats s;
  s.count = values.size();
  if (values.empty())
    return s;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values)
    sum += v;
  s.mean = sum / static_cast<double>(values.size());
  double squares = 0;
  for (double v : values)
    squares += (v - s.mean) * (v - s.mean);
  s.std = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0;
  auto rank = [&](double q) {
    auto r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(r, 1, values.size()) - 1];
  };
  s.p50 = rank(0.5);
  s.p99 = rank(0.99);
  s.max = values.back();
  return s;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::size_t peak_rss_kib() {
  return status_kib("VmHWM");
}

std::size_t current_rss_kib() {
  return status_kib("VmRSS");
}

double cpu_seconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0)
    return 0;
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::size_t open_fds() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++n;
  return n;
}

std::size_t raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
    (void)getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

std::string random_hex(std::mt19937& rng) {
  std::string out;
  for (int i = 0; i < 4; ++i)
    out += fmt::format("{:08x}", static_cast<std::uint32_t>(rng()));
  return out;
}

void run_on(asio::io_context& io, std::function<asio::awaitable<void>()> task) {
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await task();
        } catch (...) {
          failure = std::current_exception();
        }
        done = true;
      },
      asio::detached);
  while (!done && io.run_one() > 0) {
  }
  if (failure)
    std::rethrow_exception(failure);
}

Swarm::Swarm(asio::io_context& io, const DhtBenchOptions& options, std::size_t extra_threads)
    : io_(io) {
  host_options_.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
  if (options.plaintext)
    host_options_.security = std::vector<net::Security>(1, net::Security::kPlaintext);
  if (options.idle_timeout_s > 0)
    host_options_.idle_timeout =
        std::chrono::milliseconds(static_cast<std::int64_t>(options.idle_timeout_s * 1000));
  node_options_.wait_timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(options.wait_timeout_s * 1000));
  for (std::size_t i = 0; i < extra_threads; ++i) {
    extra_.push_back(std::make_unique<asio::io_context>(1));
    threads_.emplace_back([context = extra_.back().get()] {
      auto work = asio::make_work_guard(*context);
      context->run();
    });
  }
}

Swarm::~Swarm() {
  for (auto& context : extra_)
    context->stop();
  for (auto& thread : threads_)
    thread.join();
}

template <class Fn>
asio::awaitable<void> Swarm::on(const asio::any_io_executor& executor, Fn fn) {
  // co_spawn resumes us on our own executor when `fn` has finished on its thread.
  co_await asio::co_spawn(executor, std::move(fn), asio::use_awaitable);
}

asio::awaitable<Result<void>> Swarm::add_peer(std::size_t initial_peers,
                                              std::mt19937& rng,
                                              std::size_t num_workers,
                                              bool on_caller_thread) {
  // random.sample(peers, min(initial_peers, len(peers))), as benchmark_dht.py does.
  std::vector<std::size_t> earlier(peers_.size());
  for (std::size_t i = 0; i < earlier.size(); ++i)
    earlier[i] = i;
  std::shuffle(earlier.begin(), earlier.end(), rng);
  earlier.resize(std::min(initial_peers, earlier.size()));
  dht::DhtNodeOptions options = node_options_;
  if (num_workers != 0)
    options.num_workers = num_workers;
  for (std::size_t i : earlier)
    for (const auto& addr : peers_[i].addrs)
      options.initial_peers.push_back(addr);

  asio::any_io_executor executor = io_.get_executor();
  if (!on_caller_thread && !extra_.empty())
    executor = extra_[next_extra_++ % extra_.size()]->get_executor();
  Peer peer;
  peer.executor = executor;
  std::optional<Error> failure;
  // Host and node are created, used and stopped on their own thread only.
  co_await on(executor, [&]() -> asio::awaitable<void> {
    peer.host = net::Host::create(executor, host_options_);
    if (auto listening = peer.host->listen(); !listening) {
      failure = listening.error();
      co_await peer.host->stop();
      co_return;
    }
    for (const auto& addr : peer.host->listen_addrs())
      peer.addrs.push_back(addr.with_peer_id(peer.host->peer_id()));
    auto node = co_await dht::DhtNode::create(peer.host, std::move(options));
    if (!node) {
      failure = node.error();
      co_await peer.host->stop();
      co_return;
    }
    peer.node = *node;
  });
  if (failure)
    co_return *failure;
  peers_.push_back(std::move(peer));
  co_return ok();
}

asio::awaitable<void> Swarm::kill(std::size_t i) {
  Peer& peer = peers_.at(i);
  if (!peer.alive)
    co_return;
  peer.alive = false;
  co_await on(peer.executor, [&]() -> asio::awaitable<void> {
    co_await peer.host->stop();
    co_await peer.node->shutdown();
  });
}

asio::awaitable<void> Swarm::stop_all() {
  for (auto& peer : peers_) {
    if (!peer.alive)
      continue;
    peer.alive = false;
    co_await on(peer.executor, [&]() -> asio::awaitable<void> {
      co_await peer.node->shutdown();
      co_await peer.host->stop();
    });
  }
}

asio::awaitable<std::size_t> Swarm::connection_count() {
  std::size_t n = 0;
  for (auto& peer : peers_) {
    if (!peer.alive)
      continue;
    co_await on(peer.executor, [&]() -> asio::awaitable<void> {
      n += peer.host->connection_count();
      co_return;
    });
  }
  co_return n;
}

}  // namespace hivemind::bench
