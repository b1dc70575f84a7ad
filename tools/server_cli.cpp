// hivemind-server's flags. Names, meanings and defaults follow hivemind's run_server.py
// (shared/reference/hivemind-moe-averaging-optim.md §1.12); deviations are in the help texts:
// --host_maddrs takes multiaddrs (hivemind's `type=list` splits a user value into characters),
// --num_handlers counts codec threads (hivemind: connection-handler processes, default
// num_experts*8), --num_threads is ours, and ./config.yml is read only when --config names it.
#include "server_cli.hpp"

#include <cerrno>
#include <chrono>
#include <memory>
#include <system_error>

#include <sys/resource.h>

#include "hivemind/compression/types.hpp"
#include "hivemind/moe/expert_uid.hpp"
#include "server_config.hpp"

namespace hivemind::tools {
namespace {

CLI::Validator uid_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto valid = moe::validate_uid(text);
        return valid ? std::string() : valid.error().message();
      },
      "UID");
}

CLI::Validator pattern_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto parsed = moe::UidPattern::parse(text);
        return parsed ? std::string() : parsed.error().message();
      },
      "PATTERN");
}

CLI::Validator compression_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (compression::parse_compression_type(text))
          return {};
        std::string known;
        for (auto type : compression::kAllCompressionTypes)
          known +=
              (known.empty() ? "" : ", ") + std::string(compression::compression_type_name(type));
        return "unknown compression '" + text + "' (known: " + known + ")";
      },
      "TYPE");
}

/// Values the flags were given; optionals are filled after parsing from whether a flag (or a
/// config key) was seen.
struct RawValues {
  std::size_t num_experts = 0;
  std::string expert_pattern;
  std::int64_t num_training_steps = 0;
  double clip_grad_norm = 0;
  double expiration_s = 0;
  std::string checkpoint_dir;
  double stats_report_interval_s = 0;
};

void add_expert_flags(CLI::App& app, ServerCliOptions& cli, RawValues& raw) {
  auto* num = app.add_option("--num_experts", raw.num_experts, "The number of experts to serve")
                  ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  auto* pattern =
      app.add_option("--expert_pattern",
                     raw.expert_pattern,
                     "Uid pattern of generated experts, e.g. 'myexpert.[0:256].[0:1024]' "
                     "(random uids not yet declared in the DHT); default expert.0, "
                     "expert.1, ...")
          ->check(pattern_check())
          ->needs(num);
  app.add_option("--expert_uids",
                 cli.expert_uids,
                 "The exact expert uids to serve (instead of --num_experts and --expert_pattern)")
      ->check(uid_check())
      ->excludes(num)
      ->excludes(pattern);
  app.add_option("--expert_cls", cli.expert_cls, "ffn, transformer, det_dropout, nop, nop_delay")
      ->capture_default_str();
  app.add_option("--hidden_dim", cli.hidden_dim, "Main dimension of the experts")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
}

void add_network_flags(CLI::App& app, ServerCliOptions& cli) {
  app.add_option("--host_maddrs", cli.network.host_maddrs, "Multiaddrs to listen on")
      ->capture_default_str()
      ->check(multiaddr_check());
  app.add_option("--announce_maddrs",
                 cli.network.announce_maddrs,
                 "Multiaddrs to tell other peers instead of the listen addresses")
      ->check(multiaddr_check());
  app.add_option("--initial_peers",
                 cli.network.initial_peers,
                 "Multiaddrs of running DHT peers to join (with /p2p/<peer id>); none starts a "
                 "new swarm")
      ->check(multiaddr_check(/*need_peer_id=*/true));
  app.add_option("--identity_path",
                 cli.network.identity_path,
                 "Private key file (libp2p protobuf format); created if missing, giving a stable "
                 "peer id across restarts");
}

void add_compute_flags(CLI::App& app, ServerCliOptions& cli) {
  app.add_option("--num_handlers",
                 cli.num_handlers,
                 "Threads that encode and decode tensors of requests and responses (hivemind: "
                 "connection-handler processes)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--num_threads", cli.num_threads, "Compute threads running batches")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--min_batch_size", cli.min_batch_size, "Smallest batch an expert runs")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  app.add_option("--max_batch_size",
                 cli.max_batch_size,
                 "Most samples in one batch; a larger request is refused")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  app.add_option("--device", cli.device, "cpu, cuda, cuda:N; default: cuda if available, else cpu");
}

void add_training_flags(CLI::App& app, ServerCliOptions& cli, RawValues& raw) {
  app.add_option("--optimizer", cli.optimizer, "adam (lr 1e-3), sgd (lr 0.01) or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "sgd", "none"}));
  app.add_option("--scheduler", cli.scheduler, "Learning-rate schedule: none or linear (warmup)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "linear"}));
  app.add_option("--num_warmup_steps", cli.num_warmup_steps, "Warmup steps of --scheduler linear")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--num_training_steps",
                 raw.num_training_steps,
                 "Total steps of --scheduler linear (required with it)")
      ->check(CLI::PositiveNumber);
  app.add_option("--clip_grad_norm", raw.clip_grad_norm, "Maximum gradient norm (clipping)")
      ->check(CLI::PositiveNumber);
}

void add_serving_flags(CLI::App& app, ServerCliOptions& cli, RawValues& raw) {
  app.add_option("--update_period",
                 cli.update_period_s,
                 "Seconds between declarations of the experts in the DHT (and checkpoints)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e7));
  app.add_option("--expiration",
                 raw.expiration_s,
                 "Seconds the DHT keeps each declaration; default max(2 * update_period, 3)")
      ->check(CLI::Range(0.001, 1e9));
  app.add_option("--compression",
                 cli.compression,
                 "Codec of floating-point tensors the server sends: NONE, MEANSTD_16BIT, FLOAT16, "
                 "QUANTILE_8BIT, UNIFORM_8BIT, BLOCKWISE_8BIT")
      ->capture_default_str()
      ->check(compression_check());
  app.add_option("--checkpoint_dir",
                 raw.checkpoint_dir,
                 "Folder of expert checkpoints: loaded at start (its experts are served when no "
                 "uids are given), saved every update_period and at shutdown");
  app.add_option("--stats_report_interval",
                 raw.stats_report_interval_s,
                 "Seconds between batch statistics in the log")
      ->check(CLI::Range(0.001, 1e7));
  app.add_flag("--increase_file_limit",
               cli.increase_file_limit,
               "Raise the soft limit of open files to the hard limit");
  app.add_option("--log_level", cli.log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str()
      ->check(log_level_check());
}

/// Rules between flags that CLI11's needs/excludes cannot say. Empty when all hold.
std::string check_consistency(const ServerCliOptions& cli) {
  if (cli.expert_uids.empty() && !cli.num_experts && !cli.checkpoint_dir)
    return "nothing to serve: give --expert_uids, --num_experts (with an optional "
           "--expert_pattern), or --checkpoint_dir holding experts";
  if (cli.min_batch_size > cli.max_batch_size)
    return "--min_batch_size " + std::to_string(cli.min_batch_size) + " exceeds --max_batch_size "
           + std::to_string(cli.max_batch_size);
  if (cli.scheduler == "linear" && !cli.num_training_steps)
    return "--scheduler linear needs --num_training_steps";
  if (cli.scheduler != "none" && cli.optimizer == "none")
    return "--scheduler " + cli.scheduler + " needs an optimizer (not --optimizer none)";
  return {};
}

void fill_optionals(const CLI::App& app, const RawValues& raw, ServerCliOptions& cli) {
  const auto given = [&app](const char* flag) {
    return app.count(flag) > 0;
  };
  if (given("--num_experts"))
    cli.num_experts = raw.num_experts;
  if (given("--expert_pattern"))
    cli.expert_pattern = raw.expert_pattern;
  if (given("--num_training_steps"))
    cli.num_training_steps = raw.num_training_steps;
  if (given("--clip_grad_norm"))
    cli.clip_grad_norm = raw.clip_grad_norm;
  if (given("--expiration"))
    cli.expiration_s = raw.expiration_s;
  if (given("--checkpoint_dir"))
    cli.checkpoint_dir = raw.checkpoint_dir;
  if (given("--stats_report_interval"))
    cli.stats_report_interval_s = raw.stats_report_interval_s;
}

}  // namespace

std::variant<ServerCliOptions, CliExit> parse_server_args(const std::vector<std::string>& args) {
  CLI::App app{
      "hivemind-server: serve experts of a decentralized mixture of experts; they are declared "
      "in the DHT (join one with --initial_peers), called by clients over libp2p, and trained "
      "on every backward pass",
      "hivemind-server"};
  app.footer(
      "Flags can also come from a YAML file (--config PATH) with the same names as keys, e.g. "
      "'num_experts: 16'; flags on the command line win. ./config.yml is not read unless named.\n"
      "Exit codes: 0 stopped by SIGINT/SIGTERM, 2 bad flags or config, 3 could not start "
      "(listen, bootstrap, identity file, expert class, device, checkpoints).\n");
  ServerCliOptions cli;
  RawValues raw;
  auto warnings = std::make_shared<std::vector<std::string>>();
  app.set_config("--config", "", "YAML file of flag values (keys as the flag names)")
      ->type_name("PATH");
  app.config_formatter(std::make_shared<YamlConfig>(&app, warnings));
  app.allow_config_extras(CLI::config_extras_mode::error);
  add_expert_flags(app, cli, raw);
  add_network_flags(app, cli);
  add_compute_flags(app, cli);
  add_training_flags(app, cli, raw);
  add_serving_flags(app, cli, raw);
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return CliExit{kExitOk, app.help()};
  } catch (const CLI::ParseError& e) {
    return CliExit{kExitBadFlags,
                   std::string(e.what()) + "\nRun with --help for more information."};
  }
  if (auto* config = app.get_config_ptr(); config != nullptr && config->count() > 0)
    cli.config_path = config->as<std::string>();
  fill_optionals(app, raw, cli);
  if (auto problem = check_consistency(cli); !problem.empty())
    return CliExit{kExitBadFlags, problem + "\nRun with --help for more information."};
  cli.warnings = std::move(*warnings);
  return cli;
}

std::variant<ServerCliOptions, CliExit> parse_server_command_line(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return parse_server_args(args);
}

Result<moe::ServerOptions> make_server_options(const ServerCliOptions& cli) {
  moe::ServerOptions options;
  HM_TRY(options.dht, make_network_options(cli.network));
  options.expert_uids = cli.expert_uids;
  options.num_experts = cli.num_experts.value_or(0);
  options.expert_pattern = cli.expert_pattern;
  options.expert_cls = cli.expert_cls;
  options.hidden_dim = cli.hidden_dim;
  // run_server.py: Adam with torch's default lr, or `partial(torch.optim.SGD, lr=0.01)`.
  options.optimizer = {.name = cli.optimizer, .lr = cli.optimizer == "sgd" ? 0.01 : 1e-3};
  options.scheduler = {.name = cli.scheduler,
                       .num_warmup_steps = cli.num_warmup_steps,
                       .num_training_steps = cli.num_training_steps.value_or(0)};
  options.clip_grad_norm = cli.clip_grad_norm;
  options.min_batch_size = cli.min_batch_size;
  options.max_batch_size = cli.max_batch_size;
  options.num_compute_threads = cli.num_threads;
  options.num_codec_threads = cli.num_handlers;
  options.device = cli.device;
  options.compression = compression::parse_compression_type(cli.compression)
                            .value_or(compression::CompressionType::kNone);
  options.update_period = std::chrono::duration<double>(cli.update_period_s);
  if (cli.expiration_s)
    options.expiration = std::chrono::duration<double>(*cli.expiration_s);
  if (cli.checkpoint_dir)
    options.checkpoint_dir = std::filesystem::path(*cli.checkpoint_dir);
  if (cli.stats_report_interval_s)
    options.stats_report_interval = std::chrono::duration<double>(*cli.stats_report_interval_s);
  return options;
}

Result<std::uint64_t> raise_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return Err(std::error_code(errno, std::generic_category()), "getrlimit(RLIMIT_NOFILE)");
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
    return Err(std::error_code(errno, std::generic_category()), "setrlimit(RLIMIT_NOFILE)");
  return static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace hivemind::tools
