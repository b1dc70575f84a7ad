#include "hivemind/dht/dht.hpp"

#include <stdexcept>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "hivemind/core/log.hpp"

namespace hivemind::dht {

struct DHT::Runtime {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::shared_ptr<net::Host> host;
  std::mutex mutex;  // guards `stopped` against concurrent shutdown() calls
  bool stopped = false;
};

Result<std::unique_ptr<DHT>> DHT::create(DHTOptions options) {
  auto runtime = std::make_unique<Runtime>();
  Runtime& rt = *runtime;
  rt.thread = std::thread([&rt] { rt.io.run(); });
  if (options.host.listen_addrs.empty() && !options.node.client_mode)
    options.host.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/0.0.0.0/tcp/0"));

  // co_spawn's future needs a default-constructible result, so the outcome travels by reference.
  std::optional<Result<std::shared_ptr<DhtNode>>> outcome;
  auto start = [&rt, &options, &outcome]() -> asio::awaitable<void> {
    rt.host = net::Host::create(rt.io.get_executor(), options.host);
    if (auto listening = rt.host->listen(); !listening) {
      outcome.emplace(Err(listening.error()));
      co_return;
    }
    outcome.emplace(co_await DhtNode::create(rt.host, options.node));
  };
  asio::co_spawn(rt.io, start(), asio::use_future).get();
  if (!*outcome) {
    if (rt.host) asio::co_spawn(rt.io, rt.host->stop(), asio::use_future).get();
    rt.work.reset();
    rt.thread.join();
    return Err(outcome->error());
  }
  std::vector<net::Multiaddr> visible = rt.host->visible_addrs();
  return std::unique_ptr<DHT>(new DHT(std::move(runtime), **outcome, std::move(visible)));
}

DHT::DHT(std::unique_ptr<Runtime> runtime, std::shared_ptr<DhtNode> node,
         std::vector<net::Multiaddr> visible)
    : runtime_(std::move(runtime)),
      executor_(runtime_->io.get_executor()),
      node_(std::move(node)),
      peer_id_(node_->peer_id()),
      node_id_(node_->node_id()),
      client_mode_(node_->client_mode()),
      visible_(std::move(visible)) {}

DHT::~DHT() { shutdown(); }

void DHT::check_not_network_thread() const {
  if (runtime_->io.get_executor().running_in_this_thread())
    throw std::logic_error("blocking hivemind::dht::DHT call on its own network thread");
}

void DHT::shutdown() {
  check_not_network_thread();
  {
    std::lock_guard lock(runtime_->mutex);
    if (runtime_->stopped) return;
    runtime_->stopped = true;
  }
  auto stop = [this]() -> asio::awaitable<void> {
    co_await node_->shutdown();
    co_await runtime_->host->stop();
  };
  asio::co_spawn(runtime_->io, stop(), asio::use_future).get();
  // Calls still in flight finish quickly now that every connection is closed.
  runtime_->work.reset();
  runtime_->thread.join();
}

std::future<bool> DHT::store_async(msgpack::Value key, msgpack::Value value,
                                   Expiration expiration, std::optional<msgpack::Value> subkey) {
  {
    std::lock_guard lock(runtime_->mutex);
    if (runtime_->stopped) {
      std::promise<bool> done;
      done.set_value(false);
      return done.get_future();
    }
  }
  return asio::co_spawn(executor_,
                        node_->store(std::move(key), std::move(value), expiration,
                                     std::move(subkey)),
                        asio::use_future);
}

std::future<std::optional<FoundValue>> DHT::get_async(msgpack::Value key, bool latest) {
  {
    std::lock_guard lock(runtime_->mutex);
    if (runtime_->stopped) {
      std::promise<std::optional<FoundValue>> done;
      done.set_value(std::nullopt);
      return done.get_future();
    }
  }
  return asio::co_spawn(executor_, node_->get(std::move(key), latest), asio::use_future);
}

bool DHT::store(msgpack::Value key, msgpack::Value value, Expiration expiration,
                std::optional<msgpack::Value> subkey) {
  check_not_network_thread();
  return store_async(std::move(key), std::move(value), expiration, std::move(subkey)).get();
}

std::optional<FoundValue> DHT::get(msgpack::Value key, bool latest) {
  check_not_network_thread();
  return get_async(std::move(key), latest).get();
}

std::vector<net::Multiaddr> DHT::visible_multiaddrs() const { return visible_; }

}  // namespace hivemind::dht
