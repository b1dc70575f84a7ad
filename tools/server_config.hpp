#pragma once
/// \file
/// YAML config files for `hivemind-server` (hivemind's config.yml, read by configargparse): a
/// CLI11 config formatter, so that CLI11 applies a key only to options not given on the command
/// line. Startup code, main thread.

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace hivemind::tools {

/// Reads a YAML mapping of `flag_name: value` (no leading dashes). A value is a scalar, a
/// sequence of scalars (options taking many values), or a string holding a flow sequence such
/// as hivemind's `initial_peers: "[]"`; null and empty sequences count as not given. Keys that
/// are no option of `app` are an error naming the key, except hivemind keys without an
/// equivalent here, which are skipped with a warning appended to `warnings`: `no_dht` (stale in
/// hivemind's own config.yml), `no_relay`, `use_auto_relay` (we have no relays).
/// `custom_module_path` is an error (Python modules cannot be loaded; register C++ expert
/// classes instead). Errors are CLI::ConfigError (exit code 2 in the tool).
class YamlConfig : public CLI::Config {
 public:
  /// `app` must outlive this formatter; `warnings` receives the skipped keys' messages.
  YamlConfig(const CLI::App* app, std::shared_ptr<std::vector<std::string>> warnings);

  /// Writing configs is not supported (returns an empty string).
  std::string to_config(const CLI::App* app,
                        bool default_also,
                        bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App* app_;
  std::shared_ptr<std::vector<std::string>> warnings_;
};

}  // namespace hivemind::tools
