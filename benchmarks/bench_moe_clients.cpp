// hm-bench-moe-throughput: one expert server and its clients in this process (hivemind's
// benchmark_throughput.py runs one process per client; here each client is a coroutine on one of
// a few client Hosts, each Host on its own io thread, dialing the server by multiaddr).
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include "bench_moe.hpp"
#include "hivemind/moe/client/remote_call.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/server.hpp"
#include "hivemind/moe/tensor_schema.hpp"
#include "hivemind/net/rpc.hpp"

// g++ 12 at -O2 reports asio's coroutine frame delete as mismatched (a false positive, GCC bug
// 109224) in this file's coroutines.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace hivemind::bench {
namespace {

namespace comp = hivemind::compression;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kCallTimeout{600'000};
/// Distinct random inputs shared by all clients (hivemind draws randn per batch; drawing 2M
/// normals per call here would measure the generator, not the server).
constexpr std::size_t kDistinctInputs = 4;

/// State every client coroutine shares (counters are atomics: clients run on several threads).
struct Shared {
  MoeCase c;
  std::vector<at::Tensor> inputs;
  at::Tensor grad;  // ones, as out.sum().backward()
  std::atomic<std::uint64_t> samples{0};
  std::atomic<std::size_t> failed{0};
  std::mutex mutex;
  std::string first_error;  // guarded by mutex
};

/// One forward or backward call through the library's client path (moe::client::make_request,
/// send_request, decode_reply: unary or streaming by hivemind's rule, the reply checked against
/// the schema of the first input, as hivemind's client; no NaN/Inf test, which hivemind's client
/// does not make either); returns the decoded outputs.
asio::awaitable<Result<std::vector<at::Tensor>>> call_expert(std::shared_ptr<net::Host> host,
                                                             net::PeerId peer,
                                                             std::string uid,
                                                             std::vector<at::Tensor> tensors,
                                                             bool backward) {
  const auto method =
      backward ? moe::client::ExpertMethod::kBackward : moe::client::ExpertMethod::kForward;
  std::vector<moe::TensorSchema> schema;
  for (const auto& t : tensors)
    schema.push_back(moe::schema_of(t));
  HM_CO_TRY(auto request, moe::client::make_request(uid, method, tensors, schema));
  HM_CO_TRY(auto replies,
            co_await moe::client::send_request(*host, peer, std::move(request), kCallTimeout));
  schema.resize(1);  // nop and ffn: one output (forward) or input gradient (backward), x's shape
  co_return moe::client::decode_reply(replies, schema, tensors.front().size(0), false);
}

void record_failure(Shared& shared, const Error& error) {
  shared.failed.fetch_add(1);
  std::lock_guard lock(shared.mutex);
  if (shared.first_error.empty())
    shared.first_error = error.message();
}

/// One client: num_batches_per_client forward (+ backward) calls to random experts.
asio::awaitable<void> client_loop(std::shared_ptr<Shared> shared,
                                  std::shared_ptr<net::Host> host,
                                  net::PeerId peer,
                                  std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const MoeCase& c = shared->c;
  for (std::size_t b = 0; b < c.num_batches_per_client; ++b) {
    const std::string uid = "expert." + std::to_string(rng() % c.num_experts);
    const at::Tensor x = shared->inputs[rng() % shared->inputs.size()];
    std::vector<at::Tensor> forward_inputs(1, x);
    auto out = co_await call_expert(host, peer, uid, std::move(forward_inputs), false);
    if (!out) {
      record_failure(*shared, out.error());
      co_return;
    }
    if (c.backprop) {
      std::vector<at::Tensor> backward_inputs;  // (no braced list in a coroutine: g++ 12)
      backward_inputs.push_back(x);
      backward_inputs.push_back(shared->grad);
      auto grads = co_await call_expert(host, peer, uid, std::move(backward_inputs), true);
      if (!grads) {
        record_failure(*shared, grads.error());
        co_return;
      }
    }
    shared->samples.fetch_add(static_cast<std::uint64_t>(c.batch_size));
  }
}

/// A client Host on its own io thread.
struct ClientThread {
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::shared_ptr<net::Host> host;

  ClientThread() : work(io.get_executor()), thread([this] { io.run(); }) {}

  ~ClientThread() {
    if (host)
      asio::co_spawn(io, host->stop(), asio::use_future).get();
    work.reset();
    thread.join();
  }
};

moe::ServerOptions server_options(const MoeCase& c, const MoeThreads& threads) {
  moe::ServerOptions o;
  for (std::size_t i = 0; i < c.num_experts; ++i)
    o.expert_uids.push_back("expert." + std::to_string(i));
  o.expert_cls = c.expert_cls;
  o.hidden_dim = c.hid_dim;
  o.max_batch_size = c.max_batch();
  o.max_queued_samples = std::max<std::int64_t>(
      8 * c.max_batch(), c.batch_size * static_cast<std::int64_t>(c.num_clients) * 2);
  o.num_compute_threads = threads.compute_threads;
  o.num_codec_threads = threads.codec_threads;
  o.device = "cpu";
  o.dht.host.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
  o.dht.host.security.assign(1, c.security);
  return o;
}

}  // namespace

Result<ThroughputResult> run_server_throughput(const MoeCase& c, const MoeThreads& threads) {
  at::set_num_threads(threads.torch_threads);
  auto shared = std::make_shared<Shared>();
  shared->c = c;
  for (std::size_t i = 0; i < kDistinctInputs; ++i)
    shared->inputs.push_back(at::randn({c.batch_size, c.hid_dim}));
  shared->grad = at::ones({c.batch_size, c.hid_dim});

  HM_TRY(auto server, moe::Server::create(server_options(c, threads)));
  ThroughputResult result;
  result.startup = server->startup_times();
  const net::PeerId peer = server->peer_id();
  const net::Multiaddr addr = server->visible_multiaddrs().front();
  {
    std::vector<std::unique_ptr<ClientThread>> clients;
    for (std::size_t i = 0; i < std::max<std::size_t>(1, threads.client_threads); ++i) {
      auto& client = *clients.emplace_back(std::make_unique<ClientThread>());
      net::HostOptions host_options;
      host_options.security.assign(1, c.security);
      // (futures need a default-constructible value: hence the optional)
      using Connected = std::optional<Result<net::PeerId>>;
      auto connect = [&]() -> asio::awaitable<Connected> {
        client.host = net::Host::create(client.io.get_executor(), host_options);
        co_return co_await client.host->connect(addr);
      };
      Result<net::PeerId> connected = *asio::co_spawn(client.io, connect, asio::use_future).get();
      if (!connected)
        return Err(connected.error());
    }
    const auto start = Clock::now();
    std::vector<std::future<void>> done;
    for (std::size_t i = 0; i < c.num_clients; ++i) {
      auto& client = *clients[i % clients.size()];
      done.push_back(asio::co_spawn(
          client.io, client_loop(shared, client.host, peer, 1000 + i), asio::use_future));
    }
    for (auto& d : done)
      d.get();
    result.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  }  // client hosts stop here
  server->shutdown();
  result.samples = shared->samples.load();
  result.samples_per_s = static_cast<double>(result.samples) / result.wall_s;
  result.failed_calls = shared->failed.load();
  result.first_error = shared->first_error;
  return result;
}

}  // namespace hivemind::bench
