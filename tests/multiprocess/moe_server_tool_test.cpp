// hivemind-server as a process: it joins a hivemind-dht bootstrap node, declares its experts,
// and a client in the test process finds them through the DHT and calls rpc_info, rpc_forward
// and rpc_backward; bad requests get RPC errors naming the problem while the server keeps
// serving; SIGTERM makes it withdraw its experts and exit 0. Bad flags exit 2, a server that
// cannot start exits 3.
#include <algorithm>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "dht_tool_process.hpp"
#include "hivemind/moe/connection_handler.hpp"
#include "moe_server_process.hpp"

namespace hivemind::moe::servertest {
namespace {

std::string joined(const std::vector<std::string>& lines) {
  return dht::tooltest::join_lines(lines);
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  return dht::tooltest::any_line_contains(lines, text);
}

TEST(MoeServerTool, ServesExpertsFoundThroughTheDhtAndWithdrawsThemOnSigterm) {
  auto bootstrap = dht::tooltest::start_dht_node({});
  ASSERT_TRUE(bootstrap) << bootstrap.error().message();
  auto server = start_server({"--expert_cls",
                              "ffn",
                              "--hidden_dim",
                              "16",
                              "--num_experts",
                              "2",
                              "--expert_pattern",
                              "expert.[0:4]",
                              "--initial_peers",
                              bootstrap->addr});
  ASSERT_TRUE(server) << server.error().message();
  EXPECT_TRUE(server->serving_line.starts_with("serving 2 ffn experts on cpu: "))
      << server->serving_line;
  EXPECT_NE(server->serving_line.find("(startup: experts "), std::string::npos);
  ASSERT_EQ(server->uids.size(), 2u) << server->serving_line;
  for (const auto& uid : server->uids)
    EXPECT_TRUE(uid == "expert.0" || uid == "expert.1" || uid == "expert.2" || uid == "expert.3")
        << uid;

  auto client = ExpertClient::create(bootstrap->addr);
  ASSERT_TRUE(client) << client.error().message();
  // The server declared its experts before printing the serving line.
  const std::vector<std::string> all{"expert.0", "expert.1", "expert.2", "expert.3"};
  auto found = (*client)->get_experts(all, /*latest=*/true);
  ASSERT_EQ(found.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const bool served =
        std::find(server->uids.begin(), server->uids.end(), all[i]) != server->uids.end();
    ASSERT_EQ(found[i].has_value(), served) << all[i];
    if (served) {
      EXPECT_EQ(found[i]->peer_id, server->peer_id) << all[i];
    }
  }

  ASSERT_TRUE((*client)->connect(server->addrs.front()));
  const net::PeerId peer = server->peer_id;
  const std::string uid = server->uids.front();
  auto info = (*client)->info(peer, uid);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_FALSE(info->empty());

  const at::Tensor x = at::randn({3, 16});
  auto outputs = (*client)->tensors_call(peer, kRpcForward, uid, {x});
  ASSERT_TRUE(outputs) << outputs.error().message();
  ASSERT_EQ(outputs->size(), 1u);
  EXPECT_EQ((*outputs)[0].sizes(), x.sizes());
  auto grads = (*client)->tensors_call(peer, kRpcBackward, uid, {x, at::randn({3, 16})});
  ASSERT_TRUE(grads) << grads.error().message();
  ASSERT_EQ(grads->size(), 1u);
  EXPECT_EQ((*grads)[0].sizes(), x.sizes());
  EXPECT_TRUE((*grads)[0].abs().sum().item<float>() > 0);

  // Bad requests: RPC errors that name the problem; the server carries on.
  auto unknown = (*client)->tensors_call(peer, kRpcForward, "expert.99", {x});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("expert.99"), std::string::npos)
      << unknown.error().message();
  auto wrong_width = (*client)->tensors_call(peer, kRpcForward, uid, {at::randn({3, 11})});
  ASSERT_FALSE(wrong_width);
  EXPECT_NE(wrong_width.error().message().find("expected shape"), std::string::npos)
      << wrong_width.error().message();
  EXPECT_NE(wrong_width.error().message().find("11"), std::string::npos)
      << wrong_width.error().message();
  auto again = (*client)->tensors_call(peer, kRpcForward, uid, {x});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ((*again)[0].sizes(), x.sizes());

  auto code = terminate(*server);
  ASSERT_TRUE(code) << "no exit after SIGTERM: " << server->process.history_tail(20);
  EXPECT_EQ(*code, 0) << server->process.history_tail(20);
  auto after = (*client)->get_experts(server->uids, /*latest=*/true);
  ASSERT_EQ(after.size(), server->uids.size());
  for (std::size_t i = 0; i < after.size(); ++i)
    EXPECT_FALSE(after[i].has_value()) << server->uids[i] << " still declared after shutdown";
}

TEST(MoeServerTool, BadFlagsExitTwoWithAMessageNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--num_experts", "1", "--optimizer", "lamb"}, "--optimizer"},
      {{"--num_experts", "1", "--compression", "ZIP"}, "unknown compression 'ZIP'"},
      {{"--expert_uids", "not a uid!"}, "--expert_uids"},
      {{"--hidden_dim", "16"}, "nothing to serve"},
      {{"--num_experts", "1", "--config", "/nonexistent/hm.yml"}, "/nonexistent/hm.yml"},
  };
  for (const auto& [args, text] : cases) {
    auto run = run_server_tool(args);
    ASSERT_TRUE(run) << run.error().message();
    EXPECT_EQ(run->exit_code, 2) << joined(run->lines);
    EXPECT_TRUE(mentions(run->lines, text)) << text << " not in:\n" << joined(run->lines);
  }
}

TEST(MoeServerTool, ServerThatCannotStartExitsThree) {
  auto run = run_server_tool({"--host_maddrs",
                              "/ip4/127.0.0.1/tcp/0",
                              "--device",
                              "cpu",
                              "--num_experts",
                              "1",
                              "--expert_cls",
                              "no_such_class"});
  ASSERT_TRUE(run) << run.error().message();
  EXPECT_EQ(run->exit_code, 3) << joined(run->lines);
  EXPECT_TRUE(mentions(run->lines, "hivemind-server: cannot start: "));
  EXPECT_TRUE(mentions(run->lines, "no_such_class")) << joined(run->lines);
}

}  // namespace
}  // namespace hivemind::moe::servertest
