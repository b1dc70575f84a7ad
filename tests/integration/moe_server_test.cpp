// An expert server in this process, called over real sockets by a client-mode DHT node.
#include <atomic>
#include <filesystem>
#include <thread>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hivemind/moe/error.hpp"
#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_dht.hpp"
#include "hivemind/moe/tensor_schema.hpp"
#include "moe_server_fixture.hpp"

namespace hivemind::moe {
namespace {

using testing::ExpertClient;
using testing::small_server;

std::unique_ptr<Server> start(ServerOptions options) {
  auto server = Server::create(std::move(options));
  EXPECT_TRUE(server.has_value()) << server.error().message();
  return server ? std::move(*server) : nullptr;
}

TEST(MoeServerTest, InfoForwardBackwardMatchTheLocalExpert) {
  auto server = start(small_server("ffn", {"ffn.0", "ffn.1"}, 16));
  ASSERT_TRUE(server);
  ExpertClient client(*server);

  auto info = client.unary(kRpcInfo, encode_expert_uid("ffn.1"));
  ASSERT_TRUE(info.has_value()) << info.error().message();
  auto serialized = parse_expert_info_message(*info);
  ASSERT_TRUE(serialized.has_value());
  auto schema = decode_expert_info(*serialized);
  ASSERT_TRUE(schema.has_value()) << schema.error().message();
  EXPECT_EQ(*schema, server->backends()[1]->schema());

  const at::Tensor x = at::randn({5, 16});
  auto remote = client.call(kRpcForward, "ffn.1", {x});
  ASSERT_TRUE(remote.has_value()) << remote.error().message();
  auto local = server->backends()[1]->forward({x});
  ASSERT_TRUE(local.has_value());
  ASSERT_EQ(remote->size(), 1u);
  EXPECT_TRUE(at::allclose((*remote)[0], (*local)[0]));

  const auto before = server->backends()[1]->update_count();
  // (random output gradients: LayerNorm makes the gradient of a plain sum exactly zero)
  auto grads = client.call(kRpcBackward, "ffn.1", {x, at::randn({5, 16})});
  ASSERT_TRUE(grads.has_value()) << grads.error().message();
  ASSERT_EQ(grads->size(), 1u);
  EXPECT_EQ((*grads)[0].sizes(), x.sizes());
  EXPECT_GT((*grads)[0].abs().sum().item<double>(), 0);
  EXPECT_EQ(server->backends()[1]->update_count(), before + 1);
  EXPECT_EQ(server->backends()[0]->update_count(), 0);  // only the called expert trained
}

TEST(MoeServerTest, BadRequestsReachTheCallerAndTheServerKeepsServing) {
  auto server = start(small_server("ffn", {"ffn.0"}, 16));
  ASSERT_TRUE(server);
  ExpertClient client(*server);

  auto unknown = client.call(kRpcForward, "ffn.7", {at::randn({2, 16})});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message().find("ffn.7"), std::string::npos)
      << unknown.error().message();

  auto wrong_width = client.call(kRpcForward, "ffn.0", {at::randn({2, 11})});
  ASSERT_FALSE(wrong_width.has_value());
  EXPECT_NE(wrong_width.error().message().find("11"), std::string::npos)
      << wrong_width.error().message();

  auto wrong_dtype = client.call(kRpcForward, "ffn.0", {at::randn({2, 16}).to(at::kDouble)});
  ASSERT_FALSE(wrong_dtype.has_value());

  auto two_inputs = client.call(kRpcForward, "ffn.0", {at::randn({2, 16}), at::randn({2, 16})});
  ASSERT_FALSE(two_inputs.has_value());

  at::Tensor nan = at::randn({2, 16});
  nan[1][3] = std::numeric_limits<float>::quiet_NaN();
  auto not_finite = client.call(kRpcForward, "ffn.0", {nan});
  ASSERT_FALSE(not_finite.has_value());

  auto bad_backward = client.call(kRpcBackward, "ffn.0", {at::randn({2, 16})});
  ASSERT_FALSE(bad_backward.has_value());

  auto garbage = client.unary(kRpcForward, Bytes{0x0a, 0xff, 0x01});
  ASSERT_FALSE(garbage.has_value());

  auto too_large = client.call(kRpcForward, "ffn.0", {at::randn({5000, 16})});
  ASSERT_FALSE(too_large.has_value());  // above max_batch_size 4096

  EXPECT_EQ(server->backends()[0]->update_count(), 0);
  auto fine = client.call(kRpcForward, "ffn.0", {at::randn({3, 16})});
  ASSERT_TRUE(fine.has_value()) << fine.error().message();
  EXPECT_EQ((*fine)[0].sizes(), (std::vector<std::int64_t>{3, 16}));
}

TEST(MoeServerTest, ConcurrentRequestsAreBatchedAndSplitCorrectly) {
  auto options = small_server("ffn", {"ffn.0"}, 16);
  auto server = start(options);
  ASSERT_TRUE(server);
  ExpertClient client(*server);
  constexpr int kCallers = 8;
  std::vector<at::Tensor> inputs;
  for (int i = 0; i < kCallers; ++i)
    inputs.push_back(at::randn({i + 1, 16}));
  std::vector<Result<std::vector<at::Tensor>>> results(kCallers, Err(MoeErrc::kCancelled));
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i)
    threads.emplace_back([&, i] { results[i] = client.call(kRpcForward, "ffn.0", {inputs[i]}); });
  for (auto& t : threads)
    t.join();
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(results[i].has_value()) << results[i].error().message();
    auto local = server->backends()[0]->forward({inputs[i]});
    EXPECT_TRUE(at::allclose((*results[i])[0], (*local)[0], 1e-5, 1e-6)) << "caller " << i;
  }
}

TEST(MoeServerTest, StreamingCallsCarryTensorsAboveTheUnaryLimit) {
  auto server = start(small_server("ffn", {"ffn.0"}, 64));
  ASSERT_TRUE(server);
  ExpertClient client(*server);
  const at::Tensor x = at::randn({4096, 64});  // 1 MiB, cut into 256 KiB parts
  std::size_t responses = 0;
  auto out = client.call_stream(kRpcForwardStream, "ffn.0", {x}, 256 * 1024, &responses);
  ASSERT_TRUE(out.has_value()) << out.error().message();
  auto local = server->backends()[0]->forward({x});
  EXPECT_TRUE(at::allclose((*out)[0], (*local)[0], 1e-5, 1e-6));
  EXPECT_EQ(responses, 1u);  // 1 MiB of outputs fits one 4 MiB part

  auto grads =
      client.call_stream(kRpcBackwardStream, "ffn.0", {x, at::ones({4096, 64})}, 300 * 1000);
  ASSERT_TRUE(grads.has_value()) << grads.error().message();
  EXPECT_EQ((*grads)[0].sizes(), x.sizes());
  EXPECT_EQ(server->backends()[0]->update_count(), 1);

  auto unknown = client.call_stream(kRpcForwardStream, "nope.0", {x}, 256 * 1024);
  EXPECT_FALSE(unknown.has_value());
}

/// A plain DHT node on loopback (the swarm the servers join).
std::unique_ptr<dht::DHT> bootstrap_dht() {
  dht::DHTOptions options;
  options.host.listen_addrs.push_back(testing::loopback());
  auto created = dht::DHT::create(options);
  EXPECT_TRUE(created.has_value()) << created.error().message();
  return created ? std::move(*created) : nullptr;
}

std::vector<std::optional<ExpertInfo>> lookup(dht::DHT& dht, std::vector<std::string> uids) {
  return dht
      .run_coroutine<std::vector<std::optional<ExpertInfo>>>(
          [uids](dht::DhtNode& node) { return get_experts(node, uids, true); })
      .get();
}

TEST(MoeServerTest, DeclaresItsExpertsAndWithdrawsThemOnShutdown) {
  auto swarm = bootstrap_dht();
  ASSERT_TRUE(swarm);
  auto options = small_server("nop", {}, 8);
  options.num_experts = 3;
  options.expert_pattern = "nop.[0:2].[0:8]";
  options.dht.node.initial_peers = swarm->visible_multiaddrs();
  auto server = start(options);
  ASSERT_TRUE(server);
  ASSERT_EQ(server->expert_uids().size(), 3u);
  const auto uids = server->expert_uids();
  const auto found = lookup(*swarm, uids);
  ASSERT_EQ(found.size(), 3u);
  for (const auto& f : found) {
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->peer_id, server->peer_id());
  }
  // A second server on the same DHT avoids the uids already declared.
  auto second_options = options;
  second_options.num_experts = 8;  // of the 13 free
  auto second = start(second_options);
  ASSERT_TRUE(second);
  for (const auto& uid : second->expert_uids())
    EXPECT_EQ(std::count(uids.begin(), uids.end(), uid), 0) << uid;
  second->shutdown();

  server->shutdown();
  for (const auto& f : lookup(*swarm, uids))
    EXPECT_FALSE(f.has_value()) << "still declared at " << f->peer_id.to_string();
}

TEST(MoeServerTest, CheckpointsRestoreTheExpertsAfterARestart) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("hm_moe_ckpt_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto options = small_server("ffn", {"ffn.3"}, 16);
  options.checkpoint_dir = dir;
  options.optimizer.name = "sgd";
  options.optimizer.lr = 0.1;
  const at::Tensor x = at::randn({4, 16});
  at::Tensor trained;
  {
    auto server = start(options);
    ASSERT_TRUE(server);
    ExpertClient client(*server);
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(client.call(kRpcBackward, "ffn.3", {x, at::randn({4, 16})}).has_value());
    trained = (*server->backends()[0]->forward({x}))[0];
    server->shutdown();  // saves a last checkpoint
  }
  auto restart = options;
  restart.expert_uids.clear();  // taken from the checkpoint folder
  auto server = start(restart);
  ASSERT_TRUE(server);
  ASSERT_EQ(server->expert_uids(), std::vector<std::string>{"ffn.3"});
  EXPECT_EQ(server->backends()[0]->update_count(), 3);
  EXPECT_TRUE(at::allclose((*server->backends()[0]->forward({x}))[0], trained));
  server->shutdown();
  std::filesystem::remove_all(dir);
}

TEST(MoeServerTest, RefusesConfigurationsThatCannotServe) {
  auto none = Server::create(small_server("ffn", {}, 16));
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error(), MoeErrc::kBadConfig);
  auto unknown_cls = Server::create(small_server("no_such_expert", {"a.0"}, 16));
  ASSERT_FALSE(unknown_cls.has_value());
  EXPECT_NE(unknown_cls.error().message().find("ffn"), std::string::npos);  // lists known ones
  auto bad_uid = Server::create(small_server("ffn", {"expert.01"}, 16));
  ASSERT_FALSE(bad_uid.has_value());
  EXPECT_EQ(bad_uid.error(), MoeErrc::kInvalidUid);
}

}  // namespace
}  // namespace hivemind::moe
