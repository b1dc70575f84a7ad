// Expert checkpoints (hivemind tests/test_expert_backend.py test_save_load_checkpoints,
// test_restore_update_count, test_lr_schedule's reload) plus corrupt/missing files.
#include "hivemind/moe/checkpoints.hpp"

#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <unistd.h>

#include "hivemind/moe/expert_backend.hpp"
#include "hivemind/moe/expert_module.hpp"

namespace hivemind::moe {
namespace {

namespace fs = std::filesystem;

class LinearExpert final : public ExpertModule {
 public:
  LinearExpert() : linear(register_module("linear", torch::nn::Linear(1, 1))) {}

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& x) override {
    return {linear(x[0])};
  }

  torch::nn::Linear linear;
};

class Checkpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path()
           / ("hm_moe_ckpt_" + std::to_string(::getpid()) + "_"
              + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }

  void TearDown() override { fs::remove_all(dir_); }

  /// hivemind's fixture: Linear(1,1), SGD lr 1.0, linear warmup 2 of 4 steps.
  std::shared_ptr<ExpertBackend> make_backend(const std::string& uid = "test_expert.0") {
    module_ = std::make_shared<LinearExpert>();
    return std::make_shared<ExpertBackend>(
        uid,
        module_,
        ExpertBackendOptions{
            .optimizer = {.name = "sgd", .lr = 1.0},
            .scheduler = {.name = "linear", .num_warmup_steps = 2, .num_training_steps = 4},
            .args_schema = {{{1}}},
            .outputs_schema = {{{1}}}});
  }

  std::vector<std::string> files(const std::string& uid) const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_ / uid))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  void set_weight(float value) {
    at::NoGradGuard no_grad;
    module_->linear->weight.fill_(value);
  }

  fs::path dir_;
  std::shared_ptr<LinearExpert> module_;
};

TEST_F(Checkpoints, SaveAndLoadAsHivemindDoes) {
  auto backend = make_backend();
  for (int i = 1; i <= 3; ++i) {
    set_weight(static_cast<float>(i));
    auto saved = save_checkpoints(dir_, {backend});
    ASSERT_TRUE(saved) << saved.error().message();
  }
  const auto names = files("test_expert.0");
  ASSERT_EQ(names.size(), 4u);  // 3 timestamped + checkpoint_last.pt, no temp files left
  EXPECT_EQ(names.back(), "checkpoint_last.pt");
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(names[i].starts_with("checkpoint_20")) << names[i];
    EXPECT_TRUE(names[i].ends_with(".pt")) << names[i];
  }
  set_weight(0);
  ASSERT_TRUE(load_checkpoints(dir_, {backend}));
  EXPECT_EQ(module_->linear->weight.item<float>(), 3.0f);
  EXPECT_EQ(checkpointed_uids(dir_), std::vector<std::string>{"test_expert.0"});
}

TEST_F(Checkpoints, KeepsTheConfiguredNumberOfTimestampedFiles) {
  auto backend = make_backend();
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(save_checkpoints(dir_, {backend}, {.keep_timestamped = 2}));
  EXPECT_EQ(files("test_expert.0").size(), 3u);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(save_checkpoints(dir_, {backend}, {.keep_timestamped = 0}));  // hivemind: keep all
  EXPECT_EQ(files("test_expert.0").size(), 6u);
}

TEST_F(Checkpoints, RestoresTheUpdateCountAndLearningRate) {
  auto backend = make_backend();
  const at::Tensor batch = at::randn({1, 1});
  const at::Tensor loss_grad = at::randn({1, 1});
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(backend->backward({batch}, {loss_grad}));
  EXPECT_EQ(backend->learning_rate(), 1.0);
  ASSERT_TRUE(save_checkpoints(dir_, {backend}));
  const float saved_weight = module_->linear->weight.item<float>();
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(backend->backward({batch}, {loss_grad}));
  EXPECT_EQ(backend->learning_rate(), 0.0);
  ASSERT_TRUE(load_checkpoints(dir_, {backend}));
  EXPECT_EQ(backend->update_count(), 2);  // hivemind: scheduler._step_count == 3
  EXPECT_EQ(backend->learning_rate(), 1.0);
  EXPECT_EQ(module_->linear->weight.item<float>(), saved_weight);
}

TEST_F(Checkpoints, MissingFilesAreSkipped) {
  auto backend = make_backend();
  set_weight(7);
  ASSERT_TRUE(load_checkpoints(dir_, {backend}));  // no folder at all
  EXPECT_EQ(module_->linear->weight.item<float>(), 7.0f);
  EXPECT_TRUE(checkpointed_uids(dir_).empty());
  fs::create_directories(dir_ / "test_expert.0");
  ASSERT_TRUE(load_checkpoints(dir_, {backend}));  // folder without checkpoint_last.pt
  EXPECT_TRUE(checkpointed_uids(dir_).empty());
}

TEST_F(Checkpoints, CorruptFilesAreErrorsNamingTheFile) {
  auto backend = make_backend();
  ASSERT_TRUE(save_checkpoints(dir_, {backend}));
  const fs::path last = dir_ / "test_expert.0" / "checkpoint_last.pt";
  std::ifstream in(last, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  ASSERT_GT(bytes.size(), 100u);
  set_weight(5);
  for (const std::string& content :
       {std::string("not a checkpoint"), bytes.substr(0, bytes.size() / 2), std::string()}) {
    fs::remove(last);  // a fresh inode: the timestamped file is a hard link to the old one
    std::ofstream(last, std::ios::binary) << content;
    auto loaded = load_checkpoints(dir_, {backend});
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error(), MoeErrc::kCheckpointError);
    EXPECT_NE(loaded.error().message().find(last.string()), std::string::npos)
        << loaded.error().message();
    EXPECT_EQ(module_->linear->weight.item<float>(), 5.0f);  // untouched
  }
}

TEST_F(Checkpoints, SeveralExpertsAndUnsafeUids) {
  auto a = make_backend("ffn.0.1");
  auto b = make_backend("ffn.0.0");
  ASSERT_TRUE(save_checkpoints(dir_, {a, b}));
  EXPECT_EQ(checkpointed_uids(dir_), (std::vector<std::string>{"ffn.0.0", "ffn.0.1"}));
  auto unsafe = save_checkpoints(dir_, {make_backend("../x.0")});
  ASSERT_FALSE(unsafe);
  EXPECT_EQ(unsafe.error(), MoeErrc::kCheckpointError);
  EXPECT_FALSE(save_checkpoints(dir_, {make_backend("a/b.0")}));
  EXPECT_FALSE(load_checkpoints(dir_, {make_backend("..")}));
}

}  // namespace
}  // namespace hivemind::moe
