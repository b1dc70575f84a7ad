// hivemind-server with --checkpoint_dir: experts trained by backward calls are saved at
// shutdown, and a server restarted on the same folder with no uids serves the same experts with
// the same parameters (identical outputs on a fixed input).
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hivemind/moe/connection_handler.hpp"
#include "moe_server_process.hpp"

namespace hivemind::moe::servertest {
namespace {

/// A fresh folder under the temp directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device device;
    path_ = std::filesystem::temp_directory_path()
            / ("hm_moe_server_ckpt_" + std::to_string(device()) + std::to_string(device()));
    std::filesystem::create_directories(path_);
  }

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Outputs of `uid` on `input`, called on a fresh client joined to `server`.
Result<at::Tensor> forward_once(const ServerProcess& server,
                                const std::string& uid,
                                const at::Tensor& input) {
  HM_TRY(auto client, ExpertClient::create(server.addrs.front()));
  HM_TRY(auto outputs, client->tensors_call(server.peer_id, kRpcForward, uid, {input}));
  if (outputs.size() != 1)
    return Err(std::make_error_code(std::errc::protocol_error), "expected one output");
  return outputs[0];
}

TEST(MoeServerCheckpoints, RestartOnTheSameFolderServesTheTrainedExperts) {
  const TempDir dir;
  const std::string folder = dir.path().string();
  const at::Tensor fixed = at::randn({4, 16});
  at::Tensor before;
  {
    auto server = start_server({"--expert_cls",
                                "ffn",
                                "--hidden_dim",
                                "16",
                                "--expert_uids",
                                "expert.0",
                                "--checkpoint_dir",
                                folder,
                                "--optimizer",
                                "sgd"});
    ASSERT_TRUE(server) << server.error().message();
    auto client = ExpertClient::create(server->addrs.front());
    ASSERT_TRUE(client) << client.error().message();
    auto initial = (*client)->tensors_call(server->peer_id, kRpcForward, "expert.0", {fixed});
    ASSERT_TRUE(initial) << initial.error().message();
    for (int step = 0; step < 3; ++step) {
      auto grads = (*client)->tensors_call(
          server->peer_id, kRpcBackward, "expert.0", {at::randn({8, 16}), at::randn({8, 16})});
      ASSERT_TRUE(grads) << grads.error().message();
    }
    auto trained = (*client)->tensors_call(server->peer_id, kRpcForward, "expert.0", {fixed});
    ASSERT_TRUE(trained) << trained.error().message();
    before = (*trained)[0];
    EXPECT_FALSE(at::equal(before, (*initial)[0])) << "backward did not train the expert";
    auto code = terminate(*server);
    ASSERT_TRUE(code) << "no exit after SIGTERM: " << server->process.history_tail(20);
    EXPECT_EQ(*code, 0) << server->process.history_tail(20);
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "expert.0" / "checkpoint_last.pt"));

  // No uids: they come from the folder.
  auto restarted = start_server({"--expert_cls",
                                 "ffn",
                                 "--hidden_dim",
                                 "16",
                                 "--checkpoint_dir",
                                 folder,
                                 "--optimizer",
                                 "sgd"});
  ASSERT_TRUE(restarted) << restarted.error().message();
  EXPECT_EQ(restarted->uids, std::vector<std::string>{"expert.0"}) << restarted->serving_line;
  auto after = forward_once(*restarted, "expert.0", fixed);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_TRUE(at::equal(*after, before)) << "outputs differ after the restart";
  auto code = terminate(*restarted);
  ASSERT_TRUE(code) << restarted->process.history_tail(20);
  EXPECT_EQ(*code, 0) << restarted->process.history_tail(20);
}

}  // namespace
}  // namespace hivemind::moe::servertest
