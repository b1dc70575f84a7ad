#pragma once
// Helpers of the DMoE fault tests: the expected mixture over the experts that answered (grid
// {1, n}, experts "ffn.0.j"), a mixture layer over such a grid, and outcome checks.
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "dmoe_fake_expert.hpp"
#include "hivemind/core/clock.hpp"
#include "hivemind/dht/dht.hpp"
#include "hivemind/moe/client/remote_moe.hpp"
#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_dht.hpp"

namespace hivemind::moe::testing {

using client::FaultToleranceOptions;
using client::RemoteMixtureOfExperts;
using client::RemoteMixtureOfExpertsOptions;
using ExpertFn = std::function<at::Tensor(const at::Tensor&)>;
using Seconds = std::chrono::duration<double>;

/// A client-mode DHT joined to `peers`.
inline std::shared_ptr<dht::DHT> client_dht_of(std::vector<net::Multiaddr> peers) {
  dht::DHTOptions options;
  options.host.listen_addrs.push_back(*net::Multiaddr::from_string("/ip4/127.0.0.1/tcp/0"));
  options.node.client_mode = true;
  options.node.initial_peers = std::move(peers);
  auto created = dht::DHT::create(options);
  EXPECT_TRUE(created.has_value()) << created.error().message();
  return created ? std::shared_ptr<dht::DHT>(std::move(*created)) : nullptr;
}

/// Stores declarations of `uids` at `peer` through `via` for ten minutes (later than any
/// withdrawal a shut-down Server left), so that the DHT hands out stale entries.
inline void declare_stale(dht::DHT& via, std::vector<std::string> uids, const net::PeerId& peer) {
  auto items = declare_items(uids, peer, SystemClock::instance().unix_seconds() + 600);
  auto stored = via.run_coroutine<std::vector<bool>>(
                       [items](dht::DhtNode& node) -> asio::awaitable<std::vector<bool>> {
                         co_return co_await node.store_many(items);
                       })
                    .get();
  for (const bool ok : stored)
    EXPECT_TRUE(ok);
}

/// What the honest fake expert `uid` computes.
inline ExpertFn honest(const std::string& uid) {
  return [f = fake_factor(uid)](const at::Tensor& x) {
    return x * f;
  };
}

// The mixture over experts "ffn.0.j" (j < declared, grid {1, declared}) that a layer with these
// gating scores computes when only `answering` answer: each sample's k_best experts by score,
// of those the answering ones, softmax weights renormalised over them.
inline at::Tensor expected_mixture(const at::Tensor& scores,
                                   const at::Tensor& x,
                                   std::size_t declared,
                                   std::size_t k_best,
                                   const std::map<std::string, ExpertFn>& answering) {
  std::vector<at::Tensor> rows;
  for (std::int64_t b = 0; b < x.size(0); ++b) {
    std::vector<std::pair<double, std::size_t>> ranked;
    for (std::size_t j = 0; j < declared; ++j)
      ranked.emplace_back((scores[b][0] + scores[b][1 + j]).item<double>(), j);
    std::sort(ranked.rbegin(), ranked.rend());
    std::vector<at::Tensor> logits;
    std::vector<at::Tensor> outputs;
    for (std::size_t e = 0; e < k_best; ++e) {
      const std::size_t j = ranked[e].second;
      const auto it = answering.find("ffn.0." + std::to_string(j));
      if (it == answering.end())
        continue;
      logits.push_back(scores[b][0] + scores[b][1 + j]);
      outputs.push_back(it->second(x.slice(0, b, b + 1))[0]);
    }
    const at::Tensor w = at::softmax(at::stack(logits), 0);
    rows.push_back((w.unsqueeze(1) * at::stack(outputs)).sum(0));
  }
  return at::stack(rows);
}

inline RemoteMixtureOfExperts make_moe(std::shared_ptr<dht::DHT> dht,
                                       int experts,
                                       std::int64_t hidden,
                                       FaultToleranceOptions ft) {
  RemoteMixtureOfExpertsOptions options;
  options.in_features = hidden;
  options.grid_size = {1, experts};
  options.uid_prefix = "ffn";
  options.k_best = static_cast<std::size_t>(experts);
  options.fault_tolerance = ft;
  return RemoteMixtureOfExperts(options, std::move(dht));
}

// Checks y = moe(x) against the local mixture over `answering`, then backpropagates a random
// gradient through both and compares the gradients of x and of the gating function.
inline void expect_matches_local(RemoteMixtureOfExperts& moe,
                                 const at::Tensor& x,
                                 const at::Tensor& y,
                                 std::size_t declared,
                                 const std::map<std::string, ExpertFn>& answering) {
  const at::Tensor x_local = x.detach().clone().requires_grad_(true);
  const at::Tensor y_local =
      expected_mixture(moe->proj->forward(x_local), x_local, declared, declared, answering);
  ASSERT_EQ(y.sizes(), y_local.sizes());
  EXPECT_TRUE(at::allclose(y, y_local, 1e-5, 1e-5)) << (y - y_local).abs().max();
  const at::Tensor grad = at::randn_like(y);
  moe->zero_grad();
  (y * grad).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  const at::Tensor x_grad = x.grad().clone();
  const at::Tensor proj_grad = moe->proj->weight.grad().clone();
  moe->zero_grad();
  (y_local * grad).sum().backward();
  EXPECT_TRUE(at::allclose(x_grad, x_local.grad(), 1e-5, 1e-5))
      << (x_grad - x_local.grad()).abs().max();
  EXPECT_TRUE(at::allclose(proj_grad, moe->proj->weight.grad(), 1e-5, 1e-5));
}

inline std::string failures_of(const client::MixtureCallReport& report) {
  std::string text;
  for (const auto& f : report.failures)
    text += "[" + f + "] ";
  return text;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

template <class Fn>
void expect_too_few(Fn&& fn, const std::vector<std::string>& named) {
  try {
    fn();
    ADD_FAILURE() << "expected kTooFewExperts";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), make_error_code(MoeErrc::kTooFewExperts)) << e.what();
    for (const auto& part : named)
      EXPECT_TRUE(contains(e.what(), part)) << "'" << part << "' not in: " << e.what();
  }
}

}  // namespace hivemind::moe::testing
