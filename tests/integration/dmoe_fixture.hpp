#pragma once
// In-process expert servers on loopback and a client DHT joined to them, for the DMoE client
// tests; plus local copies of the servers' experts to compute the expected results.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_module.hpp"
#include "hivemind/moe/expert_registry.hpp"
#include "hivemind/moe/server.hpp"

namespace hivemind::moe::testing {

inline net::Multiaddr dmoe_loopback() {
  return *net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0");
}

/// A server of `cls` experts `uids` (hidden `hidden`), joined to `bootstrap` when given.
inline std::unique_ptr<Server> start_expert_server(std::vector<std::string> uids,
                                                   std::int64_t hidden,
                                                   const Server* bootstrap,
                                                   std::string optimizer = "none",
                                                   std::string cls = "ffn") {
  ServerOptions o;
  o.expert_cls = std::move(cls);
  o.expert_uids = std::move(uids);
  o.hidden_dim = hidden;
  o.device = "cpu";
  o.optimizer.name = std::move(optimizer);
  o.dht.host.listen_addrs.push_back(dmoe_loopback());
  if (bootstrap != nullptr)
    o.dht.node.initial_peers = bootstrap->visible_multiaddrs();
  auto server = Server::create(std::move(o));
  EXPECT_TRUE(server.has_value()) << server.error().message();
  return server ? std::move(*server) : nullptr;
}

/// A client-mode DHT joined to `server`.
inline std::shared_ptr<dht::DHT> client_dht(const Server& server) {
  dht::DHTOptions options;
  options.host.listen_addrs.push_back(dmoe_loopback());
  options.node.client_mode = true;
  options.node.initial_peers = server.visible_multiaddrs();
  auto created = dht::DHT::create(options);
  EXPECT_TRUE(created.has_value()) << created.error().message();
  return created ? std::shared_ptr<dht::DHT>(std::move(*created)) : nullptr;
}

/// A local module with the same class and weights as a served expert (the server must use
/// optimizer "none": the copy is made through the backend's state, optimizer included).
inline std::shared_ptr<ExpertModule> local_copy(const ExpertBackend& served,
                                                const std::string& cls,
                                                std::int64_t hidden) {
  auto registry = ExpertRegistry::with_builtins();
  auto module = registry.find(cls)->make(hidden);
  ExpertBackendOptions options;
  options.optimizer.name = "none";
  options.args_schema = served.schema().args;
  ExpertBackend local(served.uid(), module, options);
  auto state = served.state_bytes();
  EXPECT_TRUE(state.has_value());
  auto loaded = local.load_state_bytes(*state);
  EXPECT_TRUE(loaded.has_value()) << loaded.error().message();
  return module;
}

}  // namespace hivemind::moe::testing
