// Server lifecycle: DHT first (uids may need it), then experts and pools, runtime, RPC handlers
// and the first declaration on the DHT's network thread, then the checkpoint thread. Shutdown
// runs the same steps backwards.
#include "hivemind/moe/server.hpp"

#include <chrono>

#include "hivemind/core/log.hpp"
#include "hivemind/moe/checkpoints.hpp"
#include "hivemind/moe/error.hpp"
#include "server_state.hpp"

namespace hivemind::moe {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void save_checkpoints_logged(const Server::State& state) {
  if (!state.options.checkpoint_dir)
    return;
  auto saved = save_checkpoints(*state.options.checkpoint_dir, state.backends);
  if (!saved)
    logger("moe")->warn("saving checkpoints failed: {}", saved.error().message());
}

/// Saves checkpoints every update_period until the server stops.
void checkpoint_loop(Server::State& state) {
  std::unique_lock lock(state.mutex);
  const auto period =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(state.options.update_period);
  while (!state.wake.wait_for(lock, period, [&] { return state.stopping; })) {
    lock.unlock();
    save_checkpoints_logged(state);
    lock.lock();
  }
}

/// Registers the RPCs and declares the experts (on the DHT's network thread).
Result<void> start_serving(Server::State& state) {
  ExpertDeclarerOptions declarer_options{.update_period = state.options.update_period,
                                         .expiration = state.options.expiration};
  const bool declared = state.dht
                            ->run_coroutine<bool>([&state, declarer_options](
                                                      dht::DhtNode& node) -> asio::awaitable<bool> {
                              state.handler->add_handlers(node.host());
                              state.declarer = std::make_unique<ExpertDeclarer>(
                                  node.shared_from_this(), state.uids, declarer_options);
                              co_return co_await state.declarer->start();
                            })
                            .get();
  if (!declared)
    logger("moe")->warn(
        "not every expert declaration was stored in the DHT (is this the only peer?); "
        "retrying every {:.0f} s",
        state.options.update_period.count());
  return ok();
}

}  // namespace

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}

Server::~Server() {
  shutdown();
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  return create(std::move(options), ExpertRegistry::with_builtins());
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options,
                                               const ExpertRegistry& registry) {
  if (options.update_period.count() <= 0)
    return Err(MoeErrc::kBadConfig, "update_period must be positive");
  if (options.max_batch_size < 1 || options.min_batch_size < 1
      || options.min_batch_size > options.max_batch_size)
    return Err(MoeErrc::kBadConfig, "need 1 <= min_batch_size <= max_batch_size");
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  ServerOptions& o = state->options;

  const auto network_start = std::chrono::steady_clock::now();
  HM_TRY(auto dht, dht::DHT::create(o.dht));
  state->dht = std::move(dht);
  auto uids = server_detail::choose_uids(o, *state->dht);
  if (!uids) {
    state->dht->shutdown();
    return Err(uids.error());
  }
  state->uids = std::move(*uids);
  double networking_s = seconds_since(network_start);

  const auto experts_start = std::chrono::steady_clock::now();
  if (auto built = server_detail::build_experts(*state, registry); !built) {
    state->dht->shutdown();
    return Err(built.error());
  }
  state->times.experts_s = seconds_since(experts_start);

  const auto serve_start = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<TaskPool>> pools;
  for (const auto& [uid, served] : state->served) {
    pools.push_back(served.forward_pool);
    pools.push_back(served.backward_pool);
  }
  state->runtime = std::make_unique<Runtime>(
      std::move(pools),
      RuntimeOptions{.num_threads = std::max<std::size_t>(1, o.num_compute_threads),
                     .stats_report_interval = o.stats_report_interval});
  state->runtime->start();
  state->codec_pool =
      std::make_unique<compression::WorkerPool>(std::max<std::size_t>(1, o.num_codec_threads));
  ConnectionHandlerOptions rpc = o.rpc;
  rpc.codec_pool = state->codec_pool.get();
  state->handler = std::make_shared<ConnectionHandler>(state->served, std::move(rpc));
  HM_TRY_VOID(start_serving(*state));
  state->times.networking_s = networking_s + seconds_since(serve_start);

  if (o.checkpoint_dir) {
    save_checkpoints_logged(*state);  // hivemind's CheckpointSaver also saves once at start
    state->checkpoint_thread = std::thread([s = state.get()] { checkpoint_loop(*s); });
  }
  logger("moe")->info("serving {} {} experts on {} ({} compute threads)",
                      state->uids.size(),
                      o.expert_cls,
                      server_detail::resolve_device(o.device),
                      std::max<std::size_t>(1, o.num_compute_threads));
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

void Server::shutdown() {
  if (!state_ || state_->shut_down)
    return;
  State& state = *state_;
  state.shut_down = true;
  // 1. Stop being found and called: withdraw the declarations, unregister the RPCs.
  state.dht
      ->run_coroutine<bool>([&state](dht::DhtNode& node) -> asio::awaitable<bool> {
        if (state.declarer)
          co_await state.declarer->stop();
        state.handler->remove_handlers(node.host());
        co_return true;
      })
      .get();
  // 2. Finish compute: queued tasks fail with kShuttingDown.
  state.runtime->stop();
  // 3. Last checkpoint, then the checkpoint thread.
  {
    std::lock_guard lock(state.mutex);
    state.stopping = true;
  }
  state.wake.notify_all();
  if (state.checkpoint_thread.joinable())
    state.checkpoint_thread.join();
  save_checkpoints_logged(state);
  // 4. The network.
  state.dht->shutdown();
  state.declarer.reset();
  state.handler.reset();
}

const std::vector<std::string>& Server::expert_uids() const noexcept {
  return state_->uids;
}

const std::vector<std::shared_ptr<ExpertBackend>>& Server::backends() const noexcept {
  return state_->backends;
}

std::vector<net::Multiaddr> Server::visible_multiaddrs() const {
  return state_->dht->visible_multiaddrs();
}

const net::PeerId& Server::peer_id() const noexcept {
  return state_->dht->peer_id();
}

dht::DHT& Server::dht() noexcept {
  return *state_->dht;
}

StartupTimes Server::startup_times() const noexcept {
  return state_->times;
}

}  // namespace hivemind::moe
