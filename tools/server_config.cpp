// YAML config files of hivemind-server. hivemind reads config.yml with configargparse, whose YAML
// parser turns every value into command-line text: scalars as they are, lists as repeated
// values. We do the same through CLI11's config-formatter hook, so that the command line wins
// over the file exactly as in hivemind (CLI11 fills only options the command line left empty).
#include "server_config.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include <yaml-cpp/yaml.h>

namespace hivemind::tools {
namespace {

/// hivemind keys that have no meaning here; skipped with a warning so that a hivemind config.yml
/// (which even carries the stale `no_dht`) still starts a server.
constexpr std::array<std::string_view, 3> kIgnoredKeys = {"no_dht", "no_relay", "use_auto_relay"};

[[noreturn]] void fail(const std::string& message) {
  throw CLI::ConfigError("config file: " + message);
}

/// YAML 1.1 booleans as written in hivemind's config.yml ("True") become CLI11 flag text.
std::string scalar_text(const YAML::Node& node) {
  std::string text = node.Scalar();
  if (text == "True" || text == "TRUE")
    return "true";
  if (text == "False" || text == "FALSE")
    return "false";
  return text;
}

/// The values of one key as command-line words (empty: not given).
std::vector<std::string> values_of(const std::string& key, const YAML::Node& node) {
  std::vector<std::string> out;
  if (node.IsNull())
    return out;
  YAML::Node list = node;
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    // configargparse reads "[a, b]" as a list; hivemind's config.yml writes `initial_peers: "[]"`.
    if (!(text.size() >= 2 && text.front() == '[' && text.back() == ']'))
      return {scalar_text(node)};
    try {
      list = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      fail("'" + key + "': bad list '" + text + "' (" + e.msg + ")");
    }
  }
  if (!list.IsSequence())
    fail("'" + key + "' must be a value or a list of values");
  for (const auto& item : list) {
    if (!item.IsScalar())
      fail("'" + key + "' must be a value or a list of values");
    out.push_back(scalar_text(item));
  }
  return out;
}

}  // namespace

YamlConfig::YamlConfig(const CLI::App* app, std::shared_ptr<std::vector<std::string>> warnings)
    : app_(app), warnings_(std::move(warnings)) {}

std::string YamlConfig::to_config(const CLI::App* /*app*/,
                                  bool /*default_also*/,
                                  bool /*write_description*/,
                                  std::string /*prefix*/) const {
  return {};
}

std::vector<CLI::ConfigItem> YamlConfig::from_config(std::istream& input) const {
  YAML::Node root;
  try {
    root = YAML::Load(input);
  } catch (const YAML::Exception& e) {
    fail(std::string("not valid YAML: ") + e.what());
  }
  if (root.IsNull())
    return {};  // an empty file
  if (!root.IsMap())
    fail("expected a mapping of flag names to values");
  std::vector<CLI::ConfigItem> out;
  for (const auto& entry : root) {
    if (!entry.first.IsScalar())
      fail("keys must be flag names");
    const std::string key = entry.first.Scalar();
    if (std::find(kIgnoredKeys.begin(), kIgnoredKeys.end(), key) != kIgnoredKeys.end()) {
      warnings_->push_back("config file: ignoring hivemind key '" + key
                           + "' (no equivalent in hivemind-server)");
      continue;
    }
    if (key == "custom_module_path")
      fail(
          "'custom_module_path' is not supported (Python modules cannot be loaded; register "
          "C++ expert classes in an ExpertRegistry instead)");
    if (key == "config" || key == "help" || app_->get_option_no_throw("--" + key) == nullptr)
      fail("unknown key '" + key + "'");
    auto values = values_of(key, entry.second);
    if (values.empty())
      continue;
    CLI::ConfigItem item;
    item.name = key;
    item.inputs = std::move(values);
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace hivemind::tools
