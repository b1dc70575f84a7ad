// hivemind-server's flag and config parsing (tools/server_cli.hpp), in process: hivemind's
// defaults and learning rates, the YAML config (flags win, unknown keys are errors naming the
// key, hivemind's stale keys are skipped with a warning, hivemind's `initial_peers: "[]"`), and
// the rules between flags.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "server_cli.hpp"

namespace hivemind::tools {
namespace {

constexpr char kPeer[] =
    "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

/// A YAML file in the temp directory, removed at the end of the test.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    std::random_device device;
    path_ = std::filesystem::temp_directory_path()
            / ("hm_server_cli_" + std::to_string(device()) + ".yml");
    std::ofstream(path_) << text;
  }

  ConfigFile(const ConfigFile&) = delete;
  ConfigFile& operator=(const ConfigFile&) = delete;

  ~ConfigFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }

  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

ServerCliOptions parsed(const std::vector<std::string>& args) {
  auto result = parse_server_args(args);
  if (const auto* done = std::get_if<CliExit>(&result)) {
    ADD_FAILURE() << "exit " << done->code << ": " << done->message;
    return {};
  }
  return std::get<ServerCliOptions>(result);
}

/// The message of a parse that must fail with exit code 2.
std::string bad(const std::vector<std::string>& args) {
  auto result = parse_server_args(args);
  const auto* done = std::get_if<CliExit>(&result);
  if (done == nullptr) {
    ADD_FAILURE() << "parsed, but should have failed";
    return {};
  }
  EXPECT_EQ(done->code, kExitBadFlags) << done->message;
  return done->message;
}

TEST(ServerCli, DefaultsFollowHivemindsRunServer) {
  const auto cli = parsed({"--num_experts", "4"});
  EXPECT_EQ(cli.num_experts, 4u);
  EXPECT_EQ(cli.expert_cls, "ffn");
  EXPECT_EQ(cli.hidden_dim, 1024);
  EXPECT_EQ(cli.max_batch_size, 16384);
  EXPECT_EQ(cli.min_batch_size, 1);
  EXPECT_EQ(cli.network.host_maddrs, std::vector<std::string>{"/ip4/0.0.0.0/tcp/0"});
  auto options = make_server_options(cli);
  ASSERT_TRUE(options) << options.error().message();
  EXPECT_EQ(options->optimizer.name, "adam");
  EXPECT_DOUBLE_EQ(options->optimizer.lr, 1e-3);
  EXPECT_EQ(options->scheduler.name, "none");
  EXPECT_EQ(options->update_period.count(), 30.0);
  EXPECT_FALSE(options->expiration);
  EXPECT_FALSE(options->checkpoint_dir);
  EXPECT_EQ(options->compression, compression::CompressionType::kNone);
  EXPECT_EQ(options->dht.host.listen_addrs.size(), 1u);
}

TEST(ServerCli, FlagsReachTheServerOptions) {
  const auto cli = parsed({"--expert_uids",
                           "ffn.1.2",
                           "ffn.3.4",
                           "--optimizer",
                           "sgd",
                           "--scheduler",
                           "linear",
                           "--num_warmup_steps",
                           "10",
                           "--num_training_steps",
                           "100",
                           "--compression",
                           "FLOAT16",
                           "--num_handlers",
                           "3",
                           "--num_threads",
                           "2",
                           "--host_maddrs",
                           "/ip4/127.0.0.1/tcp/0",
                           "/ip4/127.0.0.1/tcp/5000",
                           "--initial_peers",
                           kPeer,
                           "--expiration",
                           "90",
                           "--clip_grad_norm",
                           "1.5",
                           "--checkpoint_dir",
                           "/tmp/x",
                           "--update_period",
                           "7.5"});
  auto options = make_server_options(cli);
  ASSERT_TRUE(options) << options.error().message();
  EXPECT_EQ(options->expert_uids, (std::vector<std::string>{"ffn.1.2", "ffn.3.4"}));
  EXPECT_EQ(options->optimizer.name, "sgd");
  EXPECT_DOUBLE_EQ(options->optimizer.lr, 0.01);  // run_server.py: partial(SGD, lr=0.01)
  EXPECT_EQ(options->scheduler.name, "linear");
  EXPECT_EQ(options->scheduler.num_warmup_steps, 10);
  EXPECT_EQ(options->scheduler.num_training_steps, 100);
  EXPECT_EQ(options->compression, compression::CompressionType::kFloat16);
  EXPECT_EQ(options->num_codec_threads, 3u);
  EXPECT_EQ(options->num_compute_threads, 2u);
  EXPECT_EQ(options->dht.host.listen_addrs.size(), 2u);  // not split into characters
  EXPECT_EQ(options->dht.node.initial_peers.size(), 1u);
  EXPECT_EQ(options->expiration->count(), 90.0);
  EXPECT_EQ(*options->clip_grad_norm, 1.5);
  EXPECT_EQ(*options->checkpoint_dir, std::filesystem::path("/tmp/x"));
  EXPECT_EQ(options->update_period.count(), 7.5);
}

TEST(ServerCli, ConfigFileGivesDefaultsThatFlagsOverride) {
  // hivemind's own config.yml, with its stale no_dht key and its string-encoded empty list.
  const ConfigFile config(
      "num_experts: 16\nexpert_cls: ffn\nhidden_dim: 1024\nexpert_pattern: expert.[0:4].[0:4]\n"
      "max_batch_size: 16384\noptimizer: adam\nno_dht: True\ninitial_peers: \"[]\"\n"
      "increase_file_limit: True\nhost_maddrs: [/ip4/127.0.0.1/tcp/0]\n");
  const auto cli = parsed({"--config", config.path(), "--num_experts", "2", "--hidden_dim", "64"});
  EXPECT_EQ(cli.num_experts, 2u);                       // the flag wins
  EXPECT_EQ(cli.hidden_dim, 64);                        // the flag wins
  EXPECT_EQ(cli.expert_pattern, "expert.[0:4].[0:4]");  // from the file
  EXPECT_TRUE(cli.increase_file_limit);
  EXPECT_TRUE(cli.network.initial_peers.empty());
  EXPECT_EQ(cli.network.host_maddrs, std::vector<std::string>{"/ip4/127.0.0.1/tcp/0"});
  EXPECT_EQ(cli.config_path, config.path());
  ASSERT_EQ(cli.warnings.size(), 1u);
  EXPECT_NE(cli.warnings[0].find("no_dht"), std::string::npos) << cli.warnings[0];
}

TEST(ServerCli, ConfigFileErrorsNameTheKey) {
  const ConfigFile unknown("num_experts: 2\nnum_expertz: 3\n");
  EXPECT_NE(bad({"--config", unknown.path()}).find("unknown key 'num_expertz'"), std::string::npos);
  const ConfigFile custom("num_experts: 2\ncustom_module_path: layers.py\n");
  EXPECT_NE(bad({"--config", custom.path()}).find("custom_module_path"), std::string::npos);
  const ConfigFile bad_value("num_experts: 2\noptimizer: lamb\n");
  EXPECT_NE(bad({"--config", bad_value.path()}).find("lamb"), std::string::npos);
  const ConfigFile not_a_map("- num_experts\n");
  EXPECT_NE(bad({"--config", not_a_map.path()}).find("mapping"), std::string::npos);
  const ConfigFile broken("num_experts: [2\n");
  EXPECT_NE(bad({"--config", broken.path()}).find("not valid YAML"), std::string::npos);
}

TEST(ServerCli, InconsistentFlagsAreRefused) {
  EXPECT_NE(bad({}).find("nothing to serve"), std::string::npos);
  EXPECT_NE(bad({"--expert_uids", "a.1", "--num_experts", "2"}).find("excludes"),
            std::string::npos);
  EXPECT_NE(bad({"--expert_pattern", "e.[0:4]"}).find("--num_experts"), std::string::npos);
  EXPECT_NE(bad({"--num_experts", "1", "--scheduler", "linear"}).find("--num_training_steps"),
            std::string::npos);
  EXPECT_NE(bad({"--num_experts",
                 "1",
                 "--optimizer",
                 "none",
                 "--scheduler",
                 "linear",
                 "--num_training_steps",
                 "5"})
                .find("needs an optimizer"),
            std::string::npos);
  EXPECT_NE(bad({"--num_experts", "1", "--min_batch_size", "9", "--max_batch_size", "8"})
                .find("--min_batch_size"),
            std::string::npos);
  EXPECT_NE(bad({"--num_experts", "1", "--initial_peers", "/ip4/1.2.3.4/tcp/1"}).find("/p2p/"),
            std::string::npos);
  EXPECT_NE(bad({"--num_experts", "1", "--host_maddrs", "nonsense"}).find("nonsense"),
            std::string::npos);
  EXPECT_NE(bad({"--num_experts", "0"}).find("--num_experts"), std::string::npos);
}

TEST(ServerCli, CheckpointDirAloneIsEnough) {
  const auto cli = parsed({"--checkpoint_dir", "/tmp/ckpt"});
  EXPECT_FALSE(cli.num_experts);
  EXPECT_EQ(cli.checkpoint_dir, "/tmp/ckpt");
}

}  // namespace
}  // namespace hivemind::tools
